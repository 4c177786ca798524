"""The live status line on stderr: band, frequency, retunes, throughput, drops, detections."""
from __future__ import annotations

import sys
import time

from ..units import format_hz


class StatusLine:
    """Rewrites one line on a terminal (``\\r``); on a pipe, writes a line every ``pipe_interval_s``."""

    def __init__(self, stream=None, *, enabled: bool | None = None, interval_s: float = 0.5,
                 pipe_interval_s: float = 10.0):
        self.stream = stream or sys.stderr
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = tty if enabled is None else enabled
        self.tty = tty
        self.interval_s = interval_s if tty else pipe_interval_s
        self._last = 0.0
        self._t0 = time.monotonic()
        self._samples0 = 0
        self._width = 0

    @staticmethod
    def format(band: str, center_freq_hz: float, accounting, detections: int, elapsed_s: float,
               queue: int = 0) -> str:
        a = accounting
        rate = a.samples_received / elapsed_s / 1e6 if elapsed_s > 0 else 0.0
        lost = a.samples_lost
        total = a.samples_handed_over + lost
        pct = 100.0 * lost / total if total else 0.0
        return (f"{band} @ {format_hz(center_freq_hz)} | {elapsed_s:6.1f} s | {rate:4.2f} MS/s | "
                f"retunes {a.retunes} | drops {a.gaps} ({pct:.2f} % lost) | queue {queue} | "
                f"detections {detections}")

    def update(self, band: str, center_freq_hz: float, accounting, detections: int, queue: int = 0,
               force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        text = self.format(band, center_freq_hz, accounting, detections, now - self._t0, queue)
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Before printing anything else on a terminal."""
        if self.enabled and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
