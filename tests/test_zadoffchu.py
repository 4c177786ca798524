"""The Zadoff-Chu search (``--zadoff-chu``): its kernel against its twin, its threshold
against the noise it assumes, DroneID bursts found below the noise where they are and
named, nothing in noise, and the energy detector's burst kept where it measured the
burst whole."""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.detect import DetectorConfig
from rfdetect.detect.zadoffchu import BURST_SAMPLES, ZadoffChuDetector, in_window, search_channels, \
    zadoff_chu_detector_for
from rfdetect.kernels.evidence_droneid import ZC_RATE_HZ
from rfdetect.kernels.zc_stream import pair_scores, pair_scores_numpy, pair_threshold, zc_reference_at
from rfdetect.model import IQBlock
from rfdetect.simulate import generate

from synth import feed_blocks, pipeline_records

FS, FC = 30.72e6, 2444.5e6


def _droneid(snr_db: float, seed: int, duration_s: float = 1.0, emitters: bool = True):
    scn = {"scenario": {"duration_s": duration_s, "seed": seed}, "receiver": {"sample_rate": FS, "center_freq": FC},
           "emitter": [{"id": "d", "link": "dji-droneid", "mode": "v2", "domain": "2G4", "freq": 2444.5e6,
                        "snr_db": snr_db}] if emitters else []}
    return generate(scn, seed=seed)


def _feed(det, x, block=1 << 16):
    return feed_blocks(det, x, FC, FS, block)


def test_pair_scores_equal_their_twin():
    rng = np.random.default_rng(5)
    n, lag, slack = 683, 1461, 48
    q600, q147 = rng.exponential(size=20_000), rng.exponential(size=20_000)
    for at in (5000, 9000, 14000):                 # planted pairs, in both orders and split
        q600[at] += 30.0
        q147[at + lag + 100] += 12.0
        q147[at + lag + 100 - n] += 14.0
    q147[9000 - lag + 5] += 25.0
    out, twin = np.zeros((64, 5)), np.zeros((64, 5))
    lo, hi = lag + n + slack + 1, 20_000 - lag - n - slack - 1
    k = pair_scores(q600, q147, lo, hi, n, lag, slack, 6.0, 30.0, out)
    k2 = pair_scores_numpy(q600, q147, lo, hi, n, lag, slack, 6.0, 30.0, twin)
    assert k == k2 >= 3
    np.testing.assert_allclose(out[:k], twin[:k])
    assert set(out[:k, 0].astype(int)) >= {5000, 9000, 14000}


def test_threshold_holds_its_rate_in_the_noise_it_assumes():
    rng = np.random.default_rng(2)
    pair_tests, gate, n = 40, 3.0, 400_000
    t = pair_threshold(1e3, pair_tests, gate)
    x = rng.exponential(size=n)
    y = rng.gamma(2.0, size=(n, pair_tests)).max(axis=1)
    rate = np.mean((x >= gate) & (x + y >= t))
    assert 0.7e-3 < rate < 1.3e-3
    assert pair_threshold(1e6, pair_tests, gate) > t


def test_reference_is_the_zadoff_chu_symbol_at_any_rate():
    from rfdetect.kernels.evidence_droneid import zc_reference
    r = zc_reference_at(600, ZC_RATE_HZ)
    np.testing.assert_allclose(np.abs(np.vdot(r, zc_reference(600))), 1.0, atol=1e-9)
    assert zc_reference_at(147, 30.72e6).shape == (2048,)


def test_channels_follow_the_window():
    channels = search_channels()
    assert in_window(channels, FS, FC) == (2444.5e6,)
    assert in_window(channels, 61.44e6, 2444.5e6) == (2429.5e6, 2444.5e6, 2459.5e6)
    assert in_window(channels, 2.4e6, 868e6) == ()
    assert zadoff_chu_detector_for(DetectorConfig(zadoff_chu=True), 2.4e6, 2444.5e6) is None
    assert zadoff_chu_detector_for(DetectorConfig(), FS, FC) is None
    # A retune (a live sweep) searches the new window's channels.
    det = zadoff_chu_detector_for(DetectorConfig(zadoff_chu=True), FS, FC)
    det.feed(IQBlock(np.zeros((1, 1000), np.complex64), 0, FC, FS))
    det.feed(IQBlock(np.zeros((1, 1000), np.complex64), 1000, 2459.5e6, FS))
    assert det.channels_hz == (2459.5e6,) and det.stream.x0 == 1000


