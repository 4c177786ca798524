"""Hand-off sink throughput, and what attaching sinks costs `analyze`.

    .venv/bin/python bench/bench_sinks.py [--records 20000] [--rounds 9] [--recording PATH]

1. Throughput: for each sink, records/s from the first send() until close()
   returned with every record delivered to a real receiver on 127.0.0.1 (a
   draining TCP/UDP socket, Mosquitto when installed, an acknowledging SAPIENT
   receiver), through the child process `analyze` uses; the CPU each record
   costs the calling process and the child.
2. Slowdown: the wall time of `analyze --all-bursts` of a shared recording
   (about 3,000 records/s), written as JSON Lines exactly as the command does,
   with no sinks, with each sink, with all of them (in the child process), and
   with all of them on threads of the analysing process (the former design).
   Every burst record is handed off as a detection or a bearing, so that the
   CoT and SAPIENT sinks, which carry no bursts, encode and send every record
   too.  Timed samples of every variant alternate round by round, in an order
   rotated every round, since this machine is shared; the median of the
   per-round ratios is reported, with the load average and the CPU time of the
   analysing process.  After each sample the sinks deliver everything before
   the next starts (untimed; the longest wait is the "lag" column), so that no
   sample pays for another's backlog.
3. Start-up: what opening and closing the child process costs the caller.
"""
from __future__ import annotations

import argparse
import os
import resource
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

