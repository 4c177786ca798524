"""SAPIENT sink against a receiver decoding with the independent sapient-msg bindings."""
from __future__ import annotations

import struct
import threading
import time

import pytest

pb = pytest.importorskip("sapient_msg.bsi_flex_335_v2_0")
from sapient_msg.bsi_flex_335_v2_0 import (location_pb2, range_bearing_pb2,  # noqa: E402
                                           registration_pb2, sapient_message_pb2,
                                           status_report_pb2)

from rfdetect.sinks import open_sink  # noqa: E402
from test_sinks_support import (BEARING, BURST, DETECTION, DETECTION_NO_SENSOR, FIX,  # noqa: E402
                                SENSOR, LoopbackServer, free_port, received, restart_mid_stream,
                                sample, stream, wait_until)

Reg = registration_pb2.Registration
Status = status_report_pb2.StatusReport


class SapientReceiver(LoopbackServer):
    """A fusion-node stand-in: acks registrations (unless told not to), keeps every message."""

    backlog = 4

    def __init__(self, port: int, ack: bool = True):
        self.ack = ack
        self.messages: list[sapient_message_pb2.SapientMessage] = []
        self.registrations = 0
        self.lock = threading.Lock()
        super().__init__(port)

    def serve(self, conn):
        conn.settimeout(0.05)
        buf = b""
        registered = False
        for data in received(conn, lambda: self.running):
            buf += data
            while len(buf) >= 4:
                (n,) = struct.unpack_from("<I", buf)
                if len(buf) < 4 + n:
                    break
                msg = sapient_message_pb2.SapientMessage.FromString(buf[4:4 + n])
                buf = buf[4 + n:]
                kind = msg.WhichOneof("content")
                if kind == "registration":
                    with self.lock:
                        self.registrations += 1
                    if self.ack:
                        reply = sapient_message_pb2.SapientMessage()
                        reply.timestamp.GetCurrentTime()
                        reply.node_id = "00000000-0000-4000-8000-00000000f00d"
                        reply.destination_id = msg.node_id
                        reply.registration_ack.acceptance = True
                        data = reply.SerializeToString()
                        conn.sendall(struct.pack("<I", len(data)) + data)
                        registered = True
                else:
                    assert registered, f"{kind} before the registration was acknowledged"
                with self.lock:
                    self.messages.append(msg)
        conn.close()

    def of(self, kind):
        with self.lock:
            return [m for m in self.messages if m.WhichOneof("content") == kind]

    def report_ids(self):
        return {m.detection_report.report_id for m in self.of("detection_report")}


@pytest.fixture
def receiver():
    r = SapientReceiver(free_port())
    yield r
    r.stop()


def _info(report) -> dict:
    return {i.type: i.value for i in report.object_info}


