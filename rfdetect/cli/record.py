"""rfdetect record: capture an RTL-SDR or rtl_tcp stream to the native HDF5 format (cu8)."""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from ..errors import ParameterError
from ..live.recorder import Recorder, RecordingStopped
from ..units import parse_positive
from .scan import add_source_options, open_live_source, stop_on_signals, sweep_from_args

EXAMPLE = """examples:
  rfdetect record --freq 868.3M --duration 60 --out capture.h5
  rfdetect record --rtl-tcp 192.168.1.20:1234 --band us915 --max-bytes 4G --out sweep.h5
  rfdetect analyze capture.h5            (reprocess it later)
"""


def register(sub) -> None:
    p = sub.add_parser("record", help="capture to the HDF5 format (cu8)",
                       description="Record raw cu8 samples to a native HDF5 recording, with the retunes of a "
                       "sweep and every gap (lost samples) in its tables. The file is flushed every "
                       "--flush-interval seconds: after a crash it is readable up to the last flush. "
                       "Recording stops cleanly at --max-bytes or when the disk is nearly full.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_options(p)
    p.add_argument("--out", metavar="FILE.h5", required=True, help="the recording to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--max-bytes", metavar="BYTES", help="stop at this size, e.g. 2G (default: disk space)")
    p.add_argument("--reserve", metavar="BYTES", default="8M",
                   help="stop when the disk has less than this free (default 8M)")
    p.add_argument("--flush-interval", metavar="S", type=float, default=1.0,
                   help="seconds between flushes to disk (default 1)")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rate = parse_positive(args.sample_rate, "--sample-rate")
    if args.duration is not None and args.duration <= 0:
        raise ParameterError("must be > 0", param="--duration", value=args.duration)
    if args.flush_interval <= 0:
        raise ParameterError("must be > 0", param="--flush-interval", value=args.flush_interval)
    plan = sweep_from_args(args, rate)
    cap = int(parse_positive(args.max_bytes, "--max-bytes")) if args.max_bytes else None
    reserve = int(parse_positive(args.reserve, "--reserve"))
    source = open_live_source(args, rate, plan.steps[0].center_freq_hz)
    if plan.sweeping:
        source.set_sweep(plan.dwell_samples())
    stop = threading.Event()
    recorder = None
    stopped: RecordingStopped | None = None
    try:
        source.start()
        recorder = Recorder(args.out, rate, plan.steps[0].center_freq_hz, hardware=source.hardware,
                            gain_db=source.gain_db, max_bytes=cap, reserve_bytes=reserve,
                            flush_interval_s=args.flush_interval, overwrite=args.overwrite,
                            datetime_utc=source.info.datetime_utc)
        t_end = None if args.duration is None else time.monotonic() + args.duration
        with stop_on_signals(stop):
            for chunk in source.chunks(tick_s=0.1):
                if stop.is_set() or (t_end is not None and time.monotonic() >= t_end):
                    break
                if chunk is None:
                    continue
                try:
                    recorder.write(chunk)
                except RecordingStopped as exc:
                    stopped = exc
                    break
    finally:
        source.close()
        if recorder is not None:
            recorder.close()
    summary = {"type": "summary", "schema": 1, "path": args.out,
               "samples": recorder.samples_written if recorder else 0,
               "signal_s": round((recorder.samples_written if recorder else 0) / rate, 6),
               "stopped": recorder.stopped_reason if recorder else None,
               "accounting": source.accounting.as_dict()}
    if not args.quiet:
        print(json.dumps(summary), file=sys.stderr)
    if stopped is not None:
        raise RecordingStopped(f"{stopped.message}; the file is closed and valid with "
                               f"{summary['samples']} samples ({summary['signal_s']:.2f} s)", path=args.out)
    return 0
