"""Golden recordings: each bundled recording gives exactly its expected output, and that
output finds the simulator's ground truth."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "recordings"))
import bundled  # noqa: E402

from rfdetect.cli.common import to_json_line  # noqa: E402
from rfdetect.sources import open_source  # noqa: E402


@pytest.fixture(scope="module", params=sorted(bundled.BUNDLED))
def golden(request):
    name = request.param
    path = REPO / "recordings" / f"{name}.h5"
    expected = [json.loads(line) for line in (REPO / "recordings" / "expected" / f"{name}.jsonl").open()]
    return name, path, expected, bundled.analyze(path)


def test_output_is_exactly_the_expected(golden):
    name, _, expected, got = golden
    # Through JSON, as the CLI writes it, so floats compare as written.
    got = [json.loads(to_json_line(r)) for r in got]
    assert got == expected, f"{name}: output changed; if deliberate, rerun recordings/bundled.py --expected"


def test_ground_truth_bursts_are_found(golden):
    """Every labelled burst at 10 dB in-band SNR or more overlaps a reported burst in time and frequency."""
    name, path, _, got = golden
    with open_source(path) as source:
        info = source.info
        # Bursts that stick out of the receiver's band are measured by the part inside; skip them.
        truth = [a for a in info.annotations if _snr(a) >= 10.0 and not _truth(a).get("partial_band")]
    bursts = [r for r in got if r["type"] == "burst"]
    assert truth, name
    missed = [a for a in truth if not any(_overlaps(a, b, info.sample_rate_hz) for b in bursts)]
    assert len(missed) <= 0.05 * len(truth), (name, len(missed), len(truth), missed[:3])


def test_drone_links_are_named(golden):
    name, path, _, got = golden
    with open_source(path) as source:
        truth_links = {a.label for a in source.info.annotations}
    detected = {r["link"] for r in got if r["type"] == "detection" and r["drone"]}
    assert "expresslrs-lora" in detected, (name, detected, truth_links)


def _truth(a) -> dict:
    """The simulator writes each burst's truth as JSON in the annotation's comment."""
    try:
        return json.loads(a.comment)
    except ValueError:
        return {}


def _snr(a) -> float:
    return float(_truth(a).get("snr_db", float("inf")))


def _overlaps(a, b, fs) -> bool:
    t0, t1 = a.sample_start, a.sample_start + a.sample_count
    return (b["sample_start"] < t1 and t0 < b["sample_start"] + b["sample_count"]
            and b["f_lo_hz"] < a.freq_upper_edge_hz and a.freq_lower_edge_hz < b["f_hi_hz"])
