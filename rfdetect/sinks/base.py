"""Delivery machinery shared by every hand-off sink.

A sink owns a bounded queue and one worker thread, so a slow or dead receiver
never stalls detection: ``send()`` only enqueues.  The worker connects,
reconnects with exponential backoff, and while the receiver is down moves
records to an append-only spool file on disk, replayed first once the receiver
is back.  Every record carries a unique ``id`` (a ULID), so a receiver can drop
the duplicates that at-least-once delivery implies.

Stream transports (TCP) cannot tell whether the peer application read what the
kernel accepted: a receiver that dies loses what sat in its socket buffer.  The
records written in the last ``resend_window_s`` before a broken connection are
therefore sent again after reconnecting.  Transports with acknowledgements
(MQTT QoS 1) set the window to zero and count a record sent only once acked.

Counters: ``sent`` (delivered), ``spooled`` (on disk, not yet delivered),
``dropped`` (neither queue nor spool could take it), ``filtered`` (records this
sink does not carry, e.g. bursts over CoT).  At ``close()``:
sent + spooled + dropped + filtered == records given to ``send()``.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import random
import select
import socket
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)

RECORD_TYPES = ("detection", "burst", "bearing", "fix", "gap", "summary")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every pair of characters (10 bits) at once: a ULID in 13 look-ups instead of a 26-step loop.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
# Seeded from os.urandom, private (a caller seeding ``random`` cannot make ids repeat), reseeded in
# a forked child; a quarter of the cost of an os.urandom call per id.
_RANDOM = random.Random()


def new_ulid(now_s: float | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, 26 Crockford base32 chars.

    Sortable by creation time and unique across sensors without coordination;
    SAPIENT requires ULIDs for report and object ids, so one format serves all.
    """
    ms = int((time.time() if now_s is None else now_s) * 1000) & ((1 << 48) - 1)
    v = (ms << 80) | _RANDOM.getrandbits(80)
    p = _PAIRS
    return "".join((p[v >> 120], p[v >> 110 & 1023], p[v >> 100 & 1023], p[v >> 90 & 1023],
                    p[v >> 80 & 1023], p[v >> 70 & 1023], p[v >> 60 & 1023], p[v >> 50 & 1023],
                    p[v >> 40 & 1023], p[v >> 30 & 1023], p[v >> 20 & 1023], p[v >> 10 & 1023],
                    p[v & 1023]))


class UlidBlocks:
    """ULIDs for records, made in the detecting thread at a tenth of ``new_ulid``'s cost.

    Ids come in blocks of up to 1024 sharing the first 24 characters (a fresh
    ``new_ulid``: creation time + 70 random bits); the last two count within
    the block.  A block lasts at most ``block_s``, so an id's time is its
    creation time to within that.  Unique as ULIDs are: each block's prefix is
    new, each number in it is used once (``next()`` on an ``itertools.count``
    is atomic, so threads may share one instance).
    """

    block_s = 0.1

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._count = itertools.count()
        self._block = ("", 0, -1.0)            # prefix, first number, time it ends

    def __call__(self) -> str:
        n = next(self._count)
        prefix, first, ends = self._block
        k = n - first
        if not 0 <= k < 1024 or time.monotonic() > ends:
            prefix, k = new_ulid()[:24], 0
            self._block = (prefix, n, time.monotonic() + self.block_s)
        return prefix + _PAIRS[k]


next_id = UlidBlocks()
os.register_at_fork(after_in_child=lambda: (_RANDOM.seed(), next_id.reset()))


def stamp(record: dict) -> dict:
    """Give ``record`` a unique ``id`` in place (kept if it has one); returns it.

    Done in place so that every sink, and the JSON Lines output, share one id.
    """
    if "id" not in record:
        record["id"] = next_id()
    return record


