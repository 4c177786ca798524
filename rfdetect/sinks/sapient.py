"""SAPIENT (BSI Flex 335 v2.0) hand-off: sapient://host:port.

TCP; every message is a 4-byte little-endian length followed by a serialized
``SapientMessage``.  On each connection the node registers as a passive RF
node (declaring its detection classes), waits for the RegistrationAck, then
sends a StatusReport heartbeat every ``heartbeat_s`` (with the node location
when known, else a status entry saying it is unknown) and one DetectionReport
per ``detection``, ``bearing`` or ``fix`` record:

- ``report_id`` = the record's ``id`` (a ULID): receivers drop duplicates by it;
- ``object_id`` = a ULID stable for one emitter for the life of the sink: keyed
  on the detection's ``track_id``; bearings and fixes (which carry no track id)
  take the last track of their link, or the link itself before any detection;
- ``range_bearing`` (degrees/metres, true north): for a bearing, ``azimuth`` =
  ``bearing_deg`` and ``azimuth_error`` = ``bearing_sigma_deg`` (1-sigma); range
  unset (bearing-only); for a detection without direction, azimuth unset too;
- a ``fix`` as ``location`` (lon, lat, alt; x/y errors = the ellipse's semi-major
  axis converted to degrees);
- ``classification``: class ``UAV`` (drone link), ``RF Emitter`` (known non-drone
  link) or ``Unknown`` (unexplained), with the link id as level-1 sub-class; the
  detection confidence on both;
- ``signal``: amplitude = SNR in dB, start/centre/stop frequency in Hz.
"""
from __future__ import annotations

import logging
import math
import struct
import time
import uuid

from sapient_msg.bsi_flex_335_v2_0 import (detection_report_pb2, location_pb2, range_bearing_pb2,
                                           registration_pb2, sapient_message_pb2,
                                           status_report_pb2)

from .base import ConnectionLost, Sink, TcpLink, new_ulid

log = logging.getLogger(__name__)

SapientMessage = sapient_message_pb2.SapientMessage
Registration = registration_pb2.Registration
StatusReport = status_report_pb2.StatusReport
DetectionReport = detection_report_pb2.DetectionReport

ICD_VERSION = "BSI Flex 335 v2.0"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
METRES_PER_DEGREE = 111320.0

CLASS_DRONE, CLASS_OTHER, CLASS_UNKNOWN = "UAV", "RF Emitter", "Unknown"

# TrackObjectInfo entries carried in every DetectionReport (type -> units), declared at registration.
OBJECT_INFO = {
    "record_type": "detection|bearing|fix",
    "link": "signature id",
    "center_freq_hz": "Hz",
    "bandwidth_hz": "Hz",
    "t_start_s": "s from recording start",
    "t_end_s": "s from recording start",
    "time_utc": "ISO 8601",
    "bursts": "count",
    "track_id": "tracker id",
    "method": "bearing method",
    "semi_minor_m": "m",
    "orientation_deg": "deg from true north",
}


def node_uuid(sensor_id: str) -> str:
    """A stable UUID for a sensor name (SAPIENT node ids are UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rfdetect:{sensor_id}"))


def frame(msg: SapientMessage) -> bytes:
    data = msg.SerializeToString()
    return struct.pack("<I", len(data)) + data


class FrameReader:
    """Reassembles length-prefixed messages from a byte stream."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[SapientMessage]:
        self.buffer += data
        out = []
        while len(self.buffer) >= 4:
            (n,) = struct.unpack_from("<I", self.buffer)
            if n > MAX_MESSAGE_BYTES:
                raise ConnectionLost(f"SAPIENT peer announced a {n}-byte message")
            if len(self.buffer) < 4 + n:
                break
            msg = SapientMessage()
            msg.ParseFromString(bytes(self.buffer[4:4 + n]))
            del self.buffer[:4 + n]
            out.append(msg)
        return out


def _known_links() -> dict[str, bool | None]:
    try:
        from ..signatures import load_all
        return {s.id: s.drone for s in load_all()}
    except Exception:       # noqa: BLE001 - the class list is informative, never fatal
        return {}


