"""Single-dongle amplitude-comparison DF: an operator sweeps a directional antenna.

Inputs are a heading log (compass or manual entries: time, heading clockwise
from true north) and the detections' power over time.  The power in dB is
modelled as ``P0 + G(heading - bearing)`` with ``G`` the antenna's main lobe
(Gaussian in linear units, i.e. a parabola in dB, 3 dB down at half the
beamwidth, floored at the front-to-back ratio); ``bearing`` and ``P0`` are
fitted by least squares and the 1-sigma uncertainty comes from the fit's
Jacobian and residual scatter.  A sweep that does not pass over the maximum
(no detections on both sides of it) gives no bearing.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from ..errors import InputError, ParameterError


@dataclass(frozen=True)
class AntennaPattern:
    beamwidth_deg: float = 60.0      # full 3 dB beamwidth (Yagi ~50-70, panel ~60-90)
    front_to_back_db: float = 15.0

    def __post_init__(self):
        if not 5.0 <= self.beamwidth_deg <= 180.0:
            raise ParameterError("must be in 5..180 degrees", param="beamwidth_deg", value=self.beamwidth_deg)
        if not self.front_to_back_db > 0:
            raise ParameterError("must be positive", param="front_to_back_db", value=self.front_to_back_db)

    def gain_db(self, delta_deg):
        d = (np.asarray(delta_deg, dtype=float) + 180.0) % 360.0 - 180.0
        return np.maximum(-12.0 * (d / self.beamwidth_deg) ** 2, -self.front_to_back_db)

    def slope_db_per_deg(self, delta_deg):
        d = (np.asarray(delta_deg, dtype=float) + 180.0) % 360.0 - 180.0
        g = -12.0 * (d / self.beamwidth_deg) ** 2
        return np.where(g > -self.front_to_back_db, -24.0 * d / self.beamwidth_deg ** 2, 0.0)


@dataclass(frozen=True)
class AmplitudeResult:
    bearings_deg: tuple[float, ...]
    sigmas_deg: tuple[float, ...]
    peak_power_db: float | None
    residual_db: float | None
    points: int
    usable: bool
    reason: str = ""
    method: str = "amplitude"
    num_sources: int = 1
    snapshots: float | None = None
    snr_db: tuple[float, ...] = ()

    @property
    def confidence(self) -> float:
        if not self.usable:
            return 0.0
        # a clean parabola with little scatter relative to the beam's depth
        return float(np.clip(1.0 - (self.residual_db or 0.0) / 6.0, 0.0, 1.0))


def interpolate_heading(log_t_s, log_heading_deg, t_s) -> np.ndarray:
    """Heading at times ``t_s`` by linear interpolation along the shortest turn; NaN outside the log."""
    lt = np.asarray(log_t_s, dtype=float)
    lh = np.asarray(log_heading_deg, dtype=float)
    if lt.size == 0 or lt.shape != lh.shape:
        raise InputError("heading log needs matching, non-empty time and heading columns",
                         param="heading_log", value=(lt.shape, lh.shape))
    order = np.argsort(lt, kind="stable")
    lt, lh = lt[order], np.unwrap(np.deg2rad(lh[order]))
    t = np.asarray(t_s, dtype=float)
    out = np.rad2deg(np.interp(t, lt, lh)) % 360.0
    out[(t < lt[0]) | (t > lt[-1])] = np.nan
    return out


def amplitude_bearing(log_t_s, log_heading_deg, det_t_s, det_power_db, *,
                      pattern: AntennaPattern = AntennaPattern(), power_sigma_db: float | None = None,
                      min_points: int = 5) -> AmplitudeResult:
    """Bearing of an emitter from a heading sweep and its detections' power over time."""
    h = interpolate_heading(log_t_s, log_heading_deg, det_t_s)
    p = np.asarray(det_power_db, dtype=float)
    if p.shape != h.shape:
        raise InputError("detection times and powers differ in length", param="det_power_db",
                         value=(h.shape, p.shape))
    ok = np.isfinite(h) & np.isfinite(p)
    h, p = h[ok], p[ok]
    if h.size < min_points:
        return AmplitudeResult((), (), None, None, int(h.size), False,
                               f"{h.size} detections inside the heading log (need {min_points})")

    def sse(b):
        g = pattern.gain_db(h - b)
        p0 = np.mean(p - g)
        return float(np.sum((p - p0 - g) ** 2))

    grid = np.arange(0.0, 360.0, 1.0)
    costs = np.array([sse(b) for b in grid])
    b0 = grid[int(np.argmin(costs))]
    res = minimize_scalar(sse, bounds=(b0 - 1.0, b0 + 1.0), method="bounded", options={"xatol": 1e-4})
    b = float(res.x % 360.0)
    g = pattern.gain_db(h - b)
    p0 = float(np.mean(p - g))
    resid = p - p0 - g
    dof = max(h.size - 2, 1)
    s_fit = math.sqrt(float(np.sum(resid ** 2)) / dof)
    s = max(s_fit, power_sigma_db) if power_sigma_db is not None else max(s_fit, 0.1)
    # Jacobian of the model in (bearing, P0): d/db = -slope
    j = np.stack([-pattern.slope_db_per_deg(h - b), np.ones_like(h)], axis=1)
    jtj = j.T @ j
    rel = (h - b + 180.0) % 360.0 - 180.0
    in_lobe = np.abs(rel) < pattern.beamwidth_deg
    if not (np.any(in_lobe & (rel < -0.1 * pattern.beamwidth_deg))
            and np.any(in_lobe & (rel > 0.1 * pattern.beamwidth_deg))):
        return AmplitudeResult((), (), p0, s_fit, int(h.size), False,
                               "sweep does not pass over the maximum: no detections on both sides of it")
    try:
        cov = np.linalg.inv(jtj) * s ** 2
    except np.linalg.LinAlgError:
        return AmplitudeResult((), (), p0, s_fit, int(h.size), False, "headings carry no bearing information")
    sigma = math.sqrt(max(cov[0, 0], 0.0))
    if not math.isfinite(sigma) or sigma > pattern.beamwidth_deg:
        return AmplitudeResult((), (), p0, s_fit, int(h.size), False,
                               f"bearing uncertainty {sigma:.0f} deg exceeds the beamwidth")
    return AmplitudeResult((b,), (sigma,), p0, s_fit, int(h.size), True)


