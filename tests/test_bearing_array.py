"""Array descriptions: loading, validation, steering-vector convention, TOML round trip."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rfdetect.bearing.array import (ArrayGeometry, Calibration, linear_axis_deg, load_array, save_array,
                                    steering_derivative, steering_vectors, uca, ula)
from rfdetect.errors import InputError, ParameterError
from test_bearing_signals import element_phases

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "recordings" / "arrays" / "uca5_868.toml"


def test_example_file_loads_as_a_uca_of_035_wavelength():
    a = load_array(EXAMPLE)
    assert a.num_elements == 5
    assert a.sensor.lat == 52.0 and a.sensor.lon == 4.0 and a.sensor.alt_m == 10.0
    radius = np.linalg.norm(a.positions_m[:, :2], axis=1)
    assert np.allclose(radius, 0.35 * 299_792_458.0 / 868e6, atol=1e-3)


@pytest.mark.parametrize("text, key", [
    ("[sensor]\nlat = 1.0\nlon = 2.0\n", "array"),
    ("[array]\nname = 'x'\n", "array.elements_m"),
    ("[array]\nelements_m = [[0.0, 0.0, 0.0]]\n", "array.elements_m"),
    ("[array]\nelements_m = [[0.0, 0.0, 0.0], [0.1, 'a', 0.0]]\n", "array.elements_m[1]"),
    ("[array]\nelements_m = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]\n", "array.elements_m"),
    ("[array]\nelements_m = [[0.0, 0.0], [0.1, 0.0]]\nheading_deg = 'north'\n", "array.heading_deg"),
    ("[array]\nelements_m = [[0.0, 0.0], [0.1, 0.0]]\n[sensor]\nlat = 52.0\n", "sensor"),
    ("[array]\nelements_m = [[0.0, 0.0], [0.1, 0.0]]\n[sensor]\nlat = 152.0\nlon = 4.0\n", "sensor.lat"),
    ("[array]\nelements_m = [[0.0, 0.0], [120.0, 0.0]]\n", "array.elements_m[1]"),
    ("[array\nelements_m = 1\n", None),
])
def test_bad_array_files_give_errors_naming_file_and_key(tmp_path, text, key):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_array(p)
    assert str(p) in str(e.value)
    if key is not None:
        assert e.value.param == key


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_array(tmp_path / "nope.toml")


def test_channel_count_mismatch_is_an_input_error():
    a = load_array(EXAMPLE)
    with pytest.raises(InputError, match="5 elements but the data has 4 channels"):
        a.check_channels(4)


@pytest.mark.parametrize("heading", [0.0, 37.0, -120.0])
@pytest.mark.parametrize("bearing", [0.0, 45.0, 200.0, 359.0])
def test_steering_vectors_follow_the_design_convention(heading, bearing):
    a = uca(5, 0.12, heading_deg=heading)
    got = steering_vectors(a, 868e6, [bearing])[:, 0]
    want = element_phases(a.positions_m, heading, 868e6, bearing)
    assert np.allclose(got, want, atol=1e-12)


def test_steering_derivative_matches_finite_difference():
    a = uca(5, 0.12, heading_deg=20.0)
    h = 1e-5
    fd = (steering_vectors(a, 868e6, [33.0 + h]) - steering_vectors(a, 868e6, [33.0 - h])) / (2 * math.radians(h))
    assert np.allclose(steering_derivative(a, 868e6, [33.0]), fd, atol=1e-6)


def test_bad_frequency_is_a_parameter_error():
    with pytest.raises(ParameterError):
        steering_vectors(uca(5, 0.1), 0.0, [0.0])


def test_toml_round_trip_keeps_geometry_sensor_and_calibration(tmp_path):
    a = load_array(EXAMPLE).with_calibration(
        Calibration((0.0, 10.5, -3.0, 7.25, 1.0), (0.0, 0.5, -0.25, 0.0, 1.0), 868e6, "noise-source"))
    p = tmp_path / "cal.toml"
    save_array(a, p)
    b = load_array(p)
    assert b.elements_m == a.elements_m and b.sensor == a.sensor and b.calibration == a.calibration


def test_calibration_with_wrong_length_is_rejected(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[array]\nelements_m = [[0.0, 0.0], [0.1, 0.0]]\n[calibration]\nphase_deg = [0.0]\n")
    with pytest.raises(InputError) as e:
        load_array(p)
    assert e.value.param == "calibration.phase_deg"


def test_linear_axis_is_found_only_for_collinear_arrays():
    assert linear_axis_deg(ula(4, 0.1, axis_deg=30.0)) == pytest.approx(30.0)
    assert linear_axis_deg(uca(5, 0.1)) is None
    assert isinstance(ula(3, 0.1), ArrayGeometry)


def test_array_for_recording_uses_metadata_or_file_and_checks_channels(tmp_path):
    from rfdetect.bearing.array import array_for_recording
    from rfdetect.model import RecordingInfo, SensorPosition
    geo = {"name": "uca-5", "elements_m": [list(e) for e in load_array(EXAMPLE).elements_m], "heading_deg": 10.0}
    info = RecordingInfo("rec.h5", 2.4e6, 868e6, num_channels=5, sensor=SensorPosition(51.0, 5.0, 3.0, 10.0),
                         array=geo)
    a = array_for_recording(info)
    assert a.num_elements == 5 and a.sensor.lat == 51.0 and a.heading_deg == 10.0
    assert array_for_recording(info, EXAMPLE).sensor.lat == 52.0
    with pytest.raises(InputError, match="no antenna array geometry"):
        array_for_recording(RecordingInfo("rec.h5", 2.4e6, 868e6, num_channels=5))
    with pytest.raises(InputError, match="5 elements but the recording rec.h5 has 3 channels"):
        array_for_recording(RecordingInfo("rec.h5", 2.4e6, 868e6, num_channels=3, array=geo))
    with pytest.raises(InputError, match="no geometry"):
        array_for_recording(RecordingInfo("rec.h5", 2.4e6, 868e6, num_channels=5, array={"name": "x"}))
