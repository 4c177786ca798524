"""``analyze --dechirp`` in chunks (rfdetect.scale): the chirp stage of every chunk is the
serial run's, so the merged records equal the serial ones, record for record.

The recording is an ExpressLRS 900 LoRa link below the noise from the simulator, with
LoRa packets laid across every chunk boundary the plan makes (weak ones only the chirp
detector finds, strong ones both detectors measure), and a gap in the middle.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iqgen  # noqa: E402
from test_scale import Cluster, by_source, strip  # noqa: E402

from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.model import RecordingInfo  # noqa: E402
from rfdetect.pipeline import analyze_source  # noqa: E402
from rfdetect.scale import plan_file, run_archive  # noqa: E402
from rfdetect.scale.merge import FileMerger  # noqa: E402
from rfdetect.scale.plan import OpenSpec  # noqa: E402
from rfdetect.scale.worker import run_chunk  # noqa: E402
from rfdetect.simulate import generate  # noqa: E402
from rfdetect.simulate.lora import lora_frame  # noqa: E402
from rfdetect.sources import open_source  # noqa: E402

FS, FC = 2.4e6, 868.0e6
DURATION_S = 5.0
N = int(DURATION_S * FS)
GAP = (int(1.9 * FS), 5000)
BLOCK = 1 << 16
CHUNK_S = 1.0
WARMUP_TAUS = 8.0
CONFIG = DetectorConfig(floor_tau_s=0.02, dechirp=True)
PACKET_SNR_DB = (-7.0, 6.0)      # in-band: below the energy detector's reach, and well above


def _tasks(path, info):
    return plan_file(OpenSpec(str(path)), info, 0, CONFIG, chunk_s=CHUNK_S, block_samples=BLOCK,
                     warmup_taus=WARMUP_TAUS)


def _cuts() -> list[int]:
    info = RecordingInfo(path="x", sample_rate_hz=FS, center_freq_hz=FC, num_samples=N, gaps=(GAP,))
    return [t.start for t in _tasks("x", info)[1:]]


def _make_recording(path: Path, seed: int = 21) -> Path:
    scn = {"scenario": {"duration_s": DURATION_S, "seed": seed}, "receiver": {"sample_rate": FS, "center_freq": FC},
           "emitter": [{"id": "elrs", "link": "expresslrs-lora", "mode": "200", "domain": "EU868",
                        "snr_db": -8.0}]}
    x, _ = generate(scn, seed=seed)
    x = x[0].astype(np.complex64)
    noise = np.median(np.abs(x) ** 2) / np.log(2)        # |noise|^2 is exponential: median = ln 2 * mean
    rng = np.random.default_rng(seed)
    for k, cut in enumerate(_cuts()):
        for j, snr_db in enumerate(PACKET_SNR_DB):
            frame = lora_frame(FS, 7, 500e3, 8, 0x12, rng.integers(0, 128, 24))
            # In-band SNR over the chirp's 500 kHz; carriers apart from each other.
            amp = np.sqrt(10 ** (snr_db / 10) * noise * 500e3 / FS)
            carrier = (-0.6e6 if j == 0 else 0.55e6) + 40e3 * k
            start = cut - frame.size // 2 + (j * 2 - 1) * 3000
            t = np.arange(frame.size)
            x[start: start + frame.size] += amp * frame * np.exp(2j * np.pi * carrier / FS * t)
    return iqgen.write_hdf5(path, x, datatype="cu8", sample_rate_hz=FS, center_freq_hz=FC, gaps=[GAP])


def _serial(path) -> list[dict]:
    out: list[dict] = []
    with open_source(str(path)) as src:
        analyze_source(src, out.append, config=CONFIG, all_bursts=True, block_samples=BLOCK, threads=1)
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = _make_recording(tmp_path_factory.mktemp("dechirp") / "elrs.h5")
    return path, strip(_serial(path))


def _merge_in_process(path, order_seed: int):
    with open_source(str(path)) as src:
        info = src.info
    tasks = _tasks(path, info)
    out: list[dict] = []
    merger = FileMerger(info, out.append, len(tasks), [t.first_block for t in tasks], config=CONFIG,
                        all_bursts=True, open_reader=lambda: open_source(str(path)))
    results = [run_chunk(t, CONFIG) for t in tasks]
    for i in np.random.default_rng(order_seed).permutation(len(results)):
        merger.add(results[i])
    merger.finish()
    return tasks, results, out


def _across(bursts: list[dict], cut: int) -> list[dict]:
    return [b for b in bursts if b["sample_start"] < cut < b["sample_start"] + b["sample_count"]]


def test_the_recording_has_lora_packets_across_every_boundary(recording):
    path, ref = recording
    bursts = [r for r in ref if r["type"] == "burst"]
    chirped = [b for b in bursts if "dechirp" in b]
    for cut in _cuts():
        # The weak packet only as the chirp detector's burst, the strong one as the energy detector's.
        assert any(abs(b["center_freq_hz"] - FC) > 0.3e6 and b["center_freq_hz"] < FC for b in _across(chirped, cut))
        assert any(b["center_freq_hz"] > FC + 0.3e6 and "dechirp" not in b for b in _across(bursts, cut))
    summary = ref[-1]["detector"]["dechirp"]
    assert summary["packets"] > 50 and summary["duplicates"] > 5
    assert sum(r["type"] == "gap" for r in ref) == 1
    assert any(r["type"] == "detection" and r["link"] == "expresslrs-lora" for r in ref)


def test_chunks_merge_to_exactly_the_serial_records(recording):
    path, ref = recording
    tasks, results, out = _merge_in_process(path, 3)
    assert len(tasks) >= 5
    # Chunks started mid-file, one of them after the gap (its windows on the gap's grid).
    assert sum(t.read_from > 0 for t in tasks) >= 2
    assert any(t.chirp_from == GAP[0] and t.read_from > GAP[0] for t in tasks)
    assert strip(out) == ref
    # Each chunk counted its own share of the chirp detector's work.
    assert all(r.counts["candidates"] > 0 for r in results)


def test_a_local_dask_cluster_gives_the_serial_records(recording, tmp_path):
    path, ref = recording
    cluster = Cluster(tmp_path)
    try:
        cluster.start(2)
        out: list[dict] = []
        summaries = run_archive([str(path)], scheduler=cluster.address, config=CONFIG, all_bursts=True,
                                emit=out.append, progress=False, chunk_s=CHUNK_S, block_samples=BLOCK)
    finally:
        cluster.stop()
    assert "error" not in summaries[0]
    assert strip(by_source(out)[str(path)]) == ref


def test_cli_accepts_dechirp_with_workers_and_gives_the_serial_output(recording, tmp_path):
    from rfdetect.cli import main
    path, _ = recording
    with open_source(str(path)) as src:
        info = src.info
    # Two chunks: the default warm-up (32 s of floor) has the second read from the start.
    assert len(plan_file(OpenSpec(str(path)), info, 0, DetectorConfig(dechirp=True), chunk_s=3.0)) == 2
    files = {}
    for name, extra in (("serial", []), ("workers", ["--workers", "2", "--chunk-s", "3"])):
        files[name] = tmp_path / f"{name}.jsonl"
        assert main(["analyze", str(path), "--dechirp", "--all-bursts", "--quiet", "--out", str(files[name]),
                     *extra]) == 0
    serial, chunked = ([json.loads(line) for line in f.read_text().splitlines()] for f in files.values())
    assert strip(chunked) == strip(serial)
    assert serial[-1]["detector"]["dechirp"]["packets"] > 50
