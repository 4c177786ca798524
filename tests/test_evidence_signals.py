"""Evidence kernels on generated signals: what they measure, and that noise is not confirmed."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from rfdetect.kernels.evidence_droneid import droneid_confirmed, droneid_zc
from rfdetect.kernels.evidence_fmvideo import fm_video_evidence
from rfdetect.kernels.evidence_fsk import fsk_evidence
from rfdetect.kernels.evidence_lora import lora_evidence
from rfdetect.kernels.evidence_ofdm import ofdm_evidence
from test_classify_signals import add_noise, droneid_native, fm_video, gfsk, lora, noise, ofdm

FS = 2.4e6


@pytest.mark.parametrize("sf,snr_db", [(6, 10.0), (7, -10.0), (9, -12.0)])
def test_lora_dechirp_estimates_sf_below_the_noise(sf, snr_db):
    rng = np.random.default_rng(sf)
    x = add_noise(lora(FS, sf, 500e3, 20, rng), snr_db, FS, 500e3, rng)
    ev = lora_evidence(x, FS, 0.0, bandwidths_hz=(125e3, 250e3, 500e3))
    assert ev["confirmed"], ev
    assert (ev["sf"], ev["bw_hz"], ev["direction"]) == (sf, 500e3, "up"), ev


def test_lora_direction_and_offset():
    rng = np.random.default_rng(11)
    x = lora(FS, 8, 250e3, 12, rng, down=True)
    x = x * np.exp(2j * np.pi * 300e3 / FS * np.arange(x.size))       # 300 kHz off centre
    ev = lora_evidence(add_noise(x, 0.0, FS, 250e3, rng), FS, 300e3, bandwidths_hz=(125e3, 250e3, 500e3))
    assert ev["confirmed"] and (ev["sf"], ev["bw_hz"], ev["direction"]) == (8, 250e3, "down"), ev


def test_lora_not_confirmed_on_noise_or_fsk():
    rng = np.random.default_rng(12)
    for x in (noise(30000, rng), add_noise(gfsk(FS, 50e3, 25e3, 600, rng), 15.0, FS, 100e3, rng)):
        ev = lora_evidence(x, FS, 0.0, bandwidths_hz=(125e3, 250e3, 500e3))
        assert not ev["confirmed"], ev
    assert lora_evidence(noise(100, rng), FS, 0.0) is None          # too short for 4 windows


@pytest.mark.parametrize("rate,dev", [(300e3, 100e3), (50e3, 25e3)])
def test_fsk_discriminator_measures_deviation_and_rate(rate, dev):
    rng = np.random.default_rng(int(rate))
    bw = 2 * (dev + rate / 2)
    x = add_noise(gfsk(FS, rate, dev, 300, rng), 15.0, FS, bw, rng)
    ev = fsk_evidence(x, FS, 0.0, bw)
    assert ev["confirmed"], ev
    assert ev["symbol_rate_hz"] == pytest.approx(rate, rel=0.1)
    # GFSK (BT 0.5) rarely reaches full deviation on alternating bits: the median sits a little under.
    assert 0.6 * dev <= ev["deviation_hz"] <= 1.15 * dev


def test_fsk_not_confirmed_on_noise_or_lora():
    rng = np.random.default_rng(13)
    assert not fsk_evidence(noise(20000, rng), FS, 0.0, 500e3)["confirmed"]
    ev = fsk_evidence(lora(FS, 7, 500e3, 20, rng), FS, 0.0, 500e3)
    assert not ev["confirmed"] and ev["flatness"] < 0.1, ev      # a chirp never holds a level


def test_ofdm_cp_tells_wifi_from_lte_numerology():
    rng = np.random.default_rng(14)
    wifi = add_noise(ofdm(64, 16, 52, 40, rng), 15.0, 20e6, 16.6e6, rng)        # native 20 MS/s
    ev = ofdm_evidence(wifi, 20e6, 16.6e6)
    assert ev["confirmed"] and ev["useful_symbol_s"] == pytest.approx(3.2e-6, rel=0.02), ev
    lte = signal.resample_poly(ofdm(1024, 72, 601, 12, rng), 625, 192)            # 15.36 -> 50 MS/s
    ev = ofdm_evidence(add_noise(lte, 15.0, 50e6, 9e6, rng), 50e6, 9e6)
    assert ev["confirmed"] and ev["subcarrier_spacing_hz"] == pytest.approx(15e3, rel=0.02), ev
    ev = ofdm_evidence(noise(30000, rng), 50e6, 9e6)
    assert not ev["confirmed"], ev


@pytest.mark.parametrize("cfo_hz", [0.0, 41e3, -52e3])
def test_droneid_zc_with_carrier_offset(cfo_hz):
    rng = np.random.default_rng(15)
    x = signal.resample_poly(droneid_native(rng), 625, 192)                       # 50 MS/s
    x = np.concatenate([np.zeros(500), x, np.zeros(500)])
    x = x * np.exp(2j * np.pi * cfo_hz / 50e6 * np.arange(x.size))
    y = add_noise(x, 10.0, 50e6, 9e6, rng)
    ev = droneid_zc(y, 50e6, 0.0)
    assert droneid_confirmed(ev), ev
    assert ev["zc600"] > 0.8 and ev["zc147"] > 0.8 and ev["zc_lag_diff"] == 2192
    assert ev["cfo_hz"] == pytest.approx(cfo_hz, abs=3e3)


def test_droneid_zc_rejects_plain_ofdm_and_noise():
    rng = np.random.default_rng(16)
    plain = signal.resample_poly(ofdm(1024, 72, 601, 9, rng), 625, 192)
    for x in (plain, noise(40000, rng)):
        ev = droneid_zc(x, 50e6, 0.0)
        assert not droneid_confirmed(ev), ev
        assert max(ev["zc600"], ev["zc147"]) < 0.4
    assert droneid_zc(noise(5000, rng), 2.4e6, 0.0) is None        # an RTL-SDR rate cannot hold it


@pytest.mark.parametrize("line_rate,standard", [(15734.264, "NTSC"), (15625.0, "PAL")])
def test_fm_video_line_rate(line_rate, standard):
    rng = np.random.default_rng(17)
    x = add_noise(fm_video(20e6, line_rate, 0.008, rng), 10.0, 20e6, 8e6, rng)
    ev = fm_video_evidence(x, 20e6)
    assert ev["confirmed"] and ev["standard"] == standard, ev


def test_fm_video_not_confirmed_on_noise_or_fsk():
    rng = np.random.default_rng(18)
    assert not fm_video_evidence(noise(160000, rng), 20e6)["confirmed"]
    assert not fm_video_evidence(gfsk(20e6, 1e6, 2e6, 8000, rng), 20e6)["confirmed"]
