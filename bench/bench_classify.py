"""What classification costs: `analyze` with the full library against the core alone.

    .venv/bin/python bench/bench_classify.py [--seconds 8] [--repeats 5] [--threads 1]
        [--recording FILE.h5]

1. Writes a crowded 868 MHz recording (recordings/scenarios/crowded_868.toml: two
   ExpressLRS pilots, a LoRaWAN gateway and nodes, ISM sensors; ``--seconds`` long),
   unless ``--recording`` names one.
2. Times, alternately and ``--repeats`` times over the same file in this process
   (after one untimed run of each, so that kernels are loaded):
   - the core: the burst detector alone (read, spectrogram, floor, CFAR, bursts),
     run as ``analyze`` runs it;
   - ``analyze_source`` end to end: detector, IQ history, every signature, tracks,
     confirmation kernels, records.
3. Once more with the confirmation kernels timed through the classifier's
   ``run_kernel`` hook, to split classification into kernels and the rest, and each
   kernel's CPU time per call.
4. The FSK kernel's inputs of one more run through ``fsk_evidence`` and its NumPy twin
   in turn: CPU time per call of each, and whether their records are equal.
Prints medians and bests, the ratio of the two and the load average: the target is
analyze within 20 % of the core's throughput (time ratio at most 1.25).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rfdetect.detect import BurstDetector, DetectorConfig  # noqa: E402
from rfdetect.detect.framer import framed_blocks  # noqa: E402
from rfdetect.pipeline import Pipeline, analyze_source  # noqa: E402
from rfdetect.sources import open_source  # noqa: E402
from rfdetect.sources.base import DEFAULT_BLOCK_SAMPLES  # noqa: E402

SCENARIO = REPO / "recordings" / "scenarios" / "crowded_868.toml"
TARGET = 1.25        # analyze time / core time at 80 % of the core's throughput


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def write_recording(path: Path, seconds: float, seed: int) -> Path:
    from rfdetect.simulate import simulate
    with open(SCENARIO, "rb") as f:
        scenario = tomllib.load(f)
    scenario["scenario"]["duration_s"] = seconds
    return simulate(scenario, path, seed=seed)


def core(path: str, threads: int) -> tuple[float, int, int]:
    """(wall s, bursts, samples) of the detector alone, framed as analyze frames."""
    t0 = time.perf_counter()
    bursts = samples = 0
    with open_source(path) as src:
        info = src.info
        det = BurstDetector(DetectorConfig(), info.sample_rate_hz, info.center_freq_hz)
        blocks = src.blocks(DEFAULT_BLOCK_SAMPLES)
        for block, batch in framed_blocks(blocks, det.framer, workers=2 if threads > 1 else 0):
            bursts += len(det.consume(batch))
            samples += block.num_samples
        bursts += len(det.finish())
    return time.perf_counter() - t0, bursts, samples


def analyze(path: str, threads: int) -> tuple[float, dict]:
    records: list[dict] = []
    t0 = time.perf_counter()
    with open_source(path) as src:
        summary = analyze_source(src, records.append, threads=threads)
    return time.perf_counter() - t0, summary


def kernel_split(path: str) -> tuple[float, float, dict, dict]:
    """(classifier s, kernels s, kernel calls, CPU s per kernel) of one one-thread run,
    kernels timed through the classifier's hook and the classifier through its
    ``add``/``finish``.  A kernel's calls and CPU time count the calls with a result only
    (for most bursts run_kernel returns None, most often before it looks at the samples)."""
    from rfdetect.classify import Classifier
    from rfdetect.classify.evidence import run_kernel
    spent = {"kernels": 0.0, "classifier": 0.0}
    calls: dict[str, int] = {}
    cpu: dict[str, float] = {}

    def timed_kernel(kernel, burst, iq, candidates):
        t0, c0 = time.perf_counter(), time.process_time()
        result = None
        try:
            result = run_kernel(kernel, burst, iq, candidates)
            return result
        finally:
            spent["kernels"] += time.perf_counter() - t0
            if result is not None:
                calls[kernel] = calls.get(kernel, 0) + 1
                cpu[kernel] = cpu.get(kernel, 0.0) + time.process_time() - c0

    class Timed(Classifier):
        def add(self, burst, iq=None):
            t0 = time.perf_counter()
            try:
                return super().add(burst, iq)
            finally:
                spent["classifier"] += time.perf_counter() - t0

        def finish(self):
            t0 = time.perf_counter()
            try:
                return super().finish()
            finally:
                spent["classifier"] += time.perf_counter() - t0

    with open_source(path) as src:
        pipeline = Pipeline(src.info, lambda r: None, classifier=Timed(run_kernel=timed_kernel))
        for block in src.blocks():
            pipeline.feed(block)
        pipeline.finish()
    return spent["classifier"], spent["kernels"], calls, cpu


def fsk_twins(path: str, repeats: int) -> tuple[int, float, float, bool]:
    """(calls, CPU s per call of fsk_evidence, of its NumPy twin fsk_evidence_numpy, all
    records equal) on the FSK kernel's inputs of one analyze run, the two timed in turn,
    best of ``repeats``."""
    import numpy as np

    from rfdetect.classify import evidence
    from rfdetect.kernels.evidence_fsk import fsk_evidence, fsk_evidence_numpy
    inputs = []

    def recorded(samples, *args, **kwargs):
        inputs.append((np.array(samples), args, kwargs))
        return fsk_evidence(samples, *args, **kwargs)

    evidence.fsk_evidence = recorded
    try:
        with open_source(path) as src:
            analyze_source(src, lambda r: None)
    finally:
        evidence.fsk_evidence = fsk_evidence
    equal = all(fsk_evidence(x, *a, **k) == fsk_evidence_numpy(x, *a, **k) for x, a, k in inputs)
    best = {fsk_evidence: float("inf"), fsk_evidence_numpy: float("inf")}
    for _ in range(repeats):
        for f in best:
            t0 = time.process_time()
            for x, a, k in inputs:
                f(x, *a, **k)
            best[f] = min(best[f], time.process_time() - t0)
    n = max(len(inputs), 1)
    return len(inputs), best[fsk_evidence] / n, best[fsk_evidence_numpy] / n, equal


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of the generated recording")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--recording", help="use this recording instead of generating one")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, choices=(1, 2), default=1,
                    help="as analyze --threads, for both runs (default 1: no second core to hide behind)")
    ap.add_argument("--no-split", action="store_true", help="skip the kernel / classifier split")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_classify_") as tmp:
        path = args.recording
        if path is None:
            print(f"writing {args.seconds:g} s of {SCENARIO.name} (seed {args.seed})...", flush=True)
            path = str(write_recording(Path(tmp) / "crowded_868.h5", args.seconds, args.seed))
        core(path, args.threads)
        analyze(path, args.threads)
        cores, analyzes = [], []
        print(f"{args.repeats} alternated runs, threads={args.threads} ({load()})", flush=True)
        for _ in range(args.repeats):
            wall, bursts, samples = core(path, args.threads)
            cores.append(wall)
            wall, summary = analyze(path, args.threads)
            analyzes.append(wall)
        signal_s = samples / summary["samples"] * summary["signal_s"]
        print(f"recording: {path}: {signal_s:g} s, {samples} samples, {bursts} bursts "
              f"({bursts / signal_s:.0f}/s), {summary['detections']} detections: {summary['links']}")
        for name, walls in (("core (detector alone)", cores), ("analyze, full library", analyzes)):
            med, best = statistics.median(walls), min(walls)
            print(f"  {name:22s} median {med:6.3f} s  best {best:6.3f} s  "
                  f"({samples / med / 1e6:5.1f} MS/s, {signal_s / med:5.1f}x real time)")
        ratio_med = statistics.median(a / c for a, c in zip(analyzes, cores))
        ratio_best = min(analyzes) / min(cores)
        print(f"  analyze / core: {ratio_med:.2f} (median of pairs), {ratio_best:.2f} (best / best); "
              f"target <= {TARGET:.2f}: {'met' if ratio_med <= TARGET else 'not met'}  ({load()})")
        if not args.no_split:
            classifier_s, kernels_s, calls, cpu = kernel_split(path)
            print(f"  one run split: classifier {classifier_s:.3f} s, of which confirmation kernels "
                  f"{kernels_s:.3f} s, tracks and signatures {classifier_s - kernels_s:.3f} s; "
                  f"{1e6 * (classifier_s - kernels_s) / max(bursts, 1):.0f} us per burst besides kernels")
            print("  kernel calls with a result (CPU): " + ", ".join(
                f"{k} x{n} {1e6 * cpu[k] / n:.0f} us per call" for k, n in sorted(calls.items())))
            n, fused, twin, equal = fsk_twins(path, args.repeats)
            if n:
                print(f"  fsk_evidence on its {n} inputs, CPU per call: {1e6 * fused:.0f} us, its NumPy twin "
                      f"{1e6 * twin:.0f} us ({twin / fused:.2f}x); records equal: {equal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
