"""rfdetect scan: live detection from an RTL-SDR or an rtl_tcp server."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable

from ..errors import ParameterError
from ..live.bands import BANDS, band, frequency_plan
from ..live.sweep import SweepPlan, plan_sweep
from ..live.status import StatusLine
from ..sources.accounting import LiveConfig, LiveSource, check_rate, chunk_to_block
from ..units import format_hz, parse_positive, parse_si
from .common import LineWriter, add_detector_options, add_handoff_options, detector_config, open_handoff

_END = object()

EXAMPLE = """examples:
  rfdetect scan --band eu868 --duration 60
  rfdetect scan --device 00000001 --freq 868.3M --freq 869.5M --gain 30 --record-evidence clips/
  rfdetect scan --rtl-tcp 192.168.1.20:1234 --band us915 --record capture.h5 > detections.jsonl
  rfdetect scan --array recordings/arrays/uca5_868.toml --freq 868M --rtl-tcp 10.0.0.5:1234 \
      --rtl-tcp 10.0.0.5:1235 --rtl-tcp 10.0.0.5:1236 --rtl-tcp 10.0.0.5:1237 --rtl-tcp 10.0.0.5:1238
      (a coherent 5-channel array, one rtl_tcp per element in element order: bearings too;
       the channels are aligned to the sample on what is on the air, see docs/calibration.md)

