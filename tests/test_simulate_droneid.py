"""DJI DroneID and other OFDM links: measured on the simulator's output and, for the
Zadoff-Chu check, on the real Mavic Air 2 recording with the very same function.

LINKS.md row checked: "DJI DroneID (OcuSync 2/3)": FFT 1024 at 15.36 MS/s (15 kHz), 601
subcarriers (about 9 MHz), 9 symbols, CP [80,72,72,72,72,72,72,72,80], ZC roots 600 and 147 at
symbols 3 and 5 (the two ZC peaks 2 x (1024 + 72) = 2192 samples apart), 630-665 us.
"""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.simulate import generate
from rfdetect.simulate.ofdm import DRONEID_RATE_HZ, zc_reference
from rfdetect.simulate.resample import resample


def band_centre(x: np.ndarray, fs: float) -> float:
    """Midpoint of the -10 dB edges of the averaged spectrum (Hz from the centre)."""
    n = 4096
    seg = x[: (len(x) // n) * n].reshape(-1, n)
    p = np.mean(np.abs(np.fft.fftshift(np.fft.fft(seg * np.hanning(n), axis=1), axes=1)) ** 2, axis=0)
    p = np.convolve(p, np.ones(9) / 9, mode="same")
    f = np.fft.fftshift(np.fft.fftfreq(n, 1 / fs))
    idx = np.nonzero(p > np.max(p) * 0.1)[0]
    return float((f[idx[0]] + f[idx[-1]]) / 2)


def droneid_zc(x: np.ndarray, fs: float) -> dict:
    """Mix the burst to its band centre, resample to 15.36 MS/s, remove the fractional carrier
    offset with the cyclic prefixes, search the whole-subcarrier offset, then correlate with the
    ZC references built as LINKS.md says.  Returns {root: (normalised correlation, index)}."""
    fc = band_centre(x, fs)
    t = np.arange(len(x)) / fs
    y = resample(x * np.exp(-2j * np.pi * fc * t), fs, DRONEID_RATE_HZ).astype(np.complex128)
    c = y[:-1024] * np.conj(y[1024:])
    cs = np.concatenate([[0], np.cumsum(c)])
    acc = cs[72:] - cs[:-72]
    frac = -np.angle(acc[int(np.argmax(np.abs(acc)))]) / (2 * np.pi) * 15e3
    tt = np.arange(len(y)) / DRONEID_RATE_HZ
    e = np.concatenate([[0], np.cumsum(np.abs(y) ** 2)])
    refs = {r: zc_reference(r) for r in (600, 147)}
    best = None
    for m in range(-6, 7):
        yy = y * np.exp(-2j * np.pi * (frac + m * 15e3) * tt)
        res = {}
        for root, r in refs.items():
            L = len(r)
            cc = np.abs(np.correlate(yy, r, mode="valid"))
            nc = cc / (np.sqrt(e[L:] - e[:-L])[:len(cc)] * np.linalg.norm(r) + 1e-30)
            j = int(np.argmax(nc))
            res[root] = (float(nc[j]), j)
        score = res[600][0] + res[147][0]
        if best is None or score > best[0]:
            best = (score, res)
    return best[1]


def cp_correlation(y: np.ndarray, nfft: int, cp: int) -> float:
    """Peak normalised correlation between every CP window and the samples nfft later."""
    c = y[:-nfft] * np.conj(y[nfft:])
    p = np.abs(y[:-nfft]) ** 2 + np.abs(y[nfft:]) ** 2
    cs = np.concatenate([[0], np.cumsum(c)])
    ps = np.concatenate([[0], np.cumsum(p)])
    return float(np.max(2 * np.abs(cs[cp:] - cs[:-cp]) / (ps[cp:] - ps[:-cp] + 1e-30)))


def _droneid_scenario(fs=50e6, mode="v2", offset=23e3):
    return {"scenario": {"duration_s": 0.004, "seed": 3},
            "receiver": {"sample_rate": fs, "center_freq": "2457.5M", "noise_dbfs": -40},
            "emitter": [{"id": "mavic", "link": "dji-droneid", "mode": mode, "freq": "2459.5M",
                         "snr_db": 50, "freq_offset_hz": offset, "phase_s": 0.001}]}


@pytest.fixture(scope="module")
def droneid_sim():
    return generate(_droneid_scenario(), seed=3)


def test_droneid_zc_roots_on_simulated_burst(droneid_sim):
    x, anns = droneid_sim
    a = anns[0]
    seg = x[0, max(a.sample_start - 1000, 0): a.sample_start + a.sample_count + 1000]
    res = droneid_zc(seg, 50e6)
    assert res[600][0] > 0.9 and res[147][0] > 0.9
    assert abs((res[147][1] - res[600][1]) - 2192) <= 1


def test_droneid_zc_roots_on_real_mavic_air_2(shared_recording):
    from rfdetect.sources import open_source

    path = shared_recording("mavic_air_2.sigmf-meta")
    with open_source(path) as s:
        fs = s.info.sample_rate_hz
        x = next(iter(s.blocks(1 << 20))).samples[0]
        anns = s.info.annotations
    complete = [a for a in anns if a.sample_count > 30000]
    assert len(complete) == 3
    for a in anns:
        seg = x[max(a.sample_start - 1000, 0): a.sample_start + a.sample_count + 1000]
        res = droneid_zc(seg, fs)
        assert res[600][0] > 0.9 and res[147][0] > 0.9, (a.sample_start, res)
        if a in complete:
            assert abs((res[147][1] - res[600][1]) - 2192) <= 1, (a.sample_start, res)


def test_droneid_duration_bandwidth_cp(droneid_sim):
    """Burst 630-665 us, occupied bandwidth about 9 MHz, CP of 72 samples at lag 1024 (15 kHz)."""
    x, anns = droneid_sim
    a = anns[0]
    assert a.label == "dji-droneid"
    seg = x[0, a.sample_start: a.sample_start + a.sample_count]
    # duration measured from the power envelope, not from the annotation
    p = np.convolve(np.abs(x[0]) ** 2, np.ones(200) / 200, mode="same")
    on = np.nonzero(p > 10 * np.median(p))[0]
    dur_s = (on[-1] - on[0]) / 50e6
    assert 630e-6 <= dur_s <= 665e-6
    spec = np.abs(np.fft.fftshift(np.fft.fft(seg))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(len(seg), 1 / 50e6))
    cum = np.cumsum(spec) / spec.sum()
    obw = f[np.searchsorted(cum, 0.995)] - f[np.searchsorted(cum, 0.005)]
    assert 8.8e6 <= obw <= 9.9e6
    t = np.arange(len(seg)) / 50e6
    y = resample(seg * np.exp(-2j * np.pi * (2e6 + 23e3) * t), 50e6, DRONEID_RATE_HZ)
    assert cp_correlation(y, 1024, 72) > 0.9          # CP repeats the symbol's end 1024 samples later
    lags = np.arange(900, 1150, 4)                    # and no other lag: 15.36 MS/s / 1024 = 15 kHz
    assert lags[np.argmax([cp_correlation(y, int(g), 72) for g in lags])] == 1024


def test_droneid_legacy_has_eight_symbols():
    """LINKS.md: legacy format 8 symbols, 565-600 us."""
    x, anns = generate(_droneid_scenario(fs=15.36e6, mode="legacy"), seed=1)
    assert 565e-6 <= anns[0].sample_count / 15.36e6 <= 600e-6


def test_wifi_ofdm_symbol_structure():
    """IEEE 802.11a/g: 64-point FFT at 20 MS/s (312.5 kHz), 0.8 us guard (16 samples), 16.6 MHz."""
    scn = {"scenario": {"duration_s": 0.003, "seed": 2},
           "receiver": {"sample_rate": "20M", "center_freq": "2437M", "noise_dbfs": -50},
           "emitter": [{"id": "ap", "link": "wifi", "mode": "traffic", "freq": "2437M", "snr_db": 30,
                        "interval_s": 0.001, "phase_s": 0.0002}]}
    x, anns = generate(scn, seed=2)
    assert anns and all(a.label == "wifi" for a in anns)
    a = anns[0]
    seg = x[0, a.sample_start + 320 + 80: a.sample_start + a.sample_count]     # data symbols
    assert cp_correlation(seg, 64, 16) > 0.9
    lags = np.arange(40, 100)
    assert lags[np.argmax([cp_correlation(seg, int(g), 16) for g in lags])] == 64


def test_ocusync_c2_bandwidth_and_duration():
    """LINKS.md 'DJI OcuSync uplink (C2)': 73 subcarriers (about 1.1 MHz), 500-520 us."""
    scn = {"scenario": {"duration_s": 0.03, "seed": 4},
           "receiver": {"sample_rate": "15.36M", "center_freq": "2440M", "noise_dbfs": -50},
           "emitter": [{"id": "rc", "link": "dji-ocusync-c2", "freq": "2440M", "snr_db": 60, "phase_s": 0.001}]}
    x, anns = generate(scn, seed=4)
    a = anns[0]
    assert 500e-6 <= a.sample_count / 15.36e6 <= 520e-6
    seg = x[0, a.sample_start: a.sample_start + a.sample_count]
    spec = np.abs(np.fft.fftshift(np.fft.fft(seg))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(len(seg), 1 / 15.36e6))
    cum = np.cumsum(spec) / spec.sum()
    obw = f[np.searchsorted(cum, 0.995)] - f[np.searchsorted(cum, 0.005)]
    assert 1.0e6 <= obw <= 1.25e6
