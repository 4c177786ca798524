"""Numba DF kernels against slow, obviously correct NumPy twins."""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.bearing import kernels as K


def _rand(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def twin_covariance(x, sel):
    xs = x[:, sel]
    if xs.shape[1] == 0:
        return np.zeros((x.shape[0], x.shape[0]), complex), 0
    return xs @ xs.conj().T / xs.shape[1], xs.shape[1]


def twin_bartlett(r, a):
    return np.array([np.real(a[:, k].conj() @ r @ a[:, k]) / np.real(a[:, k].conj() @ a[:, k])
                     for k in range(a.shape[1])])


def twin_capon(rinv, a):
    return np.array([1 / np.real(a[:, k].conj() @ rinv @ a[:, k]) for k in range(a.shape[1])])


def twin_music(en, a):
    return np.array([np.real(a[:, k].conj() @ a[:, k]) / np.linalg.norm(en.conj().T @ a[:, k]) ** 2
                     for k in range(a.shape[1])])


@pytest.mark.parametrize("m, n, frac", [(5, 1000, 0.3), (3, 1, 1.0), (4, 7, 0.0), (8, 257, 1.0)])
def test_covariance_selected_matches_twin(m, n, frac):
    rng = np.random.default_rng(m * n)
    x = _rand(rng, (m, n))
    sel = rng.random(n) < frac
    out = np.empty((m, m), complex)
    count = K.covariance_selected(x, sel, out)
    want, wc = twin_covariance(x, sel)
    assert count == wc
    assert np.allclose(out, want, atol=1e-12)


def test_covariance_propagates_nan_rather_than_hiding_it():
    x = np.ones((2, 4), complex)
    x[1, 2] = np.nan
    out = np.empty((2, 2), complex)
    K.covariance_selected(x, np.ones(4, bool), out)
    assert np.isnan(out[1, 1]) and np.isfinite(out[0, 0])


def test_spectra_match_twins():
    rng = np.random.default_rng(3)
    m, k = 5, 91
    x = _rand(rng, (m, 400))
    r = x @ x.conj().T / 400
    a = np.exp(1j * rng.uniform(0, 2 * np.pi, (m, k)))
    out = np.empty(k)
    K.bartlett_spectrum(r, a, out)
    assert np.allclose(out, twin_bartlett(r, a))
    rinv = np.linalg.inv(r)
    K.capon_spectrum(rinv, a, out)
    assert np.allclose(out, twin_capon(rinv, a))
    w, v = np.linalg.eigh(r)
    en = np.ascontiguousarray(v[:, :3])
    K.music_spectrum(en, a, out)
    assert np.allclose(out, twin_music(en, a))


def test_music_spectrum_is_infinite_on_an_exact_null():
    a = np.ones((2, 1), complex)
    en = np.array([[1.0], [-1.0]], complex) / np.sqrt(2)
    out = np.empty(1)
    K.music_spectrum(en, a, out)
    assert np.isinf(out[0])
