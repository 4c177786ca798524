"""Single-dongle amplitude-comparison DF from a heading sweep."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rfdetect.bearing.amplitude import AntennaPattern, amplitude_bearing, interpolate_heading, load_heading_log
from rfdetect.bearing.records import bearing_record
from rfdetect.errors import InputError, ParameterError

PAT = AntennaPattern(60.0, 15.0)


def _sweep(rng, bearing, span=180.0, n=40, noise_db=2.0, start_offset=-90.0):
    lt = np.linspace(0, 20, 41)
    lh = (bearing + start_offset + lt * span / 20) % 360
    dt = np.sort(rng.uniform(0, 20, n))
    hh = interpolate_heading(lt, lh, dt)
    p = -50 + PAT.gain_db(hh - bearing) + rng.normal(0, noise_db, n)
    return lt, lh, dt, p


def test_heading_interpolation_takes_the_short_way_round():
    h = interpolate_heading([0, 1], [350, 10], [0.5, 2.0])
    assert h[0] == pytest.approx(0.0, abs=1e-9) and np.isnan(h[1])


def test_sweep_gives_an_honest_bearing():
    rng = np.random.default_rng(41)
    z, err = [], []
    for _ in range(150):
        b = rng.uniform(0, 360)
        res = amplitude_bearing(*_sweep(rng, b), pattern=PAT)
        assert res.usable
        e = (res.bearings_deg[0] - b + 180) % 360 - 180
        err.append(e)
        z.append(e / res.sigmas_deg[0])
    assert math.sqrt(np.mean(np.square(err))) < 3.0
    # about 68 % inside 1 sigma when the sigma is honest
    assert 0.55 < np.mean(np.abs(z) < 1) < 0.8


def test_sweep_that_misses_the_maximum_gives_no_bearing():
    rng = np.random.default_rng(42)
    res = amplitude_bearing(*_sweep(rng, 100.0, span=60.0, start_offset=-100.0), pattern=PAT)
    assert not res.usable and "both sides" in res.reason
    rec = bearing_record(res, link="dji-ocusync")
    assert rec["bearing_deg"] is None and rec["method"] == "amplitude" and rec["sensor"]["lat"] is None


def test_too_few_detections_give_no_bearing():
    rng = np.random.default_rng(43)
    lt, lh, dt, p = _sweep(rng, 10.0, n=3)
    assert not amplitude_bearing(lt, lh, dt, p).usable


def test_heading_log_csv(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("time_utc,heading_deg\n2026-01-01T00:00:00Z,10\n2026-01-01T00:00:02Z,370.5\n")
    t, h = load_heading_log(p, t0_utc="2025-12-31T23:59:59Z")
    assert list(t) == [1.0, 3.0] and list(h) == [10.0, 10.5]
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,heading_deg\n0,10\n1,north\n")
    with pytest.raises(InputError, match="line 3"):
        load_heading_log(bad)


def test_bad_pattern_is_a_parameter_error():
    with pytest.raises(ParameterError):
        AntennaPattern(beamwidth_deg=0.0)
