"""OFDM waveforms: DJI DroneID, DJI OcuSync uplink (C2) and video, IEEE 802.11a/g Wi-Fi.

Each is built at its native rate with an inverse FFT per symbol plus cyclic prefix, then
resampled to the scenario's rate.

DroneID (LINKS.md row "DJI DroneID"; RUB-SysSec/DroneSecurity ``src/helpers.py``,
``src/packetizer.py``; proto17/dji_droneid): FFT 1024 at 15.36 MS/s (15 kHz spacing), 601
subcarriers centred on DC with DC unused, 9 symbols with cyclic prefixes
[80, 72, 72, 72, 72, 72, 72, 72, 80]; symbols 3 and 5 carry the Zadoff-Chu sequences of roots
600 and 147, z[n] = exp(-j pi u n (n+1) / 601), n = 0..600, placed directly on the 601
subcarriers with the middle (DC) element zeroed (the convention the real Mavic Air 2
recording matches); the other symbols carry QPSK.  The legacy format has 8 symbols with the
ZC symbols at index 2 and 4.
"""
from __future__ import annotations

import numpy as np

from .resample import resample

DRONEID_FFT = 1024
DRONEID_RATE_HZ = 15.36e6
DRONEID_SUBCARRIERS = 601
DRONEID_CP = (80, 72, 72, 72, 72, 72, 72, 72, 80)
DRONEID_CP_LEGACY = (80, 72, 72, 72, 72, 72, 72, 80)
DRONEID_ROOTS = (600, 147)


def zadoff_chu(root: int, length: int = DRONEID_SUBCARRIERS) -> np.ndarray:
    n = np.arange(length)
    return np.exp(-1j * np.pi * root * n * (n + 1) / length)


def centred_bins(n_used: int, nfft: int) -> np.ndarray:
    """FFT bins of ``n_used`` (odd) subcarriers centred on DC, lowest first."""
    k = np.arange(n_used) - n_used // 2
    return np.mod(k, nfft)


