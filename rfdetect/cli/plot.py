"""rfdetect plot: a waterfall of a recording with bursts and detections drawn on it."""
from __future__ import annotations

import argparse
import sys

from ..errors import ParameterError
from ..sources import open_source
from .common import add_detector_options, add_input_options, detector_config, rate_and_freq

EXAMPLE = """example:
  rfdetect plot recordings/demo_868.h5 --out demo.png
"""


def register(sub) -> None:
    p = sub.add_parser("plot", help="waterfall picture with bursts and detections",
                       description="Draw a recording's waterfall (frequency in MHz, time in seconds) with a "
                       "white box around every burst and the name of every detection "
                       "(red: drone, blue: known non-drone, orange: unknown).",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("--title")
    add_input_options(p)
    add_detector_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..plot import plot_recording
    if not args.out.lower().endswith((".png", ".svg", ".pdf")):
        raise ParameterError("must end in .png, .svg or .pdf", param="--out", value=args.out)
    rate, freq = rate_and_freq(args)
    config = detector_config(args)
    summary = plot_recording(lambda: open_source(args.path, args.format, rate, freq), args.out, config,
                             args.title)
    print(f"{args.out}: {summary['bursts']} bursts, {summary['detections']} detections", file=sys.stderr)
    return 0
