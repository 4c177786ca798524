"""The burst detector end to end on synthetic scenes: accuracy, block-size
independence, false alarms on noise, gaps and retunes."""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.detect import BurstDetector, DetectorConfig
from rfdetect.errors import ParameterError
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


@pytest.mark.parametrize("batch_frames", [1, 37, 256])
def test_same_bursts_for_any_batch_size(truth_scene, batch_frames):
    """The frames per FFT and kernel call are a matter of speed only."""
    reference = run(truth_scene, 1 << 16)
    assert run(truth_scene, 1 << 16, DetectorConfig(batch_frames=batch_frames)) == reference


def test_batch_size_follows_the_fft_size_and_is_checked():
    # 1 MB of spectra a batch, within 64..512 frames
    assert [DetectorConfig().frames_per_batch(n) for n in (64, 256, 1024, 8192)] == [512, 512, 128, 64]
    assert DetectorConfig(batch_frames=100).frames_per_batch(1024) == 100
    assert BurstDetector(DetectorConfig(), 50e6, FC).framer.spectrogram.batch_frames == 128
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ParameterError) as err:
            DetectorConfig(batch_frames=bad)
        assert err.value.param == "batch_frames"


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


# -- the integrated test (--integrate) ------------------------------------------------------

INTEGRATED = DetectorConfig(integrate_frames=9)
# A packet train at 0 dB in-band SNR: 4.4 ms, 500 kHz wide, every 5 ms, hopping over three
# channels 800 kHz apart (closer channels, under about 100 kHz apart at the edges, can join).
WEAK = [TrueBurst(30_000 + 12_000 * i, 10_512, (-800e3, 0.0, 800e3)[i % 3], 500e3, 0.0)
        for i in range(20)]


@pytest.fixture(scope="module")
def weak_scene():
    return scene(FS, 300_000, WEAK, seed=21)


def _found(truth, bursts):
    """Truth bursts overlapped in time and frequency by a reported burst at least half as long."""
    hits = 0
    for t in truth:
        f_lo, f_hi = FC + t.offset_hz - t.bandwidth_hz / 2, FC + t.offset_hz + t.bandwidth_hz / 2
        hits += any(b.sample_start < t.start + t.length and b.sample_end > t.start
                    and b.f_lo_hz < f_hi and b.f_hi_hz > f_lo
                    and b.sample_end - b.sample_start > t.length / 2 for b in bursts)
    return hits