class SapientEncoder:
    """Builds SAPIENT messages from records; holds the per-emitter object ids."""

    def __init__(self, sensor_id: str, *, sensor: dict | None = None, heartbeat_s: float = 5.0):
        self.sensor_id = sensor_id
        self.node_id = node_uuid(sensor_id)
        self.sensor = dict(sensor) if sensor else None
        self.heartbeat_s = heartbeat_s
        self.links = _known_links()
        self._objects: dict[str, str] = {}
        self._track_of_link: dict[str, object] = {}
        self._drone: dict[str, bool | None] = {}
        self._confidence: dict[str, float] = {}
        self._status_sent = False

    def _message(self) -> SapientMessage:
        msg = SapientMessage()
        msg.timestamp.GetCurrentTime()
        msg.node_id = self.node_id
        return msg

    def object_id(self, record: dict) -> str:
        """One ULID per emitter: the tracker's track id, else the last track of that link."""
        link = str(record.get("link") or "unknown")
        track = record.get("track_id")
        if track is not None:
            self._track_of_link[link] = track
        else:
            track = self._track_of_link.get(link)
        key = f"track:{track}" if track is not None else f"link:{link}"
        if key not in self._objects:
            self._objects[key] = new_ulid()
        return self._objects[key]

    # -------------------------------------------------------------- messages
    def registration(self) -> SapientMessage:
        msg = self._message()
        reg = msg.registration
        nd = reg.node_definition.add()
        nd.node_type = Registration.NODE_TYPE_PASSIVE_RF
        nd.node_sub_type.append("RF drone-link detector")
        reg.icd_version = ICD_VERSION
        reg.name = f"rfdetect {self.sensor_id}"
        reg.short_name = "rfdetect"
        cap = reg.capabilities.add()
        cap.category = "Passive RF"
        cap.type = "Drone link detection and direction finding"
        sd = reg.status_definition
        sd.status_interval.units = Registration.TIME_UNITS_SECONDS
        sd.status_interval.value = float(self.heartbeat_s)
        sd.location_definition.location_units = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        sd.location_definition.location_datum = location_pb2.LOCATION_DATUM_WGS84_E
        mode = reg.mode_definition.add()
        mode.mode_name = "default"
        mode.mode_type = Registration.MODE_TYPE_PERMANENT
        mode.mode_description = "continuous passive detection"
        mode.settle_time.units = Registration.TIME_UNITS_SECONDS
        mode.settle_time.value = 0.0
        mode.scan_type = Registration.SCAN_TYPE_FIXED
        mode.tracking_type = Registration.TRACKING_TYPE_TRACKLET
        for units, has_rb in (("rb", True), ("loc", False)):
            dd = mode.detection_definition.add()
            if has_rb:
                dd.location_type.range_bearing_units = \
                    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
                dd.location_type.range_bearing_datum = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
                ge = dd.geometric_error
                ge.type = "Standard Deviation"
                ge.units = "degrees"
                ge.variation_type = "azimuth_error is the 1-sigma bearing uncertainty"
            else:
                dd.location_type.location_units = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
                dd.location_type.location_datum = location_pb2.LOCATION_DATUM_WGS84_E
            for info_type, info_units in OBJECT_INFO.items():
                drd = dd.detection_report.add()
                drd.category = Registration.DETECTION_REPORT_CATEGORY_OBJECT
                drd.type = info_type
                drd.units = info_units
            dcd = dd.detection_class_definition.add()
            dcd.confidence_definition = Registration.CONFIDENCE_DEFINITION_SINGLE_CLASS
            groups = {CLASS_DRONE: [k for k, v in self.links.items() if v is True],
                      CLASS_OTHER: [k for k, v in self.links.items() if v is False],
                      CLASS_UNKNOWN: ["unknown", "unknown-fhss"]}
            for cls, subs in groups.items():
                cd = dcd.class_definition.add()
                cd.type = cls
                cd.units = "probability (0-1)"
                for sub in subs:
                    sc = cd.sub_class.add()
                    sc.type = sub
                    sc.units = "probability (0-1)"
                    sc.level = 1
        region = mode.task.region_definition
        region.region_type.append(Registration.REGION_TYPE_AREA_OF_INTEREST)
        area = region.region_area.add()
        area.location_units = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        area.location_datum = location_pb2.LOCATION_DATUM_WGS84_E
        cfg = reg.config_data.add()
        cfg.manufacturer = "rfdetect project"
        cfg.model = "rfdetect"
        try:
            from .. import __version__
            cfg.software_version = str(__version__)
        except ImportError:
            pass
        return msg

    def status(self, goodbye: bool = False) -> SapientMessage:
        msg = self._message()
        st = msg.status_report
        st.report_id = new_ulid()
        st.system = StatusReport.SYSTEM_GOODBYE if goodbye else StatusReport.SYSTEM_OK
        st.info = StatusReport.INFO_UNCHANGED if self._status_sent else StatusReport.INFO_NEW
        self._status_sent = True
        st.mode = "default"
        s = self.sensor or {}
        if s.get("lat") is not None and s.get("lon") is not None:
            loc = st.node_location
            loc.x = float(s["lon"])
            loc.y = float(s["lat"])
            if s.get("alt_m") is not None:
                loc.z = float(s["alt_m"])
            loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
            loc.datum = location_pb2.LOCATION_DATUM_WGS84_E
        else:
            item = st.status.add()
            item.status_level = StatusReport.STATUS_LEVEL_INFORMATION_STATUS
            item.status_type = StatusReport.STATUS_TYPE_OTHER
            item.status_value = "node location unknown"
        return msg

    def note(self, record: dict) -> None:
        sensor = record.get("sensor")
        if isinstance(sensor, dict) and sensor.get("lat") is not None:
            self.sensor = dict(sensor)

    def detection(self, r: dict) -> SapientMessage | None:
        rtype = r.get("type")
        if rtype not in ("detection", "bearing", "fix"):
            return None
        self.note(r)
        link = str(r.get("link", "unknown"))
        if rtype == "detection":
            self._drone[link] = r.get("drone")
            if r.get("confidence") is not None:
                self._confidence[link] = float(r["confidence"])
        msg = self._message()
        d = msg.detection_report
        d.report_id = str(r.get("id") or new_ulid())
        d.object_id = self.object_id(r)
        if rtype == "fix":
            loc = d.location
            loc.x = float(r["lon"])
            loc.y = float(r["lat"])
            if r.get("alt_m") is not None:
                loc.z = float(r["alt_m"])
            if r.get("semi_major_m") is not None:
                a = float(r["semi_major_m"])
                loc.y_error = a / METRES_PER_DEGREE
                loc.x_error = a / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(loc.y))))
            loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
            loc.datum = location_pb2.LOCATION_DATUM_WGS84_E
        else:
            rb = d.range_bearing
            rb.coordinate_system = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
            rb.datum = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
            if rtype == "bearing" and r.get("bearing_deg") is not None:
                rb.azimuth = float(r["bearing_deg"]) % 360.0
                if r.get("bearing_sigma_deg") is not None:
                    rb.azimuth_error = float(r["bearing_sigma_deg"])
        conf = r.get("confidence", self._confidence.get(link))
        if conf is not None:
            d.detection_confidence = float(conf)
        drone = r.get("drone", self._drone.get(link, self.links.get(link)))
        cls = d.classification.add()
        cls.type = CLASS_DRONE if drone is True else CLASS_OTHER if drone is False else CLASS_UNKNOWN
        sub = cls.sub_class.add()
        sub.type = link
        sub.level = 1
        if conf is not None:
            cls.confidence = float(conf)
            sub.confidence = float(conf)
        if r.get("center_freq_hz") is not None:
            sig = d.signal.add()
            sig.amplitude = float(r.get("snr_db") or 0.0)
            sig.centre_frequency = float(r["center_freq_hz"])
            if r.get("bandwidth_hz") is not None:
                sig.start_frequency = float(r["center_freq_hz"]) - float(r["bandwidth_hz"]) / 2
                sig.stop_frequency = float(r["center_freq_hz"]) + float(r["bandwidth_hz"]) / 2
        info = d.object_info.add()
        info.type, info.value = "record_type", rtype
        for key in OBJECT_INFO:
            if key != "record_type" and r.get(key) is not None:
                info = d.object_info.add()
                info.type, info.value = key, str(r[key])
        return msg


