"""Archive reprocessing on Dask (rfdetect.scale): chunked output equals the serial run.

Recordings are generated with bursts straddling every chunk boundary the plan
makes; the in-process tests merge chunk results delivered in scrambled order,
the cluster tests start a real ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 and kill one of them mid-run.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iqgen  # noqa: E402
from synth import TrueBurst, scene  # noqa: E402

from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.model import RecordingInfo  # noqa: E402
from rfdetect.pipeline import analyze_source  # noqa: E402
from rfdetect.scale import add_arguments, plan_file, run_archive, run_from_args  # noqa: E402
from rfdetect.scale.merge import FileMerger  # noqa: E402
from rfdetect.scale.plan import OpenSpec, block_starts, warmup_samples  # noqa: E402
from rfdetect.scale.worker import RecordOptions, run_chunk  # noqa: E402
from rfdetect.sources import open_source  # noqa: E402

FS = 2e6
FC = 868.1e6
N = int(4.5 * FS)
BLOCK = 1 << 16
CHUNK_S = 0.8
# A short floor time constant keeps the warm-up (32 tau) and so the test fast;
# the warm-up rule is the same as for the default 1 s.
CONFIG = DetectorConfig(floor_tau_s=0.02)
TIMING = ("wall_s", "throughput_msps", "realtime_factor")
DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
DASK_WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


def info_for(n=N, gaps=(), retunes=()):
    return RecordingInfo(path="x", sample_rate_hz=FS, center_freq_hz=FC, num_samples=n,
                         gaps=tuple(gaps), retunes=tuple(retunes))


def plan_cuts(info) -> list[int]:
    return [t.start for t in plan_file(OpenSpec("x"), info, 0, CONFIG, chunk_s=CHUNK_S, block_samples=BLOCK)][1:]


def make_recording(path: Path, seed: int, gaps=(), retunes=()) -> Path:
    """Noise with bursts across every chunk boundary, LoRa-width bursts (so that a
    confirmation kernel asks for samples), and scattered short bursts."""
    rng = np.random.default_rng(seed)
    bursts = []
    for cut in plan_cuts(info_for(gaps=gaps, retunes=retunes)):
        for shift in (-3000, 0, 4100):
            length = int(rng.integers(3000, 60000))
            bursts.append(TrueBurst(cut + shift - length // 2, length, float(rng.uniform(-0.4, 0.4) * FS),
                                    float(rng.uniform(20e3, 150e3)), float(rng.uniform(10, 25))))
    for k in range(6):
        bursts.append(TrueBurst(int(rng.integers(0, N - 120000)), 100000, 0.0, 125e3, 15.0))
    for _ in range(60):
        length = int(rng.integers(1000, 20000))
        bursts.append(TrueBurst(int(rng.integers(0, N - length)), length, float(rng.uniform(-0.45, 0.45) * FS),
                                float(rng.uniform(10e3, 100e3)), float(rng.uniform(8, 25))))
    x = scene(FS, N, bursts, seed)
    return iqgen.write_hdf5(path, x, datatype="cu8", sample_rate_hz=FS, center_freq_hz=FC,
                            gaps=gaps, retunes=retunes)


def serial(path, config=CONFIG) -> list[dict]:
    out: list[dict] = []
    with open_source(str(path)) as src:
        analyze_source(src, out.append, config=config, all_bursts=True, block_samples=BLOCK, threads=1)
    return out


def strip(records) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def by_source(records) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(r["source"], []).append(r)
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("archive")
    paths = [make_recording(d / "plain.h5", 1),
             make_recording(d / "gaps.h5", 2, gaps=[(int(1.3 * FS), 5000), (int(3.1 * FS), 777)],
                            retunes=[(int(2.2 * FS), FC + 200e3)]),
             make_recording(d / "third.h5", 3)]
    reference = {str(p): strip(serial(p)) for p in paths}
    return paths, reference


# ------------------------------------------------------------------ plan

def test_plan_covers_the_file_on_the_serial_block_grid():
    info = info_for(gaps=[(int(1.3 * FS), 5000)], retunes=[(int(2.2 * FS), FC + 200e3)])
    tasks = plan_file(OpenSpec("x"), info, 0, CONFIG, chunk_s=CHUNK_S, block_samples=BLOCK)
    grid = set(block_starts(info, BLOCK))
    warm = warmup_samples(CONFIG, FS, BLOCK)
    assert len(tasks) >= 4
    assert tasks[0].start == 0 and tasks[-1].stop == N
    for a, b in zip(tasks, tasks[1:]):
        assert a.stop == b.start
    for t in tasks:
        assert t.start in grid and t.read_from in grid
        assert t.read_from == t.floor_from or t.start - t.read_from >= warm
        assert t.floor_from <= t.read_from <= t.start
    retuned = [t for t in tasks if t.start >= int(2.2 * FS)]
    assert all(t.floor_from == int(2.2 * FS) for t in retuned)
    assert sum(t.lost_before for t in tasks if t.read_from > int(1.3 * FS)) > 0


def test_short_file_is_one_task():
    tasks = plan_file(OpenSpec("x"), info_for(n=int(0.5 * FS)), 0, CONFIG, chunk_s=CHUNK_S, block_samples=BLOCK)
    assert len(tasks) == 1 and tasks[0].read_from == 0 and tasks[0].stop == int(0.5 * FS)


# ------------------------------------------------------------------ merge, in process

def _merge_in_process(path, order_seed: int, config=CONFIG):
    with open_source(str(path)) as src:
        info = src.info
    tasks = plan_file(OpenSpec(str(path)), info, 0, config, chunk_s=CHUNK_S, block_samples=BLOCK)
    out: list[dict] = []
    merger = FileMerger(info, out.append, len(tasks), [t.first_block for t in tasks], config=config,
                        all_bursts=True, open_reader=lambda: open_source(str(path)))
    results = [run_chunk(t, config) for t in tasks]
    emitted_before_last = None
    for i in np.random.default_rng(order_seed).permutation(len(results)):
        merger.add(results[i])
        merger.add(results[i])          # a re-run's duplicate is ignored
        if merger.complete and emitted_before_last is None:
            emitted_before_last = len(out)
    merger.finish()
    return tasks, out, merger


def test_chunks_merge_to_exactly_the_serial_records(archive):
    paths, reference = archive
    for k, path in enumerate(paths):
        ref = reference[str(path)]
        tasks, out, merger = _merge_in_process(path, k)
        assert len(tasks) >= 4
        # Every chunk boundary has a burst across it in the serial output.
        bursts = [r for r in ref if r["type"] == "burst"]
        for t in tasks[1:]:
            assert any(b["sample_start"] < t.start < b["sample_start"] + b["sample_count"] for b in bursts), t
        assert any(r["type"] == "detection" for r in ref)
        assert strip(out) == ref
    # The gap file's gap records came through, and a kernel read samples from the file.
    assert sum(r["type"] == "gap" for r in reference[str(paths[1])]) == 2
    assert sum(merger.pipeline.classifier.kernel_runs.values()) > 0


def test_always_on_emitters_merge_to_exactly_the_serial_records(tmp_path):
    """The floor's checks for always-on emitters fall on the same samples in every chunk as
    in the serial run, across gaps and a retune."""
    config = CONFIG.with_(steady_min_bandwidth_hz=0.4e6)     # the 2 MHz window holds no video link
    x = scene(FS, N, [TrueBurst(0, N, 0.3e6, 0.6e6, 3.0)], seed=7)
    path = iqgen.write_hdf5(tmp_path / "always_on.h5", x, datatype="cu8", sample_rate_hz=FS,
                            center_freq_hz=FC, gaps=[(int(1.3 * FS), 5000), (int(3.1 * FS), 777)],
                            retunes=[(int(2.23 * FS) + 37, FC + 200e3)])
    ref = strip(serial(path, config))
    steady = [r for r in ref if r["type"] == "burst" and r.get("steady")]
    assert len(steady) >= 18, len(steady)
    tasks, out, _ = _merge_in_process(path, 0, config)
    assert len(tasks) >= 4
    assert strip(out) == ref


def short_recording(path: Path, seed: int) -> Path:
    """Shorter than a chunk: one task.  LoRa-width bursts, so that kernels run."""
    n = int(0.7 * FS)
    rng = np.random.default_rng(seed)
    bursts = [TrueBurst(int(s), 60000, 0.0, 125e3, 15.0) for s in (0.05 * FS, 0.4 * FS)]
    bursts += [TrueBurst(int(rng.integers(0, n - 20000)), int(rng.integers(1000, 20000)),
                         float(rng.uniform(-0.45, 0.45) * FS), float(rng.uniform(10e3, 100e3)),
                         float(rng.uniform(8, 25))) for _ in range(20)]
    return iqgen.write_hdf5(path, scene(FS, n, bursts, seed), datatype="cu8", sample_rate_hz=FS, center_freq_hz=FC)


def test_a_whole_file_task_brings_the_serial_records(tmp_path):
    path = short_recording(tmp_path / "short.h5", 8)
    with open_source(str(path)) as src:
        info = src.info
    tasks = plan_file(OpenSpec(str(path)), info, 0, CONFIG, chunk_s=CHUNK_S, block_samples=BLOCK)
    assert len(tasks) == 1
    result = run_chunk(tasks[0], CONFIG, RecordOptions(all_bursts=True))
    assert result.records and not result.bursts and not result.kernels
    out: list[dict] = []
    merger = FileMerger(info, out.append, 1, [0], config=CONFIG, all_bursts=True,
                        open_reader=lambda: open_source(str(path)))
    merger.add(result)
    merger.add(result)                  # a re-run's duplicate is ignored
    assert merger.complete
    summary = merger.finish()
    assert "pipeline" not in vars(merger)          # the client classified nothing
    ref = strip(serial(path))
    assert strip(out) == ref and strip([summary]) == ref[-1:]
    assert any(r["type"] == "detection" for r in ref) and any(r["type"] == "burst" for r in ref)
    # Without the options (or for a chunk) the task brings bursts for the client to classify.
    assert run_chunk(tasks[0], CONFIG).records is None


def test_records_stream_before_the_last_chunk_arrives(archive):
    paths, reference = archive
    path = paths[0]
    with open_source(str(path)) as src:
        info = src.info
    tasks = plan_file(OpenSpec(str(path)), info, 0, CONFIG, chunk_s=CHUNK_S, block_samples=BLOCK)
    out: list[dict] = []
    merger = FileMerger(info, out.append, len(tasks), [t.first_block for t in tasks], config=CONFIG,
                        all_bursts=True, open_reader=lambda: open_source(str(path)))
    for t in tasks[:-1]:
        merger.add(run_chunk(t, CONFIG))
    assert 0 < len(out) < len(reference[str(path)])
    merger.add(run_chunk(tasks[-1], CONFIG))
    merger.finish()
    assert strip(out) == reference[str(path)]


def test_fsspec_url_is_fetched_and_named_as_given(archive):
    """Workers open object-store URLs through fsspec (here its in-memory filesystem)."""
    fsspec = pytest.importorskip("fsspec")
    from rfdetect.scale.worker import local_path
    paths, reference = archive
    url = "memory://bucket/one/gaps.h5"
    with fsspec.open(url, "wb") as f:
        f.write(Path(paths[1]).read_bytes())
    try:
        local = local_path(url)
        assert local != url and Path(local).name == "gaps.h5"
        with open_source(local) as src:
            info = replace(src.info, path=url)
        tasks = plan_file(OpenSpec(url), info, 0, CONFIG, chunk_s=CHUNK_S, block_samples=BLOCK)
        out: list[dict] = []
        merger = FileMerger(info, out.append, len(tasks), [t.first_block for t in tasks], config=CONFIG,
                            all_bursts=True, open_reader=lambda: open_source(local_path(url)))
        for t in tasks:
            merger.add(run_chunk(t, CONFIG))
        merger.finish()
    finally:
        fsspec.filesystem("memory").rm("/bucket", recursive=True)
    expected = [{**r, "source": url} for r in reference[str(paths[1])]]
    assert strip(out) == expected


@pytest.mark.benchmark
def test_default_floor_warmup_gives_serial_records(tmp_path):
    """The default 1 s floor time constant: 48 s at 250 kS/s in 6 s chunks (warm-up 32 s)."""
    fs, n, config = 250e3, int(48 * 250e3), DetectorConfig()
    rng = np.random.default_rng(7)
    info = RecordingInfo(path="x", sample_rate_hz=fs, center_freq_hz=FC, num_samples=n)
    tasks = plan_file(OpenSpec("x"), info, 0, config, chunk_s=6.0)
    bursts = [TrueBurst(t.start - 4000, 9000, float(rng.uniform(-0.4, 0.4) * fs), 20e3, 12.0) for t in tasks[1:]]
    bursts += [TrueBurst(int(s), 3000, float(rng.uniform(-0.4, 0.4) * fs), float(rng.uniform(5e3, 40e3)),
                         float(rng.uniform(7, 20))) for s in rng.integers(0, n - 3000, 400)]
    path = iqgen.write_hdf5(tmp_path / "long.h5", scene(fs, n, bursts, 7), datatype="cu8",
                            sample_rate_hz=fs, center_freq_hz=FC)
    ref: list[dict] = []
    with open_source(str(path)) as src:
        analyze_source(src, ref.append, config=config, all_bursts=True, threads=1)
        info = src.info
    tasks = plan_file(OpenSpec(str(path)), info, 0, config, chunk_s=6.0)
    assert sum(t.read_from > 0 for t in tasks) >= 2           # some chunks really start mid-file
    out: list[dict] = []
    merger = FileMerger(info, out.append, len(tasks), [t.first_block for t in tasks], config=config,
                        all_bursts=True, open_reader=lambda: open_source(str(path)))
    for t in tasks:
        merger.add(run_chunk(t, config))
    merger.finish()
    assert strip(out) == strip(ref)


# ------------------------------------------------------------------ a real Dask cluster

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Cluster:
    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        self.tmp = tmp

    def _spawn(self, args, name) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)
        self.procs.append(proc)
        return proc

    def start(self, n_workers: int = 2) -> None:
        self._spawn(DASK + ["--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], "scheduler")
        for i in range(n_workers):
            name = f"w{i}"
            self.workers[name] = self._spawn(
                DASK_WORKER + [self.address, "--nthreads", "1", "--no-dashboard", "--no-nanny",
                               "--host", "127.0.0.1", "--name", name, "--death-timeout", "60"], name)
        from dask.distributed import Client
        client = Client(self.address, timeout=60)
        try:
            client.wait_for_workers(n_workers, timeout=90)
        finally:
            client.close()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Shared by the cluster tests; the last of them kills worker w0."""
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start(2)
        yield c
    finally:
        c.stop()


