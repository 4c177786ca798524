"""Emitter tracks: bursts bound together by timing, bandwidth and modulation.

A hopping emitter changes frequency every few packets, so frequency cannot bind
its bursts; what stays is its packet timing (bursts on a lattice t0 + k T),
its occupied bandwidth, its burst duration and its modulation (what the
kernels measured).  Two emitters of the same link in one band differ in the
phase of their lattices, which keeps them apart.
"""
from __future__ import annotations

import math
from bisect import bisect_left, insort
from dataclasses import dataclass, field

import numpy as np

from ..model import Burst
from .kernels import lattice_multiples_into, period_estimate, timing_tolerance_s

MAX_TIMES = 48            # recent start times kept per track for the period estimate
MEDIAN_BURSTS = 32        # recent bursts a track's median bandwidth and duration describe
ANCHOR_PACKETS = 3        # recent packet times a start time is held to the lattice from


def estimate_period(times_s, min_share: float = 0.7) -> tuple[float, float] | None:
    """(period s, share of consecutive gaps that are whole multiples of it), or None.

    Candidate periods are the shortest gaps; the first explaining ``min_share`` of
    all gaps wins, refined as total time over total periods (kernels.period_estimate)."""
    out = np.empty(2)
    if not period_estimate(np.asarray(times_s, np.float64), min_share, out):
        return None
    return float(out[0]), float(out[1])


def on_channel_of(burst: Burst, last: Burst) -> bool:
    """Whether ``burst`` is on ``last``'s channel: their centres within half its bandwidth."""
    return abs(burst.center_freq_hz - last.center_freq_hz) < 0.5 * max(last.bandwidth_hz, 1.0)


