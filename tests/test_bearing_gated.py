"""Burst-gated DF: one bearing per burst, neighbours on other channels ignored, bad input caught."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rfdetect.bearing.array import uca
from rfdetect.bearing.doa import DoaConfig
from rfdetect.bearing.gated import bearing_for_burst, combine_bearings, gated_covariance
from rfdetect.errors import InputError, ParameterError
from rfdetect.model import Burst, SensorPosition
from test_bearing_signals import C, Emitter, synth

FS, FC = 2.4e6, 868e6
UCA = uca(5, 0.35 * C / FC, sensor=SensorPosition(52.0, 4.0, 10.0))


def _wrap(d):
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


@pytest.mark.parametrize("method", ["music", "capon", "bartlett"])
def test_two_emitters_20_degrees_apart_on_different_hop_channels_are_both_resolved(method):
    rng = np.random.default_rng(21)
    for _ in range(6):
        b = rng.uniform(0, 360)
        # overlapping in time; the neighbour is 20 dB stronger
        ems = [Emitter(b, -400e3, 200e3, 0.2e-3, 1.5e-3, 10.0), Emitter(b + 20, 300e3, 200e3, 0.0, 2e-3, 30.0)]
        x, tr = synth(UCA.positions_m, FS, FC, ems, 6000, rng)
        weak = bearing_for_burst(x, FS, FC, tr[0], UCA, method)
        strong = bearing_for_burst(x, FS, FC, tr[1], UCA, method)
        assert abs(_wrap(weak["bearing_deg"] - b)) < 2.0
        assert abs(_wrap(strong["bearing_deg"] - b - 20)) < 1.0
        assert weak["num_sources"] == 1


def test_without_gating_the_strong_neighbour_pulls_the_bearing():
    rng = np.random.default_rng(22)
    ems = [Emitter(100, -400e3, 200e3, 0.2e-3, 1.5e-3, 10.0), Emitter(120, 300e3, 200e3, 0.0, 2e-3, 30.0)]
    x, tr = synth(UCA.positions_m, FS, FC, ems, 6000, rng)
    whole = bearing_for_burst(x, FS, FC, (0, 6000, FC - 1.2e6, FC + 1.2e6), UCA,
                              config=DoaConfig(num_sources=1))
    assert abs(_wrap(whole["bearing_deg"] - 100)) > 10.0
    assert abs(_wrap(bearing_for_burst(x, FS, FC, tr[0], UCA)["bearing_deg"] - 100)) < 2.0


def test_burst_object_and_block_offset_are_honoured():
    rng = np.random.default_rng(23)
    x, tr = synth(UCA.positions_m, FS, FC, [Emitter(250, 500e3, 150e3, 1e-3, 1e-3, 10.0)], 8000, rng)
    t = tr[0]
    burst = Burst(t["sample_start"] + 10_000, t["sample_end"] + 10_000, 0, 0, t["f_lo_hz"], t["f_hi_hz"],
                  10.0, -30.0, 0.5 * (t["f_lo_hz"] + t["f_hi_hz"]))
    rec = bearing_for_burst(x, FS, FC, burst, UCA, link="elrs-868", sample_index0=10_000)
    assert abs(_wrap(rec["bearing_deg"] - 250)) < 2.0
    # samples not in the block (a gap, or a wrong offset): unusable, and the reason says where
    rec = bearing_for_burst(x, FS, FC, burst, UCA)
    assert rec["usable"] is False and rec["bearing_deg"] is None and "not in the IQ given" in rec["reason"]
    # a burst cut by a gap keeps a bearing from the part that remains, when that is most of it
    rest = x[:, t["sample_start"] + 50:]
    rec = bearing_for_burst(rest, FS, FC, burst, UCA, sample_index0=10_000 + t["sample_start"] + 50)
    assert rec["usable"] and abs(_wrap(rec["bearing_deg"] - 250)) < 2.0
    with pytest.raises(InputError, match="outside the IQ block"):
        gated_covariance(x, FS, FC, burst.sample_start, burst.sample_end, burst.f_lo_hz, burst.f_hi_hz, UCA)


def test_bearing_record_fields_follow_the_contract():
    rng = np.random.default_rng(24)
    x, tr = synth(UCA.positions_m, FS, FC, [Emitter(33, 0, 200e3, 0, 2e-3, 10.0)], 6000, rng)
    rec = bearing_for_burst(x, FS, FC, tr[0], UCA, link="crossfire-868")
    json.dumps(rec)
    assert rec["type"] == "bearing" and rec["schema"] == 1 and rec["link"] == "crossfire-868"
    assert rec["method"] == "music" and rec["num_sources"] == 1 and rec["usable"] is True
    assert rec["sensor"] == {"lat": 52.0, "lon": 4.0, "alt_m": 10.0, "heading_deg": 0.0}
    assert 0 < rec["bearing_sigma_deg"] < 2 and 0.9 < rec["confidence"] <= 1.0
    assert 0 <= rec["bearing_deg"] < 360


def test_heading_rotates_the_reported_bearing():
    rng = np.random.default_rng(25)
    turned = uca(5, 0.35 * C / FC, heading_deg=30.0)
    # in the array's frame the source is at 40 deg; true north bearing is 70 deg
    x, tr = synth(turned.positions_m, FS, FC, [Emitter(70, 0, 200e3, 0, 2e-3, 15.0)], 6000, rng, heading_deg=30.0)
    assert abs(_wrap(bearing_for_burst(x, FS, FC, tr[0], turned)["bearing_deg"] - 70)) < 1.0


@pytest.mark.parametrize("offset_hz", [100.0, 500.0, 5000.0])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_incoherent_channels_give_an_unusable_bearing_not_a_number(offset_hz, snr_db):
    rng = np.random.default_rng(int(offset_hz + snr_db))
    x, tr = synth(UCA.positions_m, FS, FC, [Emitter(70, 300e3, 200e3, 0.5e-3, 1e-3, snr_db)], 6000, rng,
                  incoherent_hz=offset_hz)
    rec = bearing_for_burst(x, FS, FC, tr[0], UCA)
    assert rec["usable"] is False and rec["bearing_deg"] is None and rec["confidence"] == 0
    assert "coherent" in rec["reason"]


def test_partially_coherent_bursts_are_almost_never_given_a_bearing():
    rng = np.random.default_rng(40)
    usable = 0
    for _ in range(60):
        x, tr = synth(UCA.positions_m, FS, FC, [Emitter(rng.uniform(0, 360), 300e3, 200e3, 0.5e-3, 1e-3,
                                                        rng.uniform(0, 20))], 6000, rng,
                      incoherent_hz=rng.choice([100.0, 200.0, 500.0]))
        usable += bearing_for_burst(x, FS, FC, tr[0], UCA)["usable"]
    assert usable <= 2


def test_static_random_channel_phases_rarely_pass_and_then_with_a_wide_sigma():
    # a shared clock without phase synchronisation: rank one, but not this array's plane wave
    rng = np.random.default_rng(41)
    passed = []
    for _ in range(60):
        x, tr = synth(UCA.positions_m, FS, FC, [Emitter(rng.uniform(0, 360), 300e3, 200e3, 0.5e-3, 1e-3, 15.0)],
                      6000, rng, phase_err_deg=rng.uniform(-180, 180, 5))
        rec = bearing_for_burst(x, FS, FC, tr[0], UCA)
        if rec["usable"]:
            passed.append(rec["bearing_sigma_deg"])
    assert len(passed) <= 4
    assert all(s > 2.0 for s in passed)


def test_channel_count_mismatch_with_the_data_is_an_input_error():
    rng = np.random.default_rng(26)
    x, tr = synth(UCA.positions_m[:4], FS, FC, [Emitter(70, 0, 200e3, 0, 1e-3, 10.0)], 3000, rng)
    with pytest.raises(InputError, match="5 elements but the data has 4 channels"):
        bearing_for_burst(x, FS, FC, tr[0], UCA)


def test_bad_bursts_are_parameter_errors():
    x = np.zeros((5, 100), np.complex64)
    with pytest.raises(ParameterError):
        bearing_for_burst(x, FS, FC, (0, 50, FC + 1, FC), UCA)
    with pytest.raises(ParameterError):
        bearing_for_burst(x, FS, FC, {"sample_start": 0}, UCA)


def test_all_zero_samples_are_unusable():
    x = np.zeros((5, 2000), np.complex64)
    rec = bearing_for_burst(x, FS, FC, (0, 2000, FC - 1e5, FC + 1e5), UCA)
    assert rec["usable"] is False and rec["bearing_deg"] is None


def test_snapshots_are_the_time_bandwidth_product():
    rng = np.random.default_rng(27)
    x, tr = synth(UCA.positions_m, FS, FC, [Emitter(10, 0, 300e3, 0, 2e-3, 10.0)], 6000, rng)
    t = tr[0]
    gc = gated_covariance(x, FS, FC, t["sample_start"], t["sample_end"], t["f_lo_hz"], t["f_hi_hz"], UCA)
    assert gc.snapshots == pytest.approx(300e3 * 2e-3, rel=0.1)
    assert gc.noise_power is not None


def test_track_bearings_combine_by_inverse_variance_and_reject_outliers():
    rng = np.random.default_rng(28)
    truth = 359.5
    b = truth + rng.normal(0, 1.0, 40)
    b[3] = 200.0                        # a reflection
    out = combine_bearings(b % 360, np.full(40, 1.0))
    assert out["bursts_rejected"] == 1 and out["bursts_used"] == 39
    assert abs(_wrap(out["bearing_deg"] - truth)) < 3 * out["bearing_sigma_deg"]
    assert out["bearing_sigma_deg"] == pytest.approx(1 / np.sqrt(39), rel=0.35)
    # scatter larger than promised: the combined sigma grows accordingly
    wide = combine_bearings(truth + rng.normal(0, 5.0, 40), np.full(40, 1.0))
    assert wide["bearing_sigma_deg"] > 0.5
    assert combine_bearings([], [])["bearing_deg"] is None
    # two emitters under one track: one of their bearings, or none, never the mean between them
    two = combine_bearings(np.r_[60 + rng.normal(0, 0.5, 12), 200 + rng.normal(0, 0.5, 4)], np.full(16, 0.5))
    assert abs(_wrap(two["bearing_deg"] - 60)) < 1 and two["bursts_rejected"] == 4
    split = combine_bearings(np.r_[60 + rng.normal(0, 0.5, 8), 200 + rng.normal(0, 0.5, 8)], np.full(16, 0.5))
    assert split["bearing_deg"] is None and "different directions" in split["reason"]


def test_a_common_heading_error_does_not_average_out():
    rng = np.random.default_rng(29)
    s = np.hypot(0.3, 2.0)                     # 0.3 deg per burst, 2 deg heading uncertainty
    out = combine_bearings(50 + rng.normal(0, 0.3, 100), np.full(100, s), common_sigma_deg=2.0)
    assert out["bearing_sigma_deg"] == pytest.approx(2.0, abs=0.05)


def test_heading_sigma_from_the_array_file_widens_every_bearing(tmp_path):
    from rfdetect.bearing.array import load_array
    p = tmp_path / "a.toml"
    el = ", ".join(f"[{x:.5f}, {y:.5f}, 0.0]" for x, y, _ in UCA.positions_m)
    p.write_text(f"[array]\nelements_m = [{el}]\nheading_sigma_deg = 2.0\n")
    arr = load_array(p)
    rng = np.random.default_rng(30)
    x, tr = synth(UCA.positions_m, FS, FC, [Emitter(33, 0, 200e3, 0, 2e-3, 20.0)], 6000, rng)
    assert bearing_for_burst(x, FS, FC, tr[0], arr)["bearing_sigma_deg"] == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("length", [1, 10])
def test_very_short_bursts_are_unusable_not_a_crash(length):
    rng = np.random.default_rng(42)
    x, _ = synth(UCA.positions_m, FS, FC, [Emitter(80, 0, 200e3, 0, 1e-3, 20.0)], 3000, rng)
    rec = bearing_for_burst(x, FS, FC, (100, 100 + length, FC - 1e5, FC + 1e5), UCA)
    assert rec["type"] == "bearing" and rec["usable"] is False and "too short" in rec["reason"]


def test_a_short_strong_burst_still_gets_an_honest_bearing():
    rng = np.random.default_rng(44)
    z = []
    for _ in range(20):
        b = rng.uniform(0, 360)
        x, _ = synth(UCA.positions_m, FS, FC, [Emitter(b, 0, 200e3, 0, 1e-3, 20.0)], 3000, rng)
        rec = bearing_for_burst(x, FS, FC, (100, 200, FC - 1e5, FC + 1e5), UCA)   # 8 snapshots
        if rec["usable"]:
            z.append(_wrap(rec["bearing_deg"] - b) / rec["bearing_sigma_deg"])
    assert len(z) >= 15 and np.mean(np.abs(z) < 3) >= 0.9


def test_nan_samples_give_an_unusable_bearing():
    rng = np.random.default_rng(43)
    x, tr = synth(UCA.positions_m, FS, FC, [Emitter(80, 0, 200e3, 0, 1e-3, 20.0)], 3000, rng)
    x[2, 500] = np.nan
    rec = bearing_for_burst(x, FS, FC, tr[0], UCA)
    assert rec["usable"] is False and "NaN" in rec["reason"]


def test_a_burst_box_holding_only_noise_is_unusable():
    rng = np.random.default_rng(45)
    x, _ = synth(UCA.positions_m, FS, FC, [], 6000, rng)
    rec = bearing_for_burst(x, FS, FC, (1000, 4000, FC + 2e5, FC + 4e5), UCA)
    assert rec["usable"] is False and rec["bearing_deg"] is None