def test_cluster_run_equals_serial_and_reports_failed_files(archive, cluster, tmp_path):
    paths, reference = archive
    x = scene(FS, int(1.5 * FS), [TrueBurst(int(0.3 * FS), 20000, 100e3, 50e3, 15.0)], 4)
    x[int(1.2 * FS)] = np.nan                  # in the second chunk
    corrupt = iqgen.write_hdf5(tmp_path / "corrupt.h5", x, sample_rate_hz=FS, center_freq_hz=FC)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an HDF5 file at all" * 100)
    short = short_recording(tmp_path / "short.h5", 9)          # one task: its records come from a worker
    reference = {**reference, str(short): strip(serial(short))}
    out: list[dict] = []
    errors: list[tuple[str, str]] = []
    archive_paths = [str(paths[0]), str(corrupt), str(paths[1]), str(garbage), str(short), str(paths[2])]
    summaries = run_archive(archive_paths, scheduler=cluster.address, config=CONFIG, all_bursts=True,
                            emit=out.append, progress=False, chunk_s=CHUNK_S, block_samples=BLOCK,
                            on_error=lambda p, e: errors.append((p, e)))
    got = by_source(out)
    for p in [*paths, short]:
        assert strip(got[str(p)]) == reference[str(p)]
    assert [s["source"] for s in summaries] == archive_paths
    assert {p for p, _ in errors} == {str(corrupt), str(garbage)}
    assert any("NaN" in e and "corrupt" in e for p, e in errors if p == str(corrupt))
    assert all("error" in s for s in summaries if s["source"] in (str(corrupt), str(garbage)))
    assert all("error" not in s for s in summaries if s["source"] not in (str(corrupt), str(garbage)))
    assert got[str(corrupt)][-1]["type"] == "summary" and "error" in got[str(corrupt)][-1]


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(archive, cluster):
    from dask.distributed import Client
    paths, reference = archive
    archive_paths = [str(p) for p in paths]
    out: list[dict] = []
    lock = threading.Lock()

    def emit(r):
        with lock:
            out.append(r)

    client = Client(cluster.address, timeout=30)
    result: dict = {}

    def run():
        try:
            result["summaries"] = run_archive(archive_paths, config=CONFIG, all_bursts=True, emit=emit,
                                              progress=False, chunk_s=CHUNK_S, block_samples=BLOCK,
                                              client=client)
        except BaseException as exc:   # reported to the test thread
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    try:
        thread.start()
        victim = cluster.workers["w0"]
        deadline = time.monotonic() + 60
        killed_while_busy = False
        while time.monotonic() < deadline and thread.is_alive():
            info = client.scheduler_info()
            addr = next((a for a, w in info["workers"].items() if w.get("name") == "w0"), None)
            busy = addr and client.processing().get(addr)
            if busy:
                os.kill(victim.pid, signal.SIGKILL)
                killed_while_busy = True
                break
            time.sleep(0.05)
        assert killed_while_busy
        victim.wait(timeout=10)
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
    finally:
        client.close()
    assert all("error" not in s for s in result["summaries"])
    got = by_source(out)
    for p in paths:
        assert strip(got[str(p)]) == reference[str(p)]