def lattice_multiples(gaps_s: np.ndarray, period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Each gap's nearest whole number of periods k, and whether it fits k periods (k >= 1)
    within the lattice tolerance grown as sqrt(k)."""
    gaps = np.ascontiguousarray(gaps_s, np.float64)
    k, fits = np.empty(gaps.shape[0]), np.empty(gaps.shape[0], np.bool_)
    lattice_multiples_into(gaps, float(period_s), k, fits)
    return k, fits


@dataclass(eq=False)
class Track:
    track_id: int
    key: tuple | None                     # fixed key for non-hopping known emitters
    hopping: bool
    bursts: list[Burst] = field(default_factory=list)
    scores: dict = field(default_factory=dict)        # signature id -> summed per-burst score
    candidates: dict = field(default_factory=dict)    # signature id -> bursts it was a candidate for
    kernel_results: dict = field(default_factory=dict)  # kernel -> list of results
    # (sf, duration s, SNR dB, followed by the chirp detector) of bursts the dechirp confirmed
    chirp_packets: list = field(default_factory=list)
    verdicts: dict = field(default_factory=dict)      # signature id -> Counter-like dict of kernel verdicts
    modulation: tuple = ("?",)
    period: tuple[float, float] | None = None
    reported: bool = False
    reported_link: str | None = None
    recheck_packets: int = 0              # packets at which a reported track's link is looked at again
    times: list = field(default_factory=list)
    packets: int = 0                      # bursts that are packets (not fragments of one)

    @property
    def last_end_s(self) -> float:
        return self.bursts[-1].t_end_s if self.bursts else -math.inf

    # The last MEDIAN_BURSTS bandwidths and durations, kept sorted as bursts come and go.
    _sorted: dict = field(default_factory=lambda: {"bandwidth_hz": [], "duration_s": []})

    def median(self, attr: str) -> float:
        """Median bandwidth or duration over the last MEDIAN_BURSTS bursts."""
        vals = self._sorted[attr]
        return vals[len(vals) // 2]

    def add(self, burst: Burst, fragment: bool = False) -> None:
        """``fragment``: a piece of the last packet, which does not mark a new packet time."""
        self.bursts.append(burst)
        old = self.bursts[-MEDIAN_BURSTS - 1] if len(self.bursts) > MEDIAN_BURSTS else None
        for attr, vals in self._sorted.items():
            insort(vals, getattr(burst, attr))
            if old is not None:
                del vals[bisect_left(vals, getattr(old, attr))]
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
        """Distance of a start time from this track's lattice, None if no lattice yet: from
        the nearest of its last ANCHOR_PACKETS packet times, so that one stray burst taken
        for a packet (a splinter of another emitter's) does not move the lattice."""
        if self.period is None or not self.times:
            return None
        period = self.period[0]
        best = math.inf
        for t0 in self.times[-ANCHOR_PACKETS:]:
            dt = t_s - t0
            k = max(1, round(dt / period))
            best = min(best, abs(dt - k * period) / math.sqrt(k))
        return best

    def within_packet(self, burst: Burst) -> bool:
        """True when ``burst`` is a later piece of the last packet the detector split: on
        its channel, starting after it by more than the timing tolerance and ending within
        a packet's duration of its start (and well before the next lattice point).  (The
        next packet of a link with a high duty cycle starts within a packet's duration:
        ExpressLRS 2.4 GHz at 500 Hz sends 1.8 ms packets 2 ms apart.)"""
        if self.period is None or not self.times or not self.bursts:
            return False
        period = self.period[0]
        last = self.bursts[-1]
        dt = burst.t_start_s - self.times[-1]
        longest = max(b.duration_s for b in self.bursts[-16:])
        return (timing_tolerance_s(period) < dt and dt + burst.duration_s <= min(1.2 * longest, 0.9 * period)
                and on_channel_of(burst, last))

    def note_chirp_packet(self, sf: int, duration_s: float, snr_db: float | None = None,
                          followed: bool = False) -> None:
        """A burst the LoRa dechirp confirmed at ``sf`` (``followed``: a packet the chirp
        detector found and followed to its end): the last MEDIAN_BURSTS are kept."""
        self.chirp_packets.append((sf, duration_s, snr_db, followed))
        if len(self.chirp_packets) > MEDIAN_BURSTS:
            del self.chirp_packets[0]

    def kernel_confirmed(self, kernel: str, need: int = 2) -> dict | None:
        """The latest confirmed result of a kernel once ``need`` bursts confirmed it."""
        results = [r for r in self.kernel_results.get(kernel, []) if r and r.get("confirmed")]
        return results[-1] if len(results) >= need else None

    def channels_hz(self, quantum_hz: float, min_bandwidth_hz: float = 0.0) -> list[float]:
        """Distinct centre frequencies, merged within ``quantum_hz``, of the bursts at least
        ``min_bandwidth_hz`` wide (narrower ones may be splinters of a packet)."""
        out: list[float] = []
        for f in sorted(b.center_freq_hz for b in self.bursts if b.bandwidth_hz >= min_bandwidth_hz):
            if not out or f - out[-1] > quantum_hz:
                out.append(f)
        return out


class TrackTable:
    """The open tracks in creation order, with what the per-burst searches compare
    precomputed per track, so that checking a burst against every track is a
    comparison or two each (and idle tracks are looked for only when one may be
    due).  A track's entry must be refreshed whenever it takes a burst or its
    modulation is set."""

    # Start times closer than this to an expiry are checked exactly (rounding of the sums).
    EXPIRY_MARGIN_S = 1e-6
    _EMPTY = (math.inf, -math.inf, math.inf, -math.inf)

    def __init__(self, track_timeout_s: float):
        self.track_timeout_s = track_timeout_s
        # Track id -> track, (last burst's end, idle timeout), and for unkeyed tracks
        # the bandwidth and duration bounds of ``matcher._similar`` around their
        # medians (empty while a track has no burst); dicts keep the creation order.
        self._tracks: dict[int, Track] = {}
        self._idle: dict[int, tuple[float, float]] = {}
        self._bounds: dict[int, tuple[float, float, float, float]] = {}
        # Unkeyed tracks with a confirmed modulation (ids in creation order) and the
        # time-frequency window around their last burst that holds its splinters.
        self._hosts: list[int] = []
        self._windows: dict[int, tuple[float, float, float, float, float] | None] = {}
        self._no_expiry_before = -math.inf        # no track expires at an earlier start time

    def __len__(self) -> int:
        return len(self._tracks)

    def __iter__(self):
        return iter(list(self._tracks.values()))

    def add(self, track: Track) -> None:
        self._tracks[track.track_id] = track
        if track.key is None:
            self._bounds[track.track_id] = self._EMPTY
        self.refresh(track)

    def remove(self, track: Track) -> None:
        del self._tracks[track.track_id], self._idle[track.track_id]
        self._bounds.pop(track.track_id, None)
        if track.track_id in self._windows:
            del self._windows[track.track_id]
            self._hosts.remove(track.track_id)

    def refresh(self, track: Track) -> None:
        tid = track.track_id
        end = track.last_end_s
        timeout = max(self.track_timeout_s, 20 * track.period[0]) if track.period else self.track_timeout_s
        self._idle[tid] = (end, timeout)
        self._no_expiry_before = min(self._no_expiry_before, end + timeout - self.EXPIRY_MARGIN_S)
        if track.key is not None:
            return
        if track.bursts:
            bw, dur = track.median("bandwidth_hz"), track.median("duration_s")
            self._bounds[tid] = (bw / 1.45, bw * 1.45, dur / 1.4, dur * 1.4)
        if track.modulation != ("?",):
            if tid not in self._windows:
                insort(self._hosts, tid)
            self._windows[tid] = _splinter_window(track.bursts[-1]) if track.bursts else None

    def expired(self, now_s: float) -> list[Track]:
        """Tracks idle for longer than their timeout at ``now_s``, in order."""
        if now_s < self._no_expiry_before:
            return []
        out, due = [], math.inf
        for tid, (end, timeout) in self._idle.items():
            if now_s - end > timeout:
                out.append(self._tracks[tid])
            due = min(due, end + timeout)
        self._no_expiry_before = due - self.EXPIRY_MARGIN_S
        return out

    def splinter_host(self, burst: Burst) -> Track | None:
        """The first confirmed unkeyed track whose last packet holds ``burst`` in time and
        frequency (and is at least as wide): a splinter of that packet (a chirp's sweep,
        a weak packet's strong part)."""
        bw, t_s, f_hz = burst.bandwidth_hz, burst.t_start_s, burst.center_freq_hz
        for tid in self._hosts:
            w = self._windows[tid]
            if w is not None and bw <= w[0] and w[1] <= t_s <= w[2] and w[3] <= f_hz <= w[4]:
                return self._tracks[tid]
        return None

    def lattice_host(self, burst: Burst, duration_ratio: float) -> Track | None:
        """The confirmed unkeyed track whose packet lattice ``burst`` starts on (within the
        timing tolerance) and whose packets last as long (within ``duration_ratio``), but
        are too wide for ``similar`` to find it: the nearest to its lattice, or None."""
        best, best_res = None, math.inf
        dur = burst.duration_s
        for tid in self._hosts:
            t = self._tracks[tid]
            if t.period is None or not t.bursts or self._bounds[tid][0] <= burst.bandwidth_hz:
                continue
            median = t.median("duration_s")
            if not median / duration_ratio <= dur <= median * duration_ratio:
                continue
            res = t.timing_residual_s(burst.t_start_s)
            if res is not None and res <= timing_tolerance_s(t.period[0]) and res < best_res:
                best, best_res = t, res
        return best

    def pulse_train_host(self, burst: Burst, gap_s: float, duration_ratio: float,
                         min_pulse_s: float) -> Track | None:
        """The unkeyed track of no measured modulation whose last burst ended at most
        ``gap_s`` before ``burst`` starts, on its channel, whose bursts are as wide (within
        ``similar``'s factor), and for which ``burst`` lasts at least 1 / ``duration_ratio``
        of their median or ``min_pulse_s``: the one with the most bursts, or None.  An on-off
        keyed transmitter sends pulses of two or three lengths (PWM: 1 and 3 units) in one
        train on one channel, and the detector joins some of them; ``similar`` would part
        them by length.  (The longest track: one that an odd burst started does not take
        the train over.)"""
        best, best_n = None, 0
        bw, dur, t_s = burst.bandwidth_hz, burst.duration_s, burst.t_start_s
        for tid, (lo, hi, _, _) in self._bounds.items():
            if not lo <= bw <= hi:
                continue
            t = self._tracks[tid]
            last = t.bursts[-1]
            if (t.modulation == ("?",) and len(t.bursts) > best_n and 0.0 <= t_s - last.t_end_s <= gap_s
                    and on_channel_of(burst, last)
                    and min(t.median("duration_s") / duration_ratio, min_pulse_s) <= dur):
                best, best_n = t, len(t.bursts)
        return best

    def similar(self, bandwidth_hz: float, duration_s: float | None) -> list[Track]:
        """Unkeyed tracks whose median bandwidth is within a factor 1.45 of ``bandwidth_hz``
        and, unless ``duration_s`` is None, median duration within 1.4 of it; in order."""
        bw = bandwidth_hz
        if duration_s is None:
            return [self._tracks[i] for i, (lo, hi, _, _) in self._bounds.items() if lo <= bw <= hi]
        dur = duration_s
        return [self._tracks[i] for i, (lo, hi, dlo, dhi) in self._bounds.items()
                if lo <= bw <= hi and dlo <= dur <= dhi]


def _splinter_window(last: Burst) -> tuple[float, float, float, float, float]:
    """(bandwidth, start window, frequency window) of the splinters of ``last``."""
    bw = last.bandwidth_hz
    slack = max(0.3e-3, 0.1 * last.duration_s)
    return (bw, last.t_start_s - slack, last.t_end_s + slack, last.f_lo_hz - 0.25 * bw, last.f_hi_hz + 0.25 * bw)
