"""Analog video below the noise: its line rate in the power of narrow sub-bands
(kernels/evidence_fmvideo.line_rate_scores), searched a few times a second by the
line-rate stage (detect/linerate.py), named by the classifier."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rfdetect.classify import Classifier
from rfdetect.detect import DetectorConfig
from rfdetect.detect.linerate import LineRateDetector, line_rate_detector_for, line_rates_for
from rfdetect.errors import ParameterError
from rfdetect.kernels.evidence_fmvideo import LINE_RATES_HZ, line_rate_scores, line_rate_threshold
from rfdetect.model import IQBlock, RecordingInfo
from rfdetect.pipeline import Pipeline
from rfdetect.simulate import generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_accuracy as acc  # noqa: E402

FS, FC = 10e6, 1280e6
RATES = (LINE_RATES_HZ["NTSC"], LINE_RATES_HZ["PAL"])


def video(snr_db: float, seed: int = 1000, standard: str = "pal", duration_s: float = 1.0) -> np.ndarray:
    scn = acc.scenario("analog-fpv-video", snr_db, duration_s, seed)
    scn["emitter"][0]["mode"] = standard
    x, _ = generate(scn, seed=seed)
    return x[0]


def noise(seed: int = 0, duration_s: float = 1.0) -> np.ndarray:
    scn = {"scenario": {"duration_s": duration_s, "seed": seed},
           "receiver": {"sample_rate": FS, "center_freq": FC}, "emitter": []}
    return generate(scn, seed=seed)[0][0]


@pytest.mark.parametrize("standard,row", [("pal", 1), ("ntsc", 0)])
def test_20_ms_at_minus_12_db_show_the_line_rate_of_their_standard(standard, row):
    x = video(-12.0, standard=standard, duration_s=0.2)[1_000_000:1_200_000]
    scores, power = line_rate_scores(x, FS, RATES)
    assert scores.shape == (2, 64) and power.shape == (64,)
    assert scores[row].max() > 30.0
    assert scores[1 - row].max() < scores[row].max() / 4
    # Where the video's carrier goes: its 6.7 MHz channel, not the rest of the window.
    f_mhz = (np.arange(64) - 32) * FS / 64 / 1e6
    strong = f_mhz[scores[row] > 12.0]
    assert strong.min() > -3.6 and strong.max() < 3.6 and strong.max() - strong.min() > 5.0


def test_noise_stays_under_the_threshold_it_is_given():
    # 30 segments of 20 ms: 3840 scores.  The level for a 1 % chance per score is a bound
    # (a union over the harmonics' maxima): noise exceeds it less often, but not never by
    # construction of a threshold far too high.
    x = noise(duration_s=0.6)
    scores = np.concatenate([line_rate_scores(x[i:i + 200_000], FS, RATES)[0].ravel()
                             for i in range(0, 6_000_000, 200_000)])
    assert scores.shape == (3840,)
    assert np.mean(scores > line_rate_threshold(1, 0.01)) <= 0.01
    assert np.mean(scores > line_rate_threshold(1, 0.5)) > 0.001
    assert 2.0 < np.mean(scores) < 3.5          # about 2.6: sums of maxima over medians


def test_too_few_frames_or_a_rate_the_frames_cannot_show_score_zero():
    scores, _ = line_rate_scores(noise(duration_s=0.01)[:1000], FS, RATES)
    assert not scores.any()
    scores, _ = line_rate_scores(noise(duration_s=0.02), FS, (RATES[0], 60e3))
    assert scores[0].any() and not scores[1].any()


def blocks(x: np.ndarray, size: int):
    for i in range(0, x.shape[0], size):
        yield IQBlock(x[None, i:i + size], i, FC, FS)


def stage_bursts(x: np.ndarray, size: int):
    det = line_rate_detector_for(DetectorConfig(), FS, FC)
    out = [b for blk in blocks(x, size) for b in det.feed(blk)]
    return det, out


def test_the_stage_checks_at_fixed_samples_whatever_the_block_size():
    x = video(-12.0)
    det, a = stage_bursts(x, 1 << 16)
    _, b = stage_bursts(x, 100_003)
    assert det.checks == 5 and len(a) == 5
    assert [(u.sample_start, u.sample_end, u.f_lo_hz, u.f_hi_hz, u.features) for u in a] == \
        [(u.sample_start, u.sample_end, u.f_lo_hz, u.f_hi_hz, u.features) for u in b]
    # 20 ms in, then every 0.25 s.
    assert [u.sample_end for u in a] == [200_000, 2_500_000, 5_000_000, 7_500_000, 10_000_000]
    for u in a:
        assert u.features["steady"] and u.features["line_rate"]["standard"] == "PAL"
        assert u.snr_db == pytest.approx(-12.0, abs=2.0)
        # Where the line rate shows: inside the 6.7 MHz channel, as wide as the signature asks.
        assert 1276.3e6 < u.f_lo_hz and u.f_hi_hz < 1283.7e6 and u.bandwidth_hz >= 3e6


def test_a_gap_restarts_the_span():
    x = video(-12.0, duration_s=0.6)
    det = LineRateDetector(FS, FC, RATES, check_s=0.25, span_s=0.02)
    first = det.feed(IQBlock(x[None, :2_490_000], 0, FC, FS))
    # 20 000 samples lost (sample indices do not count them, times do): the check at
    # 2.5 M would read across the gap; the next ones are 20 ms after it, then at 5 M.
    blk = IQBlock(x[None, 2_510_000:], 2_490_000, FC, FS, samples_lost_before=20_000)
    later = det.feed(blk)
    assert [b.sample_end for b in first] == [200_000] and det.checks == 3
    assert [b.sample_end for b in later] == [2_690_000, 5_000_000]
    assert later[-1].t_end_s == pytest.approx((5_000_000 + 20_000) / FS)


def run(x: np.ndarray, config: DetectorConfig) -> list[dict]:
    recs: list[dict] = []
    p = Pipeline(RecordingInfo("t", FS, FC, num_channels=1, num_samples=x.shape[0]), recs.append,
                 config=config, classifier=Classifier(early_reports=True))
    for blk in blocks(x, 1 << 16):
        p.feed(blk)
    p.finish()
    return recs


def last_detections(recs: list[dict]) -> dict[int, dict]:
    return {r["track_id"]: r for r in recs if r["type"] == "detection"}


@pytest.mark.parametrize("snr_db", [-15.0, -12.0])
def test_analog_video_below_the_noise_is_one_named_detection(snr_db):
    recs = run(video(snr_db), DetectorConfig())
    (det,) = last_detections(recs).values()
    assert det["link"] == "analog-fpv-video" and det["drone"] is True and det["confidence"] >= 0.9
    assert det["evidence"]["kernel"]["standard"] == "PAL"
    assert det["snr_db"] == pytest.approx(snr_db, abs=2.0)
    first = next(r for r in recs if r["type"] == "detection")
    assert first["t_end_s"] <= 0.25
    summary = recs[-1]["detector"]["line_rate"]
    assert summary["checks"] == 5 and summary["found"] >= 3


def test_without_the_stage_the_same_video_is_not_named():
    recs = run(video(-12.0), DetectorConfig(line_rate_check_s=0))
    assert all(d["link"] != "analog-fpv-video" for d in last_detections(recs).values())
    assert "line_rate" not in recs[-1]["detector"]


@pytest.mark.parametrize("integrate_frames", [1, 9])
def test_a_video_at_10_db_stays_one_track(integrate_frames):
    # The floor's steady bursts, the line-rate stage's and the pieces: one emitter, to the end.
    dets = last_detections(run(video(10.0), DetectorConfig(integrate_frames=integrate_frames)))
    (video_det,) = [d for d in dets.values() if d["link"] == "analog-fpv-video"]
    assert video_det["t_end_s"] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("seed", [0, 1])
def test_noise_in_the_video_band_reports_nothing(seed):
    recs = run(noise(seed), DetectorConfig())
    assert last_detections(recs) == {}
    assert recs[-1]["detector"]["line_rate"]["found"] == 0


def test_the_stage_runs_only_where_a_video_band_is_in_the_window():
    assert line_rates_for(FS, FC) == tuple(sorted(RATES))
    assert line_rates_for(2.4e6, 868e6) == ()
    assert line_rate_detector_for(DetectorConfig(), 2.4e6, 868e6) is None
    assert line_rate_detector_for(DetectorConfig(line_rate_check_s=0), FS, FC) is None


@pytest.mark.parametrize("changes", [dict(line_rate_check_s=-1.0), dict(line_rate_span_s=0.5),
                                     dict(line_rate_span_s=0.0)])
def test_bad_settings_are_refused(changes):
    with pytest.raises(ParameterError):
        DetectorConfig(**changes)


def test_no_line_rate_turns_the_stage_off_from_the_command_line():
    import argparse

    from rfdetect.cli.common import add_detector_options, detector_config
    p = argparse.ArgumentParser()
    add_detector_options(p)
    assert detector_config(p.parse_args([])).line_rate_check_s == 0.25
    assert detector_config(p.parse_args(["--no-line-rate"])).line_rate_check_s == 0.0


def camera_video(snr_db: float, seed: int, duration_s: float = 1.0) -> np.ndarray:
    """A PAL FM video written here, not by the simulator: line sync and blanking as
    ITU-R BT.470 has them, and a picture that changes from line to line (a level drawn
    per line, as a camera's scene gives) instead of the simulator's colour bars, whose
    every line is alike.  6.5 MHz peak to peak, sync tip to white; white noise at
    ``snr_db`` in 6.7 MHz."""
    rng = np.random.default_rng(seed)
    line_hz = LINE_RATES_HZ["PAL"]
    n = int(duration_s * FS)
    t = np.arange(n) / FS
    t_line = (t * line_hz % 1.0) / line_hz
    lines = np.floor(t * line_hz).astype(np.int64)
    ire = np.where((t_line >= 10.9e-6) & (t_line < 1 / line_hz - 1.5e-6), rng.uniform(0, 100, lines[-1] + 1)[lines], 0.0)
    ire[t_line < 4.7e-6] = -43.0
    x = np.exp(2j * np.pi * np.cumsum((ire - 28.5) * 6.5e6 / 143.0) / FS)
    x *= np.sqrt(10 ** (snr_db / 10) * 6.7e6 / FS)
    return (x + (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)


@pytest.mark.parametrize("snr_db", [-12.0, -9.0, 0.0])
def test_a_picture_that_changes_every_line_is_named_too(snr_db):
    # Below 0 dB the line rate shows only where the carrier sits at sync and blanking, a
    # band of about 2 MHz: the line rate, not that band, names the video.  The pieces the
    # burst test cuts out of it are the video's, those of the 20 ms before the first check
    # too (an unnamed emitter is not reported early before it: 3-4 were).
    recs = run(camera_video(snr_db, seed=5), DetectorConfig())
    dets = last_detections(recs).values()
    (video_det,) = [d for d in dets if d["link"] == "analog-fpv-video"]
    assert video_det["evidence"]["kernel"]["standard"] == "PAL" and video_det["confidence"] >= 0.9
    assert video_det["t_end_s"] == pytest.approx(1.0, abs=0.01)
    assert [d for d in dets if d["link"] != "analog-fpv-video"] == []


def test_an_rtl_sdr_window_on_the_sync_level_names_the_video_at_minus_12_db():
    # 2.4 MS/s, 2 MHz under the channel's centre: the window holds the sync tip and the
    # blanking level (where the line rate shows), not the whole 6.7 MHz.
    from scipy.signal import resample_poly
    fs, fc = 2.4e6, FC - 2e6
    x = camera_video(-12.0, seed=5)
    x = resample_poly(x * np.exp(2j * np.pi * 2e6 / FS * np.arange(x.size)), 6, 25).astype(np.complex64)
    recs: list[dict] = []
    p = Pipeline(RecordingInfo("t", fs, fc, num_channels=1, num_samples=x.shape[0]), recs.append,
                 classifier=Classifier(early_reports=True))
    for i in range(0, x.shape[0], 1 << 16):
        p.feed(IQBlock(x[None, i:i + (1 << 16)], i, fc, fs))
    p.finish()
    (det,) = last_detections(recs).values()
    assert det["link"] == "analog-fpv-video" and det["evidence"]["kernel"]["standard"] == "PAL"
    assert det["bandwidth_hz"] < 1e6          # where the line shows, not the channel
    assert recs[-1]["detector"]["line_rate"]["found"] == 5


@pytest.mark.parametrize("k", [1, 4, 7])
@pytest.mark.parametrize("p", [0.5, 1e-3, 1e-9, 1e-15])
def test_the_gamma_tail_is_scipys(k, p):
    from scipy.stats import gamma

    from rfdetect.kernels.evidence_fmvideo import gamma_isf
    assert gamma_isf(p, k) == pytest.approx(gamma.isf(p, k), rel=1e-9)


def test_the_threshold_counts_the_bins_its_span_searches():
    # 20 ms give 50 Hz bins: a harmonic's line is looked for in 3 of them (+-20 Hz rounds
    # to one each side); 100 ms give 10 Hz bins, 5 of them, and so more chances for noise.
    from rfdetect.kernels.evidence_fmvideo import search_bins
    assert search_bins(200_000, FS) == 3 and search_bins(1_000_000, FS) == 5
    short = LineRateDetector(FS, FC, RATES, check_s=0.25, span_s=0.02)
    long_ = LineRateDetector(FS, FC, RATES, check_s=0.25, span_s=0.1)
    tests = 2 * 64 * 3600 / 0.25
    assert short.threshold == pytest.approx(1.5 * line_rate_threshold(tests, 1.0, search_bins=3))
    assert long_.threshold == pytest.approx(1.5 * line_rate_threshold(tests, 1.0, search_bins=5))
    assert long_.threshold > short.threshold
