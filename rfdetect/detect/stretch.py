"""The recent samples of one stretch of a stream, for the stages that read spans of it.

A stretch is what a stream holds between gaps and retunes: a span a stage reads (a
line-rate check, a Zadoff-Chu segment) must lie inside one, so a gap or a retune starts
a new one.
"""
from __future__ import annotations

import numpy as np

from ..model import IQBlock


class Stretch:
    def __init__(self, center_freq_hz: float):
        self.center_freq_hz = float(center_freq_hz)
        self.samples_lost = 0                # in the stream's gaps so far
        self.expected: int | None = None     # the sample the next block should start at
        self.restart(0)

    def restart(self, origin: int) -> None:
        self.x = np.zeros(0, np.complex64)
        self.x0 = origin                     # stream index of x[0]

    def add(self, block: IQBlock) -> bool:
        """Append channel 0 of a block; True when it starts a new stretch (the first block,
        a gap, a retune), whose samples then start at ``block.sample_index0``."""
        x = block.samples[0] if block.samples.ndim == 2 else block.samples
        new = block.sample_index0 != self.expected or bool(block.samples_lost_before) \
            or block.center_freq_hz != self.center_freq_hz
        if new:
            self.samples_lost += int(block.samples_lost_before)
            self.center_freq_hz = float(block.center_freq_hz)
            self.restart(int(block.sample_index0))
        self.x = np.concatenate([self.x, np.asarray(x, np.complex64)])
        self.expected = block.sample_index0 + x.shape[0]
        return new

    def span(self, a: int, b: int) -> np.ndarray:
        """Samples a..b (stream indices) that the stretch holds (clipped to what it holds)."""
        return self.x[max(a - self.x0, 0): max(b - self.x0, 0)]

    def keep_from(self, sample: int) -> None:
        """Samples before ``sample`` are no longer needed."""
        if sample > self.x0:
            self.x = self.x[sample - self.x0:]
            self.x0 = sample
