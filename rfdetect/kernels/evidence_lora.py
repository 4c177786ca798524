"""LoRa confirmation: dechirp and FFT.

Multiplying a chirp spread spectrum symbol by the conjugate reference chirp turns
it into one tone; its FFT puts the whole symbol's energy in one bin out of
2^SF, a processing gain of 2^SF over the in-band noise.  That is what lets a
LoRa burst be confirmed (and its spreading factor, bandwidth and chirp
direction measured) well below the noise.

The burst is mixed to zero and resampled to exactly the candidate bandwidth, so
a symbol is 2^SF samples and the two tones of a cyclically shifted symbol
alias onto one bin.  For each window the kernel measures the peak-to-average
ratio (PAR) of the dechirped spectrum; pure noise gives about ln(N) + 0.58
(the mean maximum of N exponential bins), so the score is the mean PAR over
the burst divided by that.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from numba import njit

from .dechirp import dechirp_fft
from .evidence_fsk import pairwise_sum
from .resample import firwin_lowpass, resample_poly, shift_to_zero

EULER_GAMMA = 0.5772156649


@lru_cache(maxsize=64)
def chirp_reference(n: int, direction: int) -> np.ndarray:
    """Conjugate of a unit chirp of n samples at rate BW sweeping -BW/2..+BW/2 (direction
    +1) or +BW/2..-BW/2 (-1): multiplying by it dechirps."""
    k = np.arange(n, dtype=np.float64)
    phase = np.pi * k * k / n - np.pi * k
    return np.exp(-1j * direction * phase)


@njit(cache=True)
def dechirp_par(x, ref, hop, out):
    """out[w] = peak / mean of |FFT(x[w*hop : w*hop+n] * ref)|^2, n = len(ref)."""
    n = ref.shape[0]
    buf = np.empty(n, np.complex128)
    for w in range(out.shape[0]):
        spec = dechirp_fft(x, ref, w * hop, buf)
        peak = 0.0
        total = 0.0
        for i in range(n):
            p = spec[i].real * spec[i].real + spec[i].imag * spec[i].imag
            total += p
            if p > peak:
                peak = p
        out[w] = peak / (total / n) if total > 0.0 else 0.0


def noise_par(n: int) -> float:
    """Expected PAR of one window of complex white noise (n exponential bins)."""
    return float(np.log(n) + EULER_GAMMA)


@lru_cache(maxsize=64)
def _taps(up: int, down: int) -> np.ndarray:
    m = max(up, down)
    return firwin_lowpass(2 * 8 * m + 1, 1.0 / m, window=("kaiser", 6.0))


def to_rate(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, out_rate_hz: float) -> np.ndarray:
    """Mix ``offset_hz`` to zero and resample to ``out_rate_hz`` (anti-alias filter included;
    an integer ratio is a plain decimation)."""
    x = shift_to_zero(samples, offset_hz, sample_rate_hz)
    fr = Fraction(out_rate_hz / sample_rate_hz).limit_denominator(1000)
    if fr.numerator == fr.denominator:
        return x
    return resample_poly(x, fr.numerator, fr.denominator, window=_taps(fr.numerator, fr.denominator))


def band_to_rate(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, out_rate_hz: float) -> np.ndarray:
    """The band of width ``out_rate_hz`` centred on ``offset_hz``, at ``out_rate_hz``: one
    FFT, the band's bins, one small inverse FFT (an ideal, circular band-pass and
    resampler; several times cheaper than a polyphase filter at these ratios)."""
    x = np.asarray(samples)
    n = x.shape[0]
    n_out = int(round(n * out_rate_hz / sample_rate_hz))
    if n_out >= n:
        return to_rate(x, sample_rate_hz, offset_hz, out_rate_hz)
    k0 = int(round(offset_hz / sample_rate_hz * n))
    dtype = np.complex64 if x.dtype in (np.complex64, np.float32) else np.complex128
    return band_bins(np.ascontiguousarray(x, dtype), k0, n_out)


@njit(cache=True)
def band_bins(x, k0, n_out):
    """The ``n_out`` bins of FFT(x) centred on bin ``k0`` (negative frequencies last),
    transformed back: x's band around k0, at n_out / len(x) of its rate.  (Inside Numba
    the FFT is rocket-fft's: an order of magnitude faster than NumPy's at the odd
    lengths bursts have.)"""
    n = x.shape[0]
    spec = np.fft.fft(x)
    sel = np.empty(n_out, spec.dtype)
    half = (n_out + 1) // 2          # bins 0..half-1, then -(n_out - half)..-1, as fftfreq
    for i in range(n_out):
        k = i if i < half else i - n_out
        sel[i] = spec[(k0 + k) % n]
    return np.fft.ifft(sel)


def band_to_rate_numpy(samples: np.ndarray, sample_rate_hz: float, offset_hz: float,
                       out_rate_hz: float) -> np.ndarray:
    """NumPy twin of :func:`band_to_rate`."""
    x = np.asarray(samples)
    n = x.shape[0]
    n_out = int(round(n * out_rate_hz / sample_rate_hz))
    if n_out >= n:
        return to_rate(x, sample_rate_hz, offset_hz, out_rate_hz)
    X = np.fft.fft(x)
    k0 = int(round(offset_hz / sample_rate_hz * n))
    k = np.fft.fftfreq(n_out, 1.0 / n_out).astype(np.int64)
    return np.fft.ifft(X[(k0 + k) % n])


def lora_scores(x_bw: np.ndarray, sf: int, direction: int) -> tuple[float, int]:
    """Mean PAR / noise PAR over half-overlapping windows, and the window count (one
    spreading factor: the twin of :func:`lora_window_scores`, which does them all)."""
    n = 1 << sf
    hop = n // 2
    if x_bw.shape[0] < n:
        return 0.0, 0
    windows = (x_bw.shape[0] - n) // hop + 1
    out = np.empty(windows, np.float64)
    dechirp_par(np.ascontiguousarray(x_bw), chirp_reference(n, direction), hop, out)
    # The best half of the windows: a burst measured a little long, or a frame
    # with a few down-chirps, must not dilute the gain.
    top = np.sort(out)[windows // 2:]
    return float(top.mean() / noise_par(n)), windows


@lru_cache(maxsize=64)
def _references(sfs: tuple, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """chirp_reference(2^sf, direction) for each sf, end to end, and each one's noise PAR."""
    return (np.concatenate([chirp_reference(1 << sf, direction) for sf in sfs]),
            np.array([noise_par(1 << sf) for sf in sfs]))


