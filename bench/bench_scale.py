"""Archive throughput on Dask: 1 worker vs 2, and the per-task overhead.

    .venv/bin/python bench/bench_scale.py [--files 8] [--seconds 12] [--rate 2.4e6]

1. Writes an archive of ``--files`` cu8 HDF5 recordings (noise plus bursts).
2. Throughput: the whole archive through a LocalCluster of 1 and one of 2
   single-threaded worker processes, both kept up and used in turn
   (``--repeats`` times each, so that other load on the machine hits both
   alike; cluster start and the workers' first import/JIT are timed apart,
   then excluded), against the serial ``analyze_source`` with one thread; the
   merged records are checked equal to the serial ones.
3. Per-task overhead: N tasks of S samples (no warm-up) through one Dask
   worker against the same tasks run in this process; the difference per task
   is what Dask adds (scheduling, pickling, a round trip, opening the file).
Prints the load average beside the figures: other work on the machine skews them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import iqgen  # noqa: E402
from synth import TrueBurst, scene  # noqa: E402

from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.pipeline import analyze_source  # noqa: E402
from rfdetect.scale import OpenSpec, plan_file, run_archive  # noqa: E402
from rfdetect.scale.worker import run_chunk  # noqa: E402
from rfdetect.sources import open_source  # noqa: E402

TIMING = ("wall_s", "throughput_msps", "realtime_factor")


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def make_archive(d: Path, files: int, seconds: float, fs: float) -> list[str]:
    paths = []
    n = int(seconds * fs)
    for i in range(files):
        rng = np.random.default_rng(100 + i)
        bursts = [TrueBurst(int(s), int(rng.integers(2000, 40000)), float(rng.uniform(-0.4, 0.4) * fs),
                            float(rng.uniform(20e3, 300e3)), float(rng.uniform(8, 25)))
                  for s in rng.integers(0, n - 40000, int(40 * seconds))]
        p = d / f"rec{i:02d}.h5"
        iqgen.write_hdf5(p, scene(fs, n, bursts, i), datatype="cu8", sample_rate_hz=fs, center_freq_hz=868.3e6)
        paths.append(str(p))
    return paths


def strip(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def serial(paths, config) -> tuple[float, dict]:
    out: dict[str, list] = {}
    t0 = time.perf_counter()
    for p in paths:
        recs: list = []
        with open_source(p) as src:
            analyze_source(src, recs.append, config=config, all_bursts=True, threads=1)
        out[p] = strip(recs)
    return time.perf_counter() - t0, out


def warm(client, path: str, config) -> None:
    """Import and JIT on every worker: users pay it once per worker, not per file."""
    with open_source(path) as src:
        info = src.info
    task = plan_file(OpenSpec(path), replace(info, num_samples=min(info.num_samples, 1 << 19)), 0, config)[0]
    client.run(run_chunk, task, config)


def start_cluster(n_workers: int, path: str, config) -> dict:
    from dask.distributed import Client, LocalCluster
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    start_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm(client, path, config)
    return {"cluster": cluster, "client": client, "start_s": start_s, "warm_s": time.perf_counter() - t0,
            "walls": [], "client_cpu": []}


def archive_run(run: dict, paths, config, reference) -> None:
    """One pass over the archive; wall and client CPU time appended to ``run``."""
    out: dict[str, list] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    run_archive(paths, config=config, all_bursts=True, progress=False, client=run["client"],
                emit=lambda r: out.setdefault(r["source"], []).append(r))
    run["walls"].append(time.perf_counter() - t0)
    run["client_cpu"].append(time.process_time() - c0)
    assert all(strip(out[p]) == reference[p] for p in paths), "merged records differ from serial"


def _noop(i):
    return i


def overhead(path: str, config, sizes, n_tasks: int, passes: int = 3) -> tuple[dict, list[dict]]:
    """Dask's own cost (no-op tasks), and tasks of each size through Dask vs in process
    (best of ``passes``, alternated, so that other load on the machine hits both alike)."""
    from dask.distributed import Client, LocalCluster, wait
    with open_source(path) as src:
        info = src.info
    base = plan_file(OpenSpec(path), info, 0, config)[0]
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    rows = []
    try:
        warm(client, path, config)
        lat = []
        for i in range(30):
            t0 = time.perf_counter()
            client.submit(_noop, i, pure=False).result()
            lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        wait(client.map(_noop, range(500), pure=False))
        noop = {"round_trip_ms": 1e3 * statistics.median(lat), "per_task_ms": 1e3 * (time.perf_counter() - t0) / 500}
        for size in sizes:
            tasks = []
            for k in range(n_tasks):
                start = (k * size) % max(info.num_samples - size, 1)
                start -= start % base.block_samples
                tasks.append(replace(base, start=start, stop=start + size, read_from=start, floor_from=start,
                                     read_block=0, first_block=0))
            run_chunk(tasks[0], config)
            local, remote = [], []
            for _ in range(passes):
                t0 = time.perf_counter()
                for t in tasks:
                    run_chunk(t, config)
                local.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                client.gather(client.map(run_chunk, tasks, config=config, pure=False))
                remote.append(time.perf_counter() - t0)
            local_s, dask_s = min(local), min(remote)
            rows.append({"samples": size, "local_ms": 1e3 * local_s / n_tasks, "dask_ms": 1e3 * dask_s / n_tasks,
                         "overhead_ms": 1e3 * (dask_s - local_s) / n_tasks})
    finally:
        client.close()
        cluster.close()
    return noop, rows


def warmup_sweep(tmp: Path, taus_list, seconds: float = 90.0, chunk_s: float = 10.0) -> None:
    """Records of a chunked run against the serial ones, per warm-up length (default 1 s floor)."""
    from rfdetect.scale.merge import FileMerger
    fs, n, config = 250e3, int(seconds * 250e3), DetectorConfig()
    rng = np.random.default_rng(1)
    bursts = []
    for c in range(int(chunk_s * fs), n, int(chunk_s * fs)):
        for d in (-3000, -100, 0, 57, 2000):
            length = int(rng.integers(2000, 40000))
            bursts.append(TrueBurst(c + d - length // 2, length, float(rng.uniform(-0.4, 0.4) * fs),
                                    float(rng.uniform(0.02, 0.08) * fs), float(rng.uniform(8, 25))))
    for _ in range(200):
        length = int(rng.integers(500, 30000))
        bursts.append(TrueBurst(int(rng.integers(0, n - length)), length, float(rng.uniform(-0.4, 0.4) * fs),
                                float(rng.uniform(0.01, 0.1) * fs), float(rng.uniform(6, 25))))
    path = str(iqgen.write_hdf5(tmp / "sweep.h5", scene(fs, n, bursts, 1), datatype="cu8",
                                sample_rate_hz=fs, center_freq_hz=868e6))
    _, ref = serial([path], config)
    ref = ref[path]
    with open_source(path) as src:
        info = src.info
    print(f"warm-up sweep: {seconds:g} s at 250 kS/s, {chunk_s:g} s chunks, floor_tau_s = {config.floor_tau_s}, "
          f"{len(ref)} serial records")
    for taus in taus_list:
        tasks = plan_file(OpenSpec(path), info, 0, config, chunk_s=chunk_s, warmup_taus=taus)
        out: list = []
        merger = FileMerger(info, out.append, len(tasks), [t.first_block for t in tasks], config=config,
                            all_bursts=True, open_reader=lambda: open_source(path))
        for t in tasks:
            merger.add(run_chunk(t, config))
        merger.finish()
        got = strip(out)
        differ = sum(a != b for a, b in zip(got, ref)) + abs(len(got) - len(ref))
        print(f"  warm-up {taus:4g} tau: {len(tasks)} chunks, {differ:4d} records differ"
              + ("  (identical)" if got == ref else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=12.0, help="length of each recording")
    ap.add_argument("--rate", type=float, default=2.4e6)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=40, help="tasks per size in the overhead measurement")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--warmup-sweep", metavar="TAUS", help="only measure records against warm-up, "
                    "e.g. 2,4,8,16,24,32 (noise-floor time constants)")
    args = ap.parse_args(argv)
    config = DetectorConfig()
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        if args.warmup_sweep:
            warmup_sweep(Path(tmp), [float(x) for x in args.warmup_sweep.split(",")])
            return 0
        print(f"writing {args.files} x {args.seconds:g} s at {args.rate / 1e6:g} MS/s (cu8 HDF5)...", flush=True)
        paths = make_archive(Path(tmp), args.files, args.seconds, args.rate)
        samples = args.files * int(args.seconds * args.rate)
        print(load())
        serial_s, reference = serial(paths, config)
        print(f"serial, one thread:   {serial_s:7.2f} s  {samples / serial_s / 1e6:6.1f} MS/s   ({load()})")
        runs = {n: start_cluster(n, paths[0], config) for n in (1, 2)}
        try:
            for _ in range(args.repeats):
                for n in (1, 2):
                    archive_run(runs[n], paths, config, reference)
        finally:
            for r in runs.values():
                r["client"].close()
                r["cluster"].close()
        for n, r in runs.items():
            best = min(r["walls"])
            print(f"dask, {n} worker(s):   {best:7.2f} s  {samples / best / 1e6:6.1f} MS/s   "
                  f"(runs {', '.join(f'{w:.2f}' for w in r['walls'])} s; cluster start {r['start_s']:.1f} s, "
                  f"first import+JIT {r['warm_s']:.1f} s; client CPU {min(r['client_cpu']):.2f} s)")
        best = {n: min(r["walls"]) for n, r in runs.items()}
        pairs = [a / b for a, b in zip(runs[1]["walls"], runs[2]["walls"])]
        print(f"speed-up 2 workers vs 1: {best[1] / best[2]:.2f}x best of {args.repeats}, "
              f"{statistics.median(pairs):.2f}x median of pairs   (1 worker vs serial: {serial_s / best[1]:.2f}x); "
              f"records identical to serial   ({load()})")
        if not args.skip_overhead:
            print(f"per-task overhead, 1 worker, {args.tasks} tasks per size ({load()}):")
            print(f"{'samples':>10} {'local ms':>9} {'dask ms':>9} {'overhead ms':>12} {'share':>6}")
            noop, rows = overhead(paths[0], config, [1 << 16, 1 << 18, 1 << 20, 1 << 22], args.tasks)
            print(f"no-op task: round trip {noop['round_trip_ms']:.1f} ms, "
                  f"{noop['per_task_ms']:.2f} ms per task when 500 are queued")
            for row in rows:
                share = row["overhead_ms"] / row["dask_ms"]
                print(f"{row['samples']:>10} {row['local_ms']:9.2f} {row['dask_ms']:9.2f} "
                      f"{row['overhead_ms']:12.2f} {share:6.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
