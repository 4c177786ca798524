"""The burst detector end to end on synthetic scenes: accuracy, block-size
independence, false alarms on noise, gaps and retunes."""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.detect import BurstDetector, DetectorConfig
from rfdetect.model import IQBlock
from synth import TrueBurst, scene

FS = 2.4e6
FC = 868e6


def run(x, block, config=DetectorConfig(), fs=FS, fc=FC):
    det = BurstDetector(config, fs, fc)
    out = []
    for i in range(0, x.size, block):
        out += det.feed(IQBlock(x[None, i:i + block], i, fc, fs))
    out += det.finish()
    return sorted(out, key=lambda b: (b.sample_start, b.f_lo_hz))


TRUTH = [
    TrueBurst(60_000, 10_512, -400e3, 500e3, 15.0),     # LoRa-like 4.38 ms, 500 kHz
    TrueBurst(100_000, 1_579, 300e3, 200e3, 20.0),      # FSK-like 0.658 ms
    TrueBurst(140_000, 48_000, 0.8e6, 100e3, 10.0),     # 20 ms narrow
    TrueBurst(230_000, 24_000, -0.9e6, 300e3, 25.0),
]


@pytest.fixture(scope="module")
def truth_scene():
    return scene(FS, 300_000, TRUTH, seed=3)


def test_bursts_measured_within_tolerance(truth_scene):
    found = run(truth_scene, 1 << 16)
    assert len(found) == len(TRUTH), [(b.sample_start, b.center_freq_hz - FC) for b in found]
    hop_s = 128 / FS
    for b, t in zip(found, TRUTH):
        assert abs(b.sample_start - t.start) / FS < hop_s, (b, t)
        assert abs(b.sample_end - (t.start + t.length)) / FS < hop_s, (b, t)
        assert abs(b.center_freq_hz - (FC + t.offset_hz)) < 0.1 * t.bandwidth_hz + 10e3
        assert t.bandwidth_hz * 0.85 < b.bandwidth_hz < t.bandwidth_hz * 1.25 + 20e3
        assert abs(b.snr_db - t.snr_db) < 1.5, (b.snr_db, t.snr_db)


@pytest.mark.parametrize("block", [1, 1000, 4096, 77_777, 10**6])
def test_same_bursts_for_any_block_size(truth_scene, block):
    x = truth_scene[:160_000] if block == 1 else truth_scene
    reference = run(x, 1 << 20)
    assert run(x, block) == reference


def test_both_fft_backends_agree(truth_scene):
    a = run(truth_scene, 1 << 16, DetectorConfig(fft_backend="fftw"))
    b = run(truth_scene, 1 << 16, DetectorConfig(fft_backend="rocket"))
    assert [(x.sample_start, x.sample_end) for x in a] == [(x.sample_start, x.sample_end) for x in b]


def test_noise_alone_gives_no_bursts():
    rng_seconds = 5.0
    x = scene(FS, int(FS * rng_seconds), [], seed=11)
    assert run(x, 1 << 18) == []


def test_floor_follows_a_rising_noise_level():
    """A 6 dB step in the noise floor is absorbed, not reported forever."""
    n = int(FS * 6)
    x = scene(FS, n, [], seed=5)
    x[n // 6:] *= 2.0
    found = run(x, 1 << 18)
    # The step (at 1 s) may show as a brief flurry while the floor catches up, never after.
    assert len(found) <= 25
    assert all(1.0 <= b.t_start_s and b.t_end_s < 2.5 for b in found)


def test_gap_splits_and_time_counts_lost_samples():
    """Indices count delivered samples (positions in the recording); time counts lost ones too."""
    x = scene(FS, 200_000, [TrueBurst(150_000, 20_000, 0, 300e3, 20)], seed=2)
    det = BurstDetector(DetectorConfig(), FS, FC)
    out = det.feed(IQBlock(x[None, :100_000], 0, FC, FS))
    out += det.feed(IQBlock(x[None, 100_000:], 100_000, FC, FS, samples_lost_before=50_000))
    out += det.finish()
    assert len(out) == 1
    assert abs(out[0].sample_start - 150_000) < 128
    assert abs(out[0].t_start_s - (150_000 + 50_000) / FS) < 128 / FS


def test_retune_restarts_floor_and_uses_new_frequency():
    x = scene(FS, 200_000, [TrueBurst(150_000, 20_000, 100e3, 300e3, 20)], seed=4)
    det = BurstDetector(DetectorConfig(), FS, FC)
    out = det.feed(IQBlock(x[None, :100_000], 0, FC, FS))
    out += det.feed(IQBlock(x[None, 100_000:], 100_000, 915e6, FS))
    out += det.finish()
    assert len(out) == 1
    assert abs(out[0].center_freq_hz - (915e6 + 100e3)) < 30e3


def test_burst_at_stream_start_and_end():
    x = scene(FS, 100_000, [TrueBurst(0, 20_000, 0, 300e3, 20), TrueBurst(90_000, 10_000, 0, 300e3, 20)],
              seed=6)
    found = run(x, 1 << 14)
    assert len(found) == 2
    assert found[0].sample_start < 200
    assert found[1].sample_end > 99_500


def test_nfft_chosen_from_sample_rate():
    assert BurstDetector(DetectorConfig(), 2.4e6, FC).nfft == 256
    assert BurstDetector(DetectorConfig(), 50e6, FC).nfft == 1024
    assert BurstDetector(DetectorConfig(fft_size=512), 2.4e6, FC).nfft == 512