def _clean(value):
    """JSON-safe copy: NaN/inf become null, numpy scalars and arrays plain Python."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):            # numpy scalar or array
        return _clean(value.tolist())
    return value


_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode


def dumps(record: dict) -> str:
    """One compact JSON line (no newline); strict JSON even for NaN or numpy values."""
    try:
        return _ENCODE(record)
    except (ValueError, TypeError):
        return _ENCODE(_clean(record))


class Spool:
    """Append-only JSON Lines file of undelivered records, safe across threads and runs."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = None
        # A replay interrupted by a crash left its batch aside: take it back.
        aside = self.path.with_suffix(".replaying")
        if aside.exists():
            with open(aside, "rb") as src, open(self.path, "ab") as dst:
                dst.write(src.read())
            aside.unlink()
        self.count = self._count_lines()

    def _count_lines(self) -> int:
        try:
            with open(self.path, "rb") as fh:
                return sum(1 for line in fh if line.strip())
        except FileNotFoundError:
            return 0

    def append(self, records: list[dict]) -> None:
        """Write records durably; raises OSError if the disk refuses."""
        if not records:
            return
        data = "".join(dumps(r) + "\n" for r in records).encode()
        with self._lock:
            # Kept open between appends: spilling a burst record by record must stay cheap.
            if self._fh is None:
                self._fh = open(self.path, "ab")
            try:
                self._fh.write(data)
                self._fh.flush()
            except OSError:
                self._fh.close()
                self._fh = None
                raise
            self.count += len(records)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def take_all(self) -> list[dict]:
        """Remove and return every spooled record, oldest first."""
        with self._lock:
            if self.count == 0:
                return []
            aside = self.path.with_suffix(".replaying")
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            try:
                os.replace(self.path, aside)
            except FileNotFoundError:
                self.count = 0
                return []
            self.count = 0
        out = []
        with open(aside, "rb") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        log.warning("spool %s: skipping a corrupt line", self.path)
        aside.unlink()
        return out


class ConnectionLost(OSError):
    """The receiver went away or stopped answering; records were not delivered."""


