"""Run a live source for a while in a child process and print what it delivered as JSON.

    python driver.py rtlsdr|rtl_tcp://HOST:PORT --seconds S [--freq HZ ...] [--dwell N]
                     [--rate HZ] [--library PATH] [--block-pyrtlsdrlib] [--control FILE --at T CMD]...

Each chunk is summarised as [sample_index0, n, center_freq_hz, samples_lost_before,
position, contiguous], where ``position`` decodes the virtual dongle's position
pattern (I = p mod 256, Q = (p >> 8) mod 256) of the chunk's first sample and
``contiguous`` says whether the chunk's samples follow each other in it.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=2.4e6)
    ap.add_argument("--freq", type=float, action="append")
    ap.add_argument("--dwell", type=int, default=0)
    ap.add_argument("--library")
    ap.add_argument("--block-pyrtlsdrlib", action="store_true")
    ap.add_argument("--control")
    ap.add_argument("--at", nargs=2, action="append", default=[], metavar=("T", "CMD"))
    ap.add_argument("--reconnect-timeout", type=float, default=10.0)
    ap.add_argument("--busy", type=float, default=0.0, help="hold the GIL this long per chunk")
    ap.add_argument("--queue", type=int, default=256)
    ap.add_argument("--device", default="0")
    ap.add_argument("--gain", type=float)
    ap.add_argument("--agc", action="store_true")
    ap.add_argument("--ppm", type=int, default=0)
    ap.add_argument("--bias-tee", action="store_true")
    ap.add_argument("--direct-sampling", type=int, default=0)
    args = ap.parse_args()
    if args.block_pyrtlsdrlib:
        sys.modules["pyrtlsdrlib"] = None
    import numpy as np

    from rfdetect.errors import RFDetectError
    from rfdetect.sources.accounting import LiveConfig

    freqs = args.freq or [868e6]
    out: dict = {"chunks": []}
    try:
        if args.source == "rtlsdr":
            from rfdetect.sources.rtlsdr import RtlSdrSource, loaded_library
            cfg = LiveConfig(reconnect_timeout_s=args.reconnect_timeout, queue_buffers=args.queue)
            src = RtlSdrSource(args.device, sample_rate_hz=args.rate, center_freq_hz=freqs[0], config=cfg,
                               library=args.library, gain_db=args.gain, agc=args.agc, ppm=args.ppm,
                               bias_tee=args.bias_tee, direct_sampling=args.direct_sampling)
        else:
            from rfdetect.sources.rtltcp import SERVER_BUFFER_SAMPLES, RtlTcpSource
            loaded_library = lambda: None  # noqa: E731
            cfg = LiveConfig(buffer_samples=SERVER_BUFFER_SAMPLES, loss_quantum=SERVER_BUFFER_SAMPLES,
                             jitter_s=0.02, inflight_buffers=2, queue_buffers=args.queue,
                             reconnect_timeout_s=args.reconnect_timeout)
            src = RtlTcpSource(args.source.removeprefix("rtl_tcp://"), sample_rate_hz=args.rate,
                               center_freq_hz=freqs[0], config=cfg)
        if args.dwell:
            src.set_sweep([(f, args.dwell) for f in freqs])
        src.start()
        t0 = time.monotonic()
        out["library"] = loaded_library()
        out["describe"] = src.describe()
        out["maps"] = sorted({line.split()[-1] for line in open("/proc/self/maps")
                              if "librtlsdr" in line.split()[-1]})
        timers = []
        for t, cmd in args.at:
            def send(cmd=cmd):
                from virtual_dongle import command
                command(args.control, cmd.replace("_", " "))
            timers.append(threading.Timer(float(t), send))
        for tm in timers:
            tm.start()
        for c in src.chunks(tick_s=0.1):
            # (Every chunk taken is recorded: the losses it reports are in no other.)
            if c is not None:
                r = c.raw.astype(np.int64)
                pos = r[0::2] + 256 * r[1::2]
                contiguous = bool(np.all(np.diff(pos) % 65536 == 1))
                out["chunks"].append([c.sample_index0, c.num_samples, c.center_freq_hz, c.samples_lost_before,
                                      int(pos[0]), contiguous])
                if args.busy:
                    end = time.perf_counter() + args.busy
                    while time.perf_counter() < end:
                        pass
            if time.monotonic() - t0 > args.seconds:
                break
        src.close()
        out["accounting"] = src.accounting.as_dict()
        # Counted, but in no chunk taken: still queued, or after the last one when it stopped.
        out["unreported_lost"] = src.unreported_lost()
    except RFDetectError as exc:
        out["error"] = str(exc)
        out["error_type"] = type(exc).__name__
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
