"""Cramer-Rao bound on bearing for a given array, SNR and snapshot count.

Stochastic (unconditional) model of Stoica & Nehorai (1990): uncorrelated
Gaussian sources in white noise,

    CRB = sigma^2 / (2 T) * inv( Re[ (D^H P_perp D) o (P A^H R^-1 A P)^T ] )

with A the steering matrix, D its derivative with respect to bearing
(radians), P the source covariance, R = A P A^H + sigma^2 I and T the number
of independent snapshots (for one burst: bandwidth times duration).
"""
from __future__ import annotations

import math

import numpy as np

from .array import ArrayGeometry, steering_derivative, steering_vectors


def crb_bearing_deg(array: ArrayGeometry, freq_hz: float, bearings_deg, snr_db, snapshots: float,
                    *, elevation_deg: float = 0.0) -> np.ndarray:
    """1-sigma bound on bearing (degrees) per source at known elevation(s).

    ``snr_db`` is per channel, per source, in band.
    """
    b = np.atleast_1d(np.asarray(bearings_deg, dtype=np.float64))
    snr = 10.0 ** (np.broadcast_to(np.asarray(snr_db, dtype=np.float64), b.shape) / 10.0)
    if snapshots <= 0 or np.any(snr <= 0):
        return np.full(b.shape, np.inf)
    el = np.broadcast_to(np.asarray(elevation_deg, dtype=np.float64), b.shape)
    a = np.stack([steering_vectors(array, freq_hz, [bk], elevation_deg=ek)[:, 0] for bk, ek in zip(b, el)], axis=1)
    d = np.stack([steering_derivative(array, freq_hz, [bk], elevation_deg=ek)[:, 0] for bk, ek in zip(b, el)], axis=1)
    m = a.shape[0]
    p = np.diag(snr).astype(np.complex128)          # noise power normalised to 1
    r = a @ p @ a.conj().T + np.eye(m)
    try:
        proj = np.eye(m) - a @ np.linalg.solve(a.conj().T @ a, a.conj().T)
        fim = np.real((d.conj().T @ proj @ d) * (p @ a.conj().T @ np.linalg.solve(r, a) @ p).T)
        cov = np.linalg.inv(fim) / (2.0 * snapshots)
    except np.linalg.LinAlgError:
        return np.full(b.shape, np.inf)
    var = np.diag(cov)
    return np.where(var > 0, np.rad2deg(np.sqrt(np.abs(var))), np.inf)


def crb_single_deg(array: ArrayGeometry, freq_hz: float, bearing_deg: float, snr_db: float,
                   snapshots: float) -> float:
    """Closed form for one source: (1 + 1/(M snr)) / (2 T snr |P_perp d|^2)."""
    snr = 10.0 ** (snr_db / 10.0)
    if snapshots <= 0 or snr <= 0:
        return math.inf
    a = steering_vectors(array, freq_hz, [bearing_deg])[:, 0]
    d = steering_derivative(array, freq_hz, [bearing_deg])[:, 0]
    m = a.size
    dp = d - a * (a.conj() @ d) / m
    h = float(np.real(dp.conj() @ dp))
    if h <= 0:
        return math.inf
    var = (1.0 + 1.0 / (m * snr)) / (2.0 * snapshots * snr * h)
    return math.degrees(math.sqrt(var))
