"""The false-alarm benchmark (bench/bench_false_alarms.py): its negative scenarios, the way it
runs them through the engine, and how it counts and bounds the false drone alarms."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_accuracy as acc  # noqa: E402
import bench_false_alarms as fa  # noqa: E402

from rfdetect.model import Annotation  # noqa: E402
from rfdetect.simulate import LINKS, generate, load_scenario  # noqa: E402


@pytest.mark.parametrize("family", list(fa.FAMILIES))
def test_every_family_is_a_valid_scenario_without_drones(family):
    seeds = [fa.family_seed(family, k) for k in range(4)]
    scns = [load_scenario(fa.make_scenario(family, s)) for s in seeds]
    for scn in scns:
        assert not any(LINKS[e.link].drone for e in scn.emitters)
        assert all(fa.SNR_RANGE_DB[0] <= e.snr_db <= fa.SNR_RANGE_DB[1] for e in scn.emitters)
        if family.startswith("noise"):
            assert scn.emitters == ()
        else:
            assert scn.emitters
        wide = scn.receiver.center_freq_hz > 2e9
        assert scn.receiver.sample_rate_hz == (20e6 if wide else 2.4e6)
        assert scn.receiver.kind == ("ideal" if wide else "rtl-sdr")
        assert scn.duration_s == fa.FAMILIES[family][1]
    # same seed, same scenario; another seed, other draws
    assert fa.make_scenario(family, seeds[0]) == fa.make_scenario(family, seeds[0])
    assert len({repr(fa.make_scenario(family, s)) for s in seeds}) == len(seeds)


def test_crowded_families_vary_their_emitter_counts_and_mix_the_emitters():
    counts = {k: [len(fa.make_scenario(k, fa.family_seed(k, i))["emitter"]) for i in range(12)]
              for k in ("crowded-868", "crowded-433", "crowded-2g4", "crowded-1090")}
    assert all(len(set(c)) > 2 for c in counts.values()), counts
    links_868 = {e["link"] for i in range(6) for e in fa.make_scenario("crowded-868", fa.family_seed("crowded-868", i))["emitter"]}
    assert links_868 == {"lorawan", "ism-fsk", "ism-ook"}
    ems = [e for i in range(20) for e in fa.make_scenario("crowded-433", fa.family_seed("crowded-433", i))["emitter"]]
    assert {e.get("channel_model", {}).get("model", "awgn") for e in ems} == {"awgn", "rician", "rayleigh"}
    assert len({round(e["freq"]) for e in ems}) == len(ems)       # carriers spread over the band


def test_jobs_cover_the_hours_with_seeds_apart_from_bench_accuracy():
    jobs = fa.plan_jobs(1.0, list(fa.FAMILIES), None)
    seeds = [j[1] for j in jobs]
    assert len(set(seeds)) == len(seeds)
    assert min(seeds) > acc.EVAL_SEED + 100_000
    total = sum(j[2] for j in jobs)
    assert 3600 <= total < 3600 + sum(f[1] for f in fa.FAMILIES.values())
    assert {j[0] for j in jobs} == set(fa.FAMILIES)
    # the 20 MS/s recordings go first
    assert [j[0] for j in jobs[:3]] == ["noise-2g4"] * 3
    assert fa.plan_jobs(0.01, ["ism-ook"], None) == [("ism-ook", fa.family_seed("ism-ook", 0), 20.0, None),
                                                     ("ism-ook", fa.family_seed("ism-ook", 1), 20.0, None)]
    # Held-out recordings: the same plan, numbered from another start.
    assert fa.plan_jobs(0.01, ["ism-ook"], None, first=1000) == [
        ("ism-ook", fa.family_seed("ism-ook", 1000), 20.0, None), ("ism-ook", fa.family_seed("ism-ook", 1001), 20.0, None)]


def test_poisson_upper_bound():
    assert fa.poisson_upper_95(0) == pytest.approx(-math.log(0.05), abs=1e-9)    # 2.996
    assert fa.poisson_upper_95(1) == pytest.approx(4.744, abs=1e-3)
    assert fa.poisson_upper_95(10) == pytest.approx(17.0, abs=0.1)


def _det(track, link, drone, conf, t0, t1, f=868.1e6, bw=125e3):
    return {"type": "detection", "track_id": track, "link": link, "drone": drone, "confidence": conf,
            "t_start_s": t0, "t_end_s": t1, "center_freq_hz": f, "bandwidth_hz": bw, "snr_db": 5.0}


def test_false_alarms_count_tracks_once_from_their_first_drone_report():
    recs = [_det(1, "unknown", None, 0.3, 0.0, 0.1),
            _det(1, "expresslrs-lora", True, 0.4, 0.0, 0.5),
            _det(2, "lorawan", False, 0.9, 1.0, 1.1),
            _det(1, "expresslrs-lora", True, 0.8, 0.0, 0.9),
            _det(3, "mlrs", True, 0.2, 2.0, 2.3),
            _det(3, "lorawan", False, 0.7, 2.0, 2.6),
            {"type": "summary"}]
    alarms = fa.false_alarms(recs)
    assert [(a["track_id"], a["t_alarm_s"], a["confidence"], a["max_confidence"]) for a in alarms] == \
        [(1, 0.5, 0.4, 0.8), (3, 2.3, 0.2, 0.2)]
    finals = fa.track_finals(recs)
    assert {k: v["link"] for k, v in finals.items()} == {1: "expresslrs-lora", 2: "lorawan", 3: "lorawan"}


def test_alarm_cause_is_the_emitters_overlapping_it():
    fs = 1e6
    def ann(emitter, t0, t1, lo, hi, label="lorawan"):
        return Annotation(int(t0 * fs), int((t1 - t0) * fs), lo, hi, label,
                          f'{{"emitter": "{emitter}", "mode": "SF7BW125", "snr_db": 3.0}}')
    anns = [ann("gw", 0.1, 0.2, 868.04e6, 868.16e6), ann("gw", 0.3, 0.4, 868.04e6, 868.16e6),
            ann("node", 0.3, 0.4, 868.44e6, 868.56e6),                  # other channel
            ann("late", 2.0, 2.1, 868.04e6, 868.16e6)]                  # after the alarm
    alarm = {"t_start_s": 0.0, "t_alarm_s": 0.5, "center_freq_hz": 868.1e6, "bandwidth_hz": 125e3}
    assert fa.overlapping_emitters(alarm, anns, fs) == [
        {"emitter": "gw", "link": "lorawan", "mode": "SF7BW125", "snr_db": 3.0, "bursts": 2}]


def test_summary_rates_and_report():
    recs = [{"family": "noise-868", "seed": 1, "duration_s": 1800.0, "wall_s": 1.0, "emitters": {},
             "bursts_simulated": {}, "detections": {}, "false_alarms": []},
            {"family": "wifi", "seed": 2, "duration_s": 1800.0, "wall_s": 2.0, "emitters": {"wifi": 1},
             "bursts_simulated": {"wifi": 50}, "detections": {"wifi": 4, "spektrum-dsmx": 1},
             "false_alarms": [{"track_id": 7, "link": "spektrum-dsmx", "links": ["spektrum-dsmx"], "t_start_s": 0.1,
                               "t_alarm_s": 0.5, "confidence": 0.3, "max_confidence": 0.6,
                               "center_freq_hz": 2.44e9, "bandwidth_hz": 1e6, "snr_db": 5.0,
                               "cause": [{"emitter": "ap", "link": "wifi", "mode": "traffic", "snr_db": 4.0, "bursts": 9}]}]}]
    s = fa.summarise(recs)
    assert s["hours"] == 1.0 and s["false_alarms"] == 1 and s["per_hour"] == 1.0
    assert s["per_hour_upper_95"] == pytest.approx(4.744, abs=1e-3)
    assert s["families"]["wifi"]["hours"] == 0.5 and s["families"]["noise-868"]["false_alarms"] == 0
    assert s["detections"] == {"wifi": 4, "spektrum-dsmx": 1}
    md = fa.markdown(s, {"command": "x", "load_start": "1", "load_end": "2", "wall_s": 3.0, "jobs": 2})
    assert "| wifi | 2 | 0.100-0.500 | spektrum-dsmx (spektrum-dsmx) | 0.30 / 0.60 | 2440.0000 | 1000.0 | ap wifi traffic +4.0 dB (9) |" in md
    assert "95 % upper bound 4.74 per hour" in md
    # At a confidence floor of 0.5 the alarm (max 0.6) still counts; at 0.9 it does not.
    assert s["at_confidence"][0.5]["false_alarms"] == 1 and s["at_confidence"][0.9]["false_alarms"] == 0
    assert s["at_confidence"][0.9]["per_hour_upper_95"] == pytest.approx(2.996, abs=1e-3)
    assert "0.9: 0 (0.00 per hour, 95 % upper bound 3.00)" in md


def test_streamed_recording_gives_the_records_of_bench_accuracy():
    """Rendering and feeding block by block (the RTL-SDR model included) is the same
    engine run as bench_accuracy's on the whole recording."""
    scn = fa.make_scenario("crowded-868", fa.family_seed("crowded-868", 3), duration_s=0.6)
    recs, annotations, _ = fa.run_scenario(scn)
    x, ann_whole = generate(scn)
    ref, _ = acc.run_samples(x, scn["receiver"]["sample_rate"], scn["receiver"]["center_freq"])
    strip = [{k: v for k, v in r.items() if r["type"] != "summary" or k in ("type", "samples")} for r in recs]
    assert strip == [{k: v for k, v in r.items() if r["type"] != "summary" or k in ("type", "samples")} for r in ref]
    assert [a.sample_start for a in annotations] == [a.sample_start for a in ann_whole]
    assert any(r["type"] == "detection" for r in recs)          # the emitters are seen


def test_one_recording_of_noise_raises_no_alarm():
    out = fa.run_one(("noise-868", fa.family_seed("noise-868", 0), 1.0, None))
    assert out["false_alarms"] == [] and out["duration_s"] == 1.0 and out["bursts_simulated"] == {}
