"""What the line-rate stage (analog video below the noise, detect/linerate.py) costs.

    .venv/bin/python bench/bench_linerate.py [--seconds 4] [--repeats 3] [--snr -12]

Writes two recordings per receiver (an analog PAL video transmitter at ``--snr`` dB
in-band, and noise alone): the 10 MS/s receiver at 1280 MHz the accuracy harness uses,
and a 20 MS/s receiver at 5805 MHz with the video on 5800 MHz (band F, channel 4).  On each, ``analyze_source`` (one thread)
runs with the stage and without it (``line_rate_check_s=0``), alternately, ``--repeats``
times after one untimed run of each.  Prints the median wall time of each, their ratio,
the stage's own CPU time per second of signal, and what each run reported.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.detect import linerate  # noqa: E402
from rfdetect.pipeline import analyze_source  # noqa: E402
from rfdetect.sources import open_source  # noqa: E402

# (The simulator does not alias: a receiver narrower than the 6.7 MHz video, an RTL-SDR at
# 1.3 GHz, cannot be simulated with it.)
RECEIVERS = {"10 MS/s, 1280 MHz": ({"sample_rate": 10e6, "center_freq": 1280e6}, "1G3", 1280e6),
             "20 MS/s, 5.8 GHz": ({"sample_rate": 20e6, "center_freq": 5805e6}, "F", 5800e6)}


def write(path: Path, receiver: tuple, seconds: float, snr_db: float | None, seed: int) -> str:
    from rfdetect.simulate import simulate
    receiver, domain, freq_hz = receiver
    emitters = [] if snr_db is None else [{"id": "vtx", "link": "analog-fpv-video", "mode": "pal", "domain": domain,
                                           "freq": freq_hz, "snr_db": snr_db}]
    scn = {"scenario": {"duration_s": seconds, "seed": seed}, "receiver": dict(receiver), "emitter": emitters}
    return str(simulate(scn, path, seed=seed))


def run(path: str, config: DetectorConfig) -> tuple[float, float, dict, list[str]]:
    """(wall s, stage CPU s, summary, links reported) of one one-thread analyze."""
    spent = [0.0]
    feed = linerate.LineRateDetector.feed

    def timed(self, block):
        c0 = time.thread_time()
        try:
            return feed(self, block)
        finally:
            spent[0] += time.thread_time() - c0

    records: list[dict] = []
    linerate.LineRateDetector.feed = timed
    try:
        t0 = time.perf_counter()
        with open_source(path) as src:
            summary = analyze_source(src, records.append, config=config, threads=1)
        wall = time.perf_counter() - t0
    finally:
        linerate.LineRateDetector.feed = feed
    links = sorted({r["link"] for r in records if r["type"] == "detection"})
    return wall, spent[0], summary, links


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--snr", type=float, default=-12.0, help="the video's in-band SNR, dB (default -12)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    on, off = DetectorConfig(), DetectorConfig(line_rate_check_s=0)
    print(f"{args.seconds:g} s per recording, {args.repeats} repeats; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, receiver in RECEIVERS.items():
            for label, snr in ((f"video at {args.snr:g} dB", args.snr), ("noise alone", None)):
                path = write(Path(tmp) / "rec.h5", receiver, args.seconds, snr, args.seed)
                run(path, on), run(path, off)            # kernels loaded, files in the page cache
                walls = {"with": [], "without": []}
                stage = []
                for _ in range(args.repeats):
                    w, s, summary, links_on = run(path, on)
                    walls["with"].append(w)
                    stage.append(s)
                    w, _, _, links_off = run(path, off)
                    walls["without"].append(w)
                    lr = summary["detector"]["line_rate"]
                a, b = statistics.median(walls["with"]), statistics.median(walls["without"])
                print(f"{name}, {label}: with the stage {a:.3f} s, without {b:.3f} s, ratio {a / b:.3f}; "
                      f"stage CPU {statistics.median(stage) / args.seconds * 1e3:.1f} ms per s of signal; "
                      f"checks {lr['checks']}, found {lr['found']}; reported with {links_on or 'nothing'}, "
                      f"without {links_off or 'nothing'}")
                os.unlink(path)
    print(load())
    return 0


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


if __name__ == "__main__":
    sys.exit(main())