class Sink:
    """Base class: queue, worker thread, reconnect with backoff, spool, counters.

    Subclasses implement ``_connect``, ``_deliver``, ``_disconnect`` and may
    override ``_accepts`` (which records this sink carries), ``_poll`` (check
    the link while idle, send heartbeats) and ``_goodbye`` (before a clean close).
    """

    scheme = "base"
    resend_window_s = 2.0       # records re-sent after a broken stream (see module doc)
    batch_size = 256
    flush_interval_s = 0.05     # worker poll period: the added hand-off latency at most

    def __init__(self, url: str, *, sensor_id: str, spool_dir: str | os.PathLike | None = None,
                 queue_size: int = 10000, backoff_initial_s: float = 0.2,
                 backoff_max_s: float = 5.0, io_timeout_s: float = 5.0):
        self.url = url
        self.sensor_id = sensor_id
        self.io_timeout_s = io_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = max(backoff_max_s, backoff_initial_s)
        # A deque, not queue.Queue: appends never wake the worker, which polls every
        # flush_interval_s and takes whole batches.  Waking a thread per record makes it
        # fight the detection thread for the GIL; measured in bench/bench_sinks.py.
        self._queue: deque = deque()
        self._queue_size = queue_size
        self._own_spool_dir = spool_dir is None
        if spool_dir is None:
            spool_dir = tempfile.mkdtemp(prefix="rfdetect-spool-")
        key = hashlib.sha1(f"{url}|{sensor_id}".encode()).hexdigest()[:16]
        self.spool = Spool(Path(spool_dir) / f"{self.scheme}-{key}.jsonl")
        self._lock = threading.Lock()
        self._counters = {"sent": 0, "dropped": 0, "filtered": 0, "resent": 0,
                          "spooled_total": 0, "reconnects": 0}
        self._inflight: list[dict] = []
        self._window: deque = deque()           # (monotonic time, record) sent recently
        self._connected = False
        self._closing = threading.Event()
        self._abandoned = False
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.scheme}", daemon=True)
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    # ----------------------------------------------------------------- public
    def send(self, record: dict) -> None:
        """Queue a record for delivery; never blocks.  Adds ``record["id"]`` if missing."""
        stamp(record)
        self.take([dict(record)])   # the caller may reuse its dict; nested values are not mutated

    def send_line(self, line: str) -> None:
        """``send`` for a record already encoded as a JSON object (decoded here)."""
        self.send(json.loads(line))

    def take(self, records: list[dict]) -> None:
        """Queue records, each with its ``id``, that nobody changes afterwards (not copied);
        never blocks.  The sinks' process hands over whole batches this way."""
        accepted = [r for r in records if self._accepts(r)]
        if len(accepted) < len(records):
            with self._lock:
                self._counters["filtered"] += len(records) - len(accepted)
        room = 0 if self._closing.is_set() else max(0, self._queue_size - len(self._queue))
        self._queue.extend(accepted[:room])
        self._spool(accepted[room:])

    def stats(self) -> dict:
        with self._lock:
            out = dict(self._counters)
        out["spooled"] = self.spool.count
        out["queued"] = len(self._queue)
        out["connected"] = self._connected
        out["url"] = self.url
        out["spool_path"] = str(self.spool.path)
        if self.last_error:
            out["last_error"] = self.last_error
        return out

    def close(self, timeout_s: float = 5.0) -> dict:
        """Deliver what can be delivered within ``timeout_s``, spool the rest; return counters."""
        self._closing.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            # The worker is stuck in a blocking call to a receiver that does not answer:
            # take over its records so nothing is lost, and let it die with the process.
            with self._lock:
                self._abandoned = True
                pending = self._inflight
                self._inflight = []
            self._spool(pending + self._drain_queue())
            self.last_error = self.last_error or "receiver did not answer before the close timeout"
        else:
            self._spool(self._drain_queue())
            self.spool.close()
            if self._own_spool_dir and self.spool.count == 0:
                # A temporary spool left empty is just litter; a non-empty one is kept and named.
                try:
                    self.spool.path.unlink(missing_ok=True)
                    self.spool.path.parent.rmdir()
                except OSError:
                    pass
        out = {k: v for k, v in self.stats().items()
               if k in ("sent", "spooled", "dropped", "filtered", "resent", "spooled_total",
                        "last_error")}
        if out["spooled"]:
            out["spool_path"] = str(self.spool.path)     # where the undelivered records wait
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --------------------------------------------------------- subclass hooks
    def _accepts(self, record: dict) -> bool:
        return True

    def _connect(self) -> None:
        raise NotImplementedError

    def _deliver(self, records: list[dict]) -> int | None:
        """Send records; raise OSError (e.g. ConnectionLost) if they were not all delivered.

        May return how many records the receiver can never take (counted as dropped).
        """
        raise NotImplementedError

    def _disconnect(self) -> None:
        pass

    def _poll(self) -> None:
        """Called while idle and connected: detect a dead link (raise OSError), heartbeats."""

    def _goodbye(self) -> None:
        """Called once before a clean close while connected (graceful shutdown)."""

    # ----------------------------------------------------------------- worker
    def _drain_queue(self) -> list[dict]:
        out = []
        while True:
            try:
                out.append(self._queue.popleft())
            except IndexError:
                return out

    def _spool(self, records: list[dict]) -> None:
        if not records:
            return
        try:
            self.spool.append(records)
            with self._lock:
                self._counters["spooled_total"] += len(records)
        except OSError as exc:
            log.error("%s: cannot spool %d records to %s: %s", self.url, len(records),
                      self.spool.path, exc)
            with self._lock:
                self._counters["dropped"] += len(records)

    def _next_batch(self, wait_s: float) -> list[dict]:
        replay = self.spool.take_all() if self.spool.count else []
        if replay:
            return replay
        if not self._queue and wait_s > 0:
            self._closing.wait(wait_s)
        batch = []
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.popleft())
            except IndexError:
                break
        return batch

    def _lost_connection(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("%s: connection lost (%s); spooling until it is back", self.url, self.last_error)
        self._connected = False
        try:
            self._disconnect()
        except Exception:   # noqa: BLE001 - tearing down a broken link must not kill the worker
            pass
        with self._lock:
            if self._abandoned:
                return
            resend = [r for _, r in self._window]
            self._window.clear()
            self._counters["sent"] -= len(resend)
            self._counters["resent"] += len(resend)
            pending = self._inflight
            self._inflight = []
        self._spool(resend + pending)

    def _run(self) -> None:
        backoff = self._backoff_initial_s
        next_try = 0.0
        while not self._abandoned:
            closing = self._closing.is_set()
            if not self._connected:
                if closing:
                    # Do not wait through the backoff at shutdown: one last attempt, then spool.
                    if time.monotonic() < next_try or not self._try_connect():
                        self._spool(self._drain_queue())
                        return
                elif time.monotonic() >= next_try:
                    if not self._try_connect():
                        next_try = time.monotonic() + backoff
                        backoff = min(backoff * 2.0, self._backoff_max_s)
                    else:
                        backoff = self._backoff_initial_s
                if not self._connected:
                    # Receiver down: park everything on disk, so the queue never fills.
                    wait = max(0.01, min(self.flush_interval_s, next_try - time.monotonic()))
                    if not self._queue:
                        self._closing.wait(wait)
                    self._spool(self._drain_queue())
                    continue
            batch = self._next_batch(0.0 if closing else self.flush_interval_s)
            if not batch:
                if closing:
                    self._finish()
                    return
                try:
                    self._poll()
                    self._expire_window()
                except Exception as exc:    # noqa: BLE001 - any failure means the link is gone
                    self._lost_connection(exc)
                    next_try = time.monotonic() + backoff
                continue
            with self._lock:
                self._inflight = batch
            try:
                refused = self._deliver(batch) or 0
            except Exception as exc:        # noqa: BLE001
                self._lost_connection(exc)
                next_try = time.monotonic() + backoff
                continue
            now = time.monotonic()
            with self._lock:
                if self._abandoned:
                    return
                self._inflight = []
                self._counters["sent"] += len(batch) - refused
                self._counters["dropped"] += refused
                if self.resend_window_s > 0:
                    self._window.extend((now, r) for r in batch)
            self._expire_window()

    def _try_connect(self) -> bool:
        try:
            self._connect()
        except Exception as exc:    # noqa: BLE001 - any failure to connect is retried
            self.last_error = f"{type(exc).__name__}: {exc}"
            try:
                self._disconnect()
            except Exception:       # noqa: BLE001
                pass
            return False
        self._connected = True
        with self._lock:
            self._counters["reconnects"] += 1
        return True

    def _expire_window(self) -> None:
        if not self._window:
            return
        limit = time.monotonic() - self.resend_window_s
        with self._lock:
            while self._window and self._window[0][0] < limit:
                self._window.popleft()

    def _finish(self) -> None:
        try:
            self._goodbye()
        except Exception as exc:    # noqa: BLE001
            self._lost_connection(exc)
            return
        with self._lock:
            self._window.clear()
        self._connected = False
        try:
            self._disconnect()
        except Exception:           # noqa: BLE001
            pass


# ---------------------------------------------------------------- transports
class TcpLink:
    """A TCP connection with bounded waits, draining (and handing over) what the peer sends."""

    def __init__(self, host: str, port: int, timeout_s: float, on_data=None):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            # Unacknowledged data older than this breaks the connection instead of hanging.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                                 int(max(1.0, 2 * timeout_s) * 1000))
        self.timeout_s = timeout_s
        self.on_data = on_data

    def send(self, data: bytes) -> None:
        self.check()
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ConnectionLost(f"send failed: {exc}") from exc

    def check(self) -> None:
        """Raise ConnectionLost if the peer closed or reset; pass incoming bytes on."""
        while True:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return
            try:
                data = self.sock.recv(65536)
            except OSError as exc:
                raise ConnectionLost(f"receive failed: {exc}") from exc
            if not data:
                raise ConnectionLost("peer closed the connection")
            if self.on_data is not None:
                self.on_data(data)

    def recv_some(self, deadline: float) -> bytes:
        """Block until some bytes arrive or the deadline passes (then b'')."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b""
        readable, _, _ = select.select([self.sock], [], [], remaining)
        if not readable:
            return b""
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionLost("peer closed the connection")
        return data

    def shutdown(self, linger_s: float) -> None:
        """Half-close and wait briefly for the peer to finish reading and close."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + linger_s
            while time.monotonic() < deadline:
                readable, _, _ = select.select([self.sock], [], [], deadline - time.monotonic())
                if not readable or not self.sock.recv(65536):
                    break
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class UdpLink:
    """A connected UDP socket: best effort; a refused port shows as an error on a later send."""

    def __init__(self, host: str, port: int):
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.sock.connect(info[4])

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError as exc:
            raise ConnectionLost(f"datagram refused: {exc}") from exc

    def close(self) -> None:
        self.sock.close()
