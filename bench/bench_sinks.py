"""Hand-off sink throughput, and what attaching sinks costs `analyze`.

    .venv/bin/python bench/bench_sinks.py [--records 20000] [--rounds 5] [--recording PATH]

For each sink: records/s from the first send() until close() returned with
every record delivered, to a real receiver on 127.0.0.1 (a draining TCP/UDP
socket, Mosquitto when installed, an acknowledging SAPIENT receiver), and the
CPU time (all threads) each record costs.  Then the wall-time change of the
real `analyze` of a shared recording with each sink attached, with all of them,
both with `--all-bursts` (over 1,000 records/s: a stress case) and without
(detections only: the usual case).  Timed samples alternate with and without
sinks and the median of the ratios is reported, since this machine is shared.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_sinks_support import BEARING, DETECTION, free_port, sample, wait_port  # noqa: E402

from rfdetect.sinks import open_sink  # noqa: E402


def drain_tcp(port: int, sapient: bool = False) -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)

    def serve(conn):
        if sapient:
            from sapient_msg.bsi_flex_335_v2_0 import sapient_message_pb2
            head = conn.recv(4, socket.MSG_WAITALL)
            (n,) = struct.unpack("<I", head)
            conn.recv(n, socket.MSG_WAITALL)
            ack = sapient_message_pb2.SapientMessage()
            ack.timestamp.GetCurrentTime()
            ack.node_id = "00000000-0000-4000-8000-000000000001"
            ack.registration_ack.acceptance = True
            data = ack.SerializeToString()
            conn.sendall(struct.pack("<I", len(data)) + data)
        while conn.recv(1 << 20):
            pass
        conn.close()

    def accept():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def drain_udp(port: int) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    rx.bind(("127.0.0.1", port))
    threading.Thread(target=lambda: [rx.recv(65536) for _ in iter(int, 1)], daemon=True).start()


def records(n: int) -> list[dict]:
    return [sample(DETECTION if i % 2 == 0 else BEARING, t_start_s=float(i)) for i in range(n)]


def throughput(url: str, recs: list[dict], spool: str) -> tuple[float, dict]:
    n = len(recs)
    sink = open_sink(url, spool_dir=spool, sensor_id="bench")
    time.sleep(0.3)         # connected before the clock starts
    t0 = time.perf_counter()
    for r in recs:
        sink.send(r)
    counters = sink.close(timeout_s=120)
    return n / (time.perf_counter() - t0), counters


def analyze_once(extra_emit, path: str, repeats: int, all_bursts: bool = True):
    """Wall time of `rfdetect analyze [--all-bursts] PATH` (repeated), records kept and handed off."""
    from rfdetect.pipeline import analyze_source
    from rfdetect.sources import open_source
    out: list[dict] = []

    def emit(r):
        out.append(r)
        if extra_emit is not None:
            extra_emit(r)
    t0 = time.perf_counter()
    for _ in range(repeats):
        with open_source(path, "auto", None, None) as src:
            analyze_source(src, emit, all_bursts=all_bursts)
    return time.perf_counter() - t0, len(out)


def slowdown(emit, path: str, rounds: int, repeats: int,
             all_bursts: bool = True) -> tuple[float, float, int]:
    """Median relative wall-time change over interleaved rounds; baseline records/s; records."""
    ratios, rates = [], []
    for _ in range(rounds):
        base, n = analyze_once(None, path, repeats, all_bursts)
        with_sinks, _ = analyze_once(emit, path, repeats, all_bursts)
        ratios.append(with_sinks / base)
        rates.append(n / base)
    return float(np.median(ratios)) - 1.0, float(np.median(rates)), n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=4, help="analyze runs per timed sample")
    ap.add_argument("--recording", default=str(Path(__file__).resolve().parents[2] / "shared"
                                               / "recordings" / "adsb_modes_g001_1090M_2000k.cu8"))
    args = ap.parse_args()
    spool = tempfile.mkdtemp(prefix="bench-sinks-")
    procs = []
    urls = {"file": str(Path(spool) / "out.jsonl")}
    p = free_port(); drain_tcp(p); urls["tcp"] = f"tcp://127.0.0.1:{p}"
    p = free_port(); drain_udp(p); urls["udp"] = f"udp://127.0.0.1:{p}"
    p = free_port(); drain_tcp(p); urls["cot+tcp"] = f"cot+tcp://127.0.0.1:{p}"
    p = free_port(); drain_tcp(p, sapient=True); urls["sapient"] = f"sapient://127.0.0.1:{p}"
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if Path(mosquitto).exists():
        p = free_port()
        conf = Path(spool) / "mosquitto.conf"
        conf.write_text(f"listener {p} 127.0.0.1\nallow_anonymous true\nlog_dest none\n")
        procs.append(subprocess.Popen([mosquitto, "-c", str(conf)]))
        wait_port(p)
        urls["mqtt"] = f"mqtt://127.0.0.1:{p}/bench"
    have_recording = Path(args.recording).exists()
    try:
        if have_recording:
            analyze_once(None, args.recording, 1)       # JIT warm-up, not measured
        print(f"{'sink':8s} {'records/s':>10s} {'CPU us/rec':>10s} {'analyze':>9s}  "
              f"sent/spooled/dropped  ({args.records} records; analyze = wall-time change of "
              f"analyze --all-bursts with this sink attached, median of {args.rounds} rounds)")
        opened = []
        for name, url in urls.items():
            recs = records(args.records)
            c0 = time.process_time()
            rate, c = throughput(url, recs, spool)
            cpu_us = (time.process_time() - c0) / args.records * 1e6
            extra = "      n/a"
            if have_recording:
                sink = open_sink(url, spool_dir=spool, sensor_id="bench2")
                opened.append(sink)
                time.sleep(0.3)
                change, base_rate, n = slowdown(sink.send, args.recording, args.rounds, args.repeats)
                extra = f"{100 * change:+8.1f}%"
            print(f"{name:8s} {rate:10.0f} {cpu_us:10.0f} {extra}  "
                  f"{c['sent']}/{c['spooled']}/{c['dropped']}")
        if have_recording:
            def fan_out(r):
                for s in opened:
                    s.send(r)
            change, base_rate, n = slowdown(fan_out, args.recording, args.rounds, args.repeats)
            print(f"all {len(opened)} sinks at once: {100 * change:+.1f}% wall time of analyze "
                  f"--all-bursts ({n} records per timed sample, {base_rate:.0f} records/s "
                  f"without sinks)")
            change, base_rate, n = slowdown(fan_out, args.recording, args.rounds, args.repeats,
                                            all_bursts=False)
            print(f"all {len(opened)} sinks at once: {100 * change:+.1f}% wall time of analyze "
                  f"(detections only: {n} records per timed sample)")
            for s in opened:
                s.close(timeout_s=60)
        else:
            print(f"analyze slowdown skipped: recording {args.recording} not found")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
