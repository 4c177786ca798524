"""rfdetect calibrate: per-channel phase and gain of a coherent array from a reference capture."""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from ..errors import InputError, ParameterError
from ..sources import open_source
from ..units import format_hz
from .common import add_input_options, rate_and_freq

EXAMPLE = """examples:
  rfdetect calibrate noise_source.h5 --array recordings/arrays/uca5_868.toml --test pilot.h5
      (a noise source fed to every channel; the antenna order checked on another capture)
  rfdetect calibrate beacon.h5 --array kraken.toml --bearing 135 --out kraken_cal.toml
      (a transmitter at a known bearing; the strongest burst is the reference)

The calibration is written into the array file ([calibration] phase_deg, gain_db, freq_hz,
method), or into --out; `rfdetect analyze --array` and `rfdetect scan --array` apply it.
Exit status: 0 calibrated and self-test passed (or nothing to test on: a warning says so),
5 the self-test found a wrong antenna order (nothing written), 2 bad input.
See docs/calibration.md.
"""

SELF_TEST_FAILED = 5


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="per-channel phase and gain of a coherent array from a reference capture",
                       description="Measure the phase and gain of every channel of a coherent array against "
                       "channel 0 from a multi-channel capture of a reference (a noise source fed to every "
                       "channel, or a transmitter at a known --bearing), check the antenna order on a burst "
                       "from another direction, and store the calibration with the array description. "
                       "A JSON line with the result goes to stdout, a summary to stderr.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference", metavar="REFERENCE", help="multi-channel capture of the reference (.h5, .sigmf-meta)")
    add_input_options(p)
    p.add_argument("--array", metavar="FILE.toml", help="array description (default: the capture's own geometry, "
                   "then --out is needed)")
    p.add_argument("--bearing", metavar="DEG", type=float,
                   help="the reference is a transmitter at this bearing (degrees from true north); "
                   "without it, a noise source")
    p.add_argument("--out", metavar="FILE.toml", help="write the calibrated description here instead of "
                   "into --array")
    p.add_argument("--test", metavar="CAPTURE", action="append", default=[],
                   help="capture(s) of the same array for the antenna-order self-test (default: the other "
                   "bursts of the reference capture)")
    p.add_argument("--test-bearing", metavar="DEG", type=float,
                   help="known bearing of the strongest burst of the --test captures")
    p.add_argument("--start", metavar="S", type=float, default=0.0, help="skip this much of each capture")
    p.add_argument("--seconds", metavar="S", type=float, default=1.0,
                   help="seconds of each capture to use (default 1)")
    p.add_argument("--force", action="store_true", help="write the calibration even when the self-test fails")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=run)


def _read(path: str, args: argparse.Namespace):
    """(samples (channels, n), info) of the part of a capture to use."""
    rate, freq = rate_and_freq(args)
    with open_source(path, args.format, rate, freq) as source:
        info = source.info
        if info.num_channels < 2:
            raise InputError("single-channel recording: calibration needs a capture of every channel of "
                             "the array at once (a coherent multi-channel recording)", path=path,
                             param="num_channels", value=info.num_channels)
        fs = info.sample_rate_hz
        start = int(round(args.start * fs))
        stop = start + int(round(args.seconds * fs))
        parts = [b.samples for b in source.blocks(start=start, stop=stop)]
    if not parts:
        raise InputError("no samples in the part of the capture asked for", path=path, param="--start",
                         value=args.start)
    if info.retunes:
        raise InputError("the capture was retuned: calibrate on a capture at one centre frequency", path=path)
    return np.concatenate(parts, axis=1)[:, :stop - start], info


def run(args: argparse.Namespace) -> int:
    from ..bearing import array_for_recording, save_array
    from ..bearing.calibration import calibrate_capture, self_test_capture
    for name in ("bearing", "test_bearing"):
        v = getattr(args, name)
        if v is not None and not math.isfinite(v):
            raise ParameterError("must be a finite number of degrees", param="--" + name.replace("_", "-"), value=v)
    if not args.seconds > 0:
        raise ParameterError("must be > 0", param="--seconds", value=args.seconds)
    if args.start < 0:
        raise ParameterError("must be >= 0", param="--start", value=args.start)
    if args.array is None and args.out is None:
        raise ParameterError("give --out FILE.toml to store a calibration of the capture's own geometry "
                             "(or --array FILE.toml to write into)", param="--out")
    x, info = _read(args.reference, args)
    array = array_for_recording(info, args.array).with_calibration(None)
    fs, fc = info.sample_rate_hz, info.center_freq_hz
    cal, box = calibrate_capture(x, fs, fc, array, args.bearing)
    calibrated = array.with_calibration(cal)

    tests = []
    for path in args.test:
        xt, it = _read(path, args)
        array_for_recording(it, args.array)                      # same channel count
        if it.center_freq_hz != fc:
            print(f"rfdetect calibrate: warning: {path} is at {format_hz(it.center_freq_hz)}, the reference at "
                  f"{format_hz(fc)}: phases differ between frequencies", file=sys.stderr)
        report, tbox = self_test_capture(xt, it.sample_rate_hz, it.center_freq_hz, calibrated, args.test_bearing)
        tests.append((path, report, tbox))
    if not args.test:
        report, tbox = self_test_capture(x, fs, fc, calibrated, exclude=box)
        tests.append((args.reference, report, tbox))
    ran = [(p, r, b) for p, r, b in tests if r is not None]
    failed = [(p, r) for p, r, _ in ran if not r.order_ok]

    out_path = args.out or args.array
    written = not failed or args.force
    if written:
        save_array(calibrated, out_path)
    record = {"type": "calibration", "schema": 1, "source": info.path, "array": array.name,
              "method": cal.method, "freq_hz": cal.freq_hz,
              "phase_deg": [round(v, 3) for v in cal.phase_deg], "gain_db": [round(v, 3) for v in cal.gain_db],
              "reference": box, "written_to": out_path if written else None,
              "self_test": [{"capture": p, "burst": b, "order_ok": r.order_ok, "fit": round(r.fit, 4),
                             "best_order": list(r.best_order), "best_fit": round(r.best_fit, 4),
                             "bearing_deg": r.bearing_deg, "message": r.message} for p, r, b in ran]}
    print(json.dumps(record), flush=True)
    if not args.quiet:
        _print_summary(record, tests)
    if failed:
        print(f"rfdetect calibrate: error: self-test failed on {failed[0][0]}: {failed[0][1].message}; "
              + ("calibration written anyway (--force)" if written else "calibration not written: check "
                 "the cabling (channel i must be element i)"), file=sys.stderr)
        return SELF_TEST_FAILED
    return 0


def _print_summary(record: dict, tests) -> None:
    phases = ", ".join(f"{p:+.1f}" for p in record["phase_deg"])
    gains = ", ".join(f"{g:+.2f}" for g in record["gain_db"])
    print(f"rfdetect calibrate: {record['array']} at {format_hz(record['freq_hz'])} from {record['method']}: "
          f"phase [{phases}] deg, gain [{gains}] dB"
          + (f"; written to {record['written_to']}" if record["written_to"] else ""), file=sys.stderr)
    for path, report, _ in tests:
        if report is None:
            print(f"rfdetect calibrate: warning: antenna order not verified: {path} holds no burst from "
                  "another direction (give --test CAPTURE)", file=sys.stderr)
        elif report.order_ok:
            print(f"rfdetect calibrate: self-test on {path}: {report.message}", file=sys.stderr)