def _time_s(text: str, t0: datetime | None) -> tuple[float, datetime | None]:
    try:
        return float(text), t0
    except ValueError:
        pass
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    t0 = t0 or dt
    return (dt - t0).total_seconds(), t0


def load_heading_log(path: str | Path, *, t0_utc: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CSV with a header: ``t_s`` (seconds) or ``time_utc`` (ISO 8601), and ``heading_deg``.

    ISO times are returned in seconds from ``t0_utc`` (the recording's start),
    or from the first entry.
    """
    p = Path(path)
    try:
        rows = list(csv.DictReader(p.read_text(encoding="utf-8").splitlines()))
    except OSError as e:
        raise InputError(f"cannot read heading log ({e.strerror})", path=p) from None
    t0 = None
    if t0_utc:
        t0 = datetime.fromisoformat(t0_utc.replace("Z", "+00:00"))
        if t0.tzinfo is None:
            t0 = t0.replace(tzinfo=timezone.utc)
    ts, hs = [], []
    for n, row in enumerate(rows, start=2):
        tkey = "t_s" if "t_s" in row else "time_utc" if "time_utc" in row else None
        if tkey is None or "heading_deg" not in row:
            raise InputError("header must name t_s or time_utc, and heading_deg", path=p,
                             param="header", value=list(row))
        try:
            t, t0 = _time_s(row[tkey], t0)
            hd = float(row["heading_deg"])
        except (TypeError, ValueError):
            raise InputError("bad time or heading", path=p, param=f"line {n}",
                             value=(row.get(tkey), row.get("heading_deg"))) from None
        if not math.isfinite(hd):
            raise InputError("heading must be finite", path=p, param=f"line {n}", value=hd)
        ts.append(t)
        hs.append(hd % 360.0)
    if len(ts) < 2:
        raise InputError("heading log needs at least 2 entries", path=p, value=len(ts))
    return np.asarray(ts), np.asarray(hs)
