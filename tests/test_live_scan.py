"""`rfdetect scan` end to end: the real CLI in a child process, on the virtual dongle
through the real pyrtlsdr; detections, evidence clips, recording, Ctrl-C."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rfdetect.pipeline import analyze_source
from rfdetect.sources.hdf5 import HDF5Source
from virtual_dongle import (RATE, child_env, elrs_cu8_file, shadow_dir, vdongle_dir)  # noqa: F401

F_EMITTER = 868.7e6        # 868.4 MHz tuned + 300 kHz


@pytest.fixture(scope="module")
def elrs_cu8(tmp_path_factory):
    # bursts from 1.5 s to 1.7 s of each 3 s loop
    return elrs_cu8_file(tmp_path_factory.mktemp("scan") / "elrs.cu8", seconds=3.0, first_s=1.5)


def _scan(env, *args, timeout=60):
    proc = subprocess.run([sys.executable, "-m", "rfdetect", "scan", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, records


def _emitter(records):
    return [r for r in records if r["type"] == "detection" and abs(r["center_freq_hz"] - F_EMITTER) < 50e3]


def test_scan_detects_records_and_keeps_evidence(vdongle_dir, shadow_dir, elrs_cu8, tmp_path):
    env = child_env(vdongle_dir, shadow_dir, iq=elrs_cu8)
    rec = tmp_path / "capture.h5"
    ev = tmp_path / "evidence"
    handoff = tmp_path / "handoff.jsonl"
    proc, records = _scan(env, "--freq", "868.4M", "--duration", 3.2, "--record", rec, "--record-evidence", ev,
                          "--status", "on", "--handoff", handoff)
    assert proc.returncode == 0, proc.stderr
    # every record also went to the hand-off sink, with the same ids
    assert [json.loads(l)["id"] for l in handoff.read_text().splitlines()] == [r["id"] for r in records]
    summary = records[-1]
    assert summary["type"] == "summary"
    live = summary["live"]
    assert live["receiver"]["librtlsdr"] == str(vdongle_dir / "librtlsdr.so")   # not pyrtlsdrlib's
    assert live["accounting"]["samples_lost"] == 0 and summary["gaps"] == 0
    assert 2.5 * RATE <= summary["samples"] <= 3.6 * RATE
    assert "retunes" in proc.stderr and "drops" in proc.stderr            # the status line
    found = _emitter(records)
    assert found, records
    first = min(r["sample_start"] for r in found)
    assert abs(first - 1.5 * RATE) < 0.01 * RATE
    # the recording reprocesses to the same emitter at the same samples
    with HDF5Source(rec) as src:
        assert src.complete and src.info.datatype == "cu8"
        assert src.info.num_samples == summary["samples"]
        offline = []
        analyze_source(src, offline.append)
    again = _emitter(offline)
    assert again and abs(min(r["sample_start"] for r in again) - first) <= 256
    # one evidence clip per new emitter, from >= 1 s before its first burst, annotated
    clips = sorted(ev.glob("*.h5"))
    assert len(clips) == len({r["track_id"] for r in records if r["type"] == "detection"})
    clip = [c for c in clips if any(f"_{r['track_id']}.h5" in c.name for r in found)][0]
    with HDF5Source(clip) as src:
        ann = src.info.annotations
        assert ann and ann[0].label == found[0]["link"]
        assert ann[0].sample_start >= 1.0 * RATE
        assert json.loads(ann[0].comment)["sample_start"] == found[0]["sample_start"]
        clip_records = []
        analyze_source(src, clip_records.append)
    assert _emitter(clip_records)


def test_scan_sweeps_a_band_and_counts_retunes(vdongle_dir, shadow_dir, elrs_cu8, tmp_path):
    noise = tmp_path / "quiet.cu8"
    np.full(1 << 18, 127, np.uint8).tofile(noise)
    env = child_env(vdongle_dir, shadow_dir, scenario=[(868.4e6, elrs_cu8), (866.0e6, noise)])
    proc, records = _scan(env, "--freq", "868.4M", "--freq", "866M", "--dwell", 0.5, "--duration", 3.0)
    assert proc.returncode == 0, proc.stderr
    live = records[-1]["live"]
    acc = live["accounting"]
    assert acc["retunes"] >= 4
    assert acc["lost_retune_settling"] > 0
    # settling losses are gap records too: the pipeline saw every one of them
    gaps = [r for r in records if r["type"] == "gap"]
    assert sum(g["samples_lost"] for g in gaps) + acc["samples_lost_unreported"] == acc["samples_lost"]
    assert gaps
    assert [s["center_freq_hz"] for s in live["sweep"]["steps"]] == [868.4e6, 866e6]


def test_ctrl_c_stops_cleanly_with_a_summary(vdongle_dir, shadow_dir, elrs_cu8, tmp_path):
    env = child_env(vdongle_dir, shadow_dir, iq=elrs_cu8)
    rec = tmp_path / "c.h5"
    proc = subprocess.Popen([sys.executable, "-m", "rfdetect", "scan", "--freq", "868.4M", "--record", str(rec)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not rec.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert records[-1]["type"] == "summary" and records[-1]["samples"] > 0.5 * RATE
    with HDF5Source(rec) as src:
        assert src.complete and src.info.num_samples > 0


def test_scan_without_dongle_says_what_is_wrong(vdongle_dir, shadow_dir, elrs_cu8, tmp_path):
    control = tmp_path / "control"
    control.write_text("unplug\n")
    env = child_env(vdongle_dir, shadow_dir, iq=elrs_cu8, control=control)
    proc, records = _scan(env, "--freq", "868.4M", "--duration", 1)
    assert proc.returncode == 3
    assert "no RTL-SDR dongle found" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") <= 1


def test_bad_options_are_one_line_errors(capsys):
    from rfdetect.cli import main
    for args in (["--band", "nope"], ["--freq", "5.8G"], ["--sample-rate", "600k", "--freq", "868M"],
                 ["--rtl-tcp", "host:99999"]):
        assert main(["scan", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("rfdetect scan: error:") and err.count("\n") == 1, err
