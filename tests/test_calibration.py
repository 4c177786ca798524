"""The confidence model (classify/calibration.py), its fit (bench/fit_confidence.py) and the
reliability table that checks it (bench/bench_accuracy.py)."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from rfdetect.classify import calibration, confidence_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_accuracy as acc  # noqa: E402
import fit_confidence as fitc  # noqa: E402


def test_confidence_never_falls_with_more_evidence():
    grid = {"score": np.linspace(1.0, 7.0, 13), "margin": np.linspace(0.0, 5.0, 11),
            "bursts": [2, 3, 4, 8, 16, 64, 1000], "kernel": [False, True]}
    for provisional in (False, True):
        for min_bursts in (1, 3):
            conf = np.array([[[[calibration.confidence_from(s, m, b, min_bursts, k, provisional)
                                for k in grid["kernel"]] for b in grid["bursts"]]
                              for m in grid["margin"]] for s in grid["score"]])
            for axis in range(4):
                assert np.all(np.diff(conf, axis=axis) >= 0), (axis, provisional, min_bursts)
            assert conf.min() >= calibration.P_MIN and conf.max() <= calibration.P_MAX
    for s, m, b, k in itertools.product((1.0, 3.0, 6.0), (0.0, 2.0), (3, 30), (False, True)):
        assert calibration.confidence_from(s, m, b, 3, k, True) <= calibration.confidence_from(s, m, b, 3, k, False)


def test_fitted_coefficients_have_the_signs_the_fit_holds():
    assert len(confidence_model.COEFFICIENTS) == len(calibration.TERMS)
    for term, c in zip(calibration.TERMS, confidence_model.COEFFICIENTS):
        assert c * fitc.SIGNS[term] >= 0, (term, c)


def _det(track_id, link, confidence, report):
    return {"type": "detection", "track_id": track_id, "link": link, "confidence": confidence,
            "drone": None if link.startswith("unknown") else True, "t_end_s": 0.1, "evidence": {"report": report}}


def test_reliability_counts_each_detection_once_by_its_last_record():
    recs = [_det(1, "expresslrs-lora", 0.55, "first"), {"type": "burst"},
            _det(2, "frsky-r9", 0.65, "first"), _det(3, "unknown-fhss", 0.9, "first"),
            _det(1, "expresslrs-lora", 0.95, "update"), _det(4, "mlrs", 0.3, "first"),
            _det(4, "expresslrs-lora", 0.45, "update")]
    reports = acc.score_trial(recs, "expresslrs-lora")["reports"]
    assert sorted((r["track_id"], r["link"], r["confidence"], r["right"], r["named"]) for r in reports) == [
        (1, "expresslrs-lora", 0.95, True, True), (2, "frsky-r9", 0.65, False, True),
        (3, "unknown-fhss", 0.9, False, False), (4, "expresslrs-lora", 0.45, True, True)]
    by_track = {r["track_id"]: r for r in reports}
    assert (by_track[1]["first_confidence"], by_track[1]["first_right"]) == (0.55, True)
    assert (by_track[4]["first_confidence"], by_track[4]["first_right"]) == (0.3, False)
    # A noise trial: every report is wrong.
    noise = acc.score_trial([_det(7, "spektrum-dsmx", 0.92, "first")], None)["reports"]
    s = acc.summarise([{"link": "expresslrs-lora", "snr_db": 0.0, "detected": True, "correct": True,
                        "t_first_s": 0.1, "named": "expresslrs-lora", "reports": reports}],
                      [0.0], ["expresslrs-lora"], [{"reports": noise}])
    named = s["reliability"]["named"]
    rows = {r["bin"]: (r["n"], r["correct"]) for r in named["rows"] if r["n"]}
    assert rows == {"0.4-0.5": (1, 1.0), "0.6-0.7": (1, 0.0), "0.9-1.0": (2, 0.5)}
    assert named["n"] == 4 and named["right"] == 2
    assert named["ece"] == pytest.approx((abs(0.45 - 1) + abs(0.65 - 0) + 2 * abs(0.935 - 0.5)) / 4)
    assert s["reliability"]["unnamed"]["n"] == 1 and s["reliability"]["all"]["n"] == 5
    first = s["reliability"]["named_first"]
    assert first["n"] == 4 and first["right"] == 1      # tracks 1 (0.55, right), 2, 4 (mlrs), 7


def test_reliability_of_calibrated_reports_has_no_error():
    reports = [(0.8, k < 8) for k in range(10)] + [(0.25, k < 1) for k in range(4)] + [(1.0, True)]
    r = acc.reliability(reports)
    assert r["ece"] == pytest.approx(0.0, abs=1e-12)
    assert [(x["bin"], x["n"]) for x in r["rows"] if x["n"]] == [("0.2-0.3", 4), ("0.8-0.9", 10), ("0.9-1.0", 1)]


def test_fit_recovers_a_known_logistic_and_holds_the_signs():
    rng = np.random.default_rng(5)
    n = 20000
    x = np.column_stack([rng.uniform(1, 6, n), rng.uniform(0, 4, n), rng.uniform(0, 4, n),
                         rng.integers(0, 2, n), rng.integers(0, 2, n)]).astype(float)
    w0, w = -4.0, np.array([0.8, 0.5, 0.3, 1.2, -0.7])
    y = (rng.random(n) < 1 / (1 + np.exp(-(w0 + x @ w)))).astype(float)
    intercept, coefficients = fitc.fit(x, y)
    assert intercept == pytest.approx(w0, abs=0.35)
    assert coefficients == pytest.approx(tuple(w), abs=0.12)
    # An input that lowers the odds where the model may only raise them: held at zero.
    y2 = (rng.random(n) < 1 / (1 + np.exp(-(1.0 - 0.8 * x[:, 1])))).astype(float)
    assert fitc.fit(x, y2)[1][1] == 0.0


def test_table_is_the_non_decreasing_fraction_right_per_bin():
    rng = np.random.default_rng(6)
    z = rng.uniform(-3, 3, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-2 * z))).astype(float)
    y[(z > 0.5) & (z < 1.0)] = 0.0            # a dip the table must smooth over
    table = fitc.fit_table(z, y, bins=12)
    zs, ps = np.array(table).T
    assert len(table) == 12 and np.all(np.diff(zs) > 0) and np.all(np.diff(ps) >= 0)
    assert ps[0] < 0.05 and ps[-1] > 0.95
    # Between knots the confidence is interpolated; outside them it is the end knot's.
    mid = 0.5 * (zs[3] + zs[4])
    assert calibration.probability((mid,), 0.0, (1.0,), table) == pytest.approx(
        max(calibration.P_MIN, min(calibration.P_MAX, 0.5 * (ps[3] + ps[4]))))
    assert calibration.probability((-50.0,), 0.0, (1.0,), table) == max(calibration.P_MIN, ps[0])


def test_written_module_holds_the_model():
    table = ((-1.0, 0.125), (0.5, 0.5), (2.0, 0.875))
    src = fitc.model_source(-1.25, (0.5, 0.25, 0.0, 1.5, -0.125), table, {"Command": "x", "Date": "y"})
    ns: dict = {}
    exec(compile(src, "confidence_model.py", "exec"), ns)
    assert ns["INTERCEPT"] == -1.25 and ns["COEFFICIENTS"] == (0.5, 0.25, 0.0, 1.5, -0.125)
    assert ns["TABLE"] == table
    assert "Command: x" in ns["__doc__"]


def test_training_seeds_are_disjoint_from_the_scored_ones():
    fitc.check_seeds(200)
    for sig_id, snr, _, seed, _, rx in fitc.jobs(["expresslrs-lora"], [0.0], 3, 0.5, ["default"]):
        assert seed >= fitc.FIT_SEED and seed not in range(acc.EVAL_SEED, acc.EVAL_SEED + fitc.EVAL_SPAN)


TINY = [("expresslrs-lora", 10.0, 0.4, fitc.FIT_SEED, "default", None),
        ("wifi", 5.0, 0.4, fitc.FIT_SEED, "default", None)]


@pytest.fixture(scope="module")
def tiny_records():
    return [(job[0], acc.run_trial(job[0], job[1], job[2], job[3], acc.detector_config(**fitc.CONFIGS[job[4]]))[0])
            for job in TINY]


def test_record_inputs_reproduce_the_reported_confidence(tiny_records):
    from rfdetect.signatures import get
    named = [d for _, recs in tiny_records for d in recs
             if d["type"] == "detection" and d["link"] not in acc.UNNAMED]
    assert named
    for d in named:
        x = calibration.terms_of_record(d, get(d["link"]).min_bursts)
        p = calibration.probability(x, confidence_model.INTERCEPT, confidence_model.COEFFICIENTS,
                                    confidence_model.TABLE)
        assert p == pytest.approx(d["confidence"], abs=2e-3), d


def test_fit_on_a_tiny_seeded_set_is_reproducible(tiny_records):
    x1, y1 = fitc.collect(TINY)
    x2, y2 = fitc.collect(TINY)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert len(y1) == sum(d["type"] == "detection" and d["link"] not in acc.UNNAMED
                          for _, recs in tiny_records for d in recs)
    assert fitc.fit(x1, y1) == fitc.fit(x2, y2)
    w0, w = fitc.fit(x1, y1)
    assert fitc.fit_table(fitc.evidence_score(x1, w0, w), y1) == fitc.fit_table(fitc.evidence_score(x2, w0, w), y2)
