"""Always-on emitters, which the noise floor absorbs: found as spans of a raised floor
(detect/steady.py), reported by the detector as ``steady`` bursts at fixed frames."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rfdetect.detect import BurstDetector, DetectorConfig
from rfdetect.detect.steady import raised_spans
from rfdetect.model import IQBlock
from synth import TrueBurst, scene

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_accuracy as acc  # noqa: E402

SPAN = dict(threshold_db=1.5, min_bins=16, shoulder_bins=4)


def flat(n=256, seed=0, ripple_db=0.2):
    rng = np.random.default_rng(seed)
    return 10 ** (rng.uniform(-ripple_db, ripple_db, n) / 10)


def test_noise_alone_has_no_span():
    assert raised_spans(flat(), **SPAN) == []


def test_a_span_raised_3_db_is_found_with_its_edges():
    floor = flat()
    floor[100:160] *= 2.0           # 0 dB in-band SNR: signal + noise = twice the noise
    (lo, hi, level), = raised_spans(floor, **SPAN)
    assert (lo, hi) == (100, 159)
    assert level == pytest.approx(2.0, rel=0.05)


def test_a_span_below_the_threshold_or_too_narrow_is_not():
    floor = flat()
    floor[100:160] *= 10 ** (1.0 / 10)
    assert raised_spans(floor, **SPAN) == []
    floor = flat()
    floor[100:110] *= 4.0
    assert raised_spans(floor, **SPAN) == []


def test_a_front_end_roll_off_is_not_a_span():
    # The centre of the band stands 4 dB above its edges, falling gently (an RTL-SDR's
    # anti-alias filter): no steep sides, nothing reported.
    k = np.linspace(-1, 1, 256)
    floor = flat() * 10 ** (-4.0 * np.clip((np.abs(k) - 0.6) / 0.4, 0, 1) ** 2 / 10)
    assert raised_spans(floor, **SPAN) == []
    floor[120:170] *= 2.0           # a real emitter on top of it still is
    (lo, hi, _), = raised_spans(floor, **SPAN)
    assert (lo, hi) == (120, 169)


def test_a_span_at_the_band_edge_needs_only_its_inner_side():
    floor = flat()
    floor[:40] *= 2.0
    (lo, hi, _), = raised_spans(floor, **SPAN)
    assert (lo, hi) == (0, 39)


def test_a_dip_inside_a_span_does_not_cut_it():
    floor = flat()
    floor[60:200] *= 2.0
    floor[128] /= 2.0               # a DC notch
    assert [(lo, hi) for lo, hi, _ in raised_spans(floor, **SPAN)] == [(60, 199)]


# ---- the detector ------------------------------------------------------------------
FS, FC = 20e6, 1280e6
ALWAYS_ON = TrueBurst(0, 0, 2.5e6, 6e6, 0.0)       # length set below: the whole stream


def run(x, block, config=DetectorConfig()):
    det = BurstDetector(config, FS, FC)
    out = []
    for i in range(0, x.size, block):
        out += det.feed(IQBlock(x[None, i:i + block], i, FC, FS))
    out += det.finish()
    return det, sorted(out, key=lambda b: (b.sample_start, b.f_lo_hz))


@pytest.fixture(scope="module")
def always_on():
    n = int(0.65 * FS)
    on = TrueBurst(0, n, ALWAYS_ON.offset_hz, ALWAYS_ON.bandwidth_hz, ALWAYS_ON.snr_db)
    return scene(FS, n, [on], seed=5)


def test_an_emitter_on_from_the_first_sample_is_reported_every_check(always_on):
    det, found = run(always_on, 1 << 16)
    steady = [b for b in found if b.features.get("steady")]
    # Checks when the floor starts (after 20 ms), then at 0.2, 0.4 and 0.6 s; the burst test
    # itself sees nothing of the emitter.
    assert len(steady) == 4, found
    assert [b for b in found if not b.features.get("steady")] == []
    first, *later = steady
    assert first.t_start_s == 0.0
    assert first.t_end_s == pytest.approx(0.02, abs=2 * det.hop / FS)
    for k, b in enumerate(later, start=1):
        assert b.t_end_s == pytest.approx(0.2 * k, abs=2 * det.hop / FS)
        assert b.duration_s == pytest.approx(0.05, abs=2 * det.hop / FS)
    for b in steady:
        assert abs(b.f_lo_hz - (FC + 2.5e6 - 3e6)) < 0.25e6, b
        assert abs(b.f_hi_hz - (FC + 2.5e6 + 3e6)) < 0.25e6, b
        assert b.snr_db == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize("block", [5000, 77_777, 1 << 20])
def test_steady_bursts_do_not_depend_on_block_size(always_on, block):
    assert run(always_on, block)[1] == run(always_on, 1 << 16)[1]


def test_noise_alone_gives_no_steady_burst():
    x = scene(FS, int(0.65 * FS), [], seed=6)
    assert run(x, 1 << 16)[1] == []


def test_the_check_can_be_turned_off(always_on):
    assert run(always_on, 1 << 16, DetectorConfig(steady_check_s=0))[1] == []


def test_the_horizon_stays_before_the_next_steady_burst(always_on):
    det = BurstDetector(DetectorConfig(), FS, FC)
    for i in range(0, always_on.size, 1 << 15):
        horizon = det.horizon_s()
        later = det.feed(IQBlock(always_on[None, i:i + (1 << 15)], i, FC, FS))
        assert all(b.t_start_s >= horizon - 1e-9 for b in later), (horizon, later)


# ---- the whole engine: video links on from the first sample, at 0 dB in-band SNR ------------
@pytest.mark.parametrize("link", ["analog-fpv-video", "dji-ocusync-video"])
@pytest.mark.parametrize("seed", [acc.EVAL_SEED, acc.EVAL_SEED + 1])
def test_video_links_on_from_the_start_are_named_at_0_db(link, seed):
    recs, _, _ = acc.run_trial(link, 0.0, 1.0, seed)
    named = [r for r in recs if r["type"] == "detection" and r["drone"]]
    assert {r["link"] for r in named} == {link}, [(r["link"], r["confidence"]) for r in named]
    # Reported within 1 s of observation, from the checks at 0.2 s and after.
    assert min(r["t_end_s"] for r in named) <= 1.0


def test_without_the_check_they_are_missed():
    recs, _, _ = acc.run_trial("dji-ocusync-video", 0.0, 1.0, acc.EVAL_SEED,
                                DetectorConfig(steady_check_s=0))
    assert [r for r in recs if r["type"] == "detection" and r["drone"]] == []


def test_an_fm_video_is_one_emitter_not_a_swarm_of_unknown_ones():
    # Its spectrum moves with the picture: the burst test cuts it into thousands of narrow
    # pieces a second, which the confirmed video track takes (classify/continuous.py).
    recs, _, _ = acc.run_trial("analog-fpv-video", 10.0, 1.0, acc.EVAL_SEED)
    dets = [r for r in recs if r["type"] == "detection"]
    video = [r for r in dets if r["link"] == "analog-fpv-video"]
    assert video and video[-1]["evidence"]["pieces"] > 1000
    # Only what was reported early, in the 20 ms before the floor showed the video.
    assert len([r for r in dets if r["link"] != "analog-fpv-video"]) <= 6
    recs_off, _, _ = acc.run_trial("analog-fpv-video", 10.0, 1.0, acc.EVAL_SEED,
                                    DetectorConfig(steady_check_s=0, line_rate_check_s=0))
    assert len([r for r in recs_off if r["type"] == "detection" and r["link"] != "analog-fpv-video"]) > 20


def test_a_host_takes_only_what_lies_in_its_band_while_it_lasts():
    from rfdetect.classify.continuous import HOLD_S, ContinuousHosts
    from rfdetect.classify.tracker import Track
    from rfdetect.model import Burst

    def burst(t_s, f_lo_hz, f_hi_hz):
        return Burst(sample_start=0, sample_end=1, t_start_s=t_s, t_end_s=t_s + 1e-3, f_lo_hz=f_lo_hz,
                     f_hi_hz=f_hi_hz, snr_db=10.0, peak_power_db=-30.0, center_freq_hz=0.5 * (f_lo_hz + f_hi_hz))

    hosts, video = ContinuousHosts(), Track(1, None, False)
    hosts.note(video, burst(0.2, 1278e6, 1283e6), max_bandwidth_hz=8e6)    # 1276.5-1284.5 MHz
    assert hosts.take(burst(0.3, 1277e6, 1277.3e6)) is video                  # beside the span, in the band
    assert hosts.take(burst(0.3, 1284e6, 1285e6)) is None                     # across its edge
    assert hosts.take(burst(0.2 + HOLD_S + 0.1, 1280e6, 1280.2e6)) is None    # after it ended
    assert hosts.take(burst(0.3, 1280e6, 1280.2e6)) is None                   # (and it is gone)
    assert hosts.absorbed[1] == 1
