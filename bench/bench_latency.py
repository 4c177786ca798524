"""Latency of the live path: from the end of a burst on air to its record on the output.

Runs ``rfdetect scan``'s loop (``run_scan``) on the virtual RTL-SDR dongle
(tests/virtual_dongle, compiled with gcc) through the real pyrtlsdr, in real
time, on a looped scenario: noise plus a train of ExpressLRS-like bursts
(4.38 ms every 5 ms, 500 kHz wide) every ``--period`` seconds, longer than the
classifier's track timeout so that each train is a new emitter.

The on-air time of sample k is taken from the receiver: the arrival time of
the USB transfer holding it minus the samples after it in that transfer.

* detection latency: from the end of the burst that confirmed a detection (the
  last burst of its track reported before the detection record) to the first
  detection record of that emitter; target < 250 ms (records flushed when the
  run ends are left out);
* burst latency: from the end of every burst to its burst record.

    python bench/bench_latency.py [--seconds 40] [--period 2.6] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

RATE = 2.4e6
FC = 868.4e6
OFFSET = 300e3


def scenario(path: Path, period_s: float, bursts: int, seed: int = 3) -> None:
    from synth import TrueBurst, scene
    n = int(period_s * RATE)
    true = [TrueBurst(int((0.3 + i * 5e-3) * RATE), int(4.38e-3 * RATE), OFFSET, 500e3, 20.0) for i in range(bursts)]
    x = scene(RATE, n, true, seed=seed)
    v = np.clip(np.round(np.stack([x.real, x.imag], -1).reshape(-1) * 127.5 + 127.5), 0, 255).astype(np.uint8)
    v.tofile(path)


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q)) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--period", type=float, default=2.6, help="seconds between burst trains")
    ap.add_argument("--bursts", type=int, default=20, help="bursts per train")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from virtual_dongle import build
    with tempfile.TemporaryDirectory(prefix="bench_latency_") as tmp:
        return run(args, build, Path(tmp))


def run(args, build, tmp: Path) -> int:
    lib_dir = build(tmp / "lib")
    iq = tmp / "scenario.cu8"
    scenario(iq, args.period, args.bursts)
    os.environ["VDONGLE_IQ"] = str(iq)       # read by the virtual dongle when it is first used

    from rfdetect.classify import Classifier
    from rfdetect.cli.scan import run_scan, warm_up
    from rfdetect.pipeline import Pipeline
    from rfdetect.sources.rtlsdr import RtlSdrSource, loaded_library

    blocks: list[tuple[int, int, float]] = []      # (sample_index0, n, on-air time of sample 0)
    records: list[tuple[float, dict]] = []
    depth: list[int] = []

    def emit(record: dict) -> None:
        records.append((time.time(), record))

    def factory(info, out):
        return Pipeline(info, out, all_bursts=True, classifier=Classifier(early_reports=True))

    source = RtlSdrSource(0, sample_rate_hz=RATE, center_freq_hz=FC, library=str(lib_dir / "librtlsdr.so.0"))
    warm_up(factory, source.info)
    stop = threading.Event()
    try:
        source.start()
        t_end = time.time() + args.seconds
        summary = run_scan(source, emit, factory, duration_s=args.seconds, stop=stop,
                           on_block=lambda b: (blocks.append((b.sample_index0, b.num_samples, b.timestamp)),
                                               depth.append(source.queue_depth())))
    finally:
        source.close()
    library = loaded_library()

    starts = np.array([b[0] for b in blocks], np.int64)

    def on_air(k: int) -> float:
        i = max(0, int(np.searchsorted(starts, k, side="right")) - 1)
        i0, _, t0 = blocks[i]
        return t0 + (k - i0) / RATE

    burst_lat, det_lat = [], []
    bursts_seen: list[dict] = []
    reported_tracks = set()
    for t_emit, r in records:
        if r["type"] == "burst":
            bursts_seen.append(r)
            burst_lat.append(t_emit - on_air(r["sample_start"] + r["sample_count"]))
        elif r["type"] == "detection":
            if t_emit > t_end:
                continue                   # flushed at the end of the run, not a live report
            key = (r["link"], r.get("track_id"))
            if key in reported_tracks:
                continue                   # updates of a reported emitter: not a first report
            reported_tracks.add(key)
            lo = r["center_freq_hz"] - r["bandwidth_hz"]
            hi = r["center_freq_hz"] + r["bandwidth_hz"]
            mine = [b for b in bursts_seen if b["sample_start"] >= r["sample_start"]
                    and lo <= b["center_freq_hz"] <= hi]
            if mine:
                confirming = max(mine, key=lambda b: b["sample_start"] + b["sample_count"])
                det_lat.append(t_emit - on_air(confirming["sample_start"] + confirming["sample_count"]))
                if os.environ.get("BENCH_VERBOSE"):
                    print(r["link"], r["track_id"], r["sample_start"], r["bursts"], det_lat[-1], file=sys.stderr)

    result = {
        "seconds": args.seconds, "sample_rate_hz": RATE, "librtlsdr": library,
        "buffer_samples": source.config.buffer_samples,
        "detections": len(det_lat), "bursts": len(burst_lat),
        "detection_latency_s": {"median": percentile(det_lat, 50), "p99": percentile(det_lat, 99),
                                "max": max(det_lat) if det_lat else None},
        "burst_latency_s": {"median": percentile(burst_lat, 50), "p99": percentile(burst_lat, 99),
                            "max": max(burst_lat) if burst_lat else None},
        "target_s": 0.25,
        "samples_lost": summary["live"]["accounting"]["samples_lost"],
        "queue_depth": {"median": percentile(depth, 50), "max": max(depth) if depth else None},
        "block_samples_median": percentile([b[1] for b in blocks], 50),
    }
    if args.json:
        print(json.dumps(result))
    else:
        d, b = result["detection_latency_s"], result["burst_latency_s"]

        def ms(v):
            return "n/a" if v is None else f"{1e3 * v:.0f} ms"

        print(f"live path on the virtual dongle ({library}), {args.seconds:g} s at {RATE / 1e6:g} MS/s, "
              f"transfers of {source.config.buffer_samples} samples")
        print(f"detection latency ({len(det_lat)} detections): median {ms(d['median'])}, p99 {ms(d['p99'])}, "
              f"max {ms(d['max'])}  (target < 250 ms)")
        print(f"burst latency ({len(burst_lat)} bursts): median {ms(b['median'])}, p99 {ms(b['p99'])}, "
              f"max {ms(b['max'])}")
        print(f"samples lost: {result['samples_lost']}; queue depth median {result['queue_depth']['median']}, "
              f"max {result['queue_depth']['max']} transfers; median block {result['block_samples_median']:.0f} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
