"""`rfdetect analyze` on a coherent 5-channel recording: detections get bearings."""
from __future__ import annotations

import json

import numpy as np

from rfdetect.bearing import uca
from rfdetect.classify import Detection
from rfdetect.cli import main
from rfdetect.pipeline import analyze_source
from rfdetect.sources import open_source
from rfdetect.model import SensorPosition
from rfdetect.sources.hdf5 import HDF5Writer
from test_bearing_signals import C, Emitter, synth

FS, FC = 2.4e6, 868e6
TRUTH = {-500e3: 75.0, 400e3: 95.0}     # two emitters 20 degrees apart


def kraken_recording(path, with_geometry=True):
    arr = uca(5, 0.35 * C / FC)
    ems = [Emitter(TRUTH[f], f, 200e3, 0.02 + 0.03 * k + (0.015 if f > 0 else 0.0), 2e-3, 12.0)
           for k in range(5) for f in TRUTH]
    x, _ = synth(arr.positions_m, FS, FC, ems, 480_000, np.random.default_rng(7))
    geo = {"name": arr.name, "elements_m": [list(e) for e in arr.elements_m], "heading_deg": 0.0}
    with HDF5Writer(path, FS, FC, num_channels=5, sensor=SensorPosition(52.0, 4.0, 10.0, 0.0),
                    array=geo if with_geometry else None) as w:
        w.append(x)
    return arr, geo


class ByChannel:
    """A stand-in classifier that makes one detection per channel at the end, so this
    test checks bearings whatever the signature library calls these bursts."""

    def __init__(self):
        self.groups = {}

    def add(self, burst, iq=None):
        self.groups.setdefault(round(burst.center_freq_hz, -5), []).append(burst)
        return []

    def set_window(self, center_freq_hz, sample_rate_hz, frame_hop_s=None, since_s=None):
        pass

    def finish(self):
        out = []
        for i, (f, bursts) in enumerate(sorted(self.groups.items())):
            out.append(Detection("unknown", None, 0.5, f, 200e3, bursts[0].t_start_s, bursts[-1].t_end_s,
                                 bursts[0].sample_start, bursts[-1].sample_end, 12.0, len(bursts), i + 1))
        return out


def test_each_detection_carries_a_bearing(tmp_path):
    path = tmp_path / "kraken.h5"
    kraken_recording(path)
    recs = []
    with open_source(path) as source:
        from rfdetect.pipeline import Pipeline
        pipeline = Pipeline(source.info, recs.append, classifier=ByChannel())
        for block in source.blocks():
            pipeline.feed(block)
        pipeline.finish()
    detections = [r for r in recs if r["type"] == "detection"]
    bearings = [r for r in recs if r["type"] == "bearing"]
    assert len(detections) == 2 and len(bearings) == 2
    for det, brg in zip(detections, bearings):
        want = TRUTH[min(TRUTH, key=lambda f: abs(FC + f - det["center_freq_hz"]))]
        assert brg["link"] == det["link"] and brg["track_id"] == det["track_id"]
        assert brg["usable"] and abs((brg["bearing_deg"] - want + 180) % 360 - 180) < 1.0
        assert 0 < brg["bearing_sigma_deg"] < 1.0 and brg["bursts_used"] == 5
        assert brg["sensor"]["lat"] == 52.0
    assert recs[-1]["bearings"] == 2


def test_array_file_given_for_a_recording_without_geometry(tmp_path):
    path = tmp_path / "nogeo.h5"
    arr, geo = kraken_recording(path, with_geometry=False)
    toml = tmp_path / "array.toml"
    toml.write_text(f'[array]\nname = "uca5"\nelements_m = {json.dumps(geo["elements_m"])}\nheading_deg = 0.0\n'
                    '[sensor]\nlat = 52.0\nlon = 4.0\nalt_m = 10.0\n')
    recs = []
    with open_source(path) as source:
        from rfdetect.pipeline import Pipeline
        pipeline = Pipeline(source.info, recs.append, classifier=ByChannel(), array_path=str(toml))
        for block in source.blocks():
            pipeline.feed(block)
        pipeline.finish()
    bearings = [r for r in recs if r["type"] == "bearing"]
    assert len(bearings) == 2
    assert all(b["usable"] and 70 < b["bearing_deg"] < 100 for b in bearings)


def test_array_file_with_wrong_channel_count_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "k.h5"
    kraken_recording(path)
    toml = tmp_path / "three.toml"
    toml.write_text('[array]\nname = "three"\nelements_m = [[0, 0.1, 0], [0.1, 0, 0], [0, -0.1, 0]]\n')
    assert main(["analyze", str(path), "--array", str(toml), "--progress", "off"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "three" in err[0] and "5" in err[0], err


def sensor_recording(path, sensor: SensorPosition, bearing_deg: float, seed: int):
    """One emitter's bursts, as a 5-element array at ``sensor`` sees them."""
    arr = uca(5, 0.35 * C / FC)
    ems = [Emitter(bearing_deg, -300e3, 200e3, 0.02 + 0.03 * k, 2e-3, 15.0) for k in range(6)]
    x, _ = synth(arr.positions_m, FS, FC, ems, 480_000, np.random.default_rng(seed))
    geo = {"name": arr.name, "elements_m": [list(e) for e in arr.elements_m], "heading_deg": 0.0}
    with HDF5Writer(path, FS, FC, num_channels=5, sensor=sensor, array=geo) as w:
        w.append(x)


def test_two_sensors_give_a_fix_near_the_emitter(tmp_path, capsys):
    """Sensors 1.37 km apart; the emitter 1.1 km north of their midpoint."""
    import math
    target = (52.01, 4.01)
    paths = []
    for i, lon in enumerate((4.0, 4.02)):
        east_m = (target[1] - lon) * 111_320 * math.cos(math.radians(52.0))
        north_m = (target[0] - 52.0) * 111_195
        bearing = math.degrees(math.atan2(east_m, north_m)) % 360
        path = tmp_path / f"sensor{i}.h5"
        sensor_recording(path, SensorPosition(52.0, lon, 10.0, 0.0), bearing, seed=i)
        paths.append(str(path))
    assert main(["analyze", *paths, "--progress", "off", "--quiet"]) == 0
    recs = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    bearings = [r for r in recs if r["type"] == "bearing" and r["usable"]]
    assert len({(b["sensor"]["lat"], b["sensor"]["lon"]) for b in bearings}) == 2
    (fix,) = [r for r in recs if r["type"] == "fix"]
    assert recs[-1] is fix or recs.index(fix) > max(i for i, r in enumerate(recs) if r["type"] == "summary")
    north_err_m = (fix["lat"] - target[0]) * 111_195
    east_err_m = (fix["lon"] - target[1]) * 111_320 * math.cos(math.radians(52.0))
    error_m = math.hypot(north_err_m, east_err_m)
    print(f"fix error {error_m:.1f} m, ellipse {fix['semi_major_m']} x {fix['semi_minor_m']} m")
    assert error_m < 60, (fix, error_m)
    assert 0 < fix["semi_minor_m"] <= fix["semi_major_m"] < 200
    assert len(fix["sensors"]) == 2
