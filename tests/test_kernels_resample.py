"""The resampling kernels against scipy.signal, which they stand in for at run time, and the
frequency shift against its NumPy twin."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from rfdetect.kernels.resample import firwin_lowpass, resample_poly, shift_to_zero, shift_to_zero_numpy


@pytest.mark.parametrize("numtaps,cutoff,window", [(33, 0.3, "hamming"), (129, 0.25, ("kaiser", 6.0)),
                                                    (12501, 1 / 625, ("kaiser", 5.0)), (1, 0.5, "hamming")])
def test_firwin_matches_scipy(numtaps, cutoff, window):
    np.testing.assert_allclose(firwin_lowpass(numtaps, cutoff, window),
                               scipy.signal.firwin(numtaps, cutoff, window=window), atol=1e-12)


@pytest.mark.parametrize("n,up,down", [(1000, 192, 625), (4097, 2, 1), (3000, 1, 4), (777, 3, 7), (5, 2, 3),
                                       (1, 5, 2), (256, 4, 4)])
def test_resample_poly_matches_scipy(n, up, down):
    rng = np.random.default_rng(n + up)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    np.testing.assert_allclose(resample_poly(x, up, down), scipy.signal.resample_poly(x, up, down), atol=1e-9)


def test_resample_poly_with_given_taps_matches_scipy():
    x = np.exp(2j * np.pi * 0.01 * np.arange(2000))
    taps = scipy.signal.firwin(2 * 8 * 5 + 1, 1 / 5, window=("kaiser", 6.0))
    np.testing.assert_allclose(resample_poly(x, 4, 5, window=taps),
                               scipy.signal.resample_poly(x, 4, 5, window=taps), atol=1e-9)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("n", [1, 63, 64, 65, 4800, 100_003])
def test_shift_to_zero_is_its_numpy_twin(dtype, n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
    for offset_hz in (0.0, 123_456.7, -1.1e6):
        got, want = shift_to_zero(x, offset_hz, 2.4e6), shift_to_zero_numpy(x, offset_hz, 2.4e6)
        assert got.dtype == want.dtype == np.complex128 and got.shape == want.shape
        # Either phase is exact to the rounding of exp's argument (an ulp of the largest phase,
        # in radians); the phasor, recomputed every SHIFT_BLOCK samples, drifts less.
        largest_phase = 2 * np.pi * abs(offset_hz) / 2.4e6 * n
        tol = 16 * np.finfo(float).eps * max(1.0, largest_phase)
        assert np.abs(got - want).max() <= tol * np.abs(x).max()


def test_shift_to_zero_moves_a_tone_to_zero():
    fs, f = 2.4e6, 310e3
    k = np.arange(9600)
    y = shift_to_zero(np.exp(2j * np.pi * f / fs * k).astype(np.complex64), f, fs)
    assert np.abs(y - 1.0).max() < 1e-6       # the tone's own float32 rounding
