"""Triangulation of bearings from two or more sensors into a position with an error ellipse.

Sensors and the fix live in a local east-north tangent plane at the sensors'
centroid (WGS-84 through ECEF, exact for the plane; at fix distances of tens of
km the plane's curvature is negligible against bearing errors).  Each bearing,
measured from true north at its own sensor, is turned into the plane's frame
by the local meridian's azimuth, so meridian convergence does not bias fixes.

Estimator: the Stansfield linear solution as a start, then Gauss-Newton
weighted least squares on the bearing residuals (weights 1/sigma^2).  The
1-sigma ellipse is the linearised covariance (J^T W J)^-1, so about 39 % of
fixes contain the true position when the sigmas are honest.  Near-parallel
bearings, a solution behind a sensor, or an ellipse larger than
``max_semi_major_m`` give no fix (None), never a wild point; a sensor
without a position is left out, never placed at (0, 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)


@dataclass(frozen=True)
class SensorBearing:
    lat: float | None
    lon: float | None
    bearing_deg: float | None
    bearing_sigma_deg: float | None
    sensor_id: str = ""

    @classmethod
    def from_record(cls, rec: dict, sensor_id: str = "") -> "SensorBearing":
        s = rec.get("sensor") or {}
        return cls(s.get("lat"), s.get("lon"), rec.get("bearing_deg"), rec.get("bearing_sigma_deg"),
                   sensor_id or str(s.get("id", "")))

    @property
    def usable(self) -> bool:
        vals = (self.lat, self.lon, self.bearing_deg, self.bearing_sigma_deg)
        return (all(v is not None and math.isfinite(v) for v in vals)
                and self.bearing_sigma_deg > 0 and -90 <= self.lat <= 90)


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float          # azimuth of the major axis, clockwise from true north, 0..180
    sensors: tuple[str, ...]
    east_m: float                   # in the tangent plane at ``origin``
    north_m: float
    cov_m2: tuple[tuple[float, float], tuple[float, float]]
    origin: tuple[float, float]
    method: str = "wls"

    def contains(self, lat: float, lon: float, k_sigma: float = 1.0) -> bool:
        """Is the point inside the k-sigma ellipse?"""
        e, n = geodetic_to_enu(lat, lon, *self.origin)
        d = np.array([e - self.east_m, n - self.north_m])
        return float(d @ np.linalg.solve(np.array(self.cov_m2), d)) <= k_sigma ** 2


def _ecef(lat, lon, h=0.0):
    la, lo = math.radians(lat), math.radians(lon)
    n = _A / math.sqrt(1 - _E2 * math.sin(la) ** 2)
    return np.array([(n + h) * math.cos(la) * math.cos(lo), (n + h) * math.cos(la) * math.sin(lo),
                     (n * (1 - _E2) + h) * math.sin(la)])


def _enu_basis(lat0, lon0):
    la, lo = math.radians(lat0), math.radians(lon0)
    east = np.array([-math.sin(lo), math.cos(lo), 0.0])
    north = np.array([-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)])
    up = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
    return east, north, up


def geodetic_to_enu(lat, lon, lat0, lon0) -> tuple[float, float]:
    e, n, _ = _enu_basis(lat0, lon0)
    d = _ecef(lat, lon) - _ecef(lat0, lon0)
    return float(d @ e), float(d @ n)


def enu_to_geodetic(east_m, north_m, lat0, lon0) -> tuple[float, float]:
    """Point of the ellipsoid below the tangent-plane point (east, north)."""
    e, n, u = _enu_basis(lat0, lon0)
    p = _ecef(lat0, lon0) + east_m * e + north_m * n
    x, y, z = p
    lon = math.atan2(y, x)
    r = math.hypot(x, y)
    lat = math.atan2(z, r * (1 - _E2))
    for _ in range(6):
        nn = _A / math.sqrt(1 - _E2 * math.sin(lat) ** 2)
        h = r / math.cos(lat) - nn
        lat = math.atan2(z, r * (1 - _E2 * nn / (nn + h)))
    return math.degrees(lat), math.degrees(lon)


def _north_azimuth_in_plane(lat, lon, lat0, lon0) -> float:
    """Azimuth (deg, clockwise from the plane's north) of true north at (lat, lon)."""
    e, n, _ = _enu_basis(lat0, lon0)
    _, ni, _ = _enu_basis(lat, lon)
    return math.degrees(math.atan2(float(ni @ e), float(ni @ n)))


def triangulate(bearings: list[SensorBearing], *, max_semi_major_m: float = 20_000.0,
                max_range_m: float = 100_000.0, min_crossing_deg: float = 3.0,
                min_crossing_sigmas: float = 2.0) -> Fix | None:
    """Position and 1-sigma ellipse from 2+ bearings, or None when the geometry gives no honest fix."""
    use = [b for b in bearings if b.usable]
    if len(use) < 2:
        return None
    lat0 = float(np.mean([b.lat for b in use]))
    lon0 = float(np.mean([b.lon for b in use]))
    xy = np.array([geodetic_to_enu(b.lat, b.lon, lat0, lon0) for b in use])
    th = np.deg2rad([b.bearing_deg + _north_azimuth_in_plane(b.lat, b.lon, lat0, lon0) for b in use])
    sig = np.deg2rad([b.bearing_sigma_deg for b in use])
    u = np.stack([np.sin(th), np.cos(th)], axis=1)
    # bearing lines that never cross at a useful angle carry no position information
    # (and below a few combined sigmas the linearised ellipse stops describing the banana-shaped
    # true uncertainty, so no fix is better than a confident one)
    margin = []
    for i in range(len(use)):
        for j in range(i + 1, len(use)):
            cross = abs(math.degrees(math.asin(np.clip(u[i, 0] * u[j, 1] - u[i, 1] * u[j, 0], -1, 1))))
            need = max(min_crossing_deg, min_crossing_sigmas * math.degrees(math.hypot(sig[i], sig[j])))
            margin.append(cross - need)
    if max(margin) < 0:
        return None
    # Stansfield / linear: each line n_i . (p - s_i) = 0 with n_i normal to the bearing
    nrm = np.stack([np.cos(th), -np.sin(th)], axis=1)
    rhs = np.sum(nrm * xy, axis=1)
    try:
        p = np.linalg.lstsq(nrm / sig[:, None], rhs / sig, rcond=None)[0]
    except np.linalg.LinAlgError:
        return None
    cov = None
    for _ in range(20):
        d = p[None, :] - xy
        r2 = np.sum(d ** 2, axis=1)
        if np.any(r2 < 1.0):
            return None
        pred = np.arctan2(d[:, 0], d[:, 1])
        res = (th - pred + np.pi) % (2 * np.pi) - np.pi
        jac = np.stack([d[:, 1] / r2, -d[:, 0] / r2], axis=1)
        w = 1.0 / sig ** 2
        jtw = jac.T * w
        try:
            cov = np.linalg.inv(jtw @ jac)
        except np.linalg.LinAlgError:
            return None
        step = cov @ (jtw @ res)
        p = p + step
        if np.hypot(*step) < 1e-3:
            break
    if cov is None or not np.all(np.isfinite(cov)):
        return None
    d = p[None, :] - xy
    pred = np.arctan2(d[:, 0], d[:, 1])
    off = np.abs((th - pred + np.pi) % (2 * np.pi) - np.pi)
    # a solution behind a sensor means the lines cross on the wrong side: no fix
    if np.any(off > np.pi / 2) or np.max(np.hypot(d[:, 0], d[:, 1])) > max_range_m:
        return None
    r2 = np.sum(d ** 2, axis=1)
    jac = np.stack([d[:, 1] / r2, -d[:, 0] / r2], axis=1)
    try:
        cov = np.linalg.inv((jac.T * (1.0 / sig ** 2)) @ jac)
    except np.linalg.LinAlgError:
        return None
    ev, evec = np.linalg.eigh(0.5 * (cov + cov.T))
    if ev[0] <= 0 or not np.all(np.isfinite(ev)):
        return None
    semi_major, semi_minor = math.sqrt(ev[1]), math.sqrt(ev[0])
    if semi_major > max_semi_major_m:
        return None
    major = evec[:, 1]
    orient = math.degrees(math.atan2(major[0], major[1])) % 180.0
    lat, lon = enu_to_geodetic(float(p[0]), float(p[1]), lat0, lon0)
    ids = tuple(b.sensor_id or f"{b.lat:.6f},{b.lon:.6f}" for b in use)
    return Fix(lat, lon, semi_major, semi_minor, orient, ids, float(p[0]), float(p[1]),
               ((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
               (lat0, lon0))


def fix_from_records(bearing_records: list[dict], *, link: str | None = None, **limits) -> dict | None:
    """A ``fix`` record from ``bearing`` records of different sensors, or None.

    Unusable bearings and sensors without a position are left out; the fix
    needs two or more of the rest (see ``triangulate`` for the limits).
    Sensor ids come from ``sensor.id`` when present.
    """
    from .records import fix_record
    bs = [SensorBearing.from_record(r) for r in bearing_records if r.get("usable", True)]
    fix = triangulate(bs, **limits)
    if fix is None:
        return None
    starts = [r["t_start_s"] for r in bearing_records if r.get("t_start_s") is not None]
    ends = [r["t_end_s"] for r in bearing_records if r.get("t_end_s") is not None]
    lk = link if link is not None else (bearing_records[0].get("link", "unknown") if bearing_records else "unknown")
    return fix_record(fix, link=lk, t_start_s=min(starts) if starts else None,
                      t_end_s=max(ends) if ends else None)


class FixCollector:
    """Bearing records seen during a run, fused per link into ``fix`` records at its end.

    For recordings from several sensors (``analyze`` given one file per sensor): each
    sensor contributes its most precise usable bearing of the link, and a link seen
    by two or more sensors at different positions gets one fix.
    """

    def __init__(self):
        self._best: dict[str, dict[tuple, dict]] = {}

    def add(self, record: dict) -> None:
        if record.get("type") != "bearing" or not record.get("usable"):
            return
        s = record.get("sensor") or {}
        if s.get("lat") is None or s.get("lon") is None:
            return
        where = (s.get("id"), round(s["lat"], 6), round(s["lon"], 6))
        per_sensor = self._best.setdefault(record.get("link", "unknown"), {})
        held = per_sensor.get(where)
        if held is None or record["bearing_sigma_deg"] < held["bearing_sigma_deg"]:
            per_sensor[where] = record

    def fixes(self) -> list[dict]:
        out = []
        for link, per_sensor in sorted(self._best.items()):
            if len(per_sensor) >= 2:
                fix = fix_from_records(list(per_sensor.values()), link=link)
                if fix is not None:
                    out.append(fix)
        return out
