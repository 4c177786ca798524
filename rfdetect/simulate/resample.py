"""Rational resampling with cached anti-alias filters (waveforms built at their native rate)."""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal


def ratio(out_rate_hz: float, in_rate_hz: float, max_den: int = 4096) -> tuple[int, int]:
    fr = Fraction(out_rate_hz / in_rate_hz).limit_denominator(max_den)
    return fr.numerator, fr.denominator


@lru_cache(maxsize=64)
def _taps(up: int, down: int) -> np.ndarray:
    m = max(up, down)
    # cutoff just below the lower Nyquist so the native band passes flat
    return signal.firwin(2 * 10 * m + 1, 0.96 / m, window=("kaiser", 7.0))


def resample(x: np.ndarray, in_rate_hz: float, out_rate_hz: float) -> np.ndarray:
    """Resample complex ``x`` from ``in_rate_hz`` to ``out_rate_hz`` (sample 0 stays at t=0)."""
    up, down = ratio(out_rate_hz, in_rate_hz)
    if up == down:
        return np.asarray(x, np.complex64)
    y = signal.resample_poly(np.asarray(x, np.complex128), up, down, window=_taps(up, down))
    return y.astype(np.complex64)
