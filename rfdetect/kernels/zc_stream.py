"""DJI DroneID's Zadoff-Chu symbols found in a whole stream, below the noise.

A DroneID burst carries two Zadoff-Chu OFDM symbols (roots 600 and 147, see
``evidence_droneid``), 2192 samples apart at 15.36 MS/s.  Correlated against its
reference, one symbol gathers the energy of its 601 subcarriers: 28 dB of gain, which
leaves a burst at -12 dB in-band SNR some 16 dB above the noise of the correlation.

Two properties of the sequences make a whole-stream search affordable:

- Root 600 is -1 modulo 601, so a carrier offset of k whole subcarriers moves its
  correlation peak by only k/601 of a symbol (a sample or two per subcarrier at
  10 MS/s), still inside the cyclic prefix for |k| up to 42 (630 kHz): one correlation
  per channel covers the transmitter's offset (about 55 kHz on the Mavic Air 2
  recording) and a channel centre 0.5 MHz off its raster.  What it does not cover is
  the fraction of a subcarrier: half a subcarrier off costs 3.9 dB, so the reference is
  also tried half a subcarrier up (at most 0.9 dB lost between the two).
- Root 147 moves by 147 k / 601 of a symbol, cyclically: its peak can lie anywhere in
  the symbol, split in two one symbol apart (the part of the symbol before the shift
  and the part after).  Its test is therefore the best sum of two correlations one
  symbol apart, anywhere within a symbol of where it should be after root 600's peak
  (or before it: either order).

The statistic: ``q`` = |correlation|^2 over (reference energy x local power), about
Exp(1) in noise at every lag; a candidate is a local maximum of root 600's ``q`` at
least ``gate``; its score is that ``q`` plus the best pair sum of root 147.  The
threshold on the score comes from its distribution in noise (``pair_threshold``).

``pair_scores`` is the kernel, ``pair_scores_numpy`` its twin.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from .evidence_droneid import ZC_LAG_SAMPLES, ZC_NFFT, ZC_RATE_HZ, ZC_SPACING_HZ, ZC_USED
from .tails import solve_tail

SLACK_SUBCARRIERS = 42     # root 600's peak moves k/601 of a symbol for k subcarriers off


@lru_cache(maxsize=16)
def zc_reference_at(root: int, rate_hz: float, offset_hz: float = 0.0) -> np.ndarray:
    """One Zadoff-Chu symbol (no cyclic prefix) synthesised at ``rate_hz``, its subcarriers
    ``offset_hz`` up, unit energy: the 601 subcarriers of ``evidence_droneid.zc_frequency``
    (DC zeroed) at 15 kHz spacing, so any rate of 10 MS/s or more holds it."""
    n_samples = int(round(rate_hz / ZC_SPACING_HZ))
    n = np.arange(ZC_USED)
    z = np.exp(-1j * np.pi * root * n * (n + 1) / ZC_USED)
    z[ZC_USED // 2] = 0.0
    f_hz = (n - ZC_USED // 2) * ZC_SPACING_HZ + offset_hz
    t = np.arange(n_samples) / rate_hz
    x = np.exp(2j * np.pi * np.outer(t, f_hz)) @ z
    return (x / np.linalg.norm(x)).astype(np.complex128)


def pair_lag(rate_hz: float) -> int:
    """Samples from one Zadoff-Chu symbol to the other at ``rate_hz``."""
    return int(round(ZC_LAG_SAMPLES * rate_hz / ZC_RATE_HZ))


def slack_samples(rate_hz: float) -> int:
    """How far root 600's peak moves from the symbol's start for the largest whole-subcarrier
    offset covered (SLACK_SUBCARRIERS)."""
    return int(math.ceil(SLACK_SUBCARRIERS / ZC_USED * ZC_NFFT * rate_hz / ZC_RATE_HZ))


@njit(cache=True, nogil=True)
def _pair_best(q147, m0, width, n_sym):
    """Best q147[m] + q147[m - n_sym] over m0 <= m < m0 + width (indices inside q147), and m."""
    best, at = -1.0, -1
    for m in range(max(m0, n_sym), min(m0 + width, q147.shape[0])):
        v = q147[m] + q147[m - n_sym]
        if v > best:
            best, at = v, m
    return best, at


@njit(cache=True, nogil=True)
def pair_scores(q600, q147, lo, hi, n_sym, lag, slack, gate, threshold, out):
    """Candidates ``lo <= i < hi``: local maxima of q600 (within ``slack``) of at least
    ``gate``.  Each scores q600[i] plus root 147's best pair sum (two lags ``n_sym`` apart,
    the later within ``[i + lag - slack, i + lag + n_sym + slack)``, or the same window
    ``2 * lag`` earlier: either order).  Rows of ``out`` [i, score, q600, pair, m] for those
    scoring ``threshold`` or more, ``m`` the stronger lag of the pair; returns how many."""
    k = 0
    width = n_sym + 2 * slack
    for i in range(lo, hi):
        v = q600[i]
        if v < gate:
            continue
        peak = True
        for j in range(max(0, i - slack), min(q600.shape[0], i + slack + 1)):
            if q600[j] > v or (q600[j] == v and j < i):
                peak = False
                break
        if not peak:
            continue
        b1, m1 = _pair_best(q147, i + lag - slack, width, n_sym)
        b2, m2 = _pair_best(q147, i - lag - slack, width, n_sym)
        if b2 > b1:
            b1, m1 = b2, m2
        if v + b1 >= threshold and k < out.shape[0]:
            out[k, 0] = i
            out[k, 1] = v + b1
            out[k, 2] = v
            out[k, 3] = b1
            out[k, 4] = m1 if q147[m1] >= q147[m1 - n_sym] else m1 - n_sym
            k += 1
    return k


def pair_scores_numpy(q600, q147, lo, hi, n_sym, lag, slack, gate, threshold, out):
    width = n_sym + 2 * slack
    pair = np.full(q147.shape[0], -1.0)
    pair[n_sym:] = q147[n_sym:] + q147[:-n_sym]
    k = 0
    for i in range(lo, hi):
        v = q600[i]
        a, b = max(0, i - slack), min(q600.shape[0], i + slack + 1)
        near = q600[a:b]
        if v < gate or near.max() > v or np.flatnonzero(near == v)[0] + a < i:
            continue
        best, at = -1.0, -1
        for m0 in (i + lag - slack, i - lag - slack):
            lo_m, hi_m = max(m0, n_sym), min(m0 + width, q147.shape[0])
            if hi_m > lo_m:
                j = int(np.argmax(pair[lo_m:hi_m]))
                if pair[lo_m + j] > best:
                    best, at = pair[lo_m + j], lo_m + j
        if v + best >= threshold and k < out.shape[0]:
            out[k] = (i, v + best, v, best, at if q147[at] >= q147[at - n_sym] else at - n_sym)
            k += 1
    return k


@lru_cache(maxsize=32)
def pair_threshold(tests: float, pair_tests: int, gate: float) -> float:
    """Score exceeded in noise at one of ``tests`` lags with probability 1 / tests: q600 ~ Exp(1)
    at least ``gate``, plus the best of ``pair_tests`` pair sums, each Gamma(2) (the sum of two
    Exp(1)).  (Cached: a live sweep retunes often, to the same few channel counts.)"""
    x = np.linspace(gate, gate + 80.0, 16001)
    dx = x[1] - x[0]

    def tail(t: float) -> float:
        y = t - x
        g2 = np.where(y > 0, np.exp(-np.clip(y, 0, None)) * (1.0 + np.clip(y, 0, None)), 1.0)
        # P(max of pair_tests > y) = 1 - (1 - P(one > y))^n, computed without cancellation.
        p_max = -np.expm1(pair_tests * np.log1p(-np.minimum(g2, 1.0 - 1e-16)))
        return float(np.sum(np.exp(-x) * p_max) * dx)

    return solve_tail(tail, 1.0 / max(tests, 1.0), gate, gate + 80.0, rel_tol=1e-9)