# ------------------------------------------------------------------ the command-line entry

def test_run_from_args_on_a_local_cluster(archive, tmp_path, capsys):
    paths, reference = archive
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--format", default="auto")
    parser.add_argument("--sample-rate")
    parser.add_argument("--center-freq")
    parser.add_argument("--all-bursts", action="store_true")
    parser.add_argument("--progress", default="off")
    parser.add_argument("--quiet", action="store_true")
    add_arguments(parser)
    missing = str(tmp_path / "missing.h5")
    x = scene(FS, int(1.2 * FS), [TrueBurst(int(0.6 * FS) - 5000, 20000, 100e3, 50e3, 15.0)], 5)
    short = str(iqgen.write_hdf5(tmp_path / "short.h5", x, datatype="cu8", sample_rate_hz=FS, center_freq_hz=FC))
    args = parser.parse_args([short, missing, "--workers", "2", "--all-bursts", "--chunk-s", "0.5"])
    assert args.workers == 2 and args.scheduler is None
    out: list[dict] = []
    code = run_from_args(args, args.paths, CONFIG, out.append)
    assert code == 2                       # one file failed
    err = capsys.readouterr().err
    assert "missing.h5" in err and "error" in err
    assert short in err                    # its summary line
    # The default block size, cut at 0.5 s: the same as a serial run at the default block size.
    ref: list[dict] = []
    with open_source(short) as src:
        analyze_source(src, ref.append, config=CONFIG, all_bursts=True, threads=1)
    assert strip(by_source(out)[short]) == strip(ref)
    assert any(r["type"] == "burst" for r in ref)


