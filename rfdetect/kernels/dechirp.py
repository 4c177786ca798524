"""Wideband dechirp: LoRa preambles found in the IQ directly, at the recording's rate.

Multiplying the wideband IQ by a conjugate chirp of the same sweep rate
(BW^2 / 2^SF) turns an up-chirp of any carrier into a tone for as long as the
chirp does not wrap, and into a second tone BW lower after the wrap; one
symbol-long window then holds the symbol's energy in those two bins (out of
``n`` = symbol length at the recording rate): the 2^SF processing gain that
energy detection lacks.  A preamble repeats the same up-chirp, so the same two
bins light up in windows one symbol apart; summing them over ``k_windows``
such windows, against the window's mean bin, is the search statistic.

``fold_power`` (dechirp, FFT, fold of the two bins) and ``integrate_peaks``
(sum over windows one symbol apart, peak against mean) are the hot loops of
:class:`rfdetect.detect.chirp.ChirpDetector`; ``*_numpy`` are their twins.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

try:  # rocket-fft registers np.fft with Numba on import
    import rocket_fft  # noqa: F401
except ImportError:  # pragma: no cover - a dependency of the package
    rocket_fft = None


@lru_cache(maxsize=64)
def conj_chirp(n: int, sweep_rate_hz_per_s: float, sample_rate_hz: float) -> np.ndarray:
    """exp(-j pi k t^2), t = i / fs, i < n: the window's reference (its frequency starts at 0)."""
    t = np.arange(n, dtype=np.float64) / sample_rate_hz
    return np.exp(-1j * np.pi * sweep_rate_hz_per_s * t * t).astype(np.complex64)


@njit(cache=True, nogil=True, inline="always")
def dechirp_fft(x, ref, start, buf):
    """FFT of x[start : start+n] * ref, n = len(ref), through ``buf`` (len(buf) >= n, zero
    beyond n): the dechirped window's spectrum."""
    for i in range(ref.shape[0]):
        buf[i] = x[start + i] * ref[i]
    return np.fft.fft(buf)


@njit(cache=True)
def fold_power(x, ref, hop, fold, out):
    """out[w, k] = |F[k]|^2 + |F[k - fold]|^2 (indices modulo m), F = the m-point FFT of
    x[w*hop : w*hop+n] * ref (zero-padded to m = out.shape[1] >= n, a size the FFT is fast
    at), normalised by n; n = len(ref), ``fold`` = the chirp bandwidth in bins of m."""
    n = ref.shape[0]
    m = out.shape[1]
    buf = np.zeros(m, np.complex64)
    p = np.empty(m, np.float32)
    for w in range(out.shape[0]):
        spec = dechirp_fft(x, ref, w * hop, buf)
        for i in range(m):
            p[i] = (spec[i].real * spec[i].real + spec[i].imag * spec[i].imag) / n
        for i in range(m):
            j = i - fold
            if j < 0:
                j += m
            out[w, i] = p[i] + p[j]


def fold_power_numpy(x, ref, hop, fold, out):
    n = ref.shape[0]
    w = out.shape[0]
    idx = np.arange(w)[:, None] * hop + np.arange(n)[None, :]
    p = np.abs(np.fft.fft(x[idx] * ref, n=out.shape[1], axis=1)) ** 2 / n
    out[:] = p + np.roll(p, fold, axis=1)


@njit(cache=True)
def integrate_peaks(q, k_windows, step, best_bin, ratio):
    """For rows w >= (k_windows - 1) * step of q: S = sum_j q[w - j*step] (j < k_windows);
    ratio[w'] = max S / mean S and best_bin[w'] = argmax S, w' = w - (k_windows - 1) * step.
    (One running sum per phase w % step: each row is added once and removed once.)"""
    n = q.shape[1]
    first = (k_windows - 1) * step
    acc = np.zeros((step, n), np.float64)
    for w in range(q.shape[0]):
        s = acc[w % step]
        for i in range(n):
            s[i] += q[w, i]
        if w < first:
            continue
        best = 0
        total = 0.0
        for i in range(n):
            total += s[i]
            if s[i] > s[best]:
                best = i
        best_bin[w - first] = best
        ratio[w - first] = s[best] / (total / n) if total > 0.0 else 0.0
        for i in range(n):
            s[i] -= q[w - first, i]


def integrate_peaks_numpy(q, k_windows, step, best_bin, ratio):
    first = (k_windows - 1) * step
    rows = q.shape[0] - first
    if rows <= 0:
        return
    s = np.zeros((rows, q.shape[1]), np.float64)
    for j in range(k_windows):
        s += q[first - j * step: first - j * step + rows]
    best_bin[:rows] = np.argmax(s, axis=1)
    mean = s.mean(axis=1)
    peak = s[np.arange(rows), best_bin[:rows]]
    ratio[:rows] = np.where(mean > 0, peak / np.where(mean > 0, mean, 1.0), 0.0)