def test_integrated_test_finds_bursts_at_0_db(weak_scene):
    plain = run(weak_scene, 1 << 16)
    integrated = run(weak_scene, 1 << 16, INTEGRATED)
    assert _found(WEAK, plain) <= 5, "the per-cell test alone should miss most 0 dB bursts"
    assert _found(WEAK, integrated) >= 19
    whole = [b for b in integrated if b.sample_end - b.sample_start > 5_000]
    assert len(whole) >= 19
    # At 0 dB a frame's in-band energy is within about 3 sigma of half power: most edges
    # land within a frame (53 us), a few are off by several.
    errors_s = []
    for b in whole:
        t = min(WEAK, key=lambda t: abs(t.start - b.sample_start))
        errors_s += [abs(b.sample_start - t.start) / FS, abs(b.sample_end - (t.start + t.length)) / FS]
        assert abs(b.center_freq_hz - (FC + t.offset_hz)) < 50e3
        assert 350e3 < b.bandwidth_hz < 650e3
        assert abs(b.snr_db - 0.0) < 2.0, b.snr_db
    errors_s = np.sort(errors_s)
    assert errors_s[len(errors_s) // 2] < 0.1e-3, np.round(errors_s * 1e6)
    assert errors_s[int(0.9 * len(errors_s))] < 0.3e-3 and errors_s[-1] < 1.5e-3, np.round(errors_s * 1e6)


@pytest.mark.parametrize("block", [1000, 77_777])
def test_integrated_test_does_not_depend_on_block_size(weak_scene, block):
    assert run(weak_scene, block, INTEGRATED) == run(weak_scene, 1 << 20, INTEGRATED)


def test_integrated_test_keeps_noise_quiet():
    x = scene(FS, int(FS * 5.0), [], seed=11)
    assert run(x, 1 << 18, INTEGRATED) == []


def test_integrated_test_keeps_strong_bursts_and_packet_gaps(truth_scene):
    """Strong bursts are measured as before, and packets 0.3 ms apart stay apart."""
    plain = run(truth_scene, 1 << 16)
    integrated = run(truth_scene, 1 << 16, INTEGRATED)
    assert len(integrated) == len(plain) == len(TRUTH)
    for a, b in zip(plain, integrated):
        assert abs(a.sample_start - b.sample_start) / FS < 128 / FS
        assert abs(a.sample_end - b.sample_end) / FS < 128 / FS
        assert abs(a.snr_db - b.snr_db) < 1.0
    packets = [TrueBurst(20_000 + 2_400 * i, 1_580, 0.0, 300e3, 3.0) for i in range(30)]
    found = run(scene(FS, 120_000, packets, seed=4), 1 << 16, INTEGRATED)
    assert len([b for b in found if b.sample_end - b.sample_start < 2_400]) >= 27
    # A stray hot noise cell in a gap can still join two packets, as with the per-cell test.
    assert len([b for b in found if b.sample_end - b.sample_start >= 2_400]) <= 1


@pytest.mark.parametrize("fs, fc, faint_db, scale", [(FS, FC, 1.5, 1.0), (FS, FC, 0.15, 1.0),
                                                     (30.72e6, 2439.5e6, 0.15, 0.1)])
def test_the_floor_pre_check_skips_only_floors_without_raised_spans(fs, fc, faint_db, scale):
    """``_floor_may_stand_raised`` lets the detector skip ``raised_spans``: it must say
    True for every floor where the search finds a span, and False for plain noise; with
    the faint spans off (their threshold the plain one's, or no OFDM video band in the
    window: the plain threshold stands) and on (0.15 dB at 2.4 GHz, floors and heights
    ten times flatter)."""
    from rfdetect.detect.steady import raised_spans
    config = DetectorConfig(steady_min_bandwidth_hz=100e3, steady_faint_threshold_db=faint_db)  # narrow spans: found often
    det = BurstDetector(config, fs, fc)
    if fc == FC:
        faint_db = 1.5
    rng = np.random.default_rng(7)
    found = skipped = 0
    for trial in range(400):
        floor = 10 ** (rng.uniform(-0.3, 0.3, det.nfft) * scale / 10)
        if trial % 2:
            lo = int(rng.integers(0, det.nfft - 20))
            # Heights around the thresholds (1.5 dB for the mean, 0.75 dB for a bin; a tenth
            # of that for faint spans).
            floor[lo: lo + int(rng.integers(12, 80))] *= 10 ** (rng.uniform(0.3, 2.5) * scale / 10)
        det._floor[:] = floor.astype(np.float32)
        spans = raised_spans(det._floor, threshold_db=faint_db, min_bins=det._steady_min_bins,
                             shoulder_bins=max(2, det._steady_min_bins // 4))
        may = det._floor_may_stand_raised()
        assert may or not spans, trial
        found += bool(spans)
        skipped += not may
    assert found > 50 and skipped > 150          # both sides of the test were exercised


def test_frames_as_spectra_or_as_power_give_the_same_bursts(truth_scene):
    """``feed`` hands the frame kernel each batch's spectra (it squares them itself);
    frames computed beforehand come as power: the bursts are the same, to the bit."""
    deferred = run(truth_scene, 1 << 15)
    det = BurstDetector(DetectorConfig(), FS, FC)
    eager = []
    for i in range(0, truth_scene.size, 1 << 15):
        block = IQBlock(truth_scene[None, i:i + (1 << 15)], i, FC, FS)
        eager += det.consume(det.framer.frame(block))
    eager = sorted(eager + det.finish(), key=lambda b: (b.sample_start, b.f_lo_hz))
    assert len(deferred) == len(TRUTH)
    assert [b.__dict__ for b in eager] == [b.__dict__ for b in deferred]