def test_bad_worker_count_is_a_parameter_error(archive):
    from rfdetect.errors import ParameterError
    paths, _ = archive
    with pytest.raises(ParameterError, match="--workers"):
        run_archive([str(paths[0])], workers=0, config=CONFIG, emit=lambda r: None, progress=False)


def test_an_ofdm_video_named_from_summed_prefixes_merges_to_the_serial_records(tmp_path):
    """An OcuSync video at -8 dB: named only through its faint steady bursts' prefix sums,
    which the classifier adds up over the whole file (classify/prefix.py).  The workers
    compute each burst's sums from the same samples as the serial run, and the client's
    classifier adds them in the serial order: the same records."""
    from rfdetect.simulate import generate
    fs, fc = 15.36e6, 2439.5e6
    scn = {"scenario": {"duration_s": 2.6, "seed": 3}, "receiver": {"sample_rate": fs, "center_freq": fc},
           "emitter": [{"id": "v", "link": "dji-ocusync-video", "mode": "10MHz", "domain": "2G4",
                        "freq": fc, "snr_db": -8.0}]}
    x, _ = generate(scn, seed=3)
    path = iqgen.write_hdf5(tmp_path / "video.h5", x, datatype="cu8", sample_rate_hz=fs, center_freq_hz=fc)
    config = DetectorConfig(floor_tau_s=0.05)
    ref = strip(serial(path, config))
    named = [r for r in ref if r["type"] == "detection"]
    assert named and {r["link"] for r in named} == {"dji-ocusync-video"}
    tasks, out, _ = _merge_in_process(path, 0, config)
    assert len(tasks) >= 2
    assert strip(out) == ref


