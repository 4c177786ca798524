"""``bearing`` and ``fix`` records (DESIGN.md section 5, schema 1).

Missing values are ``None`` (JSON null), never zero: a sensor without a
position has ``lat: null``, a bearing that cannot be trusted has
``bearing_deg: null`` with ``usable: false`` and the reason.
"""
from __future__ import annotations

import math

from .array import ArrayGeometry


def _r(x, nd=3):
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def sensor_dict(lat=None, lon=None, alt_m=None, heading_deg=None, sensor_id: str | None = None) -> dict:
    d = {"lat": _r(lat, 7), "lon": _r(lon, 7), "alt_m": _r(alt_m, 2), "heading_deg": _r(heading_deg, 3)}
    if sensor_id is not None:
        d["id"] = sensor_id
    return d


def bearing_record(result, array: ArrayGeometry | None = None, *, link: str = "unknown",
                   t_start_s: float | None = None, t_end_s: float | None = None,
                   freq_hz: float | None = None, time_utc: str | None = None,
                   sensor: dict | None = None, sensor_id: str | None = None) -> dict:
    """Record from a ``DoaResult`` (or anything with the same fields: amplitude DF too)."""
    if sensor is None:
        if array is not None:
            s = array.sensor
            sensor = sensor_dict(s.lat, s.lon, s.alt_m, array.heading_deg, sensor_id)
        else:
            sensor = sensor_dict(sensor_id=sensor_id)
    usable = bool(result.usable and result.bearings_deg)
    rec = {
        "type": "bearing", "schema": 1, "link": link,
        "bearing_deg": _r(result.bearings_deg[0]) if usable else None,
        "bearing_sigma_deg": _r(result.sigmas_deg[0]) if usable else None,
        "method": result.method, "sensor": sensor,
        "num_sources": int(result.num_sources), "confidence": _r(result.confidence if usable else 0.0),
        "usable": usable,
    }
    els = getattr(result, "elevations_deg", ())
    if usable and els:
        rec["elevation_deg"] = _r(els[0], 1)
    if getattr(result, "mirror_ambiguous", False):
        rec["mirror_ambiguous"] = True
    if not usable:
        rec["reason"] = result.reason or "no bearing"
    if t_start_s is not None:
        rec["t_start_s"] = _r(t_start_s, 6)
    if t_end_s is not None:
        rec["t_end_s"] = _r(t_end_s, 6)
    if time_utc:
        rec["time_utc"] = time_utc
    if freq_hz is not None:
        rec["freq_hz"] = _r(freq_hz, 1)
    snr = getattr(result, "snr_db", ())
    if usable and snr:
        rec["snr_db"] = _r(snr[0], 2)
    snaps = getattr(result, "snapshots", None)
    if snaps is not None:
        rec["snapshots"] = _r(snaps, 1)
    if usable and len(result.bearings_deg) > 1:
        rec["others"] = [{"bearing_deg": _r(b), "bearing_sigma_deg": _r(s)}
                         for b, s in zip(result.bearings_deg[1:], result.sigmas_deg[1:])]
    return rec


def fix_record(fix, *, link: str = "unknown", t_start_s: float | None = None,
               t_end_s: float | None = None, time_utc: str | None = None) -> dict:
    """Record from a ``Fix`` (see fusion.py)."""
    rec = {
        "type": "fix", "schema": 1, "link": link,
        "lat": _r(fix.lat, 7), "lon": _r(fix.lon, 7),
        "semi_major_m": _r(fix.semi_major_m, 1), "semi_minor_m": _r(fix.semi_minor_m, 1),
        "orientation_deg": _r(fix.orientation_deg, 2),
        "method": fix.method, "sensors": list(fix.sensors),
    }
    if t_start_s is not None:
        rec["t_start_s"] = _r(t_start_s, 6)
    if t_end_s is not None:
        rec["t_end_s"] = _r(t_end_s, 6)
    if time_utc:
        rec["time_utc"] = time_utc
    return rec
