"""rfdetect bench: run the benchmark scripts of the repository's bench/ folder."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from ..errors import InputError

EXAMPLE = """examples:
  rfdetect bench core                       spectrogram vs SciPy, analyze end to end on 1 and 2 cores, cold start
  rfdetect bench accuracy --trials 20       detection and naming against SNR, confusion matrix, plots
  rfdetect bench accuracy --trials 3 --snr -10,0,10 --links expresslrs-lora,dji-droneid --out /tmp/acc
  rfdetect bench accuracy --snr 0,10 --modes all --integrate   every drone link in each of its modes
  rfdetect bench latency --seconds 60       live-path latency on the virtual dongle
(figures and how they were measured: bench/README.md)
"""

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
BENCHMARKS = {
    "core": "throughput of the core engine",
    "classify": "what classification costs against the core, in a crowded band",
    "accuracy": "detection and classification against SNR",
    "simulate": "simulator speed",
    "bearing": "direction-finding accuracy against the Cramer-Rao bound",
    "alignment": "live coherent-array alignment and coherence",
    "sinks": "hand-off sinks, records per second",
    "latency": "live-path detection latency",
    "scale": "Dask archive throughput",
    "dechirp": "speed of the LoRa chirp detector (--dechirp)",
    "linerate": "what the search for analog video's line rate below the noise costs",
    "false_alarms": "false drone alarms per hour of negative recordings (noise, non-drone emitters, crowded bands)",
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="throughput and accuracy benchmarks",
                       description="Run one of the benchmark scripts in the repository's bench/ folder: "
                       + "; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items()) + ".",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", choices=sorted(BENCHMARKS), help="which benchmark")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of that benchmark (NAME --help lists them)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = BENCH_DIR / f"bench_{args.which}.py"
    if not path.exists():
        raise InputError("benchmark script not found (the bench/ folder ships with the source tree, "
                         "not with an installed wheel)", path=path)
    return subprocess.call([sys.executable, str(path), *args.rest])
