"""FSK / GFSK confirmation: a frequency discriminator.

After mixing the burst to zero and low-passing it to its occupied bandwidth,
the instantaneous frequency of 2-FSK sits near +-deviation and jumps between
the two levels only on symbol boundaries.  A slicer with hysteresis (at half
the deviation, so noise near zero does not toggle it) cuts the discriminator
into runs; every run lasts a whole number of symbols, so the shortest common
run gives the symbol rate, and the share of runs that are whole multiples of
it tells FSK from noise and from chirps (whose runs have no common unit).  The
carrier is the midpoint of the two levels, not the median frequency: bits are rarely
balanced, and a median inside one level halves the deviation and blinds the slicer.

Like any discriminator it has a threshold: below about 8 dB in-band SNR noise clicks
cut the runs and flatten the levels, so a weak FSK burst often fails to confirm (see
``classify.evidence.FSK_THRESHOLD_DB``, where that failure counts for nothing).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from .resample import firwin_lowpass



@njit(cache=True)
def discriminator(x, out_freq):
    """out_freq[n] = angle(x[n+1] conj x[n]), radians per sample (len(x) - 1 values)."""
    for i in range(out_freq.shape[0]):
        a = x[i + 1]
        b = x[i]
        re = a.real * b.real + a.imag * b.imag
        im = a.imag * b.real - a.real * b.imag
        out_freq[i] = np.arctan2(im, re)


@njit(cache=True)
def slicer_runs(d, threshold, out_runs):
    """Run lengths (samples) between level changes of a slicer with hysteresis at
    +-threshold; each change is dated at the last zero crossing before it (where the
    symbol boundary is, whatever the shaping).  The first run (its start is unknown)
    is dropped.  Returns the number of runs written."""
    state = 0
    last = 0
    zc = 0
    count = 0
    first = True
    for i in range(d.shape[0]):
        v = d[i]
        if i > 0 and (v >= 0.0) != (d[i - 1] >= 0.0):
            zc = i
        s = state
        if v > threshold:
            s = 1
        elif v < -threshold:
            s = -1
        if s != state:
            if state != 0:
                if first:
                    first = False
                elif count < out_runs.shape[0]:
                    out_runs[count] = zc - last
                    count += 1
            state = s
            last = zc
    return count


@lru_cache(maxsize=32)
def _lowpass(cutoff: float) -> np.ndarray:
    return firwin_lowpass(33, cutoff)


def _sorted_median(a: np.ndarray) -> float:
    m = a.shape[0]
    return 0.5 * (float(a[(m - 1) // 2]) + float(a[m // 2]))


def two_level_centre(d: np.ndarray, iterations: int = 8) -> float:
    """Midpoint between the two frequency levels (the carrier, however unbalanced the bits).

    The median sits inside the more frequent level when ones and zeros are not equal in
    number (a preamble, a sync word, a payload of mostly one bit): with h >> 1 it puts
    the carrier on a tone, halves the measured deviation and blinds the slicer.  Two-means
    from the median: split at the centre, move it to the midpoint of the halves' means
    (means, so a level holding 80 % of the samples cannot keep the split inside it) until
    the split stays put, then a last step with medians, which noise clicks do not pull.
    One sort and running sums make each step a binary search."""
    s = np.sort(np.asarray(d, np.float64))
    n = s.shape[0]
    if n == 0:
        return 0.0
    sums = np.concatenate(([0.0], np.cumsum(s)))
    centre = _sorted_median(s)
    split = -1
    for _ in range(iterations):
        k = int(np.searchsorted(s, centre, side="right"))       # s[:k] <= centre < s[k:]
        if k == 0 or k == n:
            return centre
        if k == split:
            break
        split = k
        centre = 0.5 * (sums[k] / k + (sums[n] - sums[k]) / (n - k))
    k = int(np.searchsorted(s, centre, side="right"))
    if k == 0 or k == n:
        return centre
    return 0.5 * (_sorted_median(s[:k]) + _sorted_median(s[k:]))


def symbol_period(runs: np.ndarray) -> tuple[float, float]:
    """(symbol period in samples, share of runs within 0.25 of a whole multiple of it)."""
    t0 = np.percentile(runs, 30)
    sel = runs[(runs > 0.5 * t0) & (runs < 1.5 * t0)]
    t = float(sel.mean()) if sel.size else float(t0)
    r = runs / t
    return t, float(np.mean(np.abs(r - np.round(r)) < 0.25))


def fsk_evidence(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float,
                 *, min_runs: int = 8) -> dict | None:
    """Deviation (Hz), symbol rate (Hz), ``fit`` (share of runs whole symbols: about 0.5
    for noise, 0.7-0.9 for FSK at 10-20 dB) and ``bimodality`` (E[d^2]^2/E[d^4]: 1 for
    two clean levels, 0.56 for a chirp's uniform sweep, 0.33 for noise)."""
    bw = max(float(bandwidth_hz), 5e3)
    # An integer decimation to about 4x the bandwidth (the low-pass below is the
    # anti-alias filter too): cheap, and the discriminator needs no exact rate.
    step = max(1, int(sample_rate_hz // (4.0 * bw)))
    rate = sample_rate_hz / step
    x = np.asarray(samples, np.complex128)
    if offset_hz:
        x = x * np.exp(-2j * np.pi * offset_hz / sample_rate_hz * np.arange(x.shape[0]))
    if step > 1:
        x = np.convolve(x, _lowpass(round(0.9 / step, 3)), "same")[::step]
    if x.shape[0] < 64:
        return None
    x = np.convolve(x, _lowpass(min(0.99, round(0.6 * bw / (rate / 2), 3))), "same")
    freq = np.empty(x.shape[0] - 1, np.float64)
    discriminator(np.ascontiguousarray(x), freq)
    smooth = max(1, int(round(rate / bw / 2)))
    d = np.convolve(freq * (rate / (2 * np.pi)), np.ones(smooth) / smooth, "same")
    centre = two_level_centre(d)
    d = d - centre
    dev = float(np.median(np.abs(d)))
    m2, m4 = float(np.mean(d * d)), float(np.mean(d ** 4))
    bimodality = m2 * m2 / m4 if m4 > 0 else 0.0
    runs = np.empty(d.shape[0], np.int64)
    n = slicer_runs(d, 0.5 * dev, runs)
    out = {"deviation_hz": round(dev, 1), "symbol_rate_hz": None, "fit": 0.0,
           "bimodality": round(bimodality, 3), "centre_offset_hz": round(centre, 1), "runs": int(n)}
    flat = 0.0
    if n >= min_runs:
        period, fit = symbol_period(runs[:n].astype(np.float64))
        out["symbol_rate_hz"] = round(rate / period, 1)
        out["fit"] = round(fit, 3)
        # FSK holds its level within a symbol; a chirp's frequency keeps moving.
        lag = max(1, int(round(period / 4)))
        if d.shape[0] > lag:
            flat = float(np.mean(np.abs(d[lag:] - d[:-lag]) < 0.3 * dev))
    out["flatness"] = round(flat, 3)
    out["confirmed"] = out["fit"] >= 0.68 and bimodality >= 0.4 and flat >= 0.12
    return out
