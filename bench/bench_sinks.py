"""Hand-off sink throughput, and what attaching sinks costs `analyze`.

    .venv/bin/python bench/bench_sinks.py [--rounds 6] [--sample-s 3] [--rate R] [--part 1|2|3]
                                          [--variant NAME ...]

1. Throughput, per sink, through the child process `analyze` uses, to real
   receivers on 127.0.0.1 in a process of their own (draining TCP/UDP sockets,
   Mosquitto when installed, an acknowledging SAPIENT receiver): records/s
   from the first send() until close() returned with every record delivered.  Then the CPU each record
   costs the calling process (over the same loop of fresh records without
   sinks, so the feeder and reader threads count) and the sinks' process, with
   records coming at a steady ``--paced`` records/s as from `analyze` (not all
   at once, which would measure the spool that full queues spill into).
2. Slowdown: `analyze --all-bursts` of a recording (``--recording``, repeated
   within a sample until it lasts ``--sample-s``), written as JSON Lines as the
   command does (``Handoff.wrap``: each record encoded once, for the output and
   the sinks), with no sinks, with each sink, with all six (in the child
   process), and with all six on threads of the analysing process (the former
   design).  Every burst record is handed off as a detection or a
   bearing, so that the CoT and SAPIENT sinks, which carry no bursts, encode
   every record too.  Each round runs every variant once, in an order rotated
   every round, each between two samples without sinks: its ratio is its wall
   time over the mean of those two neighbours, so that a load that drifts on
   this shared machine cancels.  Reported: the median ratio over rounds with a
   bootstrap 95 % interval and the min/max, that median as microseconds per
   record handed off, the same ratio for the analysing process's CPU time, the
   rate of records handed to the sinks (``--rate`` limits it), and the sinks'
   process's CPU per record.  After each sample the sinks deliver everything
   before the next starts (untimed; "lag" is the longest such wait), so that
   no sample pays for another's backlog.
3. Start-up: what opening and closing the child process costs the caller.
"""
from __future__ import annotations

import argparse
import json
import math
import os
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

ALL_SIX = "all six"
THREADS = "all six, threads"


# ----------------------------------------------------------------- receivers
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


def serve_receivers(workdir: str) -> None:
    """The receivers' own process: a URL per sink on stdout as JSON, then serve until stdin
    closes.  Run apart from the benchmark, as a TAK server or a SAPIENT fusion node would be:
    receiver threads inside the analysing process would take its interpreter lock and CPU,
    and be counted as what the sinks cost `analyze`."""
    procs = []
    urls = {"file": str(Path(workdir) / "out.jsonl")}
    p = free_port(); drain_tcp(p); urls["tcp"] = f"tcp://127.0.0.1:{p}"
    p = free_port(); drain_udp(p); urls["udp"] = f"udp://127.0.0.1:{p}"
    p = free_port(); drain_tcp(p); urls["cot+tcp"] = f"cot+tcp://127.0.0.1:{p}"
    p = free_port(); drain_tcp(p, sapient=True); urls["sapient"] = f"sapient://127.0.0.1:{p}"
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if Path(mosquitto).exists():
        p = free_port()
        conf = Path(workdir) / "mosquitto.conf"
        conf.write_text(f"listener {p} 127.0.0.1\nallow_anonymous true\nlog_dest none\n")
        procs.append(subprocess.Popen([mosquitto, "-c", str(conf)]))
        wait_port(p)
        urls["mqtt"] = f"mqtt://127.0.0.1:{p}/bench"
    print(json.dumps(urls), flush=True)
    try:
        sys.stdin.read()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(5)


