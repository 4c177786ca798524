"""Generation speed of the scenario simulator: 2.4 MS/s, one channel, 5 emitters, one core.

Prints MS/s and the real-time factor for rendering in memory and for writing an HDF5
recording (complex64 and RTL-SDR cu8), best and median of ``--repeat`` runs of each (the
runs interleaved), with the load average.  Target: at least 10x real time.

    taskset -c 0 .venv/bin/python bench/bench_simulate.py [--duration 10] [--repeat 3]

The CPU time is the process's own (user + system); on a machine others are using, it is the
figure to trust, the wall time also counts the time the process waited for the core.
"""
from __future__ import annotations

import os

for _v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

SCENARIO = {
    "scenario": {"name": "bench-5-emitters", "duration_s": 10.0, "seed": 1},
    "receiver": {"sample_rate": "2.4M", "center_freq": "868.0M", "noise_dbfs": -30.0},
    "emitter": [
        {"id": "pilot-a", "link": "expresslrs-lora", "mode": "200", "domain": "EU868", "snr_db": 15},
        {"id": "pilot-b", "link": "expresslrs-fsk", "mode": "1000", "domain": "EU868", "snr_db": 12},
        {"id": "gateway", "link": "lorawan", "mode": "SF9BW125", "freq": "868.5M", "interval_s": 1.0,
         "snr_db": 20},
        {"id": "node", "link": "lorawan", "mode": "SF7BW125", "interval_s": 0.5, "snr_db": 10},
        {"id": "sensor", "link": "ism-fsk", "mode": "sensor", "freq": "868.3M", "interval_s": 0.5, "snr_db": 15},
    ],
}


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of signal (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    args = ap.parse_args()
    from rfdetect.simulate import generate, simulate

    fs = 2.4e6
    warm = copy.deepcopy(SCENARIO)
    warm["scenario"]["duration_s"] = 0.2
    t0 = time.perf_counter()
    generate(warm, seed=1)
    cold = time.perf_counter() - t0
    print(f"cold start (JIT compile or cache load + 0.2 s of signal): {cold:.2f} s")

    scn = copy.deepcopy(SCENARIO)
    scn["scenario"]["duration_s"] = args.duration
    rtl = copy.deepcopy(scn)
    rtl["receiver"]["type"] = "rtl-sdr"
    n = args.duration * fs
    results: dict[str, list[tuple[float, float]]] = {}
    loads = [_load()]
    bursts = 0

    def timed(name, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        results.setdefault(name, []).append((time.perf_counter() - w0, time.process_time() - c0))
        return out

    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeat):
            x, anns = timed("generate (in memory, complex64)", lambda: generate(scn, seed=1))
            bursts = len(anns)
            del x
            timed("simulate -> HDF5 cf32_le", lambda: simulate(scn, Path(d) / "b.h5", seed=1))
            timed("simulate -> HDF5 cu8 (RTL-SDR model)", lambda: simulate(rtl, Path(d) / "c.h5", seed=1))
            loads.append(_load())
    print(f"{args.duration:g} s at 2.4 MS/s, 1 channel, 5 emitters, {bursts} annotated bursts, one core; "
          f"{args.repeat} runs each, load average {min(loads):.1f}-{max(loads):.1f}")
    for name, runs in results.items():
        cpu = [c for _, c in runs]
        wall = [w for w, _ in runs]
        best, med = min(cpu), statistics.median(cpu)
        print(f"  {name:38s} CPU best {best:5.2f} s ({args.duration / best:5.1f}x real time, "
              f"{n / best / 1e6:5.1f} MS/s), median {med:5.2f} s ({args.duration / med:5.1f}x); "
              f"wall best {min(wall):5.2f} s ({args.duration / min(wall):5.1f}x)")


if __name__ == "__main__":
    main()
