"""Coherent multi-channel plane-wave test signals for the bearing tests and bench.

Geometry convention of DESIGN.md section 3: channel i is element i; a source
at bearing b (clockwise from true north) reaches element r_i with the phase
exp(+j 2 pi r_i . u(b) / lambda), u pointing from the array to the source.
The phase is written here from first principles (not through
rfdetect.bearing.array) so the tests check the convention, not restate it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

C = 299_792_458.0


@dataclass(frozen=True)
class Emitter:
    bearing_deg: float
    f_offset_hz: float = 0.0       # from the capture's centre frequency
    bandwidth_hz: float = 200e3
    t0_s: float = 0.0
    duration_s: float = 1e-3
    snr_db: float = 10.0           # in band, per channel, per burst: P_signal / (N0 * bandwidth)
    elevation_deg: float = 0.0


def element_phases(positions_m, heading_deg, freq_hz, bearing_deg, elevation_deg=0.0):
    p = np.asarray(positions_m, dtype=float)
    az = math.radians(bearing_deg - heading_deg)
    el = math.radians(elevation_deg)
    towards = np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])
    path_m = p @ towards
    return np.exp(2j * math.pi * freq_hz * path_m / C)


def band_noise(rng, n, bandwidth_hz, fs):
    """Unit-power complex Gaussian noise, brick-wall limited to +-bandwidth/2 around DC."""
    w = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    f = np.fft.fftfreq(n, 1 / fs)
    spec = np.fft.fft(w)
    spec[np.abs(f) > bandwidth_hz / 2] = 0
    s = np.fft.ifft(spec)
    return s / np.sqrt(np.mean(np.abs(s) ** 2))


def synth(positions_m, fs, fc, emitters, n, rng, *, heading_deg=0.0, phase_err_deg=None,
          gain_err_db=None, incoherent_hz=0.0):
    """(channels, n) complex64: bursts from plane waves plus unit-variance white noise per channel.

    ``phase_err_deg``/``gain_err_db``: per-channel errors of the receivers (what
    calibration removes); ``incoherent_hz``: each channel gets its own random
    frequency offset up to this, i.e. no common phase reference.
    """
    p = np.asarray(positions_m, dtype=float)
    m = p.shape[0]
    x = (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))) / math.sqrt(2)
    t = np.arange(n) / fs
    truth = []
    for e in emitters:
        i0 = int(round(e.t0_s * fs))
        i1 = min(n, i0 + int(round(e.duration_s * fs)))
        s = band_noise(rng, i1 - i0, e.bandwidth_hz, fs)
        # in-band noise power is bandwidth/fs of the unit total
        amp = math.sqrt(10 ** (e.snr_db / 10) * e.bandwidth_hz / fs)
        s = amp * s * np.exp(2j * math.pi * e.f_offset_hz * t[i0:i1])
        a = element_phases(p, heading_deg, fc + e.f_offset_hz, e.bearing_deg, e.elevation_deg)
        x[:, i0:i1] += a[:, None] * s[None, :]
        truth.append({"sample_start": i0, "sample_end": i1,
                      "f_lo_hz": fc + e.f_offset_hz - e.bandwidth_hz / 2,
                      "f_hi_hz": fc + e.f_offset_hz + e.bandwidth_hz / 2})
    if phase_err_deg is not None or gain_err_db is not None:
        ph = np.zeros(m) if phase_err_deg is None else np.asarray(phase_err_deg, dtype=float)
        g = np.zeros(m) if gain_err_db is None else np.asarray(gain_err_db, dtype=float)
        x *= (10 ** (g / 20) * np.exp(1j * np.deg2rad(ph)))[:, None]
    if incoherent_hz:
        off = rng.uniform(-incoherent_hz, incoherent_hz, m)
        x *= np.exp(1j * (2 * math.pi * off[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (m, 1))))
    return x.astype(np.complex64), truth


def uca_positions(m=5, radius_m=None, freq_hz=868e6):
    r = 0.35 * C / freq_hz if radius_m is None else radius_m
    ang = 2 * np.pi * np.arange(m) / m
    return np.stack([r * np.sin(ang), r * np.cos(ang), np.zeros(m)], axis=1)


def test_synth_in_band_snr_is_as_requested():
    rng = np.random.default_rng(1)
    fs, n = 2.4e6, 2 ** 16
    x, truth = synth(uca_positions(), fs, 868e6, [Emitter(30, 300e3, 200e3, 0, n / fs, 10.0)], n, rng)
    spec = np.abs(np.fft.fftshift(np.fft.fft(x[0]))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(n, 1 / fs))
    inb = np.abs(f - 300e3) < 100e3
    noise_per_bin = np.median(spec[np.abs(f + 500e3) < 300e3]) / math.log(2)  # exponential median
    signal = spec[inb].sum() - noise_per_bin * inb.sum()
    assert 10 * np.log10(signal / (noise_per_bin * inb.sum())) == pytest.approx(10.0, abs=0.3)


def test_synth_phase_convention_east_element_leads_for_east_source():
    p = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    a = element_phases(p, 0.0, 868e6, 90.0)
    assert np.angle(a[1]) == pytest.approx(2 * math.pi * 868e6 * 0.1 / C, abs=1e-9)
    assert np.angle(element_phases(p, 90.0, 868e6, 90.0)[1]) == pytest.approx(0.0, abs=1e-9)
