"""Contract of the hand-off outputs (docs/records.md): fail when a field is renamed or changes meaning.

Each sink's serialiser is fed the sample records; the exact field sets, names
and units of what it produces are asserted.  The JSON Lines producers of the
engine are checked for the fields DESIGN.md section 5 promises.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from rfdetect.sinks import dumps, stamp
from rfdetect.sinks.base import RECORD_TYPES
from test_sinks_support import ALL, BEARING, DETECTION, FIX, sample

# Fields every record of a type carries (DESIGN.md section 5, schema 1), plus the sinks' "id".
REQUIRED = {
    "detection": {"type", "schema", "link", "drone", "confidence", "center_freq_hz",
                  "bandwidth_hz", "t_start_s", "t_end_s", "snr_db", "bursts", "evidence"},
    "burst": {"type", "schema", "t_start_s", "t_end_s", "f_lo_hz", "f_hi_hz", "snr_db"},
    "bearing": {"type", "schema", "link", "bearing_deg", "bearing_sigma_deg", "method", "sensor"},
    "fix": {"type", "schema", "lat", "lon", "semi_major_m", "semi_minor_m", "orientation_deg",
            "sensors"},
    "gap": {"type", "schema", "sample_index", "samples_lost"},
    "summary": {"type", "schema"},
}
SENSOR_FIELDS = {"lat", "lon", "alt_m", "heading_deg"}


def test_record_types_are_the_documented_six():
    assert set(RECORD_TYPES) == set(REQUIRED)


@pytest.mark.parametrize("record", ALL, ids=lambda r: r["type"] + str(len(r)))
def test_jsonl_line_is_the_record_plus_id(record):
    rec = stamp(sample(record))
    line = dumps(rec)
    assert "\n" not in line
    got = json.loads(line)
    assert set(got) == set(record) | {"id"}
    assert REQUIRED[got["type"]] <= set(got)
    assert got["schema"] == 1
    if "sensor" in got:
        assert set(got["sensor"]) == SENSOR_FIELDS


def test_engine_records_carry_the_contract_fields():
    records = pytest.importorskip("rfdetect.records")
    bearing_records = pytest.importorskip("rfdetect.bearing.records")
    from rfdetect.model import Burst, RecordingInfo, SensorPosition
    info = RecordingInfo(path="x.h5", sample_rate_hz=2.4e6, center_freq_hz=868e6,
                         datetime_utc="2026-11-25T12:00:00Z",
                         sensor=SensorPosition(52.0, 4.0, 10.0, 0.0))
    burst = Burst(0, 2400, 0.0, 0.001, 867.9e6, 868.1e6, 12.0, -30.0, 868e6)
    got = records.burst_record(burst, info)
    assert REQUIRED["burst"] <= set(got) and got["f_lo_hz"] == pytest.approx(867.9e6)
    assert got["time_utc"] == "2026-11-25T12:00:00Z"
    gap = records.gap_record(4800, 100, info)
    assert REQUIRED["gap"] <= set(gap) and gap["samples_lost"] == 100
    assert set(bearing_records.sensor_dict(1, 2, 3, 4)) == SENSOR_FIELDS


def test_mqtt_topics():
    from rfdetect.sinks.mqtt import MqttSink
    topic = MqttSink.topic
    fake = type("S", (), {"prefix": "site", "sensor_id": "mast-1"})()
    assert [topic(fake, t) for t in RECORD_TYPES] == [f"site/mast-1/{t}" for t in RECORD_TYPES]


COT_ATTRS = {
    "detection": {"id", "record_type", "sensor_id", "link", "confidence", "center_freq_hz",
                  "bandwidth_hz", "snr_db", "t_start_s", "t_end_s", "bursts", "time_utc",
                  "drone", "position_source"},
    "bearing": {"id", "record_type", "sensor_id", "link", "bearing_deg", "bearing_sigma_deg",
                "method", "time_utc", "t_start_s", "t_end_s", "heading_deg", "north_reference",
                "sigma_convention", "line_m"},
    "fix": {"id", "record_type", "sensor_id", "link", "lat", "lon", "semi_major_m",
            "semi_minor_m", "orientation_deg", "time_utc", "position_source"},
}


@pytest.mark.parametrize("record", [DETECTION, BEARING, FIX], ids=lambda r: r["type"])
def test_cot_event_fields_and_units(record):
    from rfdetect.sinks.cot import CotEncoder
    enc = CotEncoder("mast-1")
    rec = stamp(sample(record))
    ev = ET.fromstring(enc.encode(rec, datetime(2026, 1, 1, tzinfo=timezone.utc)))
    assert set(ev.attrib) == {"version", "uid", "type", "how", "time", "start", "stale"}
    assert set(ev.find("point").attrib) == {"lat", "lon", "hae", "ce", "le"}
    rf = ev.find("detail/rfdetect").attrib
    assert set(rf) == COT_ATTRS[record["type"]]
    assert rf["id"] == rec["id"] and rf["record_type"] == record["type"]
    if record["type"] == "detection":
        assert float(rf["center_freq_hz"]) == record["center_freq_hz"]         # Hz, not MHz
        assert float(ev.find("point").get("lat")) == pytest.approx(record["sensor"]["lat"])
    if record["type"] == "bearing":
        assert float(ev.find("detail/bearing").get("value")) == record["bearing_deg"]  # degrees true
        assert float(rf["bearing_sigma_deg"]) == record["bearing_sigma_deg"]          # 1-sigma
        assert ev.get("type") == "u-rb-a"
    if record["type"] == "fix":
        assert float(ev.find("point").get("ce")) == record["semi_major_m"]             # metres


def test_sapient_report_fields_and_units():
    from rfdetect.sinks.sapient import OBJECT_INFO, SapientEncoder
    assert set(OBJECT_INFO) == {"record_type", "link", "center_freq_hz", "bandwidth_hz",
                                "t_start_s", "t_end_s", "time_utc", "bursts", "track_id",
                                "method", "semi_minor_m", "orientation_deg"}
    enc = SapientEncoder("mast-1")
    det = enc.detection(stamp(sample(DETECTION))).detection_report
    brg_rec = stamp(sample(BEARING))
    brg = enc.detection(brg_rec).detection_report
    assert brg.report_id == brg_rec["id"] and len(brg.object_id) == 26
    assert brg.object_id == det.object_id
    rb = brg.range_bearing
    assert rb.azimuth == pytest.approx(BEARING["bearing_deg"])               # degrees, true north
    assert rb.azimuth_error == pytest.approx(BEARING["bearing_sigma_deg"])   # 1-sigma, degrees
    assert [f.name for f, _ in rb.ListFields()] == ["azimuth", "azimuth_error",
                                                   "coordinate_system", "datum"]
    assert {f.name for f, _ in det.ListFields()} == {
        "report_id", "object_id", "range_bearing", "detection_confidence", "object_info",
        "classification", "signal"}
    assert det.signal[0].centre_frequency == pytest.approx(DETECTION["center_freq_hz"])  # Hz
    assert {i.type for i in det.object_info} == {
        "record_type", "link", "center_freq_hz", "bandwidth_hz", "t_start_s", "t_end_s",
        "time_utc", "bursts", "track_id"}


def test_output_lines_are_strict_json_with_non_finite_numbers_as_null():
    import numpy as np

    from rfdetect.cli.common import to_json_line
    record = {"type": "burst", "snr_db": float("inf"), "f": np.float32(1.5), "n": np.int64(3),
              "nested": {"x": [1.0, float("nan"), np.float64(2.25)]}, "ok": 0.1}
    line = to_json_line(record)
    assert line.endswith("\n") and "NaN" not in line and "Infinity" not in line
    assert json.loads(line) == {"type": "burst", "snr_db": None, "f": 1.5, "n": 3,
                                "nested": {"x": [1.0, None, 2.25]}, "ok": 0.1}
    finite = {"type": "burst", "snr_db": 12.5, "nested": {"x": [1.0, 2.0]}}
    assert to_json_line(finite) == json.dumps(finite, separators=(", ", ": ")) + "\n"
