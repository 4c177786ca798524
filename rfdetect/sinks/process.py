"""Hand-off sinks run in a child process, so that their work never competes with detection.

With the sinks' threads inside the detecting process, their encoding, paho-mqtt
and protobuf work held the interpreter lock the detection thread needs:
`analyze --all-bursts` with every sink attached ran 23 % slower at 1,800
records/s (bench/bench_sinks.py).  Here the detecting process only gives each
record its id (``next_id``: a counter within a block of ULIDs) and appends a
shallow copy to a list, or, with ``send_line``, the JSON line it encoded
anyway; a feeder thread, woken by the first record of a batch, pickles what
accumulated ``flush_interval_s`` later and writes it to the child as one
message.  Decoding, encoding per protocol and all network work happen in the
child, which runs the sinks of base.py unchanged (bounded queue, thread,
reconnect with backoff, spool per sink) and reports their counters.

What stays guaranteed across the process boundary:

- ``send()`` never blocks.  If the child cannot take records (it died, or its
  pipe stayed full until ``pending_limit`` records wait), they go to a journal
  file in the spool directory, counted as spooled for every sink and handed to
  the sinks first by the next run with the same URLs and spool directory.
- The child is started fresh (``subprocess``, not ``fork``: the parent has
  FFTW, Numba and sink threads running) and passes a bad URL nowhere: URLs are
  checked in the parent before it starts.
- The child runs at a lower priority (``CHILD_NICENESS``): when CPU is short,
  hand-off lags (records wait in queues and spools) instead of detection.
- The child never outlives the parent: at the end of its pipe, or when its
  parent process changes, it delivers or spools what it holds and exits.
  It ignores Ctrl-C, which reaches the whole process group: the parent closes
  the group then, and the child's records are flushed, not lost.
- ``stats()`` never waits for the child: it reports its counters every
  ``STATS_INTERVAL_S`` and the latest are returned.  ``close()`` returns the
  final counters of every sink from the child.  A child that
  died or does not answer is killed; the records it was given are counted as
  dropped, since whether it delivered or spooled them cannot be known (what its
  sinks spooled is still sent by the next run).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from .base import Spool, next_id, stamp

log = logging.getLogger(__name__)

_CHILD = ("import sys; from rfdetect.sinks.process import child_main; "
          "child_main(int(sys.argv[1]))")
_PICKLE = pickle.HIGHEST_PROTOCOL
# Below detection in priority: on a busy machine the sinks wait (their queues and spools hold
# the records) rather than take CPU from a detector that must keep up with the radio.
CHILD_NICENESS = 10


class ProcessSinkGroup:
    """``send``/``stats``/``close`` of a ``SinkGroup`` whose sinks live in a child process."""

    flush_interval_s = 0.025    # a batch's age when sent: added to the sinks' own 50 ms at most
    start_allowance_s = 5.0     # a child still starting up answers within this
    pending_limit = 50000       # records waiting for the child before the journal takes them

    def __init__(self, urls: list[str], *, sensor_id: str, sensor: dict | None,
                 spool_dir: str | os.PathLike | None = None):
        self.urls = [u.strip() for u in urls]
        self._own_spool_dir = spool_dir is None
        self.spool_dir = Path(tempfile.mkdtemp(prefix="rfdetect-spool-") if spool_dir is None
                              else spool_dir)
        key = hashlib.sha1("|".join([*self.urls, sensor_id]).encode()).hexdigest()[:16]
        self.journal = Spool(self.spool_dir / f"handoff-{key}.jsonl")
        self._pending: list[dict | str] = self.journal.take_all()    # an earlier run's, first
        self._lock = threading.Lock()           # guards _pending
        self._pipe_lock = threading.Lock()      # one writer at a time
        self._handed = 0                        # records written to the child
        self._lost = 0                          # records neither the child nor the journal took
        self._snapshot: dict | None = None      # the child's latest counters
        self._final: dict | None = None
        self._closed = threading.Event()        # the child's final counters arrived
        self._closing = threading.Event()
        self._wake = threading.Event()          # ends the feeder's idle wait: records, or closing
        self.last_error: str | None = None
        ours, theirs = socket.socketpair()
        with theirs:
            root = str(Path(__file__).resolve().parents[2])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
            self._child = subprocess.Popen([sys.executable, "-c", _CHILD, str(theirs.fileno())],
                                           pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                           env=env)
        self._conn = Connection(ours.detach())
        self._alive = True
        self._write(("open", {"urls": self.urls, "sensor_id": sensor_id, "sensor": sensor,
                              "spool_dir": str(self.spool_dir)}))
        self._feeder = threading.Thread(target=self._feed, name="handoff-feeder", daemon=True)
        self._reader = threading.Thread(target=self._read, name="handoff-reader", daemon=True)
        self._feeder.start()
        self._reader.start()

    # ----------------------------------------------------------------- public
    def send(self, record: dict) -> None:
        """Hand a record to the child; never blocks.  Adds ``record["id"]`` if missing."""
        # All the detecting thread does per record: an id (in place, so that the local output
        # carries it too), a shallow copy and an append; the feeder pickles whole batches.
        if "id" not in record:
            record["id"] = next_id()
        self._queue(dict(record))   # the caller may reuse its dict; nested values are not mutated

    def send_line(self, line: str) -> None:
        """Hand over a record already encoded as a JSON object, e.g. the line the caller writes
        to its own output (give the record its ``id`` with ``stamp`` before encoding it);
        never blocks.  The child decodes it: the caller's only cost is an append."""
        self._queue(line)

    def _queue(self, item: dict | str) -> None:
        with self._lock:
            waiting = len(self._pending)
            if waiting < self.pending_limit:
                self._pending.append(item)
        if not waiting:
            self._wake.set()        # the first record of a batch wakes the feeder
        elif waiting >= self.pending_limit:
            self._to_journal([item])

    def stats(self) -> dict:
        """Counters per URL as the child last reported them (it does every ``STATS_INTERVAL_S``);
        never waits for the child.  ``queued`` includes the records still on their way to it."""
        return self._merge(self._snapshot, final=False)

    def close(self, timeout_s: float = 5.0) -> dict:
        """Deliver within ``timeout_s`` what can be, spool the rest; counters per URL."""
        deadline = time.monotonic() + timeout_s
        self._closing.set()
        self._wake.set()
        self._feeder.join(timeout_s)
        # A feeder still writing means a child that does not read: no use asking it.
        if self._alive and not self._feeder.is_alive():
            left = max(0.0, deadline - time.monotonic())
            try:
                with self._pipe_lock:
                    self._flush_locked()
                    self._write(("close", left))
            except OSError as exc:
                self._gone(f"{type(exc).__name__}: {exc}")
            else:
                self._closed.wait(left + self.start_allowance_s)
        if self._final is None:
            self._gone("did not answer the close request")
            self._child.kill()
        try:
            self._child.wait(self.start_allowance_s)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._feeder.join(1.0)          # a feeder stuck on the pipe fails once the child is gone
        self._reader.join(1.0)
        with self._lock:
            rest, self._pending = self._pending, []
        self._to_journal(rest)
        self._conn.close()
        self.journal.close()
        counters = self._merge(self._final, final=True)
        if self._own_spool_dir:
            try:        # an empty temporary spool is litter; a non-empty one is kept and named
                self.spool_dir.rmdir()
            except OSError:
                pass
        return counters

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------------- parent
    def _feed(self) -> None:
        # Waking a thread costs this process tens of microseconds of CPU: one wake-up per
        # batch while records come, none while idle (it then waits for the next first record).
        while not self._closing.is_set():
            time.sleep(self.flush_interval_s)
            with self._pipe_lock:
                flushed = self._flush_locked()
            if not flushed:
                self._wake.clear()
                with self._lock:
                    # A record, or close(), that came before clear() has nobody to wake us.
                    idle = not self._pending and not self._closing.is_set()
                if idle:
                    self._wake.wait()
        with self._pipe_lock:
            self._flush_locked()

    def _flush_locked(self) -> int:
        """Hand what waits to the child (or the journal); how many records that was."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        if self._alive and self._child.poll() is not None:
            self._gone(None)
        if self._alive:
            try:
                self._write(("records", batch))
                self._handed += len(batch)
                return len(batch)
            except OSError as exc:
                self._gone(f"{type(exc).__name__}: {exc}")
        self._to_journal(batch)
        return len(batch)

    def _write(self, message) -> None:
        self._conn.send_bytes(pickle.dumps(message, _PICKLE))

    def _read(self) -> None:
        """Take the child's counters as they come; its final ones end the conversation."""
        try:
            while True:
                kind, body = pickle.loads(self._conn.recv_bytes())
                if kind == "stats":
                    self._snapshot = body
                else:
                    self._final = body
                    self._closed.set()
                    return
        except (OSError, EOFError, ValueError):
            self._closed.set()          # the child is gone (or we closed the pipe)

    def _gone(self, why: str | None) -> None:
        if not self._alive:
            return
        self._alive = False
        code = self._child.poll()
        self.last_error = "hand-off process " + (
            f"exited with code {code}" if code is not None else why or "stopped answering")
        log.error("%s; records go to %s for the next run", self.last_error, self.journal.path)

    def _to_journal(self, records: list[dict | str]) -> None:
        if not records:
            return
        records = [_decoded(r) for r in records]
        try:
            self.journal.append(records)
        except OSError as exc:
            self._lost += len(records)
            log.error("cannot journal %d hand-off records to %s: %s", len(records),
                      self.journal.path, exc)

    def _merge(self, reply: dict | None, *, final: bool) -> dict:
        """Child counters per URL, plus what never reached the child (journal, lost)."""
        received = reply.get(_RECEIVED, 0) if reply else 0
        out = {}
        for url in self.urls:
            c = dict(reply[url]) if reply and url in reply else {
                "sent": 0, "spooled": 0, "dropped": self._handed if final else 0,
                "filtered": 0, "resent": 0, "spooled_total": 0}
            # The journal only grows during a run (an earlier run's was taken at the start).
            c["spooled"] = c.get("spooled", 0) + self.journal.count
            c["spooled_total"] = c.get("spooled_total", 0) + self.journal.count
            c["dropped"] = c.get("dropped", 0) + self._lost
            if not final:
                c["queued"] = c.get("queued", 0) + len(self._pending) + self._handed - received
            if self.journal.count:
                c["journal_path"] = str(self.journal.path)
            if final and reply is None and self.last_error:
                c["last_error"] = self.last_error
            out[url] = c
        return out