def test_wifi_slices_told_by_the_floor_beside_them_merge_to_the_serial_records(tmp_path, monkeypatch):
    """Weak Wi-Fi traffic seen as slices (a recording of the false-alarm bench, with
    --integrate): the check of each slice measures the floor beside it against the
    detector's noise floor (kernels/beside.py).  A chunk's worker ships its floor with each
    burst's snippet reference; the client's classifier takes the worker's results, or runs
    the check itself with that floor.  (Here the second chunk's warm-up reaches back to the
    file's start; test_default_floor_warmup_gives_serial_records shows a floor reached
    mid-file is the serial one.)"""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_false_alarms import make_scenario

    from rfdetect.classify import matcher
    from rfdetect.simulate import generate

    scn = make_scenario("crowded-2g4", 797047, 1.2)
    x, _ = generate(scn, seed=797047)
    fs, fc = scn["receiver"]["sample_rate"], scn["receiver"]["center_freq"]
    path = iqgen.write_hdf5(tmp_path / "wifi.h5", x, datatype="cu8", sample_rate_hz=fs, center_freq_hz=fc)
    del x
    config = DetectorConfig(floor_tau_s=0.01, integrate_frames=9)
    ref = strip(serial(path, config))
    with monkeypatch.context() as m:
        m.setattr(matcher, "BESIDE_MIN_SIGMA", float("inf"))
        assert strip(serial(path, config)) != ref          # the measure sets tracks aside here
    tasks, out, _ = _merge_in_process(path, 0, config)
    assert len(tasks) >= 2
    assert strip(out) == ref
    # With no result from the workers, the client runs every check itself, on the samples
    # read back from the file and the floor the worker shipped: the same records.
    from rfdetect.classify.evidence import run_kernel
    from rfdetect.scale import worker
    monkeypatch.setattr(worker, "recording_kernels", lambda record: run_kernel)
    _, out, _ = _merge_in_process(path, 1, config)
    assert strip(out) == ref
