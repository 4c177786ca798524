"""The pipeline's bookkeeping: a track reported early and again at its end counts once."""
from __future__ import annotations

import numpy as np

from rfdetect.classify import Detection
from rfdetect.model import IQBlock, RecordingInfo
from rfdetect.pipeline import Pipeline
from synth import TrueBurst, scene

FS, FC = 2.4e6, 868e6


class EarlyAndFinal:
    """Stand-in classifier: reports the first burst's track at once, then again at the end."""

    def __init__(self):
        self.seen = []

    def add(self, burst, iq=None):
        self.seen.append(burst)
        return [self._det(link="unknown")] if len(self.seen) == 1 else []

    def set_window(self, center_freq_hz, sample_rate_hz, frame_hop_s=None, since_s=None):
        pass

    def finish(self):
        return [self._det(link="expresslrs-lora", drone=True)]

    def _det(self, link, drone=None):
        b = self.seen[0]
        return Detection(link, drone, 0.9, b.center_freq_hz, b.bandwidth_hz, b.t_start_s, b.t_end_s,
                         b.sample_start, b.sample_end, b.snr_db, len(self.seen), track_id=7)


def test_superseded_reports_count_once():
    x = scene(FS, 200_000, [TrueBurst(50_000, 10_000, 0, 300e3, 20), TrueBurst(120_000, 10_000, 0, 300e3, 20)])
    records = []
    pipeline = Pipeline(RecordingInfo("mem", FS, FC), records.append, classifier=EarlyAndFinal())
    pipeline.feed(IQBlock(x[None, :], 0, FC, FS))
    summary = pipeline.finish()
    dets = [r for r in records if r["type"] == "detection"]
    assert [d["link"] for d in dets] == ["unknown", "expresslrs-lora"] and {d["track_id"] for d in dets} == {7}
    assert summary["detections"] == 1 and summary["detection_records"] == 2
    assert summary["drone_detections"] == 1 and summary["links"] == {"expresslrs-lora": 1}
    assert summary["bursts"] == 2 and np.isclose(summary["signal_s"], 200_000 / FS)


class OneTrack:
    """Stand-in classifier: every burst belongs to one track, reported at the end."""

    def __init__(self):
        self.seen = []

    def add(self, burst, iq=None):
        self.seen.append(burst)
        return []

    def set_window(self, center_freq_hz, sample_rate_hz, frame_hop_s=None, since_s=None):
        pass

    def finish(self):
        b0, b1 = self.seen[0], self.seen[-1]
        return [Detection("expresslrs-lora", True, 0.9, b0.center_freq_hz, b0.bandwidth_hz, b0.t_start_s,
                          b1.t_end_s, b0.sample_start, b1.sample_end, b0.snr_db, len(self.seen), 1)]


def test_heading_log_gives_an_amplitude_bearing(tmp_path):
    """An operator turns a 60-degree Yagi through a full circle in 2 s; the emitter is at 120 degrees."""
    from rfdetect.bearing.amplitude import AntennaPattern
    true_deg, n = 120.0, int(2.0 * FS)
    starts = np.arange(20_000, n - 30_000, 120_000)                  # 40 bursts, 5 ms each
    heading = lambda t: 360.0 * t / 2.0
    gains_db = AntennaPattern().gain_db(heading((starts + 6_000) / FS) - true_deg)
    x = scene(FS, n, [], seed=3)
    loud = scene(FS, n, [TrueBurst(int(s), 12_000, 100e3, 300e3, 30.0) for s in starts], seed=3) - x
    for s, g in zip(starts, gains_db):
        x[s:s + 12_000] += loud[s:s + 12_000] * np.float32(10 ** (g / 20))
    log = tmp_path / "heading.csv"
    log.write_text("t_s,heading_deg\n" + "".join(f"{t:.3f},{heading(t) % 360:.2f}\n"
                                                   for t in np.arange(0, 2.0001, 0.05)))
    records = []
    pipeline = Pipeline(RecordingInfo("mem", FS, FC), records.append, classifier=OneTrack(),
                        heading_log_path=str(log))
    for i in range(0, n, 1 << 18):
        pipeline.feed(IQBlock(x[None, i:i + (1 << 18)], i, FC, FS))
    pipeline.finish()
    (bearing,) = [r for r in records if r["type"] == "bearing"]
    print("amplitude bearing", bearing["bearing_deg"], "+-", bearing["bearing_sigma_deg"], bearing["bursts_used"])
    assert bearing["method"] == "amplitude" and bearing["usable"] and bearing["link"] == "expresslrs-lora"
    error = (bearing["bearing_deg"] - true_deg + 180) % 360 - 180
    assert abs(error) < 3 * bearing["bearing_sigma_deg"] + 1.0, bearing
    assert bearing["bursts_used"] >= 15