def test_registration_status_and_detection_reports(tmp_path, receiver):
    sink = open_sink(f"sapient://127.0.0.1:{receiver.port}?heartbeat_s=0.2", spool_dir=tmp_path,
                     sensor_id="mast-1")
    det, brg, fix, nosensor = sample(DETECTION), sample(BEARING), sample(FIX), \
        sample(DETECTION_NO_SENSOR)
    for r in (det, sample(BURST), brg, fix, nosensor):
        sink.send(r)
    wait_until(lambda: len(receiver.of("detection_report")) == 4, 5, "four reports")
    wait_until(lambda: len(receiver.of("status_report")) >= 3, 5, "heartbeats")
    counters = sink.close(timeout_s=5)
    assert counters["sent"] == 4 and counters["filtered"] == 1

    reg_msg = receiver.of("registration")[0]
    reg = reg_msg.registration
    assert reg.node_definition[0].node_type == Reg.NODE_TYPE_PASSIVE_RF
    assert reg.icd_version == "BSI Flex 335 v2.0"
    assert reg.status_definition.status_interval.value == pytest.approx(0.2)
    classes = reg.mode_definition[0].detection_definition[0].detection_class_definition[0]
    by_class = {c.type: [s.type for s in c.sub_class] for c in classes.class_definition}
    assert "expresslrs-lora" in by_class["UAV"] and "unknown-fhss" in by_class["Unknown"]
    node_id = reg_msg.node_id
    assert all(m.node_id == node_id for m in receiver.messages)

    statuses = receiver.of("status_report")
    assert statuses[0].status_report.info == Status.INFO_NEW
    assert statuses[-1].status_report.system == Status.SYSTEM_GOODBYE
    located = [s.status_report for s in statuses if s.status_report.HasField("node_location")]
    assert located, "heartbeats must carry the node location once it is known"
    loc = located[-1].node_location
    assert (loc.y, loc.x, loc.z) == pytest.approx((SENSOR["lat"], SENSOR["lon"], SENSOR["alt_m"]))
    assert loc.coordinate_system == location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M

    reports = {m.detection_report.report_id: m.detection_report
               for m in receiver.of("detection_report")}
    d = reports[det["id"]]
    assert d.HasField("range_bearing")
    assert not d.range_bearing.HasField("azimuth") and not d.range_bearing.HasField("range")
    assert d.detection_confidence == pytest.approx(0.93)
    assert d.classification[0].type == "UAV"
    assert d.classification[0].sub_class[0].type == "expresslrs-lora"
    assert d.classification[0].sub_class[0].level == 1
    assert d.classification[0].sub_class[0].confidence == pytest.approx(0.93)
    assert d.signal[0].centre_frequency == pytest.approx(868.4e6)
    assert d.signal[0].start_frequency == pytest.approx(868.15e6)
    assert d.signal[0].stop_frequency == pytest.approx(868.65e6)
    assert d.signal[0].amplitude == pytest.approx(17.5)
    assert _info(d)["record_type"] == "detection" and _info(d)["bursts"] == "42"

    b = reports[brg["id"]]
    rb = b.range_bearing
    assert rb.azimuth == pytest.approx(123.4) and rb.azimuth_error == pytest.approx(4.5)
    assert not rb.HasField("range")                               # bearing-only
    assert rb.datum == range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
    assert rb.coordinate_system == range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
    assert b.object_id == d.object_id                             # same emitter, same track
    assert b.classification[0].type == "UAV" and _info(b)["method"] == "music"

    f = reports[fix["id"]]
    assert (f.location.y, f.location.x) == pytest.approx((52.02, 4.36))
    assert f.location.y_error == pytest.approx(150.0 / 111320.0)
    assert f.object_id == d.object_id

    u = reports[nosensor["id"]]
    assert u.classification[0].type == "Unknown" and u.object_id != d.object_id


def test_status_says_when_node_location_is_unknown(tmp_path, receiver):
    sink = open_sink(f"sapient://127.0.0.1:{receiver.port}", spool_dir=tmp_path, sensor_id="s2")
    wait_until(lambda: receiver.of("status_report"), 5, "first heartbeat")
    sink.close(timeout_s=5)
    st = receiver.of("status_report")[0].status_report
    assert not st.HasField("node_location")
    assert any(s.status_value == "node location unknown" for s in st.status)


def test_receiver_restart_mid_stream_loses_nothing(tmp_path, receiver):
    sink = open_sink(f"sapient://127.0.0.1:{receiver.port}", spool_dir=tmp_path, sensor_id="s3")
    records = stream(500)
    counters = restart_mid_stream(sink, records, receiver.report_ids, receiver.stop, receiver.start,
                                  down=slice(200, 350), after=slice(350, None), timeout_s=20)
    assert counters["sent"] == 500 and counters["spooled"] == 0 and counters["dropped"] == 0
    assert receiver.registrations == 2          # registered again after the restart
    # One object id per emitter, kept across the reconnect.
    assert len({m.detection_report.object_id for m in receiver.of("detection_report")}) == 1


def test_receiver_that_never_acknowledges(tmp_path):
    silent = SapientReceiver(free_port(), ack=False)
    try:
        sink = open_sink(f"sapient://127.0.0.1:{silent.port}?timeout_s=1", spool_dir=tmp_path,
                         sensor_id="s4")
        for r in stream(30):
            sink.send(r)
        time.sleep(0.3)
        t0 = time.monotonic()
        counters = sink.close(timeout_s=1.5)
        assert time.monotonic() - t0 < 2.0
        assert counters["sent"] == 0 and counters["spooled"] == 30
        assert not silent.of("detection_report")        # nothing before an acknowledgement
    finally:
        silent.stop()
