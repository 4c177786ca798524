"""Shared pieces for the sink tests: sample records, free ports, waiting, receivers.

No tests here; the sink test modules import from it.
"""
from __future__ import annotations

import contextlib
import copy
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

SENSOR = {"lat": 52.0123456, "lon": 4.3456789, "alt_m": 12.5, "heading_deg": 30.0}

DETECTION = {
    "type": "detection", "schema": 1, "link": "expresslrs-lora", "drone": True,
    "confidence": 0.93, "center_freq_hz": 868.4e6, "bandwidth_hz": 500e3,
    "t_start_s": 1.25, "t_end_s": 3.5, "snr_db": 17.5, "bursts": 42, "track_id": 3,
    "source": "capture.h5", "sample_start": 3000000, "sample_end": 8400000,
    "evidence": {"burst_duration": "match", "hop_interval": "match"},
    "time_utc": "2026-11-25T12:00:01.250Z", "sensor": dict(SENSOR),
}
DETECTION_NO_SENSOR = {
    "type": "detection", "schema": 1, "link": "unknown-fhss", "drone": None,
    "confidence": 0.4, "center_freq_hz": 2.44e9, "bandwidth_hz": 1.0e6,
    "t_start_s": 0.5, "t_end_s": 0.9, "snr_db": 8.0, "bursts": 5, "evidence": {},
}
BEARING = {
    "type": "bearing", "schema": 1, "link": "expresslrs-lora", "bearing_deg": 123.4,
    "bearing_sigma_deg": 4.5, "method": "music", "sensor": dict(SENSOR),
    "t_start_s": 1.25, "t_end_s": 3.5, "time_utc": "2026-11-25T12:00:01.250Z",
}
FIX = {
    "type": "fix", "schema": 1, "link": "expresslrs-lora", "lat": 52.02, "lon": 4.36,
    "semi_major_m": 150.0, "semi_minor_m": 60.0, "orientation_deg": 45.0,
    "sensors": ["north-mast", "south-mast"], "time_utc": "2026-11-25T12:00:02Z",
}
BURST = {"type": "burst", "schema": 1, "t_start_s": 1.0, "t_end_s": 1.002,
         "f_lo_hz": 868.2e6, "f_hi_hz": 868.6e6, "snr_db": 15.0}
GAP = {"type": "gap", "schema": 1, "sample_index": 1048576, "samples_lost": 16384}
SUMMARY = {"type": "summary", "schema": 1, "samples": 2 ** 24, "signal_s": 8.0,
           "wall_s": 0.5, "throughput_msps": 33.5, "counts": {"detection": 2, "burst": 40}}

ALL = (DETECTION, DETECTION_NO_SENSOR, BEARING, FIX, BURST, GAP, SUMMARY)


def sample(record: dict, **changes) -> dict:
    out = copy.deepcopy(record)
    out.update(changes)
    return out


def stream(n: int) -> list[dict]:
    """n detection/bearing records with distinct times (a stream for fault tests)."""
    out = []
    for i in range(n):
        base = DETECTION if i % 2 == 0 else BEARING
        out.append(sample(base, t_start_s=float(i), t_end_s=float(i) + 0.5))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout_s: float, what: str = "condition", interval_s: float = 0.02):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    def is_open():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False
    wait_until(is_open, timeout_s, f"a listener on 127.0.0.1:{port}")


def received(conn: socket.socket, running) -> Iterator[bytes]:
    """What arrives on ``conn`` (with a short timeout set) while ``running()``, until the peer
    closes or the link breaks."""
    while running():
        try:
            data = conn.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return
        if not data:
            return
        yield data


@contextlib.contextmanager
def udp_receiver(timeout_s: float = 2.0) -> Iterator[socket.socket]:
    """A datagram socket on a free port of 127.0.0.1, closed afterwards."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(timeout_s)
    with rx:
        yield rx


def restart_mid_stream(sink, records: list[dict], ids, stop, start, *, down: slice, after: slice,
                       timeout_s: float = 10.0) -> dict:
    """Send ``records`` with the receiver stopped for those in ``down``; returns the counters
    once ``ids()`` shows every record arrived and the sink is closed."""
    for r in records[:down.start]:
        sink.send(r)
    wait_until(lambda: len(ids()) >= down.start, 5, "first part")
    stop()
    for r in records[down]:            # receiver down: these go to the spool
        sink.send(r)
        time.sleep(0.0005)
    wait_until(lambda: sink.stats()["spooled"] > 0, 5, "records spooled while down")
    start()
    for r in records[after]:
        sink.send(r)
    every = {r["id"] for r in records}
    wait_until(lambda: ids() >= every, timeout_s, "every record")
    counters = sink.close(timeout_s=5)
    assert ids() == every
    return counters


def stop_process(proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


class SilentServer:
    """Accepts TCP connections and never says a word (nor reads much)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except OSError:
                continue

    def close(self):
        self._stop = True
        self._thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


class LoopbackServer:
    """A TCP receiver on 127.0.0.1 that can be stopped and restarted on the same port:
    ``serve(conn)`` runs in a thread per connection while ``self.running``."""

    backlog = 8

    def __init__(self, port: int):
        self.port = port
        self.start()

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(self.backlog)
        self.sock.settimeout(0.05)
        self.conns = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        raise NotImplementedError

    def stop(self):
        self.running = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.sock.close()
        time.sleep(0.1)
