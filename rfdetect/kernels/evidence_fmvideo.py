"""Analog FM video confirmation: its line rate in the power of narrow sub-bands.

An FM video transmitter's instantaneous frequency is the composite video signal,
whose horizontal sync pulses repeat at the line rate (NTSC 15.734 kHz, PAL
15.625 kHz).  During every line the carrier visits the same frequencies (the sync
tip for 4.7 us, then the blanking and picture levels), so the power in a sub-band a
fraction of the video's width pulses at the line rate, and the spectrum of that power
over time has lines at its harmonics.  Unlike a discriminator's output this needs no
carrier above the noise: at -12 dB in-band SNR (PAL, 6.7 MHz wide) the sub-band at the
sync tip holds the carrier above the noise while it is there, and 20 ms of signal give
line-to-neighbourhood scores of 50-150 where noise gives under 7.  Harmonics above the
first separate NTSC from PAL (109 Hz apart at the fundamental, 436 Hz at the fourth).
"""
from __future__ import annotations

import math

import numpy as np

from .tails import solve_tail

LINE_RATES_HZ = {"NTSC": 15734.264, "PAL": 15625.0}
# A burst's line rate is confirmed at this score (noise stays under 7 on 2-20 ms; the
# line-rate stage sets its own threshold from the number of checks, detect/linerate.py).
CONFIRM_SCORE = 20.0


def fm_video_evidence(samples: np.ndarray, sample_rate_hz: float) -> dict | None:
    """Line-rate evidence of one stretch of signal (at least 2 ms, about 30 lines): the
    standard whose line rate scores highest in any sub-band, and that score."""
    x = np.asarray(samples)
    if x.shape[0] / sample_rate_hz < 2e-3:
        return None
    rates = tuple(LINE_RATES_HZ.values())
    scores, _ = line_rate_scores(x, sample_rate_hz, rates)
    best = scores.max(axis=1)
    i = int(np.argmax(best))
    if not best[i] > 0:
        return None
    name = list(LINE_RATES_HZ)[i]
    return {"standard": name, "line_rate_hz": rates[i], "score": round(float(best[i]), 1),
            "confirmed": bool(best[i] >= CONFIRM_SCORE)}


SUB_BAND_HZ = 150e3          # sub-band width: frames of about 6 us, shorter than a line's levels
LINE_HARMONICS = 4           # harmonics summed (the frame rate, at least 2x the highest)
LINE_SEARCH_HZ = 20.0        # a harmonic's line is looked for within this of its nominal place


def sub_band_size(sample_rate_hz: float) -> int:
    """Points of the sub-band FFT: a power of two near ``sample_rate_hz / SUB_BAND_HZ``."""
    return 1 << max(3, int(round(math.log2(sample_rate_hz / SUB_BAND_HZ))))


