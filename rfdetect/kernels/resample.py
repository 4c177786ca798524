"""Frequency shift, low-pass FIR design and polyphase resampling.

``firwin_lowpass`` and ``resample_poly`` compute what scipy.signal's ``firwin`` and
``resample_poly`` do (same taps, same alignment), without importing scipy.signal:
that import alone costs about two seconds of start-up, paid by every run whose bursts
need a confirmation kernel.  Tested against SciPy.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


def firwin_lowpass(numtaps: int, cutoff: float, window="hamming") -> np.ndarray:
    """Windowed-sinc low-pass, ``cutoff`` relative to Nyquist, unit gain at DC.

    ``window``: "hamming" or ("kaiser", beta); symmetric, as firwin uses them.
    """
    m = np.arange(numtaps) - (numtaps - 1) / 2.0
    h = cutoff * np.sinc(cutoff * m)
    if window == "hamming":
        h *= np.hamming(numtaps)
    elif isinstance(window, tuple) and window[0] == "kaiser":
        h *= np.kaiser(numtaps, window[1])
    else:
        raise ValueError(f"unsupported window {window!r}")
    return h / h.sum()


@njit(cache=True, nogil=True)
def upfirdn(h, x, up, down, out):
    """out[j] = (h * upsample(x, up))[j * down], the full convolution decimated."""
    nh = h.size
    nx = x.size
    for j in range(out.size):
        k = j * down
        lo = max(0, (k - nh + up) // up)      # smallest n with k - n*up < nh
        hi = min(nx - 1, k // up)
        acc = 0j
        for n in range(lo, hi + 1):
            acc += x[n] * h[k - n * up]
        out[j] = acc


def _output_len(len_h: int, in_len: int, up: int, down: int) -> int:
    return ((in_len - 1) * up + len_h - 1) // down + 1


def resample_poly(x: np.ndarray, up: int, down: int, window=("kaiser", 5.0)) -> np.ndarray:
    """Resample 1-D complex ``x`` by ``up / down`` (scipy.signal.resample_poly, zero padding).

    ``window``: a window spec for the default filter, or the filter taps themselves.
    """
    g = math.gcd(up, down)
    up, down = up // g, down // g
    x = np.ascontiguousarray(x, np.complex128)
    if up == down == 1:
        return x.copy()
    n_in = x.size
    n_out = n_in * up // down + bool(n_in * up % down)
    if isinstance(window, np.ndarray):
        h = window.astype(np.float64)
        half_len = (h.size - 1) // 2
    else:
        max_rate = max(up, down)
        half_len = 10 * max_rate
        h = firwin_lowpass(2 * half_len + 1, 1.0 / max_rate, window)
    h = h * up
    n_pre_pad = down - half_len % down
    n_post_pad = 0
    n_pre_remove = (half_len + n_pre_pad) // down
    while _output_len(h.size + n_pre_pad + n_post_pad, n_in, up, down) < n_out + n_pre_remove:
        n_post_pad += 1
    h = np.concatenate((np.zeros(n_pre_pad), h, np.zeros(n_post_pad)))
    full = np.empty(_output_len(h.size, n_in, up, down), np.complex128)
    upfirdn(h, x, up, down, full)
    return full[n_pre_remove: n_pre_remove + n_out]


# A phasor advanced by multiplication drifts by about an ulp a step; computed afresh every
# this many samples, the shift stays within about 1e-12 of exp(-2j pi f k).
SHIFT_BLOCK = 64


def shift_to_zero(samples: np.ndarray, offset_hz: float, sample_rate_hz: float) -> np.ndarray:
    """``samples`` (complex128) with ``offset_hz`` moved to 0 Hz: times exp(-2j pi f k / fs).
    (NumPy's complex exp costs about 20 ns a sample; the kernel 3.)"""
    x = np.ascontiguousarray(samples, np.complex128)
    if not offset_hz:
        return x
    out = np.empty_like(x)
    _rotate(x, offset_hz / sample_rate_hz, out)
    return out


def shift_to_zero_numpy(samples: np.ndarray, offset_hz: float, sample_rate_hz: float) -> np.ndarray:
    """NumPy twin of :func:`shift_to_zero`."""
    x = np.asarray(samples, np.complex128)
    return x * np.exp(-2j * np.pi * offset_hz / sample_rate_hz * np.arange(x.shape[0])) if offset_hz else x


@njit(cache=True, nogil=True)
def _rotate(x, cycles_per_sample, out):
    step = np.exp(-2j * np.pi * cycles_per_sample)
    for a in range(0, x.shape[0], SHIFT_BLOCK):
        p = np.exp(-2j * np.pi * cycles_per_sample * a)
        for i in range(a, min(x.shape[0], a + SHIFT_BLOCK)):
            out[i] = x[i] * p
            p *= step
