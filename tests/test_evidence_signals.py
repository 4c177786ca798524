"""Evidence kernels on generated signals: what they measure, and that noise is not confirmed."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from rfdetect.classify.evidence import FSK_THRESHOLD_DB, fsk_spread, verdict
from rfdetect.kernels.evidence_droneid import droneid_confirmed, droneid_zc
from rfdetect.kernels.evidence_fmvideo import fm_video_evidence
from rfdetect.kernels.evidence_fsk import fsk_evidence
from rfdetect.kernels.evidence_lora import lora_evidence
from rfdetect.kernels.evidence_ofdm import ofdm_evidence
from rfdetect.signatures import get
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


def test_fsk_carrier_between_unbalanced_levels():
    # Plain FSK at h = 4 (an ISM sensor) with 80 % ones: the median frequency sits on the
    # upper tone; the carrier is the midpoint of the two levels.
    rng = np.random.default_rng(21)
    x = add_noise(gfsk(FS, 17.24e3, 35e3, 160, rng, bt=None, p_one=0.8), 15.0, FS, 110e3, rng)
    ev = fsk_evidence(x, FS, 0.0, 110e3)
    assert ev["confirmed"], ev
    assert ev["deviation_hz"] == pytest.approx(35e3, rel=0.05)
    assert ev["symbol_rate_hz"] == pytest.approx(17.24e3, rel=0.03)
    assert abs(ev["centre_offset_hz"]) < 2e3


# (signature, symbol rate, deviation, bits): ExpressLRS 900 GFSK and a Crossfire-like 150 Hz link.
FSK_LINKS = [("expresslrs-fsk", 300e3, 100e3, 200), ("tbs-crossfire", 85.1e3, 42.5e3, 170)]


@pytest.mark.parametrize("sig_id,rate,dev,bits", FSK_LINKS)
def test_fsk_at_0db_is_past_the_threshold_and_abstains(sig_id, rate, dev, bits):
    """At 0 dB in-band the levels are still there (the deviation reads as at any SNR:
    GFSK shaping keeps the median |f| under the peak), but noise clicks cut the runs:
    the symbol rate reads too high and the burst does not confirm.  Such a burst is no
    evidence against the link; the same result from a strong burst is."""
    sig, bw = get(sig_id), 2 * (dev + rate / 2)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        ev = fsk_evidence(add_noise(gfsk(FS, rate, dev, bits, rng), 0.0, FS, bw, rng), FS, 0.0, bw)
        assert not ev["confirmed"], ev
        assert 0.65 * dev <= ev["deviation_hz"] <= 0.95 * dev, ev
        assert ev["symbol_rate_hz"] > 1.25 * rate, ev
        assert verdict(sig, dict(ev, burst_snr_db=0.0)) == "none"
        assert verdict(sig, dict(ev, burst_snr_db=FSK_THRESHOLD_DB + 12.0)) == "mismatch"


@pytest.mark.parametrize("sig_id,rate,dev,bits", FSK_LINKS)
def test_fsk_at_10db_confirms_with_the_link_values(sig_id, rate, dev, bits):
    sig, bw = get(sig_id), 2 * (dev + rate / 2)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        ev = fsk_evidence(add_noise(gfsk(FS, rate, dev, bits, rng), 10.0, FS, bw, rng), FS, 0.0, bw)
        assert ev["confirmed"], ev
        assert ev["symbol_rate_hz"] == pytest.approx(rate, rel=0.1)
        assert 0.7 * dev <= ev["deviation_hz"] <= 0.85 * dev, ev
        assert verdict(sig, dict(ev, burst_snr_db=10.0)) == "match"


def test_fsk_ranges_widen_with_the_expected_scatter():
    sig = get("expresslrs-fsk")
    lo, hi = sig.kernel_params["symbol_rate_hz"]
    ev = {"confirmed": True, "deviation_hz": 80e3, "symbol_rate_hz": hi * 1.05}
    assert fsk_spread(10.0) == pytest.approx(0.05) and fsk_spread(30.0) < 0.001
    assert verdict(sig, dict(ev, burst_snr_db=8.0)) == "match"         # 8 % scatter at 8 dB
    assert verdict(sig, dict(ev, burst_snr_db=20.0)) == "mismatch"     # 0.5 % at 20 dB
    assert verdict(sig, dict(ev, symbol_rate_hz=hi * 1.3, burst_snr_db=8.0)) == "mismatch"
    assert verdict(sig, dict(ev, symbol_rate_hz=lo, burst_snr_db=None)) == "match"
    # An unconfirmed result without the burst's SNR (an older record) stays a mismatch.
    assert verdict(sig, {"confirmed": False, "deviation_hz": 80e3, "symbol_rate_hz": None}) == "mismatch"


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