def test_droneid_below_the_noise_is_found_where_it_is():
    """At -12 dB in-band SNR (the energy detector sees nothing) every burst of these two
    seconds, its start within a few samples of the burst's."""
    found = total = 0
    for seed in (1001, 1002):
        x, ann = _droneid(-12.0, seed)
        det = zadoff_chu_detector_for(DetectorConfig(zadoff_chu=True), FS, FC)
        out = _feed(det, x)
        total += len(ann)
        for a in ann:
            mine = [b for b in out if abs(b.sample_start - a.sample_start) <= 4]
            found += bool(mine)
            for b in mine:
                assert b.sample_end - b.sample_start == round(BURST_SAMPLES * FS / ZC_RATE_HZ)
                ev = b.features["zadoff_chu"]
                assert ev["confirmed"] and ev["score"] >= 1.0 and abs(abs(ev["zc_lag_diff"]) - 2192) <= 4
                assert -16.0 < b.snr_db < -8.0
        assert len(out) <= len(ann)
    assert total == 4 and found == 4


def test_block_size_does_not_change_what_is_found():
    x, _ = _droneid(-12.0, 1001)
    a = _feed(zadoff_chu_detector_for(DetectorConfig(zadoff_chu=True), FS, FC), x, 1 << 16)
    b = _feed(zadoff_chu_detector_for(DetectorConfig(zadoff_chu=True), FS, FC), x, 77_777)
    assert [(u.sample_start, u.features) for u in a] == [(v.sample_start, v.features) for v in b]


def test_noise_alone_gives_nothing():
    x, _ = _droneid(0.0, 7, duration_s=1.0, emitters=False)
    det = ZadoffChuDetector(FS, FC, search_channels())
    assert _feed(det, x) == []
    assert det.segments > 100


def _pipeline(x, config):
    return pipeline_records(x, FS, FC, config)


def test_droneid_at_minus_12_db_is_named_with_the_search_and_not_without():
    x, _ = _droneid(-12.0, 1002)
    base = DetectorConfig(integrate_frames=9)
    assert not [r for r in _pipeline(x, base) if r["type"] == "detection"]
    recs = _pipeline(x, base.with_(zadoff_chu=True))
    dets = [r for r in recs if r["type"] == "detection"]
    assert dets and {d["link"] for d in dets} == {"dji-droneid"}
    assert dets[-1]["evidence"]["kernel"]["stream"] is True
    summary = [r for r in recs if r["type"] == "summary"][0]
    assert summary["detector"]["zadoff_chu"]["found"] == 2


@pytest.mark.parametrize("snr_db", [10.0])
def test_a_strong_burst_keeps_the_energy_detectors_measure(snr_db):
    """Above 0 dB the energy detector measures the burst whole and the classifier's own
    Zadoff-Chu check confirms it: the search's twin burst is dropped, the records are those
    of a run without it."""
    x, _ = _droneid(snr_db, 1003)
    base = DetectorConfig(integrate_frames=9)
    plain = [r for r in _pipeline(x, base) if r["type"] == "detection"]
    searched = [r for r in _pipeline(x, base.with_(zadoff_chu=True)) if r["type"] == "detection"]
    assert plain and [(d["link"], d["sample_start"], d["confidence"]) for d in plain] == \
        [(d["link"], d["sample_start"], d["confidence"]) for d in searched]
    assert all("stream" not in d["evidence"]["kernel"] for d in searched)


def test_the_stream_end_gives_nothing():
    """A stretch's last segment runs past its end, zero-filled: the local power there came out
    of a long cumulative sum as zero (or less), and a Wi-Fi recording's last 2 ms scored
    1e12 (bench_false_alarms.py wifi:752506, here its first 0.2 s: 468 candidates, two
    DroneID alarms)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_false_alarms as fa
    scn = fa.make_scenario("wifi", 752506)
    scn["scenario"]["duration_s"] = 0.2
    recs, _, _ = fa.run_scenario(scn, DetectorConfig(zadoff_chu=True))
    summary = [r for r in recs if r["type"] == "summary"][0]
    assert summary["detector"]["zadoff_chu"]["candidates"] == 0
    assert not [r for r in recs if r["type"] == "detection" and r["drone"]]
