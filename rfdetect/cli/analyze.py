"""rfdetect analyze: reprocess recordings into JSON Lines records."""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from ..errors import RFDetectError
from ..pipeline import analyze_source
from ..sources import expand_paths, open_source
from ..units import format_hz
from .common import (LineWriter, add_detector_options, add_handoff_options, add_input_options,
                     detector_config, open_handoff, rate_and_freq)

EXAMPLE = """examples:
  rfdetect analyze recordings/demo_868.h5
  rfdetect analyze capture.cu8 --sample-rate 2.4M --center-freq 868.3M --all-bursts --out found.jsonl
  rfdetect analyze g001_1090M_2000k.cu8          (rate and frequency from rtl_433's file-name convention)
  rfdetect analyze archive/*.h5 --workers 2 --out all.jsonl      (a local Dask cluster of 2 processes)
  rfdetect analyze archive/ --out all.jsonl      (every recording under archive/, in name order)
"""


def register(sub) -> None:
    p = sub.add_parser("analyze", help="reprocess recordings into detections (JSON Lines)",
                       description="Find every burst and name every link in recordings. Records go to "
                       "stdout (or --out) as JSON Lines; progress and a summary go to stderr.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="recordings (.h5, .sigmf-meta, .cu8/.cs8/.cs16/.cf32), "
                   "or directories: every recording under them, in name order")
    add_input_options(p)
    p.add_argument("--out", metavar="FILE", help="write records here instead of stdout")
    p.add_argument("--all-bursts", action="store_true", help="also write one record per burst")
    p.add_argument("--array", metavar="FILE.toml", help="antenna array description for multi-channel input")
    p.add_argument("--heading-log", metavar="FILE.csv", help="single dongle with a directional antenna: "
                   "CSV of t_s (or time_utc) and heading_deg; each detection gets an amplitude bearing")
    p.add_argument("--progress", choices=["auto", "on", "off"], default="auto",
                   help="progress bar on stderr (auto: when stderr is a terminal)")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.add_argument("--threads", type=int, choices=[1, 2], help="1: all on one thread; 2: read, window "
                   "and transform frames a few batches ahead on a second thread (default: 2 "
                   "when two cores are available)")
    add_detector_options(p)
    add_handoff_options(p)
    from ..scale import add_arguments as add_scale_arguments
    add_scale_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = detector_config(args)
    args.paths = expand_paths(args.paths)
    rate, freq = rate_and_freq(args)
    # The sinks' status reports carry a position: look for one only when there are sinks.
    handoff = open_handoff(args, sensor=_first_sensor(args.paths, args.format, rate, freq)) \
        if args.handoff else None
    writer = LineWriter(args.out)
    emit = handoff.wrap(writer) if handoff else writer
    if args.workers or args.scheduler:
        from ..scale import run_from_args
        try:
            return run_from_args(args, args.paths, config, emit)
        finally:
            writer.close()
            if handoff:
                handoff.close()
    failures = 0
    fixes = None
    if len(args.paths) > 1:
        from ..bearing.fusion import FixCollector
        fixes = FixCollector()
        local_emit = emit

        def emit(record: dict) -> None:
            fixes.add(record)
            local_emit(record)
    try:
        for path in args.paths:
            try:
                summary = _analyze_one(path, args, config, rate, freq, emit)
            except RFDetectError as exc:
                failures += 1
                print(f"rfdetect analyze: error: {exc}", file=sys.stderr)
                continue
            if not args.quiet:
                _print_summary(summary)
        # Bearings of one link from several sensors' recordings: triangulated into fixes.
        for record in fixes.fixes() if fixes else []:
            emit(record)
    finally:
        writer.close()
        if handoff:
            handoff.close()
    return 2 if failures else 0


def _first_sensor(paths, fmt, rate, freq):
    """The sensor position of the first readable recording, for the sinks' status reports."""
    for path in paths:
        try:
            with open_source(path, fmt, rate, freq) as source:
                if source.info.sensor.lat is not None:
                    return source.info.sensor
        except RFDetectError:
            continue
    return None


def _analyze_one(path, args, config, rate, freq, writer) -> dict:
    with open_source(path, args.format, rate, freq) as source:
        total = source.info.num_samples
        disable = {"on": False, "off": True}.get(args.progress)  # None: tqdm decides by TTY
        with tqdm(total=total, unit="S", unit_scale=True, desc=source.info.path[-32:], file=sys.stderr,
                  disable=disable, leave=False, dynamic_ncols=True) as bar:
            return analyze_source(source, writer, config=config, all_bursts=args.all_bursts,
                                  progress=bar.update, threads=args.threads, array_path=args.array,
                                  heading_log_path=args.heading_log)


def _print_summary(s: dict) -> None:
    links = ", ".join(f"{k} x{v}" for k, v in s["links"].items()) or "none"
    print(f"{s['source']}: {s['signal_s']:.3f} s of signal in {s['wall_s']:.2f} s "
          f"({s['throughput_msps']} MS/s, {s['realtime_factor']}x real time); "
          f"{s['bursts']} bursts, {s['detections']} detections ({s['drone_detections']} drone): {links}"
          + (f"; {s['gaps']} gaps, {s['samples_lost']} samples lost" if s["gaps"] else ""),
          file=sys.stderr)
