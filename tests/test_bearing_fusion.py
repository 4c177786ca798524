"""Triangulation: accuracy, calibrated 1-sigma ellipses, and no wild points."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rfdetect.bearing.fusion import SensorBearing, enu_to_geodetic, geodetic_to_enu, triangulate
from rfdetect.bearing.records import fix_record


def great_circle_bearing(lat1, lon1, lat2, lon2):
    """Initial bearing on a sphere (independent of the module's ellipsoidal frame)."""
    f1, f2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    return math.degrees(math.atan2(math.sin(dl) * math.cos(f2),
                                   math.cos(f1) * math.sin(f2) - math.sin(f1) * math.cos(f2) * math.cos(dl))) % 360


S1, S2 = (52.0, 4.0), (52.0, 4.15)
TARGET = (52.06, 4.08)


def test_enu_round_trip():
    e, n = geodetic_to_enu(52.06, 4.08, 52.0, 4.05)
    lat, lon = enu_to_geodetic(e, n, 52.0, 4.05)
    assert lat == pytest.approx(52.06, abs=1e-6) and lon == pytest.approx(4.08, abs=1e-6)  # 0.1 m


def test_noise_free_bearings_fix_the_target():
    bs = [SensorBearing(*s, great_circle_bearing(*s, *TARGET), 1.0, f"s{i}") for i, s in enumerate((S1, S2))]
    fix = triangulate(bs)
    e, n = geodetic_to_enu(fix.lat, fix.lon, *TARGET)
    # sphere vs ellipsoid azimuths differ by < 0.1 deg: well inside the 1-deg ellipse
    assert math.hypot(e, n) < 0.2 * fix.semi_minor_m
    assert fix.sensors == ("s0", "s1")
    rec = fix_record(fix, link="elrs-868")
    json.dumps(rec)
    assert rec["type"] == "fix" and rec["schema"] == 1 and rec["semi_major_m"] >= rec["semi_minor_m"] > 0
    assert 0 <= rec["orientation_deg"] < 180 and rec["sensors"] == ["s0", "s1"]


def test_one_sigma_ellipse_contains_the_truth_about_39_percent_of_the_time():
    rng = np.random.default_rng(51)
    truth = [great_circle_bearing(*s, *TARGET) for s in (S1, S2)]
    sig = (1.0, 2.0)
    inside = 0
    n = 600
    for _ in range(n):
        bs = [SensorBearing(*s, t + rng.normal(0, sd), sd) for s, t, sd in zip((S1, S2), truth, sig)]
        fix = triangulate(bs)
        inside += fix.contains(*TARGET)
    # 1 - exp(-1/2) = 0.393; binomial 3-sigma for n = 600 is +-0.06
    assert 0.33 < inside / n < 0.46


def test_near_parallel_bearings_give_no_fix_never_a_wild_point():
    assert triangulate([SensorBearing(52, 4, 0.0, 1.0), SensorBearing(52, 4.1, 0.5, 1.0)]) is None
    # crossing at 5 deg with 2-deg sigmas: within the noise, no fix
    assert triangulate([SensorBearing(52, 4, 10.0, 2.0), SensorBearing(52, 4.01, 5.0, 2.0)]) is None
    # crossing at 8 deg, far away: a wide ellipse, or no fix when wider than the limit
    pair = [SensorBearing(52, 4, 10.0, 1.0), SensorBearing(52, 4.01, 2.0, 1.0)]
    wide = triangulate(pair)
    assert wide is not None and wide.semi_major_m > 500 > wide.semi_minor_m
    assert triangulate(pair, max_semi_major_m=500) is None


def test_lines_crossing_behind_the_sensors_give_no_fix():
    # both point away from each other: they cross only behind
    assert triangulate([SensorBearing(52, 4, 270.0, 1.0), SensorBearing(52, 4.1, 90.0, 1.0)]) is None


def test_missing_position_is_left_out_not_put_at_zero():
    truth = [great_circle_bearing(*s, *TARGET) for s in (S1, S2)]
    only_one = [SensorBearing(None, None, truth[0], 1.0), SensorBearing(*S2, truth[1], 1.0)]
    assert triangulate(only_one) is None
    three = only_one + [SensorBearing(*S1, truth[0], 1.0)]
    fix = triangulate(three)
    assert fix is not None and len(fix.sensors) == 2
    assert SensorBearing.from_record({"bearing_deg": 10.0, "bearing_sigma_deg": 1.0,
                                      "sensor": {"lat": None, "lon": None}}).usable is False
    assert triangulate([SensorBearing(*S1, None, None), SensorBearing(*S2, truth[1], 1.0)]) is None


def test_three_sensors_shrink_the_ellipse():
    s3 = (51.95, 4.08)
    truth = [great_circle_bearing(*s, *TARGET) for s in (S1, S2, s3)]
    two = triangulate([SensorBearing(*s, t, 1.0) for s, t in zip((S1, S2), truth)])
    three = triangulate([SensorBearing(*s, t, 1.0) for s, t in zip((S1, S2, s3), truth)])
    assert three.semi_major_m < two.semi_major_m


def test_fix_from_bearing_records():
    from rfdetect.bearing.fusion import fix_from_records
    truth = [great_circle_bearing(*s, *TARGET) for s in (S1, S2)]
    recs = [{"type": "bearing", "link": "elrs-868", "bearing_deg": t, "bearing_sigma_deg": 1.0, "usable": True,
             "t_start_s": 1.0 + i, "t_end_s": 1.5 + i,
             "sensor": {"lat": s[0], "lon": s[1], "alt_m": None, "heading_deg": 0.0, "id": f"kraken-{i}"}}
            for i, (s, t) in enumerate(zip((S1, S2), truth))]
    recs.append({"type": "bearing", "bearing_deg": None, "bearing_sigma_deg": None, "usable": False,
                 "sensor": {"lat": 52.1, "lon": 4.1}})
    rec = fix_from_records(recs)
    assert rec["link"] == "elrs-868" and rec["sensors"] == ["kraken-0", "kraken-1"]
    assert rec["t_start_s"] == 1.0 and rec["t_end_s"] == 2.5
    assert rec["lat"] == pytest.approx(TARGET[0], abs=0.002) and rec["lon"] == pytest.approx(TARGET[1], abs=0.002)
    assert fix_from_records(recs[:1]) is None
