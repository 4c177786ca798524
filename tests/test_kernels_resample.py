"""The resampling kernels against scipy.signal, which they stand in for at run time."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from rfdetect.kernels.resample import firwin_lowpass, resample_poly


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
