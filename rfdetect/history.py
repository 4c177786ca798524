"""Recent IQ kept by reference, so confirmation kernels can see a burst's samples."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .model import FloorSnapshot, IQBlock


@dataclass(frozen=True)
class IQSnippet:
    samples: np.ndarray          # (channels, n) complex64
    sample_index0: int
    sample_rate_hz: float
    center_freq_hz: float
    floor: FloorSnapshot | None = None      # the detector's, when the burst was handed on


class IQHistory:
    """Holds the last blocks (no copy) covering at least ``keep_samples`` samples."""

    def __init__(self, keep_samples: int):
        self.keep_samples = int(keep_samples)
        self._blocks: deque[IQBlock] = deque()
        self._held = 0

    def append(self, block: IQBlock) -> None:
        if block.samples_lost_before and self._blocks:
            self._blocks.clear()      # samples before a gap are not contiguous with these
            self._held = 0
        self._blocks.append(block)
        self._held += block.num_samples
        while self._blocks and self._held - self._blocks[0].num_samples >= self.keep_samples:
            self._held -= self._blocks.popleft().num_samples

    def snippet(self, start: int, stop: int, max_samples: int | None = None) -> IQSnippet | None:
        """Samples [start, stop) (clipped to what is held, and to the last
        ``max_samples``), or None if none of them are held or a retune lies inside."""
        if max_samples is not None and stop - start > max_samples:
            start = stop - max_samples
        parts = []
        first = None
        freq = None
        for b in self._blocks:
            b0, b1 = b.sample_index0, b.sample_index0 + b.num_samples
            lo, hi = max(start, b0), min(stop, b1)
            if lo >= hi:
                continue
            if freq is not None and b.center_freq_hz != freq:
                return None
            freq = b.center_freq_hz
            first = lo if first is None else first
            parts.append(b.samples[:, lo - b0: hi - b0])
        if not parts:
            return None
        samples = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        b = self._blocks[0]
        return IQSnippet(samples, first, b.sample_rate_hz, freq)
