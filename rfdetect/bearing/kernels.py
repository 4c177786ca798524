"""Numba kernels for direction finding: covariance and spatial spectra.

Plain arrays in, preallocated arrays out; the wrappers in ``doa.py`` and
``gated.py`` validate inputs and allocate.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def covariance_selected(x, select, out):
    """out = sum over selected columns k of x[:, k] x[:, k]^H / count; returns count.

    ``x`` is (channels, snapshots) complex (time samples or frequency bins),
    ``select`` a boolean mask over snapshots: only the burst's own samples or
    bins enter the covariance.
    """
    m, n = x.shape
    for i in range(m):
        for j in range(m):
            out[i, j] = 0.0
    count = 0
    for k in range(n):
        if not select[k]:
            continue
        count += 1
        for i in range(m):
            xi = x[i, k]
            for j in range(i, m):
                out[i, j] += xi * np.conj(x[j, k])
    if count > 0:
        inv = 1.0 / count
        for i in range(m):
            for j in range(i, m):
                out[i, j] *= inv
    for i in range(m):
        for j in range(i + 1, m):
            out[j, i] = np.conj(out[i, j])
    return count


@njit(cache=True)
def bartlett_spectrum(r, a, out):
    """out[k] = Re(a_k^H R a_k) / (a_k^H a_k): power of a beam steered to grid point k."""
    m, kk = a.shape
    for k in range(kk):
        acc = 0.0
        norm = 0.0
        for i in range(m):
            t = 0.0 + 0.0j
            for j in range(m):
                t += r[i, j] * a[j, k]
            acc += (np.conj(a[i, k]) * t).real
            norm += (a[i, k] * np.conj(a[i, k])).real
        out[k] = acc / norm if norm > 0 else 0.0


@njit(cache=True)
def capon_spectrum(rinv, a, out):
    """out[k] = 1 / Re(a_k^H R^-1 a_k): minimum-variance distortionless response."""
    m, kk = a.shape
    for k in range(kk):
        acc = 0.0
        for i in range(m):
            t = 0.0 + 0.0j
            for j in range(m):
                t += rinv[i, j] * a[j, k]
            acc += (np.conj(a[i, k]) * t).real
        out[k] = 1.0 / acc if acc > 0 else np.inf


@njit(cache=True)
def music_spectrum(en, a, out):
    """out[k] = (a^H a) / ||E_n^H a_k||^2 with E_n the (channels, m - d) noise subspace."""
    m, kk = a.shape
    q = en.shape[1]
    for k in range(kk):
        acc = 0.0
        norm = 0.0
        for c in range(q):
            t = 0.0 + 0.0j
            for i in range(m):
                t += np.conj(en[i, c]) * a[i, k]
            acc += t.real * t.real + t.imag * t.imag
        for i in range(m):
            norm += (a[i, k] * np.conj(a[i, k])).real
        out[k] = norm / acc if acc > 0 else np.inf