@njit(cache=True)
def lora_window_scores(x_bw, sfs, refs, noise_pars, out_score, out_windows):
    """lora_scores(x_bw, sf, direction) for every sf of ``sfs`` at once (the same sums, to
    the bit: the scores enter the records), into out_score[i] and out_windows[i];
    ``refs``: the references of the spreading factors end to end, ``noise_pars`` their
    noise PAR."""
    start = 0
    for s in range(sfs.shape[0]):
        n = 1 << sfs[s]
        ref = refs[start:start + n]
        start += n
        out_score[s] = 0.0
        out_windows[s] = 0
        if x_bw.shape[0] < n:
            continue
        hop = n // 2
        windows = (x_bw.shape[0] - n) // hop + 1
        par = np.empty(windows)
        dechirp_par(x_bw, ref, hop, par)
        top = np.sort(par)[windows // 2:]
        out_score[s] = pairwise_sum(top) / top.shape[0] / noise_pars[s]
        out_windows[s] = windows


def lora_evidence(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, *,
                  bandwidths_hz=(500e3,), sfs=range(5, 13), min_windows: int = 4,
                  threshold: float = 1.6) -> dict | None:
    """Best (bandwidth, SF, direction) for one burst; ``confirmed`` when its score beats
    the noise expectation by ``threshold`` (1.0 = noise).  None if the rate is too low.
    ``sfs``: the spreading factors tried at every bandwidth, or a mapping bandwidth ->
    its spreading factors."""
    best = None
    sfs = {bw: list(sfs[bw]) for bw in bandwidths_hz} if isinstance(sfs, dict) else \
        dict.fromkeys(bandwidths_hz, list(sfs))
    resampled: dict = {}
    for direction in (1, -1):
        # Up-chirps first: most links; down-chirps (inverted IQ) only if up found nothing.
        if best is not None and best["score"] >= threshold:
            break
        for bw in bandwidths_hz:
            if sample_rate_hz < bw * 0.999:
                continue
            x = resampled.get(bw)
            if x is None:
                x = resampled[bw] = band_to_rate(samples, sample_rate_hz, offset_hz, bw)
            refs, noise_pars = _references(tuple(sfs[bw]), direction)
            scores = np.empty(len(sfs[bw]))
            counts = np.empty(len(sfs[bw]), np.int64)
            lora_window_scores(np.ascontiguousarray(x), np.array(sfs[bw], np.int64), refs, noise_pars, scores,
                               counts)
            for sf, score, windows in zip(sfs[bw], scores.tolist(), counts.tolist()):
                if windows < min_windows:
                    continue
                if best is None or score > best["score"]:
                    best = {"bw_hz": float(bw), "sf": int(sf), "direction": "up" if direction > 0 else "down",
                            "score": round(score, 3), "windows": windows}
    if best is None:
        return None
    best["confirmed"] = best["score"] >= threshold
    return best


def dechirp_result(features: dict) -> dict | None:
    """The chirp detector's measurement of a burst (``features["dechirp"]``, see
    rfdetect/detect/chirp.py) as this kernel's result: the detector confirmed the
    preamble on its symbol boundary, with more gain than a snippet of the burst gives."""
    d = features.get("dechirp")
    if d is None:
        return None
    return {"bw_hz": float(d["bw_hz"]), "sf": int(d["sf"]), "direction": d["direction"],
            "score": float(d["score"]), "windows": int(d["symbols"]), "confirmed": True,
            "source": "chirp detector", "confirmed_by": d.get("confirmed_by", "power")}
