"""rfdetect convert: native HDF5 <-> SigMF, or raw files into HDF5."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ParameterError
from ..sources import detect_format, open_source
from .common import add_input_options, rate_and_freq

EXAMPLE = """examples:
  rfdetect convert capture.h5 capture.sigmf-meta
  rfdetect convert mavic.sigmf-meta mavic.h5
  rfdetect convert g001_868.3M_250k.cu8 sensor.h5
"""


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert recordings between HDF5, SigMF and raw",
                       description="Convert a recording, keeping metadata, retunes, gaps and annotations.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC")
    p.add_argument("dst", metavar="DST", help=".h5 or .sigmf-meta (base name)")
    p.add_argument("--overwrite", action="store_true")
    add_input_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sources.hdf5 import HDF5Writer
    from ..sources.sigmf_io import hdf5_to_sigmf, sigmf_to_hdf5
    dst = Path(args.dst)
    dst_kind = "hdf5" if dst.suffix.lower() in (".h5", ".hdf5") else \
        "sigmf" if dst.name.endswith((".sigmf-meta", ".sigmf-data")) or dst.suffix == "" else None
    if dst_kind is None:
        raise ParameterError("must end in .h5 or .sigmf-meta", param="DST", value=args.dst)
    src_kind = args.format if args.format != "auto" else detect_format(args.src)
    base = str(dst).removesuffix(".sigmf-meta").removesuffix(".sigmf-data")
    if src_kind == "hdf5" and dst_kind == "sigmf":
        out = hdf5_to_sigmf(args.src, base, overwrite=args.overwrite)
    elif src_kind == "sigmf" and dst_kind == "hdf5":
        out = sigmf_to_hdf5(args.src, dst, overwrite=args.overwrite)
    elif dst_kind == "hdf5":
        rate, freq = rate_and_freq(args)
        with open_source(args.src, args.format, rate, freq) as source:
            info = source.info
            datatype = "cu8" if info.datatype == "cu8" else "cf32_le"
            with HDF5Writer(dst, info.sample_rate_hz, info.center_freq_hz, datatype=datatype,
                            num_channels=info.num_channels, datetime_utc=info.datetime_utc,
                            overwrite=args.overwrite) as writer:
                for block in source.blocks():
                    writer.append(block.samples)
        out = dst
    else:
        raise ParameterError(f"cannot convert {src_kind} to {dst_kind}", param="DST", value=args.dst)
    print(f"wrote {out}", file=sys.stderr)
    return 0
