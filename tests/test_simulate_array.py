"""Coherent arrays: measured inter-channel phases match the geometry (DESIGN.md section 3 frame)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rfdetect.simulate import generate, simulate
from rfdetect.simulate.array import steering_vector
from rfdetect.simulate.channel import C_MPS
from rfdetect.sources import open_source


def _scn(array, az, el=0.0, errors=True):
    a = dict(array)
    if not errors:
        n = a.get("num_elements") or len(a["elements_m"])
        a["gain_errors_db"] = [0.0] * n
        a["phase_errors_deg"] = [0.0] * n
    return {"scenario": {"duration_s": 0.02, "seed": 1},
            "receiver": {"sample_rate": "2.4M", "center_freq": "868.0M", "noise_dbfs": -40},
            "array": a,
            "emitter": [{"id": "s", "link": "lorawan", "mode": "SF7BW125", "freq": "868.1M", "snr_db": 30,
                         "azimuth_deg": az, "elevation_deg": el, "phase_s": 0.001}]}


def measured_phases(x: np.ndarray, a) -> np.ndarray:
    seg = x[:, a.sample_start: a.sample_start + a.sample_count]
    return np.angle(seg @ np.conj(seg[0]))


@pytest.mark.parametrize("az", [0.0, 37.0, 130.0, 250.0])
def test_uca5_phases_match_geometry(az):
    arr = {"geometry": "uca", "num_elements": 5, "radius_m": 0.121}
    x, anns = generate(_scn(arr, az, errors=False), seed=1)
    assert x.shape[0] == 5
    a = anns[0]
    f = 868.1e6
    pos = np.array([[0.121 * math.sin(2 * math.pi * i / 5), 0.121 * math.cos(2 * math.pi * i / 5), 0] for i in range(5)])
    u = np.array([math.sin(math.radians(az)), math.cos(math.radians(az)), 0.0])
    expect = np.angle(np.exp(1j * 2 * np.pi * f * (pos - pos[0]) @ u / C_MPS))
    got = measured_phases(x, a)
    assert np.all(np.abs(np.angle(np.exp(1j * (got - expect)))) < np.radians(2.0)), (got, expect)


def test_ula_endfire_and_broadside_with_elevation():
    """ULA along x at half a wavelength: broadside (az 0) gives equal phases, az 90 gives pi per
    element, elevation 60 degrees halves the projection."""
    lam = C_MPS / 868.1e6
    arr = {"geometry": "ula", "num_elements": 4, "spacing_m": lam / 2}
    for az, el, step in ((0.0, 0.0, 0.0), (90.0, 0.0, np.pi), (90.0, 60.0, np.pi / 2)):
        x, anns = generate(_scn(arr, az, el, errors=False), seed=2)
        d = np.angle(np.exp(1j * np.diff(measured_phases(x, anns[0]))))
        assert np.allclose(np.abs(d), abs(step), atol=np.radians(2.0)), (az, el, d)


def test_channel_errors_and_truth_written(tmp_path):
    arr = {"geometry": "custom", "elements_m": [[0.0, 0.121, 0.0], [0.115, 0.037, 0.0], [0.071, -0.098, 0.0],
                                                [-0.071, -0.098, 0.0], [-0.115, 0.037, 0.0]],
           "gain_errors_db": [0, 1.0, -0.5, 0.2, 0], "phase_errors_deg": [0, 10, -20, 5, 30], "heading_deg": 15.0}
    out = simulate(_scn(arr, 100.0), tmp_path / "a.h5", seed=3)
    with open_source(out) as s:
        info = s.info
        x = np.concatenate([b.samples for b in s.blocks(1 << 16)], axis=1)
    assert info.num_channels == 5 and info.sensor.heading_deg == 15.0
    arr_w = info.array
    assert arr_w["elements_m"][1] == [0.115, 0.037, 0.0]
    assert arr_w["truth"]["phase_errors_deg"] == [0, 10, -20, 5, 30]
    assert arr_w["truth"]["emitters"][0]["azimuth_deg"] == 100.0
    a = info.annotations[0]
    sv = steering_vector(arr["elements_m"], 100.0, 0.0, 868.1e6, 15.0)
    expect = np.angle(sv * np.exp(1j * np.radians(arr["phase_errors_deg"])) / sv[0])
    got = measured_phases(x, a)
    assert np.all(np.abs(np.angle(np.exp(1j * (got - expect)))) < np.radians(2.0))
    seg = x[:, a.sample_start: a.sample_start + a.sample_count]
    p = np.mean(np.abs(seg) ** 2, axis=1)
    assert abs(10 * np.log10(p[1] / p[0]) - 1.0) < 0.3
