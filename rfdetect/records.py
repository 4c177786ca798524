"""JSON Lines records (DESIGN.md section 5, schema 1; documented in docs/records.md).

Field names carry their unit; times are seconds from the start of the
recording plus absolute UTC where the start time is known.
"""
from __future__ import annotations

import math

from .classify import Detection
from .model import Burst, RecordingInfo

SCHEMA = 1


def _round(value: float, digits: int = 9) -> float:
    return float(round(value, digits)) if math.isfinite(value) else value


def _with_time(record: dict, info: RecordingInfo, t_s: float) -> dict:
    utc = info.time_utc(t_s)
    if utc:
        record["time_utc"] = utc
    return record


def burst_record(burst: Burst, info: RecordingInfo) -> dict:
    return _with_time({
        "type": "burst", "schema": SCHEMA, "source": info.path,
        "sample_start": burst.sample_start, "sample_count": burst.sample_end - burst.sample_start,
        "t_start_s": _round(burst.t_start_s), "t_end_s": _round(burst.t_end_s),
        "duration_s": _round(burst.duration_s),
        "f_lo_hz": _round(burst.f_lo_hz, 1), "f_hi_hz": _round(burst.f_hi_hz, 1),
        "center_freq_hz": _round(burst.center_freq_hz, 1), "bandwidth_hz": _round(burst.bandwidth_hz, 1),
        "snr_db": _round(burst.snr_db, 2), "peak_power_db": _round(burst.peak_power_db, 2),
        **burst.features,
    }, info, burst.t_start_s)


def detection_record(det: Detection, info: RecordingInfo) -> dict:
    record = {
        "type": "detection", "schema": SCHEMA, "source": info.path,
        "link": det.link, "drone": det.drone, "confidence": det.confidence,
        "center_freq_hz": _round(det.center_freq_hz, 1), "bandwidth_hz": _round(det.bandwidth_hz, 1),
        "t_start_s": _round(det.t_start_s), "t_end_s": _round(det.t_end_s),
        "sample_start": det.sample_start, "sample_end": det.sample_end,
        "snr_db": _round(det.snr_db, 2), "bursts": det.bursts, "track_id": det.track_id,
        "evidence": {k: (_round(v) if isinstance(v, float) else v) for k, v in det.evidence.items()},
    }
    if det.mode:
        record["mode"] = det.mode
    if det.provisional:
        record["provisional"] = True
    s = info.sensor
    if s.lat is not None and s.lon is not None:
        record["sensor"] = {"lat": s.lat, "lon": s.lon, "alt_m": s.alt_m, "heading_deg": s.heading_deg}
    return _with_time(record, info, det.t_start_s)


def gap_record(sample_index: int, samples_lost: int, info: RecordingInfo, lost_before: int = 0) -> dict:
    """``sample_index``: first sample after the gap (indices count delivered samples);
    ``lost_before``: samples lost in earlier gaps, so that ``t_s`` is stream time."""
    t_s = (sample_index + lost_before) / info.sample_rate_hz
    return _with_time({"type": "gap", "schema": SCHEMA, "source": info.path,
                       "sample_index": int(sample_index), "samples_lost": int(samples_lost),
                       "t_s": _round(t_s)}, info, t_s)
