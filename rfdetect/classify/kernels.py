"""Numba kernels of the tracker (plain arrays in, preallocated arrays out).

``period_estimate`` is ``tracker.estimate_period``, which runs on nearly every packet
of a young or aperiodic track: as NumPy it cost tens of microseconds per call in
small-array overhead alone.  ``lattice_at`` tests one given
period (a link's declared packet interval) on the same start times.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..kernels.evidence_fsk import pairwise_sum

MIN_GAP_S = 0.1e-3       # closer start times are one packet measured twice
CANDIDATES = 6           # shortest gaps tried as the period
SHORT_GAP_PERIODS = 4    # gaps of at most this many periods refine a lattice


# A packet clock is a crystal: over any period it drifts by microseconds, so how far a
# start time sits off the lattice is its measurement (a spectrogram hop, a few symbols of
# a weak packet), not a share of the period.  A share (4 %) covers the measurement at a
# few ms; at 0.25 s (Crossfire's 4 Hz) it would be 10 ms, and five FSK meter bursts from
# three sensors fitted a 0.255 s lattice.
MAX_TIMING_TOLERANCE_S = 2e-3


def timing_tolerance_s(period_s):
    """How far a start time may sit from the lattice: edge measurement (about one
    spectrogram hop), a few per cent of a short period, at most MAX_TIMING_TOLERANCE_S."""
    return min(max(0.2e-3, 0.04 * period_s), MAX_TIMING_TOLERANCE_S)


# The tracker asks for it per track and burst from Python (where a compiled call costs
# more than the arithmetic); the kernels below compile it.
_timing_tolerance_s = njit(cache=True)(timing_tolerance_s)


@njit(cache=True)
def lattice_tolerance_s(period_s):
    """How far a gap may sit from a whole number of periods (grown as sqrt(k) for k
    periods): the tracker's timing tolerance, kept well below the period, or anything
    is a multiple."""
    return min(_timing_tolerance_s(period_s), 0.1 * period_s)


@njit(cache=True)
def testable_periods(period_s):
    """The most periods a gap may span and still test a lattice: its fit window, the
    tolerance grown as sqrt(k), stays below a sixth of the period (a gap of random length
    then fits with a chance of a third at most)."""
    return math.floor((period_s / (6.0 * lattice_tolerance_s(period_s))) ** 2)


@njit(cache=True)
def lattice_fit(times_s, min_share, gaps, ok, k):
    """Find the packet period of the start times ``times_s`` (any order).

    Writes the m gaps between consecutive sorted times longer than MIN_GAP_S to
    ``gaps[:m]``, then tries the CANDIDATES shortest gaps, shortest first, as the
    period g: a gap fits when it is k = rint(gap / g) periods (1 <= k <= 64)
    within a tolerance growing as sqrt(k).  For the first g that fits at least
    ``min_share`` of the gaps (and at least two), ``ok[:m]`` marks the fitting
    gaps and ``k[:m]`` holds their multiples.

    Returns (m, hits); hits is 0 when no candidate fits."""
    n = times_s.shape[0]
    if n < 3:
        return 0, 0
    t = np.sort(times_s)
    m = 0
    for i in range(n - 1):
        d = t[i + 1] - t[i]
        if d > MIN_GAP_S:
            gaps[m] = d
            m += 1
    if m < 2:
        return m, 0
    cand = np.sort(gaps[:m])
    for c in range(min(CANDIDATES, m)):
        g = cand[c]
        tol = lattice_tolerance_s(g)
        hits = 0
        for i in range(m):
            kk = np.rint(gaps[i] / g)
            fit = kk >= 1.0 and kk <= 64.0 and abs(gaps[i] - kk * g) <= tol * max(1.0, math.sqrt(kk))
            ok[i] = fit
            k[i] = kk
            if fit:
                hits += 1
        if hits / m >= min_share and hits >= 2:
            return m, hits
    return m, 0


@njit(cache=True)
def lattice_multiples_into(gaps_s, period_s, k, fits):
    """Each gap's nearest whole number of periods ``k[i]``, and whether it fits k periods
    (k >= 1) within the lattice tolerance grown as sqrt(k): ``fits[i]``."""
    tol = lattice_tolerance_s(period_s)
    for i in range(gaps_s.shape[0]):
        kk = np.rint(gaps_s[i] / period_s)
        k[i] = kk
        fits[i] = kk >= 1.0 and abs(gaps_s[i] - kk * period_s) <= tol * math.sqrt(max(kk, 1.0))


@njit(cache=True)
def period_estimate(times_s, min_share, out):
    """The packet period of the start times ``times_s`` (any order): lattice_fit's, refined
    as total time over total periods, first on the gaps of at most SHORT_GAP_PERIODS
    periods when at least three fit (a long gap fits some whole number of periods within
    a tolerance that grows with it, and a lattice a few per cent off, its candidate a short
    gap measured short, still fits it one period too many or too few, which would pull the
    refined period further off), then, with the multiples that period gives, on every
    fitting gap.  out = [period, share of the gaps fitting]; returns False when no lattice
    fits.  (Sums in NumPy's order: the period is the twin's to the bit.)"""
    n = max(times_s.shape[0], 1)
    gaps, k, ok = np.empty(n), np.empty(n), np.empty(n, np.bool_)
    m, hits = lattice_fit(times_s, min_share, gaps, ok, k)
    if not hits:
        return False
    gaps, k, ok = gaps[:m], k[:m], ok[:m]
    short = ok & (k <= SHORT_GAP_PERIODS)
    if np.count_nonzero(short) >= 3:
        lattice_multiples_into(gaps, pairwise_sum(gaps[short]) / pairwise_sum(k[short]), k, ok)
    out[0] = pairwise_sum(gaps[ok]) / pairwise_sum(k[ok])
    out[1] = hits / m
    return True


@njit(cache=True)
def lattice_at(times_s, period_s):
    """Test one packet period: the share of the gaps between packet starts among the
    sorted start times ``times_s`` that are whole multiples of a period near ``period_s``,
    and that period refined as total time over total periods.

    The candidate comes from a signature, not from the gaps: a hopper seen through a
    window that holds a few of its channels may never show two consecutive packets, so
    its shortest gap is a multiple of the period.  A gap fits at k = rint(gap / p) periods
    within the lattice tolerance grown as sqrt(k), and only while that window stays below
    a sixth of the period (a gap of random length then fits with a chance of a third at
    most, so a share of 0.7 over several gaps is no accident).

    A start less than a period (less the tolerance) after the last packet start is no
    packet of this lattice: a piece of that packet, which the detector split near 0 dB
    (ExpressLRS 100 Hz: pieces of 1.5-6.6 ms inside its 8.8 ms packets).  It is skipped,
    not counted as a gap, and the pieces are counted: a lattice that many pieces carry is
    one that dense bursts fit by chance (the first of them past a period lands in the
    window), so the caller bounds them.

    The fitting gaps' numbers of periods have a greatest common divisor: above 1, the gaps
    pin down a longer period just as well (a 9 ms hopper seen every third packet, 27 ms
    apart, fits 7 periods of 3.857 ms), and the test says nothing about this one.

    Returns (period, hits, m, k_gcd, pieces): m gaps, hits of them fitting, the gcd of
    their numbers of periods (0 without hits), the starts skipped as pieces."""
    n = times_s.shape[0]
    if n < 3:
        return period_s, 0, 0, 0, 0
    t = np.sort(times_s)
    p = period_s
    hits, m, g, pieces = 0, 0, 0, 0
    for _ in range(3):
        tol = lattice_tolerance_s(p)
        k_max = min(64.0, testable_periods(p))
        hits, m, g, pieces = 0, 0, 0, 0
        sum_gap, sum_k = 0.0, 0.0
        anchor = t[0]
        for i in range(1, n):
            d = t[i] - anchor
            if d <= MIN_GAP_S:
                continue
            if d < p - tol:
                pieces += 1
                continue
            m += 1
            anchor = t[i]
            kk = np.rint(d / p)
            if kk <= k_max and abs(d - kk * p) <= tol * math.sqrt(kk):
                hits += 1
                sum_gap += d
                sum_k += kk
                g = _gcd(g, int(kk))
        if sum_k == 0.0:
            return p, 0, m, 0, pieces
        p = sum_gap / sum_k
    return p, hits, m, g, pieces


@njit(cache=True)
def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a
