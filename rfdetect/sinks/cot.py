"""Cursor on Target hand-off for TAK (ATAK, WinTAK, TAK servers): cot+tcp:// and cot+udp://.

- ``detection`` -> an event per emitter (uid ``rfdetect.SENSOR.LINK``), placed at
  the latest ``fix`` of that link if there is one, else at the sensor position
  with an unknown circular error; link, confidence, frequency and the record id
  in the detail.
- ``bearing`` -> a range-and-bearing line (``u-rb-a``) anchored at the sensor,
  bearing referenced to true north; the drawn length is a display length, not
  a measured range; the 1-sigma bearing uncertainty is in the detail.
- ``fix`` -> the emitter's event moved to the fix, ``ce`` = ellipse semi-major axis.

Records without any usable position (no sensor position known, no fix) are not
sent (a CoT event must have a point and (0, 0) would be a lie): they count as
``filtered``.  Bursts, gaps and summaries are not map objects and are filtered too.
Stale times follow each emitter's update rate (3 update intervals, clamped).
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from .base import Sink, TcpLink, UdpLink

UNKNOWN_ERROR_M = 9999999.0     # CoT's own value for "unknown" ce/le/hae

EVENT_TYPES = {True: "a-u-A-M-F-Q", None: "a-u-A", False: "a-u-G"}


# Most strings need no escaping: one regular-expression scan finds out (about three times
# cheaper than str.translate, which looks each character up in a dict).
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                               "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
_TEXT_SPECIAL = re.compile("[&<>]").search
_ATTR_SPECIAL = re.compile('[&<>"\n\r\t]').search


def _text(text: str) -> str:
    """Escape XML element text (as saxutils.escape)."""
    return text if _TEXT_SPECIAL(text) is None else text.translate(_TEXT_ESCAPES)


def _attr(text: str) -> str:
    """Escape for a double-quoted XML attribute."""
    return text if _ATTR_SPECIAL(text) is None else text.translate(_ATTR_ESCAPES)


def _value(value) -> str:
    """An attribute value of the <rfdetect> element: text escaped, numbers to 6 decimals."""
    return _attr(value) if type(value) is str else _num(value, 6)


def _iso(t: datetime) -> str:
    # isoformat is several times faster than strftime; the same text for a UTC time.
    return t.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_SPECS = {digits: f".{digits}f" for digits in range(10)}


def _num(value, digits: int = 3) -> str:
    kind = type(value)      # exact types first: this runs for every number of every event
    if kind is float:
        return format(value, _SPECS[digits]) if math.isfinite(value) else ""
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    value = float(value)
    return format(value, _SPECS[digits]) if math.isfinite(value) else ""


def _position(sensor) -> tuple[float, float, float | None] | None:
    if not isinstance(sensor, dict):
        return None
    lat, lon = sensor.get("lat"), sensor.get("lon")
    if lat is None or lon is None:
        return None
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    alt = sensor.get("alt_m")
    return lat, lon, None if alt is None else float(alt)


class CotEncoder:
    """Turns records into CoT event XML; keeps per-emitter state (fixes, update rate)."""

    def __init__(self, sensor_id: str, *, sensor: dict | None = None, line_m: float = 3000.0,
                 stale_default_s: float = 60.0, stale_min_s: float = 10.0,
                 stale_max_s: float = 600.0, stale_factor: float = 3.0):
        self.sensor_id = sensor_id
        self._sensor_attr = _attr(sensor_id)
        self.sensor = _position(sensor)
        self.line_m = line_m
        self.stale_default_s = stale_default_s
        self.stale_min_s = stale_min_s
        self.stale_max_s = stale_max_s
        self.stale_factor = stale_factor
        self._fixes: dict[str, dict] = {}
        self._drone: dict[str, bool | None] = {}
        self._last_s: dict[str, float] = {}
        self._interval_s: dict[str, float] = {}
        self._now, self._now_iso, self._stale_iso = None, "", {}
        self._detection_text: dict[tuple, tuple[str, str, str]] = {}

    # ----------------------------------------------------------- positioning
    def note(self, record: dict) -> bool:
        """Learn from a record (sensor position, fixes); True if it can be placed on a map."""
        rtype = record.get("type")
        pos = _position(record.get("sensor"))
        if pos is not None:
            self.sensor = pos
        if rtype == "fix":
            return _position(record) is not None
        if rtype == "bearing":
            return self.sensor is not None and record.get("bearing_deg") is not None
        if rtype == "detection":
            return self.sensor is not None or str(record.get("link")) in self._fixes
        return False

    def uid(self, link: str) -> str:
        return f"rfdetect.{self.sensor_id}.{link}"

    def _stale_s(self, uid: str, now_s: float) -> float:
        last = self._last_s.get(uid)
        self._last_s[uid] = now_s
        if last is not None and now_s > last:
            gap = now_s - last
            prev = self._interval_s.get(uid)
            self._interval_s[uid] = gap if prev is None else 0.7 * prev + 0.3 * gap
        interval = self._interval_s.get(uid)
        if interval is None:
            return self.stale_default_s
        return min(self.stale_max_s, max(self.stale_min_s, self.stale_factor * interval))

    # ---------------------------------------------------------------- events
    def encode(self, record: dict, now: datetime | None = None) -> str | None:
        now = now or datetime.now(timezone.utc)
        self.note(record)
        rtype = record.get("type")
        if rtype == "detection":
            return self._detection(record, now)
        if rtype == "bearing":
            return self._bearing(record, now)
        if rtype == "fix":
            return self._fix(record, now)
        return None

    def _event(self, uid, etype, how, now, lat, lon, hae, ce, le, detail) -> str:
        stale_s = self._stale_s(uid, now.timestamp())
        if now is not self._now:        # a whole batch is encoded with one "now"
            self._now, self._now_iso, self._stale_iso = now, _iso(now), {}
        stale = self._stale_iso.get(stale_s)
        if stale is None:
            stale = self._stale_iso[stale_s] = _iso(now + timedelta(seconds=stale_s))
        return (f'<event version="2.0" uid="{_attr(uid)}" type="{etype}" how="{how}" '
                f'time="{self._now_iso}" start="{self._now_iso}" stale="{stale}">'
                f'<point lat="{lat:.7f}" lon="{lon:.7f}" '
                f'hae="{UNKNOWN_ERROR_M if hae is None else hae:.1f}" '
                f'ce="{ce:.1f}" le="{le:.1f}"/>'
                f"<detail>{detail}</detail></event>")

    def _rfdetect(self, record: dict, names: tuple[str, ...], **extra) -> str:
        parts = ["<rfdetect"]
        for name, value in (("id", record.get("id")), ("record_type", record.get("type"))):
            if value is not None:
                parts.append(f'{name}="{_value(value)}"')
        parts.append(f'sensor_id="{self._sensor_attr}"')
        for name in names:
            value = record.get(name)
            if value is not None:
                parts.append(f'{name}="{_value(value)}"')
        for name, value in extra.items():
            if value is not None:
                parts.append(f'{name}="{_value(value)}"')
        return " ".join(parts) + "/>"

    def _detection(self, r: dict, now: datetime) -> str | None:
        link = str(r.get("link", "unknown"))
        drone = r.get("drone")
        self._drone[link] = drone
        fix = self._fixes.get(link)
        if fix is not None:
            lat, lon, hae = fix["lat"], fix["lon"], fix.get("alt_m")
            ce, how, source = float(fix.get("semi_major_m") or UNKNOWN_ERROR_M), "m-f", "fix"
        elif self.sensor is not None:
            lat, lon, hae = self.sensor
            ce, how, source = UNKNOWN_ERROR_M, "m-p", "sensor"
        else:
            return None
        text = self._detection_text.get((link, drone, source))
        if text is None:
            text = self._detection_text[(link, drone, source)] = self._detection_template(
                link, drone, source)
        head, tail, contact = text
        remarks = (f"{head}{_num(r.get('confidence'), 2)}, "
                   f"{(r.get('center_freq_hz') or 0.0) / 1e6:.3f} MHz, "
                   f"bandwidth {_num((r.get('bandwidth_hz') or 0) / 1e3, 1)} kHz, "
                   f"SNR {_num(r.get('snr_db'), 1)} dB; {tail}")
        detail = (f"{contact}<remarks>{remarks}</remarks>"
                  + self._rfdetect(r, ("link", "confidence", "center_freq_hz", "bandwidth_hz",
                                       "snr_db", "t_start_s", "t_end_s", "bursts", "time_utc"),
                                   drone="unknown" if drone is None else bool(drone),
                                   position_source=source))
        return self._event(self.uid(link), EVENT_TYPES.get(drone, "a-u-A"), how, now,
                           lat, lon, hae, ce, UNKNOWN_ERROR_M, detail)

    def _detection_template(self, link: str, drone, source: str) -> tuple[str, str, str]:
        """The escaped text of a detection event that depends on its emitter only."""
        drone_txt = {True: "drone", False: "not a drone", None: "unexplained emitter"}.get(drone, "?")
        where = "at the fix" if source == "fix" else "position: sensor (emitter position unknown)"
        return (_text(f"rfdetect {link} ({drone_txt}), confidence "), _text(where),
                f'<contact callsign="{_attr(f"RF {link} @{self.sensor_id}")}"/>')

    def _bearing(self, r: dict, now: datetime) -> str | None:
        pos = _position(r.get("sensor")) or self.sensor
        if pos is None or r.get("bearing_deg") is None:
            return None
        link = str(r.get("link", "unknown"))
        bearing = float(r["bearing_deg"]) % 360.0
        sigma = r.get("bearing_sigma_deg")
        remarks = (f"rfdetect bearing to {link}: {bearing:.1f} deg true"
                   f" +/- {_num(sigma, 1)} deg (1-sigma), method {r.get('method', '?')}; "
                   f"line length {self.line_m:.0f} m is for display, not a measured range")
        sensor = r.get("sensor") if isinstance(r.get("sensor"), dict) else {}
        detail = (f'<range value="{self.line_m:.1f}"/><bearing value="{bearing:.3f}"/>'
                  '<inclination value="0.0"/><rangeUnits value="1"/><bearingUnits value="0"/>'
                  '<northRef value="0"/><strokeColor value="-65536"/><strokeWeight value="3.0"/>'
                  f'<contact callsign="{_attr(f"RF bearing {link} @{self.sensor_id}")}"/>'
                  f"<remarks>{_text(remarks)}</remarks>"
                  + self._rfdetect(r, ("link", "bearing_deg", "bearing_sigma_deg", "method",
                                       "time_utc", "t_start_s", "t_end_s"),
                                   heading_deg=sensor.get("heading_deg"),
                                   north_reference="true", sigma_convention="1-sigma",
                                   line_m=self.line_m))
        lat, lon, hae = pos
        return self._event(self.uid(link) + ".rb", "u-rb-a", "m-p", now, lat, lon, hae,
                           UNKNOWN_ERROR_M if _position(r.get("sensor")) is None else 10.0,
                           UNKNOWN_ERROR_M, detail)

    def _fix(self, r: dict, now: datetime) -> str | None:
        pos = _position(r)
        if pos is None:
            return None
        link = str(r.get("link", "unknown"))
        self._fixes[link] = r
        lat, lon, hae = pos
        ce = r.get("semi_major_m")
        ce = UNKNOWN_ERROR_M if ce is None else float(ce)
        drone = self._drone.get(link, r.get("drone"))
        remarks = (f"rfdetect fix of {link}: ellipse {_num(r.get('semi_major_m'), 0)} x "
                   f"{_num(r.get('semi_minor_m'), 0)} m at {_num(r.get('orientation_deg'), 0)} deg")
        detail = (f'<contact callsign="{_attr(f"RF {link} @{self.sensor_id}")}"/>'
                  f"<remarks>{_text(remarks)}</remarks>"
                  + self._rfdetect(r, ("link", "lat", "lon", "semi_major_m", "semi_minor_m",
                                       "orientation_deg", "time_utc"),
                                   position_source="fix"))
        return self._event(self.uid(link), EVENT_TYPES.get(drone, "a-u-A"), "m-f", now,
                           lat, lon, hae, ce, UNKNOWN_ERROR_M, detail)


class CotSink(Sink):
    scheme = "cot"

    def __init__(self, url: str, host: str, port: int, transport: str, *,
                 sensor: dict | None = None, line_m: float = 3000.0, **kwargs):
        super().__init__(url, **kwargs)
        self.host, self.port, self.transport = host, port, transport
        self.encoder = CotEncoder(self.sensor_id, sensor=sensor, line_m=line_m)
        self._link = None
        if transport == "udp":
            self.resend_window_s = 0.0
        self._start()

    def _accepts(self, record: dict) -> bool:
        return self.encoder.note(record)

    def _connect(self) -> None:
        if self.transport == "tcp":
            self._link = TcpLink(self.host, self.port, self.io_timeout_s)
        else:
            self._link = UdpLink(self.host, self.port)

    def _deliver(self, records: list[dict]) -> int:
        now = datetime.now(timezone.utc)
        events = [self.encoder.encode(r, now) for r in records]
        unplaced = sum(1 for e in events if e is None)
        if self.transport == "tcp":
            self._link.send("".join(e for e in events if e).encode())
        else:
            for e in events:
                if e:
                    self._link.send(e.encode())
        return unplaced

    def _poll(self) -> None:
        if self.transport == "tcp":
            self._link.check()

    def _goodbye(self) -> None:
        if self.transport == "tcp":
            self._link.shutdown(min(1.0, self.io_timeout_s))

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None


def parse_event(xml: str | bytes) -> dict:
    """Decode one CoT event into a flat dict (for receivers and tests)."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(xml)
    out = dict(root.attrib)
    point = root.find("point")
    if point is not None:
        out["point"] = {k: float(v) for k, v in point.attrib.items()}
    detail = root.find("detail")
    if detail is not None:
        for child in detail:
            out[child.tag] = child.attrib if child.tag != "remarks" else child.text
    return out
