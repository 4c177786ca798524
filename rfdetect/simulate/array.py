"""Coherent antenna arrays: geometry, steering vectors, per-channel gain and phase errors.

Frame (DESIGN.md section 3): x east, y north, z up in metres, rotated by ``heading_deg``
(clockwise from true north).  An emitter at azimuth az (degrees clockwise from true north,
the direction the signal comes from) and elevation el has the unit vector
u = (sin a cos el, cos a cos el, sin el) in the array frame with a = az - heading.  A plane
wave reaches element p earlier by p.u / c than the origin, so its narrowband phase is
exp(+j 2 pi f p.u / c).
"""
from __future__ import annotations

import math

import numpy as np

from .channel import C_MPS
from .scenario import ArrayConfig, Scenario


def direction_vector(azimuth_deg: float, elevation_deg: float, heading_deg: float = 0.0) -> np.ndarray:
    a = math.radians(azimuth_deg - heading_deg)
    e = math.radians(elevation_deg)
    return np.array([math.sin(a) * math.cos(e), math.cos(a) * math.cos(e), math.sin(e)])


def steering_vector(elements_m, azimuth_deg: float, elevation_deg: float, freq_hz: float,
                    heading_deg: float = 0.0) -> np.ndarray:
    p = np.asarray(elements_m, np.float64)
    u = direction_vector(azimuth_deg, elevation_deg, heading_deg)
    return np.exp(1j * 2 * np.pi * freq_hz * (p @ u) / C_MPS)


def channel_errors(cfg: ArrayConfig, rng: np.random.Generator) -> np.ndarray:
    """Complex per-channel gain: the configured errors, else 0.5 dB / 5 degree rms random ones
    (element 0 is the reference: no error)."""
    n = cfg.num_elements
    g = np.asarray(cfg.gain_errors_db) if cfg.gain_errors_db else np.r_[0.0, rng.normal(0, 0.5, n - 1)]
    ph = np.asarray(cfg.phase_errors_deg) if cfg.phase_errors_deg else np.r_[0.0, rng.normal(0, 5.0, n - 1)]
    return 10.0 ** (g / 20.0) * np.exp(1j * np.radians(ph)), g, ph


def array_description(scn: Scenario, gains_db, phases_deg) -> dict:
    """The array table written with the recording, plus the simulation truth."""
    a = scn.array
    return {"name": a.name, "elements_m": [list(p) for p in a.elements_m], "heading_deg": a.heading_deg,
            "truth": {"gain_errors_db": [round(float(v), 6) for v in gains_db],
                      "phase_errors_deg": [round(float(v), 6) for v in phases_deg],
                      "emitters": [{"id": e.id, "azimuth_deg": e.azimuth_deg, "elevation_deg": e.elevation_deg}
                                   for e in scn.emitters]}}