from rfdetect.cli.common import Handoff, LineWriter  # noqa: E402
from rfdetect.sinks import open_sinks  # noqa: E402


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


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_connected(group, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(c.get("connected") for c in group.stats().values()):
        if time.monotonic() > deadline:
            raise SystemExit(f"sinks not connected after {timeout_s} s: {group.stats()}")
        time.sleep(0.01)


def throughput(url: str, recs: list[dict], spool: str) -> tuple[float, float, float, dict]:
    """records/s until all are delivered; CPU us per record of this process and of the child."""
    group = open_sinks([url], spool_dir=spool, sensor_id="bench")
    wait_connected(group)       # before the clock starts
    # The child's start-up (imports, connecting) is not a per-record cost: counted from here.
    c0, k0 = time.process_time(), children_cpu_s() + process_cpu_s(group._child.pid)
    t0 = time.perf_counter()
    for r in recs:
        group.send(r)
    counters = group.close(timeout_s=120)[url]
    rate = len(recs) / (time.perf_counter() - t0)
    return (rate, (time.process_time() - c0) / len(recs) * 1e6,
            (children_cpu_s() - k0) / len(recs) * 1e6, counters)


def as_carried(record: dict, i: int) -> dict:
    """A burst record as a detection or bearing carrying the burst's fields (see the module doc)."""
    if record["type"] != "burst":
        return record
    out = dict(DETECTION if i % 2 == 0 else BEARING)
    for key in ("t_start_s", "t_end_s", "center_freq_hz", "bandwidth_hz", "snr_db", "source"):
        if key in record:
            out[key] = record[key]
    return out


def drain(group, total: int, timeout_s: float = 120.0) -> float:
    """Seconds until every sink of ``group`` accounted for ``total`` records (not timed)."""
    t0 = time.perf_counter()
    while not all(c["sent"] + c["filtered"] + c["dropped"] >= total
                  for c in group.stats().values()):
        if time.perf_counter() - t0 > timeout_s:
            raise SystemExit(f"sinks did not deliver {total} records in {timeout_s} s")
        time.sleep(0.005)
    return time.perf_counter() - t0


def analyze_once(group, path: str, repeats: int, local_out: str):
    """Wall time of `analyze --all-bursts PATH` run `repeats` times, output written as the CLI does."""
    from rfdetect.pipeline import analyze_source
    from rfdetect.sources import open_source
    writer = LineWriter(local_out)
    out = Handoff(group).wrap(writer) if group is not None else writer
    n = 0

    def emit(r):
        nonlocal n
        out(as_carried(r, n))
        n += 1
    t0 = time.perf_counter()
    for _ in range(repeats):
        with open_source(path, "auto", None, None) as src:
            analyze_source(src, emit, all_bursts=True)
    wall = time.perf_counter() - t0
    writer.close()
    return wall, n


def startup(url: str, spool: str, repeats: int = 5) -> tuple[float, float, float]:
    """Median ms: open_sinks() returning, the child's first report, close() of an idle group."""
    opened, ready, closed = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        group = open_sinks([url], spool_dir=spool, sensor_id="bench-start")
        opened.append(time.perf_counter() - t0)
        while "connected" not in group.stats()[url]:      # the child's first report
            time.sleep(0.002)
        ready.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        group.close(timeout_s=10)
        closed.append(time.perf_counter() - t1)
    return tuple(1000 * float(np.median(v)) for v in (opened, ready, closed))


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=9)
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
    local_out = str(Path(spool) / "local.jsonl")
    try:
        print(f"1. throughput, {args.records} records per sink through the child process ({load()})")
        print(f"{'sink':8s} {'records/s':>10s} {'caller us/rec':>13s} {'child us/rec':>12s}  "
              "sent/spooled/dropped")
        for name, url in urls.items():
            rate, cpu_us, child_us, c = throughput(url, records(args.records), spool)
            print(f"{name:8s} {rate:10.0f} {cpu_us:13.1f} {child_us:12.0f}  "
                  f"{c['sent']}/{c['spooled']}/{c['dropped']}")
        print(f"   ({load()})")
        if not Path(args.recording).exists():
            print(f"2. analyze slowdown skipped: recording {args.recording} not found")
            return 0
        analyze_once(None, args.recording, 1, local_out)        # JIT warm-up, not measured
        groups = {name: open_sinks([url], spool_dir=spool, sensor_id=f"bench-{name.replace('+', '-')}")
                  for name, url in urls.items()}
        groups["all"] = open_sinks(list(urls.values()), spool_dir=spool, sensor_id="bench-all")
        groups["all, threads"] = open_sinks(list(urls.values()), spool_dir=spool,
                                            sensor_id="bench-threads", in_process=True)
        for g in groups.values():
            wait_connected(g)
        variants = {"none": None, **groups}
        walls = {k: [] for k in variants}
        cpus = {k: [] for k in variants}
        lags = dict.fromkeys(variants, 0.0)
        given = dict.fromkeys(variants, 0)
        names = list(variants)
        load_before = load()
        for i in range(args.rounds):
            # A different order each round, so that no variant always follows the same one.
            for name in names[i % len(names):] + names[:i % len(names)]:
                group = variants[name]
                c0 = time.process_time()
                wall, n = analyze_once(group, args.recording, args.repeats, local_out)
                walls[name].append(wall)
                cpus[name].append(time.process_time() - c0)
                given[name] += n
                if group is not None:
                    # Delivered before the next sample starts: a backlog would slow the next one.
                    lags[name] = max(lags[name], drain(group, given[name]))
        load_after = load()
        counters = {name: g.close(timeout_s=120) for name, g in groups.items()}
        print(f"2. analyze --all-bursts, {args.repeats} runs of {n // args.repeats} records per "
              f"timed sample, {args.rounds} rounds ({load_before} before, {load_after} after)")
        print(f"{'sinks':13s} {'wall ms':>8s} {'records/s':>9s} {'slowdown':>9s} {'best-of':>8s} "
              f"{'CPU here':>9s} {'lag ms':>6s}  sent/spooled/dropped of records given, per sink")
        base, base_cpu = np.array(walls["none"]), np.array(cpus["none"])
        for name in variants:
            w, c = np.array(walls[name]), np.array(cpus[name])
            counts = " ".join(f"{v['sent']}/{v['spooled']}/{v['dropped']}"
                              for v in counters.get(name, {}).values())
            print(f"{name:13s} {1000 * np.median(w):8.1f} {n / np.median(w):9.0f} "
                  f"{100 * (np.median(w / base) - 1):+8.1f}% {100 * (w.min() / base.min() - 1):+7.1f}% "
                  f"{100 * (np.median(c / base_cpu) - 1):+8.1f}% {1000 * lags[name]:6.0f}  "
                  + (f"{counts} of {given[name]}" if counts else ""))
        name = "file"
        opened, ready, closed = startup(urls[name], spool)
        print(f"3. start-up, {name} sink: open_sinks() returns in {opened:.1f} ms, the child answers "
              f"after {ready:.0f} ms (while the caller works on), close() of an idle group "
              f"{closed:.0f} ms (medians of 5; {load()})")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
