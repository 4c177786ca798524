"""Propagation and noise: AWGN, the in-band SNR definition, multipath taps, Doppler, path loss.

In-band SNR (the one definition used by scenarios, annotations and tests)::

    SNR_in-band = P_s / (N0 * B)

P_s is the mean signal power during the burst (over its annotated samples), N0 the noise
power spectral density (total complex noise power / sample rate) and B the signal's occupied
bandwidth (its 99 % power bandwidth, ITU-R SM.328; for LoRa the chirp bandwidth, for OFDM
the used subcarriers times their spacing).  In words: signal power over noise power within
the occupied bandwidth, during the burst.
"""
from __future__ import annotations

import math

import numpy as np

C_MPS = 299_792_458.0


def noise_psd(noise_power: float, sample_rate_hz: float) -> float:
    return noise_power / sample_rate_hz


def signal_power_for_snr(snr_db: float, noise_power: float, sample_rate_hz: float, bandwidth_hz: float) -> float:
    """Mean burst power that gives ``snr_db`` in-band SNR (see the module docstring)."""
    return 10.0 ** (snr_db / 10.0) * noise_psd(noise_power, sample_rate_hz) * bandwidth_hz


def snr_from_link_budget(power_dbm: float, distance_m: float, freq_hz: float, bandwidth_hz: float,
                         noise_figure_db: float, path_loss_exponent: float = 2.0) -> float:
    """In-band SNR from transmit power and distance: log-distance path loss with the
    free-space loss at 1 m as reference, thermal noise -174 dBm/Hz plus the noise figure."""
    fspl_1m = 20 * math.log10(4 * math.pi * freq_hz / C_MPS)
    loss = fspl_1m + 10 * path_loss_exponent * math.log10(max(distance_m, 1e-3))
    noise_dbm = -174.0 + noise_figure_db + 10 * math.log10(bandwidth_hz)
    return power_dbm - loss - noise_dbm


def awgn(rng: np.random.Generator, shape: tuple[int, ...], power: float) -> np.ndarray:
    """Complex white Gaussian noise of total power ``power`` per sample, complex64."""
    x = rng.standard_normal(shape[:-1] + (2 * shape[-1],), dtype=np.float32)
    x *= np.float32(math.sqrt(power / 2.0))
    return x.view(np.complex64)


def in_band_power(x: np.ndarray, sample_rate_hz: float, f_lo_hz: float, f_hi_hz: float) -> float:
    """Mean power of ``x`` within [f_lo, f_hi] (Hz relative to the centre), by FFT."""
    n = len(x)
    spec = np.abs(np.fft.fft(x)) ** 2 / n
    f = np.fft.fftfreq(n, 1.0 / sample_rate_hz)
    sel = (f >= f_lo_hz) & (f <= f_hi_hz)
    return float(spec[sel].sum() / n)


def measure_in_band_snr_db(burst: np.ndarray, noise_only: np.ndarray, sample_rate_hz: float,
                           f_lo_hz: float, f_hi_hz: float) -> float:
    """Measure the in-band SNR of a recorded burst: in-band power during the burst minus the
    in-band noise power (from a noise-only stretch), over that noise power."""
    p_total = in_band_power(burst, sample_rate_hz, f_lo_hz, f_hi_hz)
    p_noise = in_band_power(noise_only, sample_rate_hz, f_lo_hz, f_hi_hz)
    return 10 * math.log10(max(p_total - p_noise, 1e-30) / p_noise)


def multipath_taps(rng: np.random.Generator, model: str, k_db: float, delays_s, powers_db,
                   sample_rate_hz: float) -> np.ndarray:
    """One block-fading realisation of a tapped delay line (unit mean total power).

    ``rayleigh``: every tap complex Gaussian; ``rician``: the first tap has a fixed line-of-sight
    part with K = k_db over its scattered part; ``awgn``: a single unit tap.
    """
    if model == "awgn":
        return np.ones(1, np.complex64)
    p = 10.0 ** (np.asarray(powers_db, np.float64) / 10.0)
    p /= p.sum()
    d = np.rint(np.asarray(delays_s, np.float64) * sample_rate_hz).astype(np.int64)
    taps = np.zeros(int(d.max()) + 1, np.complex128)
    g = (rng.standard_normal(len(p)) + 1j * rng.standard_normal(len(p))) / math.sqrt(2)
    if model == "rician":
        k = 10.0 ** (k_db / 10.0)
        los = np.exp(1j * rng.uniform(0, 2 * np.pi))
        g[0] = math.sqrt(k / (k + 1)) * los + math.sqrt(1 / (k + 1)) * g[0]
    for di, pi, gi in zip(d, p, g):
        taps[di] += math.sqrt(pi) * gi
    return taps.astype(np.complex64)


def apply_taps(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    if len(taps) == 1:
        return x * taps[0]
    return np.convolve(x, taps)[:len(x)].astype(np.complex64)


def doppler_hz(velocity_mps: float, carrier_hz: float) -> float:
    """Doppler shift of a carrier for a radial velocity (positive: approaching)."""
    return velocity_mps / C_MPS * carrier_hz
