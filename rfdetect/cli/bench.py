"""rfdetect bench: benchmarks that measure the engine (accuracy harness)."""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..errors import InputError

EXAMPLE = """examples:
  rfdetect bench accuracy --trials 20
  rfdetect bench accuracy --trials 3 --snr -10,0,10 --links expresslrs-lora,dji-droneid --out /tmp/acc
"""

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def register(sub) -> None:
    p = sub.add_parser("bench", help="accuracy benchmark (simulated trials, reliability table)",
                       description="Run a benchmark script from the repository's bench/ folder.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", choices=["accuracy"], help="which benchmark")
    p.add_argument("rest", nargs=argparse.REMAINDER,
                   help="options of the benchmark (see: rfdetect bench accuracy --help)")
    p.set_defaults(func=run)


def _load(name: str):
    path = BENCH_DIR / f"bench_{name}.py"
    if not path.exists():
        raise InputError(f"benchmark script {path} not found (the bench/ folder ships with the source tree)")
    spec = importlib.util.spec_from_file_location(f"rfdetect_bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(args: argparse.Namespace) -> int:
    return int(_load(args.which).main(args.rest) or 0)