def line_rate_scores(samples: np.ndarray, sample_rate_hz: float, line_rates_hz,
                     harmonics: int = LINE_HARMONICS, search_hz: float = LINE_SEARCH_HZ
                     ) -> tuple[np.ndarray, np.ndarray]:
    """For each line rate and each sub-band (FFT-shifted, lowest frequency first): the
    power spectrum of the sub-band's power over time, summed at the rate's first
    ``harmonics`` harmonics (the highest bin within ``search_hz``), over the sum of the
    spectrum's medians around them (from half the lowest rate below each harmonic to half
    the highest above it, shared by the rates).  About 2.6 in
    noise; ``line_rate_threshold`` gives the level noise reaches rarely.  Returns the scores
    (rates, sub-bands; rates whose harmonics the frame rate cannot show score 0) and each
    sub-band's mean power."""
    from scipy import fft as scipy_fft    # (not at import: the engine starts without scipy.fft)

    x = np.asarray(samples, np.complex64)
    nfft = sub_band_size(sample_rate_hz)
    frame_rate_hz = sample_rate_hz / nfft           # frames back to back
    nfr = x.shape[0] // nfft
    out = np.zeros((len(line_rates_hz), nfft))
    if nfr < 64:
        return out, np.zeros(nfft)
    frames = x[: nfr * nfft].reshape(nfr, nfft) * np.hanning(nfft).astype(np.float32)
    spec = scipy_fft.fft(frames, axis=1)
    power = spec.real * spec.real + spec.imag * spec.imag
    mean_power = power.mean(axis=0)
    power -= mean_power
    nt, df, w = _line_grid(nfr, frame_rate_hz, search_hz)
    line_spec = scipy_fft.rfft(power, nt, axis=0)
    # (sub-band, frequency): the medians below run along contiguous rows.
    s = np.ascontiguousarray((line_spec.real * line_spec.real + line_spec.imag * line_spec.imag).T)
    shown = [(i, rate) for i, rate in enumerate(line_rates_hz)
             if (harmonics + 0.5) * rate + w * df < 0.5 * frame_rate_hz]
    if not shown:
        return out, np.fft.fftshift(mean_power)
    lowest, highest = min(r for _, r in shown), max(r for _, r in shown)
    ref = np.zeros(nfft)
    for h in range(1, harmonics + 1):
        # One neighbourhood for all the rates: the standards' harmonics lie 109 Hz apart
        # per harmonic, a line rate's neighbourhood is half a line rate each side.
        r0, r1 = int(round((h - 0.5) * lowest / df)), int(round((h + 0.5) * highest / df))
        ref += np.median(s[:, r0:r1], axis=1)
    ref = np.maximum(ref, 1e-30)
    for i, rate in shown:
        line = np.zeros(nfft)
        for h in range(1, harmonics + 1):
            k = int(round(h * rate / df))
            line += s[:, k - w: k + w + 1].max(axis=1)
        out[i] = np.fft.fftshift(line / ref)
    # A sub-band 60 dB under the strongest holds rounding, not signal (a noise-free file),
    # whose power's spectrum has structure of its own.
    mean_power = np.fft.fftshift(mean_power)
    out[:, mean_power < 1e-6 * mean_power.max()] = 0.0
    return out, mean_power


def _line_grid(n_frames: int, frame_rate_hz: float, search_hz: float) -> tuple[int, float, int]:
    """The spectrum of ``n_frames`` powers: its length, bin width and the bins each side of
    a harmonic's nominal place where its line is looked for."""
    from scipy import fft as scipy_fft

    nt = scipy_fft.next_fast_len(n_frames, real=True)
    df = frame_rate_hz / nt
    return nt, df, max(1, int(round(search_hz / df)))


def search_bins(n_samples: int, sample_rate_hz: float, search_hz: float = LINE_SEARCH_HZ) -> int:
    """Spectrum bins a harmonic's line is looked for in, on ``n_samples``
    (``line_rate_scores``): ``line_rate_threshold``'s ``search_bins``."""
    nfft = sub_band_size(sample_rate_hz)
    return 2 * _line_grid(n_samples // nfft, sample_rate_hz / nfft, search_hz)[2] + 1


def line_rate_threshold(tests: float, false_alarms: float = 1.0, harmonics: int = LINE_HARMONICS,
                        search_bins: int = 3) -> float:
    """A score that noise exceeds ``false_alarms`` times in ``tests`` scores (sub-bands x
    rates x checks).  In noise each bin of the power's spectrum is about exponential; a
    score is the sum of ``harmonics`` maxima of ``search_bins`` such bins over the sum of
    as many medians (ln 2 of the mean).  The union bound over the maxima (``search_bins``
    to the power ``harmonics`` sums) with a gamma tail gives the level."""
    p = false_alarms / max(tests, 1.0) / search_bins ** harmonics
    return gamma_isf(p, harmonics) / (harmonics * math.log(2.0))


def gamma_isf(p: float, k: int) -> float:
    """x with P(Gamma(k, 1) > x) = p, for a whole shape k: the tail is
    exp(-x) * sum(x^i / i!, i < k), solved by bisection (scipy.stats would cost the
    engine's start half a second)."""
    def tail(x: float) -> float:
        term, total = 1.0, 1.0
        for i in range(1, k):
            term *= x / i
            total += term
        return math.exp(-x) * total

    return solve_tail(tail, p, 0.0, float(k))
