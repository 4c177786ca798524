"""The engine on real captures made by others (../shared/recordings); skipped
visibly where the folder is absent."""
from __future__ import annotations

import json

from rfdetect.cli import main

# Annotated DroneID bursts (sample_start, sample_count, centre MHz) from the
# SigMF metadata; the last one is cut by the end of the file (225,280 samples).
MAVIC_FS = 50e6
MAVIC_N = 225_280
DRONEID = [(93010, 32180, 2459.5), (128639, 32180, 2459.5), (165465, 32180, 2445.0), (201090, 24190, 2445.0)]


def analyze(capsys, path, *extra):
    assert main(["analyze", str(path), "--progress", "off", "--quiet", *extra]) == 0
    out, _ = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()]


def test_mavic_air_2_droneid_bursts(capsys, shared_recording):
    recs = analyze(capsys, shared_recording("mavic_air_2.sigmf-meta"), "--all-bursts")
    bursts = [r for r in recs if r["type"] == "burst"]
    for start, count, centre_mhz in DRONEID:
        near = [b for b in bursts if abs(b["sample_start"] - start) < 0.2 * count]
        assert len(near) == 1, (start, [(b["sample_start"], b["center_freq_hz"]) for b in near])
        b = near[0]
        assert abs(b["center_freq_hz"] - centre_mhz * 1e6) < 200e3, b
        assert 8.5e6 <= b["bandwidth_hz"] <= 10.5e6, b
        assert abs(b["sample_start"] - start) / MAVIC_FS < 20e-6, b
        end = min(start + count, MAVIC_N)
        if start + count < MAVIC_N:
            assert abs(b["sample_start"] + b["sample_count"] - end) / MAVIC_FS < 20e-6, b
        else:   # the partial burst runs to the end of the file
            assert (MAVIC_N - (b["sample_start"] + b["sample_count"])) / MAVIC_FS < 20e-6, b
    # The weaker unannotated wideband bursts may be bursts, but are not DroneID.
    droneid = [r for r in recs if r["type"] == "detection" and r["link"] == "dji-droneid"]
    # The partial burst is too short for DroneID; the three complete ones make the track.
    assert len(droneid) == 1 and droneid[0]["drone"] is True and droneid[0]["bursts"] >= 3


def test_adsb_capture_has_bursts_and_no_drone(capsys, shared_recording):
    recs = analyze(capsys, shared_recording("adsb_modes_g001_1090M_2000k.cu8"), "--all-bursts")
    summary = recs[-1]
    assert summary["samples"] == 356_868
    assert summary["bursts"] > 100
    assert all(abs(r["center_freq_hz"] - 1090e6) < 3e6 for r in recs if r["type"] == "burst")
    detections = [r for r in recs if r["type"] == "detection"]
    assert not [d for d in detections if d["drone"] is True]
    assert [d["link"] for d in detections] == ["adsb"]