def zc_symbol_freq(root: int, n_used: int = DRONEID_SUBCARRIERS, nfft: int = DRONEID_FFT) -> np.ndarray:
    z = zadoff_chu(root, n_used)
    z[n_used // 2] = 0.0
    X = np.zeros(nfft, np.complex128)
    X[centred_bins(n_used, nfft)] = z
    return X


def zc_reference(root: int, n_used: int = DRONEID_SUBCARRIERS, nfft: int = DRONEID_FFT) -> np.ndarray:
    """Time-domain ZC symbol (no CP) at the native rate, as the detector correlates against."""
    return np.fft.ifft(zc_symbol_freq(root, n_used, nfft))


def qpsk(rng: np.random.Generator, n: int) -> np.ndarray:
    b = rng.integers(0, 4, n)
    return np.exp(1j * (np.pi / 4 + np.pi / 2 * b))


def ofdm_time(X: np.ndarray, cps) -> np.ndarray:
    """Symbols X (nsym, nfft) in the frequency domain -> time samples with cyclic prefixes."""
    x = np.fft.ifft(X, axis=1)
    parts = []
    for k, cp in enumerate(cps):
        parts.append(x[k, -cp:] if cp else x[k, :0])
        parts.append(x[k])
    return np.concatenate(parts)


def _qpsk_symbols(rng, nsym: int, n_used: int, nfft: int) -> np.ndarray:
    X = np.zeros((nsym, nfft), np.complex128)
    bins = centred_bins(n_used, nfft)
    data = qpsk(rng, nsym * n_used).reshape(nsym, n_used)
    data[:, n_used // 2] = 0.0
    X[:, bins] = data
    return X


def droneid_native(rng: np.random.Generator, legacy: bool = False) -> np.ndarray:
    cps = DRONEID_CP_LEGACY if legacy else DRONEID_CP
    zc_at = (2, 4) if legacy else (3, 5)
    X = _qpsk_symbols(rng, len(cps), DRONEID_SUBCARRIERS, DRONEID_FFT)
    for idx, root in zip(zc_at, DRONEID_ROOTS):
        X[idx] = zc_symbol_freq(root)
    return ofdm_time(X, cps)


def droneid_burst(sample_rate_hz: float, rng: np.random.Generator, legacy: bool = False) -> np.ndarray:
    return resample(droneid_native(rng, legacy), DRONEID_RATE_HZ, sample_rate_hz)


# OcuSync uplink (C2): 73 subcarriers at 15 kHz, ZC in symbols 0 and 6 (DroneSecurity
# packetizer.py); 7 symbols with LTE-like prefixes give the 500-520 us of LINKS.md.  The ZC
# roots of C2 are not published: roots 5 and 41 of a length-73 sequence are *provisional*.
C2_SUBCARRIERS = 73
C2_CP = (80, 72, 72, 72, 72, 72, 80)
C2_ROOTS = (5, 41)


def ocusync_c2_burst(sample_rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    X = _qpsk_symbols(rng, len(C2_CP), C2_SUBCARRIERS, DRONEID_FFT)
    for idx, root in zip((0, 6), C2_ROOTS):
        X[idx] = zc_symbol_freq(root, C2_SUBCARRIERS, DRONEID_FFT)
    return resample(ofdm_time(X, C2_CP), DRONEID_RATE_HZ, sample_rate_hz)


# OcuSync video: LTE-like 10 MHz (601 subcarriers, FFT 1024 at 15.36 MS/s) or 20 MHz (1201
# subcarriers, FFT 2048 at 30.72 MS/s) frames of about 1 ms (LINKS.md row "DJI OcuSync video").
VIDEO_MODES = {"10MHz": (601, 1024, 15.36e6), "20MHz": (1201, 2048, 30.72e6)}
VIDEO_SYMBOLS = 12


def ocusync_video_burst(sample_rate_hz: float, rng: np.random.Generator, mode: str) -> np.ndarray:
    n_used, nfft, rate = VIDEO_MODES[mode]
    scale = nfft // 1024
    cps = [80 * scale] + [72 * scale] * (VIDEO_SYMBOLS - 1)
    X = _qpsk_symbols(rng, VIDEO_SYMBOLS, n_used, nfft)
    return resample(ofdm_time(X, cps), rate, sample_rate_hz)


# IEEE 802.11a/g (IEEE 802.11-2020 clause 17): 20 MS/s, FFT 64, 52 used subcarriers (48 data,
# pilots at +-7, +-21), 0.8 us guard interval; legacy preamble: 10 short training symbols
# (8 us) and 2 long ones with a 1.6 us guard (8 us), SIGNAL (BPSK), then data.
WIFI_RATE_HZ = 20e6
_STF = np.zeros(53, np.complex128)
for _k, _v in zip((-24, -20, -16, -12, -8, -4, 4, 8, 12, 16, 20, 24), (1, -1, 1, -1, -1, 1, -1, -1, 1, 1, 1, 1)):
    _STF[_k + 26] = _v * (1 + 1j)
_STF *= np.sqrt(13 / 6)
_LTF = np.array([1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1, 1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1, 1, 0,
                 1, -1, -1, 1, 1, -1, 1, -1, 1, -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, -1, 1, -1, 1, 1, 1, 1],
                np.complex128)
WIFI_RATES = {6: (2, 24), 12: (4, 48), 24: (16, 96), 54: (64, 216)}   # Mb/s: (QAM order, data bits/symbol)


def _wifi_bins(values53: np.ndarray) -> np.ndarray:
    X = np.zeros(64, np.complex128)
    X[np.mod(np.arange(-26, 27), 64)] = values53
    return X


def _qam(rng, order: int, n: int) -> np.ndarray:
    if order == 2:
        return 2.0 * rng.integers(0, 2, n) - 1.0
    m = int(np.sqrt(order))
    i = 2 * rng.integers(0, m, n) - (m - 1)
    q = 2 * rng.integers(0, m, n) - (m - 1)
    return (i + 1j * q) / np.sqrt(2 * (order - 1) / 3)


def wifi_native(rng: np.random.Generator, payload_bytes: int, rate_mbps: int) -> np.ndarray:
    order, dbps = WIFI_RATES[rate_mbps]
    stf = np.fft.ifft(_wifi_bins(_STF))
    ltf = np.fft.ifft(_wifi_bins(_LTF))
    pre = [np.tile(stf, 3)[:160], ltf[-32:], ltf, ltf]
    nsym = 1 + int(np.ceil((16 + 8 * payload_bytes + 6) / dbps))   # SIGNAL + data
    data_idx = np.array([k for k in range(-26, 27) if k not in (0, -21, -7, 7, 21)]) + 26
    X = np.zeros((nsym, 53), np.complex128)
    for s in range(nsym):
        X[s, data_idx] = _qam(rng, 2 if s == 0 else order, 48)
        X[s, np.array([-21, -7, 7, 21]) + 26] = (1, 1, 1, -1)
    Xf = np.stack([_wifi_bins(r) for r in X])
    return np.concatenate(pre + [ofdm_time(Xf, [16] * nsym)])


def wifi_burst(sample_rate_hz: float, rng: np.random.Generator, payload_bytes: int,
               rate_mbps: int) -> np.ndarray:
    return resample(wifi_native(rng, payload_bytes, rate_mbps), WIFI_RATE_HZ, sample_rate_hz)


def wifi_duration_s(payload_bytes: int, rate_mbps: int) -> float:
    _, dbps = WIFI_RATES[rate_mbps]
    return 16e-6 + 4e-6 * (1 + int(np.ceil((16 + 8 * payload_bytes + 6) / dbps)))
