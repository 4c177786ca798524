"""`rfdetect calibrate` on simulated captures of a 5-element array whose channels carry
phase errors up to 20 degrees: the calibration is measured, stored with the array,
used by analyze, and a wrong antenna order is caught."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rfdetect.bearing import load_array
from rfdetect.cli import main
from rfdetect.model import SensorPosition
from rfdetect.simulate import simulate
from rfdetect.sources import open_source
from rfdetect.sources.hdf5 import HDF5Writer

RATE, FC = 1.2e6, 868.2e6
ELEMENTS = [[0.0, 0.1209, 0.0], [0.115, 0.03736, 0.0], [0.07106, -0.09781, 0.0],
            [-0.07106, -0.09781, 0.0], [-0.115, 0.03736, 0.0]]
PHASE_ERRORS_DEG = [0.0, 17.0, -19.5, 11.0, -8.0]
GAIN_ERRORS_DB = [0.0, 0.5, -0.7, 0.3, -0.2]


@pytest.fixture(autouse=True)
def calibrate_command(monkeypatch):
    """The command as the entry point lists it (added here while the list lacks it)."""
    from rfdetect.cli import COMMANDS
    monkeypatch.setitem(COMMANDS, "calibrate", "calibrate")


def scenario(emitters, seed):
    return {"scenario": {"name": "cal", "duration_s": 0.4, "seed": seed},
            "receiver": {"sample_rate": RATE, "center_freq": FC, "noise_dbfs": -30.0},
            "array": {"name": "uca-5", "elements_m": ELEMENTS, "heading_deg": 0.0,
                      "gain_errors_db": GAIN_ERRORS_DB, "phase_errors_deg": PHASE_ERRORS_DEG},
            "sensor": {"lat": 52.0, "lon": 4.0, "alt_m": 10.0},
            "emitter": emitters}


def lorawan(freq, azimuth, snr=18.0, interval=0.07):
    return {"id": f"n{azimuth}", "link": "lorawan", "mode": "SF7BW125", "freq": freq, "interval_s": interval,
            "snr_db": snr, "azimuth_deg": azimuth}


def permute(path, order):
    """Rewrite a recording with its channels in another order (a cabling mistake)."""
    with open_source(path) as src:
        x = np.concatenate([b.samples for b in src.blocks()], axis=1)
        info = src.info
    with HDF5Writer(path, info.sample_rate_hz, info.center_freq_hz, num_channels=x.shape[0],
                    sensor=info.sensor, array=info.array, overwrite=True) as w:
        w.append(x[list(order)])


def array_file(path, elements=ELEMENTS):
    path.write_text(f'[array]\nname = "uca-5"\nelements_m = {json.dumps(elements)}\nheading_deg = 0.0\n'
                    '[sensor]\nlat = 52.0\nlon = 4.0\nalt_m = 10.0\n')
    return path


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    d = tmp_path_factory.mktemp("cal")
    paths = {
        # a beacon at a known bearing, and a second emitter elsewhere in the band
        "beacon": simulate(scenario([lorawan(868.1e6, 135.0), lorawan(868.5e6, 250.0, snr=15.0, interval=0.09)],
                                    11), d / "beacon.h5"),
        "field": simulate(scenario([lorawan(868.3e6, 60.0), lorawan(867.9e6, 300.0, interval=0.09)], 12),
                          d / "field.h5"),
    }
    return {k: str(v) for k, v in paths.items()}


def _wrap(d):
    return (d + 180.0) % 360.0 - 180.0


def _calibrate(capsys, *args):
    rc = main(["calibrate", *map(str, args)])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return rc, (lines[-1] if lines else None), err


def test_transmitter_calibration_is_measured_stored_and_used(captures, tmp_path, capsys):
    toml = array_file(tmp_path / "array.toml")
    rc, rec, err = _calibrate(capsys, captures["beacon"], "--array", toml, "--bearing", 135, "--test",
                              captures["field"])
    assert rc == 0, err
    assert rec["method"] == "transmitter@135deg" and rec["written_to"] == str(toml)
    # the simulated receivers' errors, measured (channel 0 is the reference)
    assert np.max(np.abs(_wrap(np.array(rec["phase_deg"]) - PHASE_ERRORS_DEG))) < 2.0, rec["phase_deg"]
    assert np.max(np.abs(np.array(rec["gain_db"]) - GAIN_ERRORS_DB)) < 0.5, rec["gain_db"]
    assert rec["self_test"] and all(t["order_ok"] for t in rec["self_test"])
    stored = load_array(toml)
    assert stored.calibration is not None and stored.calibration.method == "transmitter@135deg"
    assert stored.sensor.lat == 52.0 and stored.num_elements == 5
    # analyze uses the stored calibration: bearings of the other capture within 1.5 degrees
    out = tmp_path / "field.jsonl"
    assert main(["analyze", captures["field"], "--array", str(toml), "--out", str(out), "--quiet",
                 "--progress", "off"]) == 0
    bearings = [json.loads(l) for l in out.read_text().splitlines() if '"bearing"' in l]
    usable = [b for b in bearings if b["usable"]]
    assert usable
    for b in usable:
        assert min(abs(_wrap(b["bearing_deg"] - t)) for t in (60.0, 300.0)) < 1.5, b
    # without the calibration the same capture reads several degrees off
    out2 = tmp_path / "raw.jsonl"
    assert main(["analyze", captures["field"], "--array", str(array_file(tmp_path / "raw.toml")), "--out",
                 str(out2), "--quiet", "--progress", "off"]) == 0
    raw = [json.loads(l) for l in out2.read_text().splitlines() if '"bearing"' in l]
    raw_err = max(min(abs(_wrap(b["bearing_deg"] - t)) for t in (60.0, 300.0)) for b in raw if b["usable"])
    cal_err = max(min(abs(_wrap(b["bearing_deg"] - t)) for t in (60.0, 300.0)) for b in usable)
    assert raw_err > 2 * cal_err


def test_noise_source_calibration(tmp_path, capsys):
    """A noise source through a splitter: every channel sees the same wideband noise."""
    rng = np.random.default_rng(3)
    n = 200_000
    common = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * 0.1
    err = 10 ** (np.array(GAIN_ERRORS_DB) / 20) * np.exp(1j * np.deg2rad(PHASE_ERRORS_DEG))
    x = err[:, None] * common[None, :] + 0.01 * (rng.standard_normal((5, n)) + 1j * rng.standard_normal((5, n)))
    path = tmp_path / "noise.h5"
    with HDF5Writer(path, RATE, FC, num_channels=5, sensor=SensorPosition(52.0, 4.0, 10.0, 0.0)) as w:
        w.append(x.astype(np.complex64))
    toml = array_file(tmp_path / "array.toml")
    out = tmp_path / "calibrated.toml"
    rc, rec, err_text = _calibrate(capsys, path, "--array", toml, "--out", out)
    assert rc == 0, err_text
    assert rec["method"] == "noise-source" and rec["written_to"] == str(out)
    assert np.max(np.abs(_wrap(np.array(rec["phase_deg"]) - PHASE_ERRORS_DEG))) < 0.5
    assert np.max(np.abs(np.array(rec["gain_db"]) - GAIN_ERRORS_DB)) < 0.1
    assert "antenna order not verified" in err_text          # nothing from another direction in it
    assert load_array(out).calibration.method == "noise-source"
    assert load_array(toml).calibration is None               # --out leaves the original alone


def test_wrong_antenna_order_fails_the_self_test(captures, tmp_path, capsys):
    """Elements 1 and 2 cabled to each other's channel: the calibration at 135 degrees hides
    the swap there, a burst from another direction shows it."""
    import shutil
    beacon, field = tmp_path / "beacon.h5", tmp_path / "field.h5"
    shutil.copy(captures["beacon"], beacon)
    shutil.copy(captures["field"], field)
    for p in (beacon, field):
        permute(p, [0, 2, 1, 3, 4])
    toml = array_file(tmp_path / "array.toml")
    before = toml.read_text()
    rc, rec, err = _calibrate(capsys, beacon, "--array", toml, "--bearing", 135, "--test", field)
    assert rc == 5
    assert rec["written_to"] is None and toml.read_text() == before
    assert not rec["self_test"][0]["order_ok"]
    assert rec["self_test"][0]["best_fit"] > rec["self_test"][0]["fit"]
    assert "self-test failed" in err and "antenna order does not fit" in err


@pytest.mark.parametrize("case", ["no-geometry", "count-mismatch", "single-channel", "no-array-no-out"])
def test_bad_input_is_one_clear_line(case, captures, tmp_path, capsys):
    toml = tmp_path / "array.toml"
    ref = captures["beacon"]
    args = ["--array", toml, "--bearing", 135]
    if case == "no-geometry":
        toml.write_text('[array]\nname = "x"\n[sensor]\nlat = 52.0\nlon = 4.0\n')
        want = "no geometry"
    elif case == "count-mismatch":
        array_file(toml, ELEMENTS[:3])
        want = "3 elements"
    elif case == "single-channel":
        array_file(toml)
        ref = tmp_path / "one.h5"
        with HDF5Writer(ref, RATE, FC) as w:
            w.append(np.zeros(50_000, np.complex64))
        want = "single-channel"
    else:
        args = ["--bearing", 135]
        want = "--out"
    rc = main(["calibrate", str(ref), *map(str, args)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and want in err[0], err