# ------------------------------------------------------------------- child
STATS_INTERVAL_S = 0.1
_RECEIVED = "\0received"       # records the child took, in its counters (not a URL)


def _decoded(item: dict | str) -> dict:
    """A record handed over as a dict, or as a JSON line by ``send_line``."""
    return item if isinstance(item, dict) else stamp(json.loads(item))


def child_main(fd: int) -> None:
    """The child: open the sinks, feed them what the parent sends, report counters."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))      # still flushes, below
    try:
        os.nice(CHILD_NICENESS)
    except OSError:
        pass
    parent = os.getppid()
    conn = Connection(fd)
    kind, config = pickle.loads(conn.recv_bytes())
    from . import open_sinks
    try:
        group = open_sinks(config["urls"], spool_dir=config["spool_dir"],
                           sensor_id=config["sensor_id"], sensor=config["sensor"], in_process=True)
    except Exception as exc:        # noqa: BLE001 - said in one line; the parent journals
        print(f"rfdetect hand-off: cannot open the sinks: {exc}", file=sys.stderr)
        sys.exit(1)
    received = 0
    reported = None
    next_report = 0.0
    try:
        while True:
            if conn.poll(STATS_INTERVAL_S):
                kind, body = pickle.loads(conn.recv_bytes())
                if kind == "records":
                    group.take([_decoded(r) for r in body])
                    received += len(body)
                elif kind == "close":
                    counters = group.close(timeout_s=body)
                    group = None
                    counters[_RECEIVED] = received
                    conn.send_bytes(pickle.dumps(("closed", counters), _PICKLE))
                    return
            elif os.getppid() != parent:
                break               # the parent died without closing its end
            if time.monotonic() >= next_report:
                stats = group.stats()
                stats[_RECEIVED] = received
                if stats != reported:
                    conn.send_bytes(pickle.dumps(("stats", stats), _PICKLE))
                    reported = stats
                next_report = time.monotonic() + STATS_INTERVAL_S
    except (EOFError, OSError):
        pass                        # the parent is gone
    finally:
        if group is not None:
            group.close(timeout_s=5.0)
