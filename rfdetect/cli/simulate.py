"""``rfdetect simulate``: write a labelled synthetic recording from a scenario file."""
from __future__ import annotations

import argparse
import sys
import time

from ..errors import ParameterError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", help="write a labelled synthetic recording from a scenario (TOML)",
        description="Simulate the emitters of a scenario file (drone links and other emitters, "
                    "channel, receiver front end, antenna array) and write an HDF5 recording with "
                    "every burst annotated (and a SigMF copy with --sigmf). The same scenario and "
                    "seed give the same file. Format: recordings/scenarios/README.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  rfdetect simulate recordings/scenarios/crowded_868.toml --out crowded.h5 --seed 1\n"
               "  rfdetect simulate recordings/scenarios/dji_2g4.toml --out dji.h5 --sigmf")
    p.add_argument("scenario", metavar="SCENARIO.toml", help="scenario file")
    p.add_argument("--out", required=True, metavar="FILE.h5", help="HDF5 recording to write")
    p.add_argument("--sigmf", action="store_true",
                   help="also write FILE.sigmf-meta and FILE.sigmf-data beside it")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="random seed (default: scenario.seed, else 0)")
    p.add_argument("--no-overwrite", action="store_true", help="refuse to replace an existing file")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..simulate import load_scenario, simulate

    if args.seed is not None and args.seed < 0:
        raise ParameterError("must be >= 0", param="--seed", value=args.seed)
    if str(args.out).lower().endswith((".sigmf-meta", ".sigmf-data", ".sigmf")):
        raise ParameterError("give the HDF5 path (FILE.h5); --sigmf writes FILE.sigmf-meta and "
                             "FILE.sigmf-data beside it", param="--out", value=args.out)
    scn = load_scenario(args.scenario)
    t0 = time.perf_counter()
    out = simulate(scn, args.out, seed=args.seed, sigmf=args.sigmf, overwrite=not args.no_overwrite)
    wall = time.perf_counter() - t0
    print(f"rfdetect simulate: wrote {out} ({scn.duration_s:g} s at {scn.receiver.sample_rate_hz / 1e6:g} MS/s, "
          f"{scn.num_channels} channel(s), {len(scn.emitters)} emitter(s)) in {wall:.2f} s", file=sys.stderr)
    return 0