def receivers(workdir: str) -> tuple[dict[str, str], subprocess.Popen]:
    """A URL per sink, each with a receiver listening on 127.0.0.1 in another process."""
    proc = subprocess.Popen([sys.executable, __file__, "--serve-receivers", workdir],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the receivers' process did not start")
    return json.loads(line), proc


# ------------------------------------------------------------------- helpers
def records(n: int) -> list[dict]:
    return [sample(DETECTION if i % 2 == 0 else BEARING, t_start_s=float(i)) for i in range(n)]


def process_cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pid(group) -> int | None:
    child = getattr(group, "_child", None)
    return None if child is None else child.pid


def wait_connected(group, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(c.get("connected") for c in group.stats().values()):
        if time.monotonic() > deadline:
            raise SystemExit(f"sinks not connected after {timeout_s} s: {group.stats()}")
        time.sleep(0.01)


def drain(group, total: int, timeout_s: float = 120.0) -> float:
    """Seconds until every sink of ``group`` accounted for ``total`` records (not timed)."""
    t0 = time.perf_counter()
    while not all(c["sent"] + c["filtered"] + c["dropped"] >= total
                  for c in group.stats().values()):
        if time.perf_counter() - t0 > timeout_s:
            raise SystemExit(f"sinks did not deliver {total} records in {timeout_s} s")
        time.sleep(0.005)
    return time.perf_counter() - t0


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def spread(ratios, rng: np.random.Generator, resamples: int = 4000) -> tuple[float, float, float]:
    """Median of paired ratios and a bootstrap 95 % interval of that median."""
    r = np.asarray(ratios)
    medians = np.median(rng.choice(r, size=(resamples, r.size)), axis=1)
    return float(np.median(r)), float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


# ---------------------------------------------------------------- 1. throughput
def throughput(url: str, n: int, spool: str) -> tuple[float, dict]:
    """records/s from the first send() until close() returned with all delivered."""
    recs = records(n)
    group = open_sinks([url], spool_dir=spool, sensor_id="bench")
    wait_connected(group)       # before the clock starts
    t0 = time.perf_counter()
    for r in recs:
        group.send(r)
    counters = group.close(timeout_s=120)[url]
    return n / (time.perf_counter() - t0), counters


def fresh(i: int) -> dict:
    """A record built just before it is handed over, as `analyze` does (not a cold, old one)."""
    out = dict(DETECTION if i % 2 == 0 else BEARING, t_start_s=float(i))
    out["sensor"] = dict(out["sensor"])
    return out


def paced(group, n: int, rate: float) -> tuple[float, float]:
    """Make ``n`` records at ``rate``/s in 5 ms steps, handing them to ``group`` if not None;
    the CPU seconds this process spent, and how long the sinks took after the last record."""
    c0, t0 = time.process_time(), time.perf_counter()
    made = 0
    while made < n:
        due = min(n, int((time.perf_counter() - t0) * rate) + 1)
        while made < due:
            r = fresh(made)
            if group is not None:
                group.send(r)
            made += 1
        time.sleep(0.005)
    lag = drain(group, n) if group is not None else 0.0
    return time.process_time() - c0, lag


def paced_cpu(url: str, n: int, rate: float, spool: str) -> tuple[float, float, float]:
    """CPU us per record of this process (over the same loop without sinks, run just before:
    the feeder and reader threads and the child's reports included) and of the sinks' process,
    records given at ``rate``/s; and the seconds the sinks took after the last record."""
    group = open_sinks([url], spool_dir=spool, sensor_id="bench")
    wait_connected(group)
    pid = child_pid(group)
    alone, _ = paced(None, n, rate)
    k0 = process_cpu_s(pid)
    with_sinks, lag = paced(group, n, rate)
    child = process_cpu_s(pid) - k0
    group.close(timeout_s=30)
    return (with_sinks - alone) / n * 1e6, child / n * 1e6, lag


def part_throughput(urls: dict, args, spool: str) -> None:
    n_paced = int(args.paced * args.paced_s)
    print(f"1. throughput, {args.records} records per sink through the child process; CPU per "
          f"record at {args.paced:.0f} records/s for {args.paced_s:.0f} s ({load()})")
    print(f"{'sink':8s} {'records/s':>10s} {'caller us/rec':>13s} {'child us/rec':>12s} "
          f"{'lag ms':>6s}  sent/spooled/dropped")
    for name, url in urls.items():
        rate, c = throughput(url, args.records, spool)
        caller_us, child_us, lag = paced_cpu(url, n_paced, args.paced, spool)
        print(f"{name:8s} {rate:10.0f} {caller_us:13.1f} {child_us:12.1f} {1000 * lag:6.0f}  "
              f"{c['sent']}/{c['spooled']}/{c['dropped']}", flush=True)
    print(f"   ({load()})")


# ------------------------------------------------------------------ 2. slowdown
def as_carried(record: dict, i: int) -> dict:
    """A burst record as a detection or bearing carrying the burst's fields (see the module doc)."""
    if record["type"] != "burst":
        return record
    out = dict(DETECTION if i % 2 == 0 else BEARING)
    for key in ("t_start_s", "t_end_s", "center_freq_hz", "bandwidth_hz", "snr_db", "source"):
        if key in record:
            out[key] = record[key]
    return out


def analyze_once(group, paths: list[str], repeats: int, local_out: str,
                 rate: float | None):
    """Wall time of `analyze --all-bursts PATHS` run ``repeats`` times, output written as the
    command does; with ``rate``, only so many records per second of it go to the sinks too."""
    from rfdetect.pipeline import analyze_source
    from rfdetect.sources import open_source
    writer = LineWriter(local_out)
    both = writer if group is None else Handoff(group).wrap(writer)
    n = handed = 0
    t0 = time.perf_counter()

    def emit(r):
        nonlocal n, handed
        r = as_carried(r, n)
        n += 1
        if rate is None or handed < rate * (time.perf_counter() - t0):
            both(r)
            handed += 1
        else:
            writer(r)
    for _ in range(repeats):
        for path in paths:
            with open_source(path, "auto", None, None) as src:
                analyze_source(src, emit, all_bursts=True)
    wall = time.perf_counter() - t0
    writer.close()
    return wall, n, handed if group is not None else 0


class Variant:
    def __init__(self, name: str, urls: list[str], spool: str):
        self.name, self.urls, self.spool = name, urls, spool
        self.group = None
        self.given = 0
        self.lag = 0.0
        self.counters: dict = {}
        self.walls, self.cpus, self.ratios, self.cpu_ratios = [], [], [], []
        self.rates, self.child_us = [], []

    def open(self) -> None:
        """Sinks on threads live only for their own sample: idle, they would still wake up
        in the analysing process during every other variant's samples."""
        if self.urls and self.group is None:
            self.group = open_sinks(self.urls, spool_dir=self.spool, in_process=self.name == THREADS,
                                    sensor_id="bench-" + self.name.replace("+", "-").replace(" ", "")
                                    .replace(",", "-"))
            wait_connected(self.group)
            self.given = 0

    def close(self) -> None:
        if self.group is not None:
            for url, c in self.group.close(timeout_s=120).items():
                old = self.counters.setdefault(url, dict.fromkeys(("sent", "spooled", "dropped",
                                                                   "given"), 0))
                for key in ("sent", "spooled", "dropped"):
                    old[key] += c.get(key, 0)
                old["given"] += self.given
            self.group = None

    def run(self, paths, repeats, local_out, rate) -> float:
        self.open()
        pid = child_pid(self.group)
        c0, k0 = time.process_time(), process_cpu_s(pid) if pid else 0.0
        wall, n, handed = analyze_once(self.group, paths, repeats,
                                       local_out, rate)
        self.cpus.append(time.process_time() - c0)
        self.walls.append(wall)
        if self.group is not None:
            self.given += handed
            self.rates.append(handed / wall)
            # Delivered before the next sample starts: a backlog would slow the next one.
            self.lag = max(self.lag, drain(self.group, self.given))
            if pid:
                self.child_us.append((process_cpu_s(pid) - k0) / max(1, handed) * 1e6)
        if self.name == THREADS:
            self.close()
        return wall


def part_slowdown(urls: dict, args, spool: str) -> None:
    paths = args.recording
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        print(f"2. analyze slowdown skipped: recording {missing[0]} not found")
        return
    local_out = str(Path(spool) / "local.jsonl")
    analyze_once(None, paths, 1, local_out, None)              # JIT warm-up, not measured
    one, n, _ = analyze_once(None, paths, 1, local_out, None)
    repeats = max(1, math.ceil(args.sample_s / one))
    base = Variant("none", [], spool)
    variants = [Variant(name, [url], spool) for name, url in urls.items()]
    variants += [Variant(name, list(urls.values()), spool) for name in (ALL_SIX, THREADS)]
    if args.variant:
        unknown = set(args.variant) - {v.name for v in variants}
        if unknown:
            raise SystemExit(f"unknown variant(s) {sorted(unknown)}; "
                             f"choose from {[v.name for v in variants]}")
        variants = [v for v in variants if v.name in args.variant]
    for v in variants:
        if v.name != THREADS:
            v.open()
    load_before, t_start = load(), time.perf_counter()
    for i in range(args.rounds):
        order = variants[i % len(variants):] + variants[:i % len(variants)]
        before = base.run(paths, repeats, local_out, args.rate)
        cpu_before = base.cpus[-1]
        for v in order:
            wall = v.run(paths, repeats, local_out, args.rate)
            after = base.run(paths, repeats, local_out, args.rate)
            v.ratios.append(wall / (0.5 * (before + after)))
            v.cpu_ratios.append(v.cpus[-1] / (0.5 * (cpu_before + base.cpus[-1])))
            before, cpu_before = after, base.cpus[-1]
        print(f"   round {i + 1}/{args.rounds} done ({load()})", flush=True)
    load_after, minutes = load(), (time.perf_counter() - t_start) / 60
    for v in variants:
        v.close()
    rng = np.random.default_rng(1)
    wall0 = float(np.median(base.walls))
    print(f"2. analyze --all-bursts, {repeats} x {n} records per sample ({wall0:.1f} s, "
          f"{np.median(base.cpus) / wall0:.2f} cores), {args.rounds} rounds in {minutes:.1f} min; "
          f"{load_before} before, {load_after} after")
    print(f"{'sinks':16s} {'records/s':>9s} {'wall: median [95 % CI]':>24s} {'min..max':>15s} "
          f"{'us/rec':>6s} {'CPU here':>8s} {'child us/rec':>12s} {'lag ms':>6s}  "
          "sent/spooled/dropped of given")
    for v in variants:
        med, lo, hi = spread(v.ratios, rng)
        cpu = np.median(v.cpu_ratios)
        per_record = (med - 1) * wall0 / (np.median(v.rates) * np.median(v.walls)) * 1e6
        counts = " ".join(f"{c['sent']}/{c['spooled']}/{c['dropped']} of {c['given']}"
                          for c in v.counters.values())
        child = f"{np.median(v.child_us):12.1f}" if v.child_us else f"{'-':>12s}"
        print(f"{v.name:16s} {np.median(v.rates):9.0f} "
              f"{100 * (med - 1):+8.1f}% [{100 * (lo - 1):+.1f}, {100 * (hi - 1):+.1f}] "
              f"{100 * (min(v.ratios) - 1):+6.1f}..{100 * (max(v.ratios) - 1):+.1f}% "
              f"{per_record:6.1f} {100 * (cpu - 1):+7.1f}% {child} {1000 * v.lag:6.0f}  {counts}")


# ------------------------------------------------------------------- 3. start-up
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20000, help="records per sink in part 1")
    ap.add_argument("--paced", type=float, default=3000.0,
                    help="records/s given to each sink when measuring CPU per record (part 1)")
    ap.add_argument("--paced-s", type=float, default=3.0, help="seconds of that, per sink")
    ap.add_argument("--rounds", type=int, default=6, help="rounds of part 2")
    ap.add_argument("--sample-s", type=float, default=3.0,
                    help="seconds of analyze per timed sample (the recording is repeated)")
    ap.add_argument("--rate", type=float, help="records/s handed to the sinks in part 2 "
                    "(default: every record analyze writes)")
    ap.add_argument("--recording", action="append", help="recording(s) for part 2 (repeatable)")
    ap.add_argument("--variant", action="append", metavar="NAME",
                    help='part 2 with only these sinks (repeatable), e.g. "all six"')
    ap.add_argument("--part", type=int, action="append", choices=[1, 2, 3],
                    help="run only this part (repeatable; default all)")
    ap.add_argument("--serve-receivers", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_receivers:
        serve_receivers(args.serve_receivers)
        return 0
    args.recording = args.recording or [str(Path(__file__).resolve().parents[2] / "shared"
                                            / "recordings" / "adsb_modes_g001_1090M_2000k.cu8")]
    parts = set(args.part or (1, 2, 3))
    spool = tempfile.mkdtemp(prefix="bench-sinks-")
    urls, served = receivers(spool)
    try:
        if 1 in parts:
            part_throughput(urls, args, spool)
        if 2 in parts:
            part_slowdown(urls, args, spool)
        if 3 in parts:
            opened, ready, closed = startup(urls["file"], spool)
            print(f"3. start-up, file sink: open_sinks() returns in {opened:.1f} ms, the child "
                  f"answers after {ready:.0f} ms (while the caller works on), close() of an idle "
                  f"group {closed:.0f} ms (medians of 5; {load()})")
    finally:
        served.stdin.close()
        served.wait(10)
        shutil.rmtree(spool, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
