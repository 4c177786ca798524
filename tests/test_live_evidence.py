"""Evidence clips from the ring buffer: extent, annotation, gaps and retunes kept."""
from __future__ import annotations

import json

import numpy as np

from rfdetect.live.evidence import EvidenceRecorder
from rfdetect.sources.accounting import Chunk
from rfdetect.sources.hdf5 import HDF5Source

RATE = 1e6
N = 50_000            # 50 ms chunks


def _chunk(i, freq=868e6, lost=0):
    pos = np.arange(i * N, (i + 1) * N, dtype=np.int64)
    raw = np.empty(2 * N, np.uint8)
    raw[0::2] = pos & 255
    raw[1::2] = (pos >> 8) & 255
    return Chunk(raw, i * N, freq, lost, 1_700_000_000.0 + i * N / RATE)


def _det(report, start, end, track=7):
    return {"type": "detection", "link": "expresslrs-lora", "track_id": track, "sample_start": start,
            "sample_end": end, "center_freq_hz": 868.1e6, "bandwidth_hz": 5e5, "evidence": {"report": report}}


def test_clip_runs_from_pre_roll_to_the_end_of_the_track(tmp_path):
    ev = EvidenceRecorder(str(tmp_path), RATE, pre_s=1.5, post_s=0.5, ring_s=5.0)
    for i in range(60):                                  # 3 s of stream
        ev.add(_chunk(i))
    ev.on_record(_det("first", 2_500_000, 2_600_000))    # confirmed at 2.6 s, first burst 2.5 s
    ev.on_record(_det("renamed", 2_500_000, 2_700_000))  # another link named: the track goes on
    assert not ev.clips
    for i in range(60, 80):
        ev.add(_chunk(i, freq=869e6 if i >= 70 else 868e6, lost=1234 if i == 65 else 0))
    ev.on_record(_det("update", 2_500_000, 3_800_000))   # the track ended at 3.8 s
    ev.on_record(_det("update", 2_500_000, 3_800_000, track=8) | {"evidence": {"report": "first"}})
    closed = []
    for i in range(80, 100):
        closed += ev.add(_chunk(i))
    assert len(closed) == 1
    assert len(ev.finish()) == 1                          # track 8, closed at the end of the scan
    with HDF5Source(closed[0]) as src:
        info = src.info
        raw = src.read_raw(0, info.num_samples)[0].astype(np.int64)
    pos = raw[:, 0] + 256 * raw[:, 1]
    assert pos[0] == 1_000_000 % 65536                    # 1.5 s before the first burst
    assert info.num_samples == 4_300_000 - 1_000_000      # to 0.5 s after the end
    assert info.gaps == ((65 * N - 1_000_000, 1234),)
    assert info.retunes == ((70 * N - 1_000_000, 869e6), (80 * N - 1_000_000, 868e6))
    ann = info.annotations[0]
    assert (ann.sample_start, ann.sample_count) == (1_500_000, 1_300_000)
    assert ann.label == "expresslrs-lora" and json.loads(ann.comment)["evidence"]["report"] == "update"
    assert info.datetime_utc.startswith("2023-11-14T22:13:21")


def test_clip_is_cut_at_the_ring_and_the_maximum(tmp_path):
    ev = EvidenceRecorder(str(tmp_path), RATE, pre_s=1.5, ring_s=1.0, max_clip_s=2.0)
    for i in range(40):
        ev.add(_chunk(i))
    ev.on_record(_det("first", 1_900_000, 1_950_000))
    closed = []
    for i in range(40, 100):
        closed += ev.add(_chunk(i))
    assert len(closed) == 1
    with HDF5Source(closed[0]) as src:
        assert src.complete and src.info.num_samples == 2_000_000
        raw = src.read_raw(0, 1)[0, 0].astype(np.int64)
    assert raw[0] + 256 * raw[1] == (2_000_000 - 1_000_000) % 65536   # the ring held 1 s
