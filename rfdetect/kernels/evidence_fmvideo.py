"""Analog FM video confirmation: line-rate structure after FM demodulation.

An FM video transmitter's instantaneous frequency is the composite video signal,
whose horizontal sync pulses repeat at the line rate (NTSC 15.734 kHz, PAL
15.625 kHz).  The discriminator output of such a signal has spectral lines at
the line rate and its harmonics; the wrapper scores a comb of harmonics at
each candidate line rate against the spectrum's median.  Higher harmonics
separate NTSC from PAL (they are 109 Hz apart at the fundamental, 1.1 kHz at
the tenth).
"""
from __future__ import annotations

import numpy as np

from .evidence_fsk import discriminator
from .resample import shift_to_zero

LINE_RATES_HZ = {"NTSC": 15734.264, "PAL": 15625.0}


def fm_video_evidence(samples: np.ndarray, sample_rate_hz: float, offset_hz: float = 0.0, *,
                      harmonics: int = 10, search_hz: float = 40.0) -> dict | None:
    """Line-rate evidence of one stretch of signal (at least about 60 lines)."""
    x = np.asarray(samples)
    if x.shape[0] < 64 or x.shape[0] / sample_rate_hz < 2e-3:
        return None
    x = shift_to_zero(x, offset_hz, sample_rate_hz)
    freq = np.empty(x.shape[0] - 1, np.float64)
    discriminator(np.ascontiguousarray(x), freq)
    freq -= freq.mean()
    n_fft = 1 << int(np.ceil(np.log2(freq.shape[0])))
    spec = np.abs(np.fft.rfft(freq * np.hanning(freq.shape[0]), n_fft)) ** 2
    bin_hz = sample_rate_hz / n_fft
    best = None
    for name, rate in LINE_RATES_HZ.items():
        score = 0.0
        used = 0
        for h in range(1, harmonics + 1):
            f = h * rate
            if f >= 0.5 * sample_rate_hz:
                break
            k0 = max(1, int(round((f - search_hz) / bin_hz)))
            k1 = max(k0 + 1, int(round((f + search_hz) / bin_hz)) + 1)
            # Against the local spectrum (half a line rate either side): a line, not a
            # broad hump of data or noise.
            w0 = max(1, int(round((f - 0.5 * rate) / bin_hz)))
            w1 = int(round((f + 0.5 * rate) / bin_hz))
            floor = float(np.median(spec[w0:w1])) + 1e-30 * float(spec.max() + 1.0)
            score += min(float(spec[k0:k1].max()) / floor, 1e4)
            used += 1
        if used == 0:
            continue
        score /= used
        if best is None or score > best["score"]:
            best = {"standard": name, "line_rate_hz": rate, "score": round(score, 1)}
    if best is None:
        return None
    best["confirmed"] = best["score"] >= 20.0
    return best
