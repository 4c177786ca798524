"""`rfdetect analyze` as a user runs it: records, summaries, and bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from iqgen import held_open_for_writing, write_hdf5, write_raw, write_sigmf
from rfdetect.cli import main
from synth import TrueBurst, scene

ROOT = Path(__file__).resolve().parents[1]
FS = 2.4e6
BURSTS = [TrueBurst(30_000, 10_512, -300e3, 500e3, 15), TrueBurst(90_000, 10_512, 200e3, 500e3, 15),
          TrueBurst(150_000, 10_512, -600e3, 500e3, 15)]


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def analyze(capsys, *args) -> tuple[int, list[dict], str]:
    code = main(["analyze", "--progress", "off", *map(str, args)])
    out, err = capsys.readouterr()
    return code, records(out), err


@pytest.fixture(scope="module")
def scene_h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "scene.h5"
    return write_hdf5(path, scene(FS, 200_000, BURSTS, seed=1), sample_rate_hz=FS, center_freq_hz=868e6,
                      datetime_utc="2026-11-25T12:00:00Z")


def test_records_follow_the_schema(capsys, scene_h5):
    code, recs, err = analyze(capsys, scene_h5, "--all-bursts")
    assert code == 0
    bursts = [r for r in recs if r["type"] == "burst"]
    assert len(bursts) == 3
    for r, t in zip(sorted(bursts, key=lambda r: r["t_start_s"]), BURSTS):
        assert r["schema"] == 1
        assert abs(r["sample_start"] - t.start) < 128
        assert abs(r["t_start_s"] - t.start / FS) < 128 / FS
        assert r["f_lo_hz"] < 868e6 + t.offset_hz < r["f_hi_hz"]
        assert 400e3 < r["bandwidth_hz"] < 650e3
        assert r["time_utc"].startswith("2026-11-25T12:00:00.0")
    summary = recs[-1]
    assert summary["type"] == "summary" and summary["samples"] == 200_000 and summary["bursts"] == 3
    assert abs(summary["signal_s"] - 200_000 / FS) < 1e-9
    assert "3 bursts" in err     # the human summary on stderr


def test_out_file_and_repeatability(capsys, scene_h5, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["analyze", str(scene_h5), "--all-bursts", "--out", str(a), "--quiet"]) == 0
    assert main(["analyze", str(scene_h5), "--all-bursts", "--out", str(b), "--quiet"]) == 0
    strip = lambda p: [{k: v for k, v in r.items() if k not in ("wall_s", "throughput_msps", "realtime_factor")}
                       for r in records(p.read_text())]
    assert strip(a) == strip(b) and len([r for r in strip(a) if r["type"] == "burst"]) == 3


def test_frequencies_accept_si_suffixes(capsys, tmp_path):
    x = scene(FS, 100_000, BURSTS[:1], seed=2)
    path = write_raw(tmp_path / "capture.cu8", x / np.abs(x).max() * 0.9, "cu8")
    code, recs, _ = analyze(capsys, path, "--sample-rate", "2.4M", "--center-freq", "868.3e6", "--all-bursts")
    assert code == 0
    (burst,) = [r for r in recs if r["type"] == "burst"]
    assert abs(burst["center_freq_hz"] - (868.3e6 - 300e3)) < 40e3


# ---------------------------------------------------------------- bad input

def one_line_error(code, err, *needles):
    assert code != 0
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_missing_file(capsys, tmp_path):
    code, _, err = analyze(capsys, tmp_path / "nope.h5")
    one_line_error(code, err, "nope.h5")


def test_empty_file(capsys, tmp_path):
    (tmp_path / "empty.cu8").write_bytes(b"")
    code, _, err = analyze(capsys, tmp_path / "empty.cu8", "--sample-rate", "1M", "--center-freq", "100M")
    one_line_error(code, err, "empty.cu8", "empty")


def test_cu8_with_odd_byte_count(capsys, tmp_path):
    (tmp_path / "odd.cu8").write_bytes(bytes(1001))
    code, _, err = analyze(capsys, tmp_path / "odd.cu8", "--sample-rate", "1M", "--center-freq", "100M")
    one_line_error(code, err, "odd.cu8", "1001")


def test_hdf5_without_sample_rate(capsys, tmp_path):
    p = write_hdf5(tmp_path / "norate.h5", np.zeros(1000, np.complex64))
    with h5py.File(p, "a") as f:
        del f.attrs["core:sample_rate"]
    code, _, err = analyze(capsys, p)
    one_line_error(code, err, "norate.h5", "sample_rate")


def test_sigmf_with_contradictory_metadata(capsys, tmp_path):
    meta = write_sigmf(tmp_path / "two", np.zeros(1001, np.complex64), extra_global={"core:num_channels": 2})
    code, _, err = analyze(capsys, meta)
    one_line_error(code, err, "two.sigmf")


@pytest.mark.parametrize("rate", ["0", "-2.4M", "abc"])
def test_bad_sample_rate(capsys, tmp_path, rate):
    path = write_raw(tmp_path / "x.cu8", np.zeros(1000, np.complex64))
    code, _, err = analyze(capsys, path, f"--sample-rate={rate}", "--center-freq", "100M")
    one_line_error(code, err, "--sample-rate", rate)


def test_unknown_format(capsys, tmp_path):
    (tmp_path / "capture.wav").write_bytes(bytes(100))
    code, _, err = analyze(capsys, tmp_path / "capture.wav")
    one_line_error(code, err, "capture.wav", ".wav")


def test_nan_samples_keep_what_was_found(capsys, tmp_path):
    """Bursts before the bad samples are written before the one-line error."""
    x = scene(FS, 1_200_000, BURSTS, seed=3)
    x[1_000_000] = np.nan
    path = write_raw(tmp_path / "bad.cf32", x, "cf32")
    out = tmp_path / "found.jsonl"
    code = main(["analyze", str(path), "--sample-rate", "2.4M", "--center-freq", "868M", "--all-bursts",
                 "--out", str(out), "--progress", "off"])
    _, err = capsys.readouterr()
    one_line_error(code, err, "bad.cf32", "1000000")
    recs = records(out.read_text())
    assert len([r for r in recs if r["type"] == "burst"]) == 3
    assert recs[-1]["type"] == "summary" and "1000000" in recs[-1]["error"]


def test_file_still_being_written(capsys, tmp_path):
    p = tmp_path / "busy.h5"
    with held_open_for_writing(p):
        rc, _, err = analyze(capsys, p)
        one_line_error(rc, err, "busy.h5")


def test_one_bad_file_does_not_stop_the_others(capsys, tmp_path, scene_h5):
    code, recs, err = analyze(capsys, tmp_path / "missing.h5", scene_h5, "--quiet")
    assert code != 0 and "missing.h5" in err
    assert recs[-1]["type"] == "summary" and recs[-1]["bursts"] == 3


def test_a_directory_stands_for_the_recordings_under_it(capsys, tmp_path, scene_h5):
    """An archive folder: every recording under it, subfolders too, in name order; a SigMF
    pair once; other files and hidden ones left out."""
    archive = tmp_path / "archive"
    (archive / "day2" / ".cache").mkdir(parents=True)
    (archive / "b.h5").write_bytes(scene_h5.read_bytes())
    x = scene(FS, 200_000, BURSTS[:2], seed=2)
    write_sigmf(archive / "day2" / "pair", x, sample_rate_hz=FS, center_freq_hz=868e6)
    (archive / "notes.txt").write_text("not a recording")
    (archive / "day2" / ".cache" / "c.h5").write_bytes(scene_h5.read_bytes())
    (archive / ".hidden.h5").write_bytes(scene_h5.read_bytes())
    code, recs, err = analyze(capsys, archive, "--quiet")
    assert code == 0, err
    summaries = [r for r in recs if r["type"] == "summary"]
    assert [Path(s["source"]).name for s in summaries] == ["b.h5", "pair.sigmf-meta"]
    assert [s["bursts"] for s in summaries] == [3, 2]


def test_a_directory_without_recordings(capsys, tmp_path):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "empty_dir" / "readme.txt").write_text("nothing here")
    code, _, err = analyze(capsys, tmp_path / "empty_dir")
    one_line_error(code, err, "empty_dir", "without recordings")


def test_cli_in_a_real_process_prints_no_traceback(tmp_path):
    """The installed entry point: one line on stderr, exit code 2."""
    proc = subprocess.run([sys.executable, "-m", "rfdetect", "analyze", str(tmp_path / "gone.cu8")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "gone.cu8" in proc.stderr and "Traceback" not in proc.stderr


def test_help_has_examples_and_version():
    proc = subprocess.run([sys.executable, "-m", "rfdetect", "analyze", "--help"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and "rfdetect analyze recordings/" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "rfdetect", "--version"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.stdout.startswith("rfdetect 0.")


def test_threaded_and_serial_runs_agree(capsys, tmp_path):
    x = scene(FS, 1_500_000, BURSTS + [TrueBurst(262_144 - 5_000, 10_512, 0, 500e3, 12)], seed=8)
    path = write_hdf5(tmp_path / "long.h5", x, sample_rate_hz=FS, center_freq_hz=868e6)
    outs = []
    for threads in ("1", "2"):
        code, recs, _ = analyze(capsys, path, "--all-bursts", "--threads", threads, "--quiet")
        assert code == 0
        outs.append([{k: v for k, v in r.items() if k not in ("wall_s", "throughput_msps", "realtime_factor")}
                     for r in recs])
    assert outs[0] == outs[1]
    assert len([r for r in outs[0] if r["type"] == "burst"]) == 4   # one straddles a block boundary


def test_gaps_become_records_and_shift_time(capsys, tmp_path):
    x = scene(FS, 200_000, [TrueBurst(150_000, 20_000, 0, 300e3, 20)], seed=9)
    path = write_hdf5(tmp_path / "gappy.h5", x, sample_rate_hz=FS, center_freq_hz=868e6,
                      gaps=[(100_000, 50_000)])
    code, recs, _ = analyze(capsys, path, "--all-bursts")
    assert code == 0
    (gap,) = [r for r in recs if r["type"] == "gap"]
    assert gap["sample_index"] == 100_000 and gap["samples_lost"] == 50_000
    assert gap["t_s"] == pytest.approx(100_000 / FS)
    (burst,) = [r for r in recs if r["type"] == "burst"]
    assert abs(burst["sample_start"] - 150_000) < 128
    assert abs(burst["t_start_s"] - 200_000 / FS) < 128 / FS
    assert recs[-1]["gaps"] == 1 and recs[-1]["samples_lost"] == 50_000


def test_workers_option_gives_the_serial_output(capsys, scene_h5, tmp_path):
    strip = lambda recs: [{k: v for k, v in r.items() if k not in ("wall_s", "throughput_msps", "realtime_factor")}
                          for r in recs]
    code, serial, _ = analyze(capsys, scene_h5, "--all-bursts", "--quiet")
    assert code == 0
    code, dask, _ = analyze(capsys, scene_h5, "--all-bursts", "--quiet", "--workers", "2")
    assert code == 0
    assert strip([r for r in dask if r["type"] != "summary"]) == strip([r for r in serial if r["type"] != "summary"])
    assert [r["type"] for r in dask].count("burst") == 3


def test_integrate_option_finds_weak_bursts(capsys, tmp_path):
    """`--integrate` reports 0 dB bursts that the per-cell test alone misses."""
    weak = [TrueBurst(30_000 + 24_000 * i, 10_512, (-500e3, 500e3)[i % 2], 500e3, 0.0) for i in range(8)]
    path = write_hdf5(tmp_path / "weak.h5", scene(FS, 240_000, weak, seed=2), sample_rate_hz=FS,
                      center_freq_hz=868e6)
    long_bursts = []
    for flags in ([], ["--integrate"]):
        code, recs, _ = analyze(capsys, path, "--all-bursts", "--quiet", *flags)
        assert code == 0
        long_bursts.append([r for r in recs if r["type"] == "burst" and r["sample_count"] > 5_000])
    assert len(long_bursts[0]) <= 2
    assert len(long_bursts[1]) >= 7
