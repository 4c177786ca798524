"""Sample alignment and phase coherence of array channels, and the coherent source's
merging: lags to the sample, residuals, receivers without a shared clock, gaps."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from rfdetect.bearing import uca
from rfdetect.bearing.coherence import CoherenceMonitor, estimate_alignment, residual_delay
from rfdetect.model import RecordingInfo
from rfdetect.sources.accounting import Accounting, Chunk
from rfdetect.sources.coherent import CoherentConfig, CoherentSource
from test_bearing_signals import C, Emitter, synth

FS, FC = 1.2e6, 868e6
ARRAY = uca(5, 0.35 * C / FC)


@pytest.fixture(scope="module")
def scene():
    """Two emitters at different bearings (different inter-channel phases) on different channels."""
    ems = [Emitter(75.0, -300e3, 125e3, 0.004 + 0.011 * k, 4e-3, 12.0) for k in range(65)]
    ems += [Emitter(200.0, 250e3, 60e3, 0.009 + 0.017 * k, 3e-3, 12.0) for k in range(42)]
    x, _ = synth(ARRAY.positions_m, FS, FC, ems, 900_000, np.random.default_rng(4))
    return x


def test_lags_are_found_to_the_sample(scene):
    shifts = [0, 1234, -20000, 7, 45001]
    n = 600_000
    x = [scene[k, 100_000 + s: 100_000 + s + n] for k, s in enumerate(shifts)]
    result = estimate_alignment(x, FS, 60_000)
    assert [a.lag_samples for a in result] == [-s for s in shifts]     # channel k starts s_k later
    assert all(abs(a.residual_samples) <= 0.1 for a in result)
    assert all(a.method == "complex" and a.peak_ratio > 50 and a.coherence > 0.95 for a in result[1:])


def test_fractional_residual_is_measured(scene):
    """Channel 1 delayed by 0.3 sample (band-limited shift): integer lag 0, residual 0.3."""
    a = scene[0, :400_000]
    f = np.fft.fftfreq(a.size)
    b = np.fft.ifft(np.fft.fft(scene[1, :400_000]) * np.exp(-2j * np.pi * f * 0.3))
    assert residual_delay(a, b) == pytest.approx(0.3, abs=0.06)
    result = estimate_alignment([a, b], FS, 10_000)
    assert result[1].lag_samples == 0 and result[1].residual_samples == pytest.approx(0.3, abs=0.06)


def test_a_channel_with_its_own_oscillator_is_not_coherent(scene):
    n = 600_000
    t = np.arange(n) / FS
    x = [scene[k, :n].copy() for k in range(5)]
    x[3] = x[3] * np.exp(2j * np.pi * 150.0 * t)           # 150 Hz off: 0.17 ppm at 868 MHz
    result = estimate_alignment(x, FS, 30_000)
    assert result[3].coherence < 0.8 and abs(result[3].lo_offset_hz) > 50
    assert all(r.coherence > 0.95 for i, r in enumerate(result[1:], 1) if i != 3)


def test_monitor_marks_where_coherence_is_lost(scene):
    x = scene[:, :800_000].copy()
    t = np.arange(400_000) / FS
    x[2, 400_000:] *= np.exp(2j * np.pi * 200.0 * t)        # channel 2 unlocks half-way
    mon = CoherenceMonitor(5, FS)
    for i in range(0, x.shape[1], 65536):
        mon.feed(x[:, i:i + 65536], i)
    assert mon.incoherent_channels == {2}
    # marked from the evidence that showed it: at most about one block early
    assert not mon.incoherent_between(0, 400_000 - 2 * 65536)
    assert mon.incoherent_between(420_000, 800_000)
    assert not mon.misaligned


def test_monitor_notices_a_shifted_channel(scene):
    x = scene[:, :800_000].copy()
    x[4, 400_000:] = scene[4, 450_000:850_000]          # 50000 samples lost without a trace
    mon = CoherenceMonitor(5, FS)
    for i in range(0, x.shape[1], 65536):
        mon.feed(x[:, i:i + 65536], i)
    assert mon.misaligned == {4}
    assert mon.intervals and mon.intervals[0][0] >= 400_000 - 2 * 65536


# ----------------------------------------------------------------------------- merging

class Feed:
    """A live channel made of prepared chunks (what a LiveSource hands over)."""

    hardware = "test"

    def __init__(self, chunks):
        self._chunks = chunks
        self.sample_rate_hz, self.center_freq_hz, self.gain_db = FS, FC, None
        self.accounting = Accounting()
        self.started_utc = datetime.now(timezone.utc)
        self.info = RecordingInfo("feed", FS, FC, datatype="cu8")
        self.connected = True

    def open(self):
        return self

    start = open

    def stop(self):
        pass

    close = stop

    def queue_depth(self):
        return 0

    def unreported_lost(self):
        return 0

    def describe(self):
        return {}

    def chunks(self, timeout_s=None, tick_s=None):
        yield from self._chunks


def cu8(x):
    return np.clip(np.round(np.stack([x.real, x.imag], -1).reshape(-1) * 40 + 127.5), 0, 255).astype(np.uint8)


def feeds(scene, shifts, holes, n=700_000, chunk=65536):
    """Channel k starts ``shifts[k]`` samples into the scene; ``holes[k]`` = (at, lost)."""
    out = []
    for k, s in enumerate(shifts):
        stream = cu8(scene[k, s:s + n])
        chunks, pos, index, at_lost = [], 0, 0, holes.get(k)
        while pos < n:
            lost = 0
            if at_lost and pos >= at_lost[0]:
                pos += at_lost[1]
                lost, at_lost = at_lost[1], None
            m = min(chunk, n - pos)
            if m <= 0:
                break
            chunks.append(Chunk(stream[2 * pos:2 * (pos + m)], index, FC, lost, 0.0))
            index += m
            pos += m
        out.append(Feed(chunks))
    return out


def test_channels_are_merged_sample_exactly_and_a_gap_on_one_is_a_gap_for_all(scene):
    shifts = [5000, 0, 12345, 777, 3000]
    src = CoherentSource(feeds(scene, shifts, {2: (400_000, 70_000)}), array=ARRAY,
                         config=CoherentConfig(max_lag_s=0.02))
    blocks = list(src.blocks())
    assert [a.lag_samples for a in src.alignment] == [shifts[0] - s for s in shifts]
    # every block holds the same instant on every channel: compare with the scene itself
    ref = {k: cu8(scene[k]).reshape(-1, 2) for k in range(5)}
    scene_index = None
    lost = 0
    for b in blocks:
        lost += b.samples_lost_before
        raw = np.clip(np.round(np.stack([b.samples.real, b.samples.imag], -1) * 127.5 + 127.5), 0, 255)
        if scene_index is None:
            # aligned sample 0 is scene sample max(shift): where every channel has begun
            scene_index = max(shifts)
        scene_index += b.samples_lost_before
        for k in range(5):
            want = ref[k][scene_index:scene_index + b.num_samples]
            assert np.array_equal(raw[k], want), (k, b.sample_index0)
        scene_index += b.num_samples
    assert lost == 70_000 and src.accounting.samples_lost == 70_000 and src.accounting.gaps == 1
    gap_blocks = [b for b in blocks if b.samples_lost_before]
    assert len(gap_blocks) == 1
    idx = [b.sample_index0 for b in blocks]
    assert idx == sorted(idx) and all(b.sample_index0 + b.num_samples == c.sample_index0
                                      for b, c in zip(blocks, blocks[1:]))