class SapientSink(Sink):
    scheme = "sapient"

    def __init__(self, url: str, host: str, port: int, *, sensor: dict | None = None,
                 heartbeat_s: float = 5.0, **kwargs):
        super().__init__(url, **kwargs)
        self.host, self.port = host, port
        self.encoder = SapientEncoder(self.sensor_id, sensor=sensor, heartbeat_s=heartbeat_s)
        self._link: TcpLink | None = None
        self._reader = FrameReader()
        self._next_status = 0.0
        self._start()

    def _accepts(self, record: dict) -> bool:
        return record.get("type") in ("detection", "bearing", "fix")

    def _on_data(self, data: bytes) -> None:
        for msg in self._reader.feed(data):
            kind = msg.WhichOneof("content")
            if kind == "error":
                log.warning("%s: SAPIENT error from peer: %s", self.url, msg.error)
            elif kind == "registration_ack" and not msg.registration_ack.acceptance:
                raise ConnectionLost("SAPIENT registration withdrawn by peer")

    def _connect(self) -> None:
        self._reader = FrameReader()
        self._link = TcpLink(self.host, self.port, self.io_timeout_s)
        self._link.send(frame(self.encoder.registration()))
        deadline = time.monotonic() + self.io_timeout_s
        while True:
            data = self._link.recv_some(deadline)
            if not data:
                raise ConnectionLost("no SAPIENT RegistrationAck before the timeout")
            for msg in self._reader.feed(data):
                if msg.WhichOneof("content") == "registration_ack":
                    ack = msg.registration_ack
                    if not ack.acceptance:
                        raise ConnectionLost("SAPIENT registration rejected: "
                                             + "; ".join(ack.ack_response_reason))
                    self._link.on_data = self._on_data
                    self._send_status()
                    return

    def _send_status(self, goodbye: bool = False) -> None:
        self._link.send(frame(self.encoder.status(goodbye)))
        self._next_status = time.monotonic() + self.encoder.heartbeat_s

    def _deliver(self, records: list[dict]) -> None:
        data = b"".join(frame(m) for m in map(self.encoder.detection, records) if m is not None)
        self._link.send(data)
        if time.monotonic() >= self._next_status:
            self._send_status()

    def _poll(self) -> None:
        self._link.check()
        if time.monotonic() >= self._next_status:
            self._send_status()

    def _goodbye(self) -> None:
        self._send_status(goodbye=True)
        self._link.shutdown(min(1.0, self.io_timeout_s))

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None
