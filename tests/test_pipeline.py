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