bands: """ + ", ".join(f"{b.name} ({format_hz(b.lo_hz)}-{format_hz(b.hi_hz)})" for b in BANDS.values()) + """
A dongle on a stock Debian/Ubuntu needs pyrtlsdrlib (pip install 'rfdetect[rtlsdr]'): the
distribution's librtlsdr 0.6.0 is too old for pyrtlsdr.
"""


def add_source_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("receiver")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--device", metavar="INDEX|SERIAL", default="0",
                     help="local RTL-SDR by index or serial number (default 0)")
    src.add_argument("--rtl-tcp", metavar="HOST:PORT", action="append",
                     help="an rtl_tcp server instead of a local dongle; with --array, one per element "
                     "(repeated, in element order)")
    tune = g.add_mutually_exclusive_group()
    tune.add_argument("--band", metavar="NAME", help=f"named band plan: {', '.join(BANDS)} (default eu868)")
    tune.add_argument("--freq", metavar="HZ", action="extend", nargs="+",
                      help="centre frequencies (several, or repeated: cycles through them)")
    g.add_argument("--sample-rate", metavar="HZ", default="2.4M", help="sample rate (default 2.4M)")
    g.add_argument("--gain", metavar="DB|auto", default="auto", help="tuner gain in dB, or auto (default)")
    g.add_argument("--agc", action="store_true", help="enable the RTL2832's digital AGC")
    g.add_argument("--ppm", type=int, default=0, help="frequency correction, ppm")
    g.add_argument("--bias-tee", action="store_true", help="power an LNA through the antenna port")
    g.add_argument("--direct-sampling", type=int, choices=[0, 1, 2], default=0,
                   help="0 off, 1 I branch, 2 Q branch (HF)")
    g.add_argument("--dwell", metavar="S", type=float,
                   help="seconds per sweep step (default: one hop cycle of the band's links)")
    g.add_argument("--duration", metavar="S", type=float, help="stop after this many seconds (default: Ctrl-C)")
    g.add_argument("--librtlsdr", metavar="PATH", help="load this librtlsdr instead of the one pyrtlsdr finds")


def parse_gain(text: str | None) -> float | None:
    if text is None or str(text).lower() in ("auto", "agc", ""):
        return None
    return parse_si(text, "--gain")


def sweep_from_args(args: argparse.Namespace, sample_rate_hz: float) -> SweepPlan:
    check_rate(sample_rate_hz)
    parse_gain(args.gain)
    for address in args.rtl_tcp or ():
        from ..sources.rtltcp import parse_address
        parse_address(address)
    plan = frequency_plan(args.freq, direct_sampling=bool(args.direct_sampling)) if args.freq \
        else band(args.band or "eu868")
    dwell = args.dwell
    if dwell is None and args.freq:
        dwell = 1.0 if len(args.freq) > 1 else None
    return plan_sweep(plan, sample_rate_hz, dwell_s=dwell)


def open_live_source(args: argparse.Namespace, sample_rate_hz: float, center_freq_hz: float,
                     config: LiveConfig | None = None, array=None):
    """The receiver the options name: a dongle, an rtl_tcp server, or with ``array`` (an
    ``ArrayGeometry``) a coherent array of one rtl_tcp server per element."""
    gain = parse_gain(args.gain)
    common = dict(sample_rate_hz=sample_rate_hz, center_freq_hz=center_freq_hz, gain_db=gain,
                  agc=args.agc, ppm=args.ppm, bias_tee=args.bias_tee, direct_sampling=args.direct_sampling)
    servers = args.rtl_tcp or []
    if array is not None:
        if len(servers) != array.num_elements:
            raise ParameterError(f"the array {array.name} ({array.source}) has {array.num_elements} elements: "
                                 f"give one --rtl-tcp HOST:PORT per element, in element order "
                                 f"({len(servers)} given)", param="--rtl-tcp", value=len(servers))
        from ..sources.coherent import open_rtl_tcp_array
        return open_rtl_tcp_array(servers, array, live_config=config, **common)
    if len(servers) > 1:
        raise ParameterError("several rtl_tcp servers make a coherent array: give its geometry with "
                             "--array FILE.toml", param="--rtl-tcp", value=servers)
    if servers:
        from ..sources.rtltcp import RtlTcpSource
        return RtlTcpSource(servers[0], config=config, **common)
    from ..sources.rtlsdr import RtlSdrSource
    return RtlSdrSource(args.device, config=config, library=args.librtlsdr, **common)


@contextmanager
def stop_on_signals(stop: threading.Event):
    """Ctrl-C and SIGTERM end the loop cleanly instead of interrupting a write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set():                     # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def register(sub) -> None:
    p = sub.add_parser("scan", help="live detection from an RTL-SDR or an rtl_tcp server",
                       description="Scan a band (sweeping it when it is wider than the sample rate) and "
                       "write detections as JSON Lines to stdout (or --out), with a status line and a "
                       "summary on stderr. Samples lost anywhere become gap records; nothing is dropped "
                       "silently. Stops on Ctrl-C or after --duration.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_options(p)
    p.add_argument("--array", metavar="FILE.toml", help="antenna array geometry (and calibration) of a coherent "
                   "array: one --rtl-tcp per element; detections get bearings")
    p.add_argument("--out", metavar="FILE", help="write records here instead of stdout")
    p.add_argument("--all-bursts", action="store_true", help="also write one record per burst")
    p.add_argument("--record", metavar="FILE.h5", help="also record the stream (HDF5, cu8)")
    p.add_argument("--record-max-bytes", metavar="BYTES", help="size cap of --record, e.g. 2G")
    p.add_argument("--record-evidence", metavar="DIR",
                   help="write an annotated HDF5 clip for each new detection (from 1.5 s before it)")
    p.add_argument("--status", choices=["auto", "on", "off"], default="auto",
                   help="live status line on stderr (auto: when stderr is a terminal)")
    p.add_argument("--quiet", action="store_true", help="no plan or summary on stderr")
    add_detector_options(p)
    add_handoff_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..classify import Classifier
    from ..pipeline import Pipeline
    rate = parse_positive(args.sample_rate, "--sample-rate")
    if args.duration is not None and args.duration <= 0:
        raise ParameterError("must be > 0", param="--duration", value=args.duration)
    plan = sweep_from_args(args, rate)
    config = detector_config(args)
    array = _array_from_args(args, plan)
    if not args.quiet:
        _print_plan(plan)
    source = open_live_source(args, rate, plan.steps[0].center_freq_hz, array=array)
    handoff = open_handoff(args)
    writer = LineWriter(args.out)
    emit = handoff.wrap(writer) if handoff else writer
    recorder = evidence = None
    try:
        if plan.sweeping:
            source.set_sweep(plan.dwell_samples())

        def factory(info, emit):
            # live: report an emitter as soon as it is confirmed, not when its track ends
            return Pipeline(info, emit, config=config, all_bursts=args.all_bursts,
                            classifier=Classifier(early_reports=True), array_path=args.array,
                            low_latency=True)

        if array is None:
            source.open()          # a missing receiver is reported before anything else
            warm_up(factory, source.info)
        else:
            # the servers stream from the moment they are connected: a backlog as long as the
            # warm-up would delay the alignment and overflow the queues
            warm_up(factory, source.info)
            source.open()
        source.start()
        if args.record:
            from ..live.recorder import Recorder
            cap = int(parse_positive(args.record_max_bytes, "--record-max-bytes")) if args.record_max_bytes else None
            recorder = Recorder(args.record, rate, plan.steps[0].center_freq_hz, hardware=source.hardware,
                                gain_db=source.gain_db, max_bytes=cap, datetime_utc=source.info.datetime_utc,
                                num_channels=source.info.num_channels, array=source.info.array,
                                sensor=source.info.sensor if array is not None else None)
        if args.record_evidence:
            from ..live.evidence import EvidenceRecorder
            evidence = EvidenceRecorder(args.record_evidence, rate, hardware=source.hardware, gain_db=source.gain_db)
        status = StatusLine(enabled={"on": True, "off": False}.get(args.status))
        summary = run_scan(source, emit, factory, plan=plan, duration_s=args.duration, recorder=recorder,
                           evidence=evidence, status=status, label=plan.band.name)
    finally:
        source.close()
        if recorder is not None:
            recorder.close()
        writer.close()
        if handoff:
            handoff.close()
    if not args.quiet:
        _print_summary(summary)
    return 0


def _array_from_args(args: argparse.Namespace, plan: SweepPlan):
    """The --array geometry, checked against the other options (None without --array)."""
    if not args.array:
        return None
    from ..bearing import load_array
    array = load_array(args.array)
    if not args.rtl_tcp:
        raise ParameterError(f"a coherent array is read through one rtl_tcp server per element: give "
                             f"{array.num_elements} --rtl-tcp HOST:PORT", param="--array", value=args.array)
    if plan.sweeping:
        raise ParameterError("a coherent array scans one centre frequency: give a single --freq "
                             "(or a band no wider than the sample rate)", param="--array", value=args.array)
    if args.record_evidence:
        raise ParameterError("evidence clips are single-channel: use --record for a coherent array",
                             param="--record-evidence", value=args.record_evidence)
    return array


def warm_up(pipeline_factory, info, seconds: float = 0.1) -> None:
    """Run the pipeline once on synthetic samples so that its kernels are compiled
    (or loaded from Numba's cache) before the receiver starts streaming."""
    import numpy as np

    from ..model import IQBlock
    rng = np.random.default_rng(0)
    n = max(4096, int(seconds * info.sample_rate_hz))
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64) * np.float32(0.01)
    t = np.arange(n // 8, dtype=np.float32)
    for k in range(3):                       # a few tone bursts so burst extraction runs too
        a = n // 4 + k * (n // 8)
        x[a:a + t.size] += (0.3 * np.exp(2j * np.pi * 0.1 * t)).astype(np.complex64)
    # every channel of an array: the bearing kernels compile too
    noise = rng.standard_normal((info.num_channels, n)).astype(np.float32) * np.float32(0.003)
    x = x[None, :] + noise
    pipe = pipeline_factory(info, lambda record: None)
    pipe.feed(IQBlock(x, 0, info.center_freq_hz, info.sample_rate_hz))
    pipe.finish()


def run_scan(source: LiveSource, emit: Callable[[dict], None], pipeline_factory, *, plan: SweepPlan | None = None,
             duration_s: float | None = None, recorder=None, evidence=None, status: StatusLine | None = None,
             label: str = "", stop: threading.Event | None = None,
             on_block: Callable | None = None, max_block_samples: int = 1 << 18) -> dict:
    """The live loop: chunks -> (recorder, evidence ring) -> pipeline -> emit.

    ``pipeline_factory(info, emit)`` returns an object with ``feed(IQBlock)`` and
    ``finish(error=None) -> dict`` (``rfdetect.pipeline.Pipeline``).  Stops on
    ``stop`` (set by Ctrl-C/SIGTERM), after ``duration_s`` of wall time, or when
    the source ends; a DeviceError is re-raised after the summary is emitted.
    The summary gains a ``live`` section: the source's sample accounting, the
    sweep plan and the recording's state.
    """
    stop = stop or threading.Event()
    detections = [0]
    recording_note: dict = {}
    incoherence = getattr(source, "incoherence", None)       # a coherent array's phase watch
    to_block = getattr(source, "chunk_block", None) or (
        lambda c: chunk_to_block(c, source.sample_rate_hz, source.gain_db))

    def emit_all(record: dict) -> None:
        if incoherence is not None and record.get("type") == "bearing":
            rate = source.sample_rate_hz
            reason = incoherence(int(record["t_start_s"] * rate), int(record["t_end_s"] * rate) + 1)
            if reason:
                if record.get("reason"):
                    reason += "; " + record["reason"]
                record = {**record, "bearing_deg": None, "bearing_sigma_deg": None, "confidence": 0.0,
                          "usable": False, "reason": reason}
                record.pop("elevation_deg", None)
        if record.get("type") == "summary":
            accounting = source.accounting.as_dict()
            # lost samples the stop left without a gap record (all others have one)
            accounting["samples_lost_unreported"] = source.unreported_lost()
            record["live"] = {"source": source.info.path, "band": label, "receiver": source.describe(),
                              "accounting": accounting,
                              "sweep": plan.as_dict() if plan is not None else None,
                              **recording_note}
        elif record.get("type") == "detection":
            detections[0] += 1
            if evidence is not None:
                evidence.on_record(record)
        if status is not None:
            status.clear()
        emit(record)

    pipeline = pipeline_factory(source.info, emit_all)
    t_end = None if duration_s is None else time.monotonic() + duration_s
    error = None
    freq = source.center_freq_hz
    try:
        with stop_on_signals(stop):
            source.start()
            chunks = source.chunks(tick_s=0.1)
            while not stop.is_set():
                if t_end is not None and time.monotonic() >= t_end:
                    break
                chunk = next(chunks, _END)
                if chunk is _END:
                    break
                if chunk is None:          # receiver quiet: check the clock and the stop flag
                    continue
                chunk = source.coalesce(chunk, max_block_samples)
                freq = chunk.center_freq_hz
                if recorder is not None and recorder.stopped_reason is None:
                    from ..live.recorder import RecordingStopped
                    try:
                        recorder.write(chunk)
                    except RecordingStopped as exc:
                        recording_note["recording_stopped"] = str(exc)
                        if status is not None:
                            status.clear()
                        print(f"rfdetect scan: recording stopped: {exc}", file=sys.stderr)
                if evidence is not None:
                    evidence.add(chunk)
                block = to_block(chunk)
                pipeline.feed(block)
                if on_block is not None:
                    on_block(block)
                if status is not None:
                    status.update(label, freq, source.accounting, detections[0], source.queue_depth())
    except BaseException as exc:
        error = exc
    finally:
        source.stop()
    if recorder is not None:
        recording_note["recording"] = {"path": recorder.path, "samples": recorder.samples_written,
                                       "stopped": recorder.stopped_reason}
    summary = pipeline.finish(error=None if error is None else (str(error) or type(error).__name__))
    if evidence is not None:
        evidence.finish()
        summary.setdefault("live", {})["evidence_clips"] = list(evidence.clips)
    if status is not None:
        status.clear()
    if error is not None:
        raise error
    return summary


def _print_plan(plan: SweepPlan) -> None:
    d = plan.as_dict()
    steps = plan.steps
    where = (f"{len(steps)} steps {format_hz(steps[0].center_freq_hz)}..{format_hz(steps[-1].center_freq_hz)}, "
             f"dwell {steps[0].dwell_s:.3g} s, cycle {plan.cycle_s:.3g} s" if plan.sweeping
             else f"fixed at {format_hz(steps[0].center_freq_hz)}")
    links = "; ".join(f"{c['link']} {c['channels_in_view']}/{c['channels']} channels, expected detection in "
                      + (f"{c['expected_detect_s']:.2g} s" if c["expected_detect_s"] is not None else "never")
                      for c in d["links"])
    print(f"rfdetect scan: {plan.band.name}: {where}; {100 * plan.band_covered_fraction:.0f} % of the band "
          f"in view" + (f"; {links}" if links else ""), file=sys.stderr)


def _print_summary(s: dict) -> None:
    live = s.get("live", {})
    acc = live.get("accounting", {})
    print(f"rfdetect scan: {s['signal_s']:.1f} s of signal in {s['wall_s']:.1f} s; {s['bursts']} bursts, "
          f"{s['detections']} detections ({s['drone_detections']} drone); {acc.get('retunes', 0)} retunes; "
          f"{acc.get('gaps', 0)} gaps, {acc.get('samples_lost', 0)} samples lost (queue "
          f"{acc.get('lost_queue_overflow', 0)}, receiver {acc.get('lost_sample_clock', 0)}, settling "
          f"{acc.get('lost_retune_settling', 0)}, reconnect {acc.get('lost_reconnect', 0)})"
          + (f"; {len(live['evidence_clips'])} evidence clips" if live.get("evidence_clips") else ""),
          file=sys.stderr)
    alignment = live.get("receiver", {}).get("alignment")
    if alignment:
        print("rfdetect scan: array aligned: " + ", ".join(
            f"ch{a['channel']} lag {a['lag_samples']} (residual {a['residual_samples']:+.2f}, coherence "
            + (f"{a['coherence']:.2f}" if a["coherence"] is not None else "n/a") + ")" for a in alignment[1:])
            + f"; {acc.get('realignments', 0)} realignments", file=sys.stderr)
