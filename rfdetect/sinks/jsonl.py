"""JSON Lines hand-off: stdout, a file, UDP datagrams or a TCP stream.

Each record is one line of the schema in docs/records.md, unchanged except for
the ``id`` every sink adds.  UDP carries one record per datagram (best effort).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .base import Sink, TcpLink, UdpLink, dumps


class StreamSink(Sink):
    """stdout or an appended file: no reconnect, but a full disk spools like a dead peer."""

    scheme = "file"
    resend_window_s = 0.0

    def __init__(self, url: str, target: str | None, **kwargs):
        super().__init__(url, **kwargs)
        self.path = None if target is None else Path(target)
        self._fh = None
        self._start()

    def _connect(self) -> None:
        if self.path is None:
            self._fh = sys.stdout
        else:
            self._fh = open(self.path, "a", encoding="utf-8")

    def _deliver(self, records: list[dict]) -> None:
        if self.path is None:
            # Standard output may be shared with another process writing records of its own:
            # one write per line keeps every line whole.
            for r in records:
                self._fh.write(dumps(r) + "\n")
                self._fh.flush()
            return
        self._fh.write("".join(dumps(r) + "\n" for r in records))
        self._fh.flush()

    def _disconnect(self) -> None:
        if self._fh is not None and self._fh is not sys.stdout:
            self._fh.close()
        self._fh = None


class TcpJsonlSink(Sink):
    scheme = "tcp"

    def __init__(self, url: str, host: str, port: int, **kwargs):
        super().__init__(url, **kwargs)
        self.host, self.port = host, port
        self._link: TcpLink | None = None
        self._start()

    def _connect(self) -> None:
        self._link = TcpLink(self.host, self.port, self.io_timeout_s)

    def _deliver(self, records: list[dict]) -> None:
        self._link.send("".join(dumps(r) + "\n" for r in records).encode())

    def _poll(self) -> None:
        self._link.check()

    def _goodbye(self) -> None:
        self._link.shutdown(min(1.0, self.io_timeout_s))

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None


class UdpJsonlSink(Sink):
    scheme = "udp"
    max_datagram = 65000

    def __init__(self, url: str, host: str, port: int, **kwargs):
        super().__init__(url, **kwargs)
        self.host, self.port = host, port
        self._link: UdpLink | None = None
        self._start()

    def _connect(self) -> None:
        self._link = UdpLink(self.host, self.port)

    def _deliver(self, records: list[dict]) -> int:
        too_big = 0
        for r in records:
            data = dumps(r).encode()
            if len(data) > self.max_datagram:
                too_big += 1        # never truncate a record: count it dropped instead
                continue
            self._link.send(data + b"\n")
        return too_big

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None
