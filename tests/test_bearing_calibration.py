"""Calibration from a noise source or a known transmitter, and the antenna-order self-test."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rfdetect.bearing.array import load_array, save_array, uca
from rfdetect.bearing.calibration import calibrate, calibrate_from_iq, self_test
from rfdetect.bearing.doa import DoaConfig
from rfdetect.bearing.gated import bearing_for_burst, gated_covariance
from rfdetect.errors import InputError
from test_bearing_signals import C, Emitter, band_noise, synth

FS, FC = 2.4e6, 868e6
UCA = uca(5, 0.35 * C / FC)


def _wrap(d):
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


def _noise_source_capture(rng, phase_deg, gain_db, n=8000):
    x, _ = synth(UCA.positions_m, FS, FC, [], n, rng)
    common = 3.0 * band_noise(rng, n, 2e6, FS)
    w = 10 ** (np.asarray(gain_db) / 20) * np.exp(1j * np.deg2rad(phase_deg))
    return x + w[:, None] * common[None, :]


def test_noise_source_calibration_recovers_phase_and_gain():
    rng = np.random.default_rng(31)
    ph, g = rng.uniform(-20, 20, 5), rng.uniform(-1, 1, 5)
    cal = calibrate_from_iq(_noise_source_capture(rng, ph, g), FS, FC, UCA)
    assert np.allclose(cal.phase_deg, _wrap(ph - ph[0]), atol=1.0)
    assert np.allclose(cal.gain_db, g - g[0], atol=0.2)
    assert cal.method == "noise-source"


def test_known_transmitter_calibration_brings_10_db_bearings_within_2_degrees(tmp_path):
    rng = np.random.default_rng(32)
    ph = rng.uniform(-20, 20, 5)
    x, tr = synth(UCA.positions_m, FS, FC, [Emitter(40, 300e3, 200e3, 0.5e-3, 2e-3, 20)], 8000, rng, phase_err_deg=ph)
    cal = calibrate_from_iq(x, FS, FC, UCA, bearing_deg=40, burst=tr[0])
    assert np.allclose(cal.phase_deg, _wrap(ph - ph[0]), atol=1.5)
    # stored with the sensor configuration and read back
    path = tmp_path / "site.toml"
    save_array(UCA.with_calibration(cal), path)
    calibrated = load_array(path)
    err_cal, err_raw = [], []
    for _ in range(15):
        b = rng.uniform(0, 360)
        x, tr = synth(UCA.positions_m, FS, FC, [Emitter(b, -300e3, 200e3, 0.5e-3, 1e-3, 10)], 6000, rng, phase_err_deg=ph)
        err_cal.append(_wrap(bearing_for_burst(x, FS, FC, tr[0], calibrated)["bearing_deg"] - b))
        raw = bearing_for_burst(x, FS, FC, tr[0], UCA, config=DoaConfig(max_mismatch=1.0))
        err_raw.append(_wrap(raw["bearing_deg"] - b))
    rms_cal = math.sqrt(np.mean(np.square(err_cal)))
    assert rms_cal < 2.0
    assert rms_cal < math.sqrt(np.mean(np.square(err_raw)))


def test_uncalibrated_phase_errors_widen_the_sigma_instead_of_lying():
    rng = np.random.default_rng(33)
    z = []
    for _ in range(40):
        ph = rng.uniform(-20, 20, 5)
        b = rng.uniform(0, 360)
        x, tr = synth(UCA.positions_m, FS, FC, [Emitter(b, 0, 200e3, 0, 1e-3, 10)], 3000, rng, phase_err_deg=ph)
        rec = bearing_for_burst(x, FS, FC, tr[0], UCA, config=DoaConfig(max_mismatch=1.0))
        z.append(_wrap(rec["bearing_deg"] - b) / rec["bearing_sigma_deg"])
    z = np.abs(np.array(z))
    # an error along the manifold's tangent biases the bearing without leaving a trace, so
    # the tail is heavier than Gaussian; the bulk must still be described by the sigma
    assert 0.45 < np.mean(z < 1) < 0.9
    assert np.mean(z < 3) >= 0.9


def test_a_reference_without_a_dominant_signal_is_refused():
    rng = np.random.default_rng(34)
    x, _ = synth(UCA.positions_m, FS, FC, [], 4000, rng)
    with pytest.raises(InputError, match="dominant coherent signal"):
        calibrate_from_iq(x, FS, FC, UCA)


@pytest.mark.parametrize("wiring, detectable", [([0, 1, 2, 3, 4], False), ([0, 2, 1, 3, 4], True),
                                                 ([1, 2, 3, 4, 0], True), ([3, 1, 2, 0, 4], True)])
def test_self_test_catches_a_wrong_antenna_order(wiring, detectable):
    rng = np.random.default_rng(35)
    ph = rng.uniform(-20, 20, 5)
    cal = calibrate_from_iq(_noise_source_capture(rng, ph, np.zeros(5)), FS, FC, UCA)
    # channel i is connected to antenna wiring[i]; the receivers' own phase errors stay per channel
    x, tr = synth(UCA.positions_m[wiring], FS, FC, [Emitter(100, 300e3, 200e3, 0.5e-3, 2e-3, 20)], 8000, rng,
                  phase_err_deg=ph)
    t = tr[0]
    gc = gated_covariance(x, FS, FC, t["sample_start"], t["sample_end"], t["f_lo_hz"], t["f_hi_hz"], UCA)
    rep = self_test(gc.r, UCA.with_calibration(cal), gc.freq_hz, bearing_deg=100.0)
    assert rep.order_ok is (not detectable), rep.message
    if detectable:
        # best_order[k] is the data channel carrying element k
        assert [wiring[c] for c in rep.best_order] == [0, 1, 2, 3, 4]
        assert "does not fit" in rep.message


def test_calibrate_checks_the_channel_count():
    with pytest.raises(InputError):
        calibrate(np.eye(4), UCA, FC)
