"""Emitter tracks: bursts bound together by timing, bandwidth and modulation.

A hopping emitter changes frequency every few packets, so frequency cannot bind
its bursts; what stays is its packet timing (bursts on a lattice t0 + k T),
its occupied bandwidth, its burst duration and its modulation (what the
kernels measured).  Two emitters of the same link in one band differ in the
phase of their lattices, which keeps them apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..model import Burst

MAX_TIMES = 48            # recent start times kept per track for the period estimate


def timing_tolerance_s(period_s: float) -> float:
    """How far a start time may sit from the lattice: edge measurement (about one
    spectrogram hop) plus a few per cent of clock and jitter."""
    return max(0.2e-3, 0.04 * period_s)


def estimate_period(times_s, min_share: float = 0.7) -> tuple[float, float] | None:
    """(period s, share of consecutive gaps that are whole multiples of it), or None.

    Candidate periods are the shortest gaps; the first explaining ``min_share`` of
    all gaps wins, refined as total time over total periods."""
    t = np.sort(np.asarray(times_s, np.float64))
    if t.shape[0] < 3:
        return None
    gaps = np.diff(t)
    gaps = gaps[gaps > 0.1e-3]
    if gaps.shape[0] < 2:
        return None
    for g in np.sort(gaps)[:6]:
        # The tolerance must stay well below the period, or anything is a multiple.
        tol = min(timing_tolerance_s(g), 0.1 * g)
        k = np.round(gaps / g)
        ok = (k >= 1) & (k <= 64) & (np.abs(gaps - k * g) <= tol * np.maximum(1.0, np.sqrt(k)))
        share = float(ok.mean())
        if share >= min_share and ok.sum() >= 2:
            return float(gaps[ok].sum() / k[ok].sum()), share
    return None


@dataclass
class Track:
    track_id: int
    key: tuple | None                     # fixed key for non-hopping known emitters
    hopping: bool
    bursts: list[Burst] = field(default_factory=list)
    scores: dict = field(default_factory=dict)        # signature id -> summed per-burst score
    candidates: dict = field(default_factory=dict)    # signature id -> bursts it was a candidate for
    kernel_results: dict = field(default_factory=dict)  # kernel -> list of results
    verdicts: dict = field(default_factory=dict)      # signature id -> Counter-like dict of kernel verdicts
    modulation: tuple = ("?",)
    period: tuple[float, float] | None = None
    reported: bool = False
    reported_link: str | None = None
    times: list = field(default_factory=list)
    packets: int = 0                      # bursts that are packets (not fragments of one)

    @property
    def last_end_s(self) -> float:
        return self.bursts[-1].t_end_s if self.bursts else -math.inf

    _medians: dict = field(default_factory=dict)

    def median(self, attr: str) -> float:
        """Median over the last 32 bursts (cached until the next burst)."""
        v = self._medians.get(attr)
        if v is None:
            vals = sorted(getattr(b, attr) for b in self.bursts[-32:])
            v = self._medians[attr] = vals[len(vals) // 2]
        return v

    def add(self, burst: Burst, fragment: bool = False) -> None:
        """``fragment``: a piece of the last packet, which does not mark a new packet time."""
        self.bursts.append(burst)
        self._medians.clear()
        if fragment:
            return
        self.packets += 1
        self.times.append(burst.t_start_s)
        if len(self.times) > MAX_TIMES:
            del self.times[0]
        n = len(self.times)
        # Re-estimated while young, then every few packets (it is the costly part of a
        # track, and a lattice does not change from one packet to the next).
        if n >= 3 and (n < 12 or self.period is None or n % 6 == 0):
            self.period = estimate_period(self.times)

    def timing_residual_s(self, t_s: float) -> float | None:
        """Distance of a start time from this track's lattice, None if no lattice yet."""
        if self.period is None or not self.times:
            return None
        period = self.period[0]
        dt = t_s - self.times[-1]
        k = max(1, round(dt / period))
        return abs(dt - k * period) / math.sqrt(k)

    def within_packet(self, burst: Burst) -> bool:
        """True when ``burst`` is a later piece of the last packet the detector split: on
        its channel, starting after it by more than the timing tolerance but less than a
        packet's duration (and well before the next lattice point)."""
        if self.period is None or not self.times or not self.bursts:
            return False
        period = self.period[0]
        last = self.bursts[-1]
        dt = burst.t_start_s - self.times[-1]
        longest = max(b.duration_s for b in self.bursts[-16:])
        return (timing_tolerance_s(period) < dt <= min(1.2 * longest, 0.9 * period)
                and abs(burst.center_freq_hz - last.center_freq_hz) < 0.5 * max(last.bandwidth_hz, 1.0))

    def kernel_confirmed(self, kernel: str, need: int = 2) -> dict | None:
        """The latest confirmed result of a kernel once ``need`` bursts confirmed it."""
        results = [r for r in self.kernel_results.get(kernel, []) if r and r.get("confirmed")]
        return results[-1] if len(results) >= need else None

    def channels_hz(self, quantum_hz: float) -> list[float]:
        """Distinct centre frequencies, merged within ``quantum_hz``."""
        out: list[float] = []
        for f in sorted(b.center_freq_hz for b in self.bursts):
            if not out or f - out[-1] > quantum_hz:
                out.append(f)
        return out
