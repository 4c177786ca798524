"""The classifier on real captures made by others (../shared/recordings; skipped visibly
where absent): DJI DroneID named with Zadoff-Chu evidence, ADS-B not a drone."""
from __future__ import annotations

import json

import numpy as np

from rfdetect.classify import Classifier
from rfdetect.kernels.evidence_droneid import droneid_confirmed, droneid_zc
from rfdetect.pipeline import Pipeline
from rfdetect.sources import open_source

ANNOTATED_COMPLETE = (93010, 128639, 165465)     # the partial one (201090) runs off the end
FS = 50e6


def run(path):
    recs = []
    with open_source(str(path), "auto", None, None) as src:
        p = Pipeline(src.info, recs.append, all_bursts=True, classifier=Classifier())
        for block in src.blocks(1 << 16):
            p.feed(block)
        p.finish()
    return recs


def test_droneid_zc_on_the_detected_bursts(shared_recording):
    meta = shared_recording("mavic_air_2.sigmf-meta")
    x = np.fromfile(str(meta).replace("-meta", "-data"), np.complex64)
    fc = json.loads(meta.read_text())["captures"][0]["core:frequency"]
    bursts = [r for r in run(meta) if r["type"] == "burst"]
    for start in ANNOTATED_COMPLETE:
        b = min(bursts, key=lambda r: abs(r["sample_start"] - start))
        assert abs(b["sample_start"] - start) < 1000
        a = b["sample_start"] - 1000
        ev = droneid_zc(x[a:b["sample_start"] + b["sample_count"] + 1000], FS, b["center_freq_hz"] - fc)
        assert ev["zc600"] >= 0.9 and ev["zc147"] >= 0.9 and ev["zc_lag_diff"] == 2192, (start, ev)
        assert abs(ev["cfo_hz"]) <= 60e3
    # The other wideband bursts (not annotated) show no Zadoff-Chu pair.
    others = [r for r in bursts if r["bandwidth_hz"] > 5e6
              and min(abs(r["sample_start"] - s) for s in ANNOTATED_COMPLETE + (201090,)) > 5000]
    assert len(others) >= 2
    for b in others:
        ev = droneid_zc(x[b["sample_start"]:b["sample_start"] + b["sample_count"]], FS, b["center_freq_hz"] - fc)
        assert not droneid_confirmed(ev) and max(ev["zc600"], ev["zc147"]) < 0.4, (b["sample_start"], ev)


def test_mavic_air_2_yields_droneid_with_zc_evidence(shared_recording):
    recs = run(shared_recording("mavic_air_2.sigmf-meta"))
    dets = [r for r in recs if r["type"] == "detection"]
    droneid = [d for d in dets if d["link"] == "dji-droneid"]
    assert len(droneid) == 1, dets
    d = droneid[0]
    assert d["drone"] is True and d["confidence"] >= 0.8
    # The track holds the annotated bursts only: it starts at the first annotated one,
    # not at the weaker wideband burst before it.
    assert abs(d["sample_start"] - ANNOTATED_COMPLETE[0]) < 1000
    assert d["bursts"] == 4
    k = d["evidence"]["kernel"]
    assert k["name"] == "droneid_zc" and k["confirmed"] and k["confirmed_bursts"] >= 3
    assert "droneid_zc" in d["evidence"]["matched"]
    assert d["mode"]["variant"].startswith("OcuSync 2/3")
    # No other detection claims DroneID, and no other drone link is invented from the weak bursts.
    assert all(x["link"] != "dji-droneid" for x in dets if x is not d)


def test_adsb_capture_is_not_a_drone(shared_recording):
    recs = run(shared_recording("adsb_modes_g001_1090M_2000k.cu8"))
    dets = [r for r in recs if r["type"] == "detection"]
    assert dets and not [d for d in dets if d["drone"] is True]
    assert {d["link"] for d in dets} == {"adsb"}
    assert recs[-1]["drone_detections"] == 0
