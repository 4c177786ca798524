"""Antenna array description: geometry, heading, sensor position, calibration.

The TOML layout is DESIGN.md section 3::

    [array]
    name = "uca-5"
    elements_m = [[x, y, z], ...]     # metres, x east, y north, z up
    heading_deg = 0.0                 # frame rotation, clockwise from true north
    heading_sigma_deg = 1.0           # optional: 1-sigma uncertainty of that heading (default 0)
    [sensor]
    lat = 52.0
    lon = 4.0
    alt_m = 10.0
    [calibration]                     # optional, written by save_array()
    phase_deg = [...]                 # per channel, subtracted from the data
    gain_db = [...]
    freq_hz = 868e6

Channel i of the data is element i.  Bearings are degrees clockwise from true
north, the direction the signal comes from.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError
from ..model import SensorPosition

SPEED_OF_LIGHT_M_S = 299_792_458.0


@dataclass(frozen=True)
class Calibration:
    """Per-channel complex correction: corrected = data * exp(-j phase) / gain."""
    phase_deg: tuple[float, ...]
    gain_db: tuple[float, ...]
    freq_hz: float | None = None
    method: str = ""

    @property
    def num_channels(self) -> int:
        return len(self.phase_deg)

    def weights(self) -> np.ndarray:
        """Complex factors multiplying each channel to undo its error."""
        g = 10.0 ** (-np.asarray(self.gain_db) / 20.0)
        return g * np.exp(-1j * np.deg2rad(np.asarray(self.phase_deg)))


@dataclass(frozen=True)
class ArrayGeometry:
    name: str
    elements_m: tuple[tuple[float, float, float], ...]
    heading_deg: float = 0.0
    sensor: SensorPosition = SensorPosition()
    calibration: Calibration | None = None
    source: str = "<array>"
    heading_sigma_deg: float = 0.0          # 1-sigma of the heading: a bias common to every bearing

    @property
    def num_elements(self) -> int:
        return len(self.elements_m)

    @property
    def positions_m(self) -> np.ndarray:
        return np.asarray(self.elements_m, dtype=np.float64).reshape(-1, 3)

    def with_calibration(self, calibration: Calibration | None) -> "ArrayGeometry":
        return replace(self, calibration=calibration)

    def aperture_m(self) -> float:
        p = self.positions_m
        d = p[:, None, :] - p[None, :, :]
        return float(np.sqrt((d ** 2).sum(-1)).max())

    def check_channels(self, num_channels: int, *, what: str = "data") -> None:
        if num_channels != self.num_elements:
            raise InputError(
                f"array has {self.num_elements} elements but the {what} has {num_channels} channels "
                "(channel i must be element i)", path=self.source, param="elements_m",
                value=self.num_elements)

    def sensor_dict(self) -> dict:
        s = self.sensor
        return {"lat": s.lat, "lon": s.lon, "alt_m": s.alt_m, "heading_deg": self.heading_deg}


def uca(num_elements: int, radius_m: float, *, name: str = "", heading_deg: float = 0.0,
        sensor: SensorPosition = SensorPosition()) -> ArrayGeometry:
    """Uniform circular array, element 0 on +y, numbered clockwise (seen from above)."""
    ang = 2 * np.pi * np.arange(num_elements) / num_elements
    el = tuple((float(radius_m * math.sin(a)), float(radius_m * math.cos(a)), 0.0) for a in ang)
    return ArrayGeometry(name or f"uca-{num_elements}", el, heading_deg, sensor)


def ula(num_elements: int, spacing_m: float, *, axis_deg: float = 90.0, name: str = "",
        heading_deg: float = 0.0, sensor: SensorPosition = SensorPosition()) -> ArrayGeometry:
    """Uniform linear array centred on the origin along ``axis_deg`` (clockwise from +y)."""
    ax = np.array([math.sin(math.radians(axis_deg)), math.cos(math.radians(axis_deg)), 0.0])
    off = (np.arange(num_elements) - (num_elements - 1) / 2) * spacing_m
    el = tuple(tuple(float(v) for v in o * ax) for o in off)
    return ArrayGeometry(name or f"ula-{num_elements}", el, heading_deg, sensor)


def _num(d: dict, key: str, src: str, table: str, *, required: bool) -> float | None:
    if key not in d:
        if required:
            raise InputError(f"missing key [{table}] {key}", path=src, param=f"{table}.{key}")
        return None
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError("must be a finite number", path=src, param=f"{table}.{key}", value=v)
    return float(v)


def array_from_dict(doc: dict, *, source: str = "<array>") -> ArrayGeometry:
    """Validate a parsed description: the whole TOML document, or only its [array] table."""
    if not isinstance(doc, dict):
        raise InputError("array description must be a table", path=source, value=type(doc).__name__)
    arr = doc.get("array", doc if "elements_m" in doc else None)
    if not isinstance(arr, dict):
        raise InputError("no [array] table with elements_m: the file describes no geometry",
                         path=source, param="array")
    if "elements_m" not in arr:
        raise InputError("missing key [array] elements_m: the file describes no geometry",
                         path=source, param="array.elements_m")
    raw = arr["elements_m"]
    if not isinstance(raw, list) or len(raw) < 2:
        raise InputError("needs a list of at least 2 [x, y, z] positions in metres",
                         path=source, param="array.elements_m", value=raw)
    elements = []
    for i, p in enumerate(raw):
        if (not isinstance(p, list) or len(p) not in (2, 3)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in p)):
            raise InputError("each element must be [x, y] or [x, y, z], finite metres",
                             path=source, param=f"array.elements_m[{i}]", value=p)
        q = [float(v) for v in p] + [0.0] * (3 - len(p))
        if max(abs(v) for v in q) > 100.0:
            raise InputError("element further than 100 m from the reference point (metres expected)",
                             path=source, param=f"array.elements_m[{i}]", value=p)
        elements.append(tuple(q))
    pos = np.asarray(elements)
    dist = np.sqrt(((pos[:, None] - pos[None]) ** 2).sum(-1)) + np.eye(len(pos))
    if dist.min() < 1e-4:
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        raise InputError(f"elements {i} and {j} are at the same position",
                         path=source, param="array.elements_m", value=elements[i])
    heading = _num(arr, "heading_deg", source, "array", required=False) or 0.0
    heading_sigma = _num(arr, "heading_sigma_deg", source, "array", required=False) or 0.0
    if not 0.0 <= heading_sigma <= 90.0:
        raise InputError("must be in 0..90 degrees", path=source, param="array.heading_sigma_deg",
                         value=heading_sigma)
    name = str(arr.get("name", Path(source).stem))

    sens = doc.get("sensor", {}) if "array" in doc else {}
    if not isinstance(sens, dict):
        raise InputError("[sensor] must be a table", path=source, param="sensor", value=sens)
    lat = _num(sens, "lat", source, "sensor", required=False)
    lon = _num(sens, "lon", source, "sensor", required=False)
    alt = _num(sens, "alt_m", source, "sensor", required=False)
    if (lat is None) != (lon is None):
        raise InputError("give both lat and lon, or neither", path=source, param="sensor",
                         value={"lat": lat, "lon": lon})
    if lat is not None and not -90.0 <= lat <= 90.0:
        raise InputError("latitude out of range -90..90", path=source, param="sensor.lat", value=lat)
    if lon is not None and not -180.0 <= lon <= 360.0:
        raise InputError("longitude out of range", path=source, param="sensor.lon", value=lon)
    sensor = SensorPosition(lat=lat, lon=lon, alt_m=alt, heading_deg=heading)

    cal = None
    c = doc.get("calibration") if "array" in doc else arr.get("calibration")
    if c is not None:
        if not isinstance(c, dict):
            raise InputError("[calibration] must be a table", path=source, param="calibration")
        ph, ga = c.get("phase_deg"), c.get("gain_db", [0.0] * len(elements))
        for key, vals in (("phase_deg", ph), ("gain_db", ga)):
            if (not isinstance(vals, list) or len(vals) != len(elements)
                    or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals)):
                raise InputError(f"needs {len(elements)} finite numbers, one per element",
                                 path=source, param=f"calibration.{key}", value=vals)
        f = _num(c, "freq_hz", source, "calibration", required=False)
        cal = Calibration(tuple(float(v) for v in ph), tuple(float(v) for v in ga), f,
                          str(c.get("method", "")))
    return ArrayGeometry(name, tuple(elements), heading, sensor, cal, source, heading_sigma)


def load_array(path: str | Path) -> ArrayGeometry:
    """Read and validate an array TOML file; errors name the file, key and value."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read array file ({e.strerror})", path=p) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"not valid TOML ({e})", path=p) from None
    return array_from_dict(doc, source=str(p))


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(float(v))


def to_toml(array: ArrayGeometry) -> str:
    lines = ["[array]", f"name = {_toml_value(array.name)}",
             f"elements_m = {_toml_value([list(e) for e in array.elements_m])}",
             f"heading_deg = {_toml_value(array.heading_deg)}"]
    if array.heading_sigma_deg:
        lines.append(f"heading_sigma_deg = {_toml_value(array.heading_sigma_deg)}")
    s = array.sensor
    if s.lat is not None or s.alt_m is not None:
        lines.append("")
        lines.append("[sensor]")
        for k in ("lat", "lon", "alt_m"):
            if getattr(s, k) is not None:
                lines.append(f"{k} = {_toml_value(getattr(s, k))}")
    c = array.calibration
    if c is not None:
        lines += ["", "[calibration]", f"phase_deg = {_toml_value(c.phase_deg)}",
                  f"gain_db = {_toml_value(c.gain_db)}"]
        if c.freq_hz is not None:
            lines.append(f"freq_hz = {_toml_value(c.freq_hz)}")
        if c.method:
            lines.append(f"method = {_toml_value(c.method)}")
    return "\n".join(lines) + "\n"


def save_array(array: ArrayGeometry, path: str | Path) -> None:
    """Write the description (with its calibration) back to TOML, atomically."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(to_toml(array), encoding="utf-8")
    tmp.replace(p)


def direction_vectors(bearings_deg: np.ndarray, heading_deg: float = 0.0,
                      elevation_deg: float = 0.0) -> np.ndarray:
    """Unit vectors (3, K) in the array frame pointing towards the sources."""
    b = np.deg2rad(np.asarray(bearings_deg, dtype=np.float64) - heading_deg)
    ce = math.cos(math.radians(elevation_deg))
    return np.stack([ce * np.sin(b), ce * np.cos(b),
                     np.full_like(b, math.sin(math.radians(elevation_deg)))])


def steering_vectors(array: ArrayGeometry, freq_hz: float, bearings_deg, *,
                     elevation_deg: float = 0.0) -> np.ndarray:
    """Array response (elements, K) to plane waves from true-north bearings.

    An element displaced towards the source sees the wavefront earlier, so its
    baseband phase leads: a_i = exp(+j 2 pi r_i . u / lambda).
    """
    if not freq_hz > 0:
        raise ParameterError("must be greater than zero", param="freq_hz", value=freq_hz)
    k = 2 * np.pi * freq_hz / SPEED_OF_LIGHT_M_S
    u = direction_vectors(np.atleast_1d(bearings_deg), array.heading_deg, elevation_deg)
    return np.exp(1j * k * (array.positions_m @ u))


def steering_derivative(array: ArrayGeometry, freq_hz: float, bearings_deg, *,
                        elevation_deg: float = 0.0) -> np.ndarray:
    """d a / d bearing, per radian, shape (elements, K)."""
    k = 2 * np.pi * freq_hz / SPEED_OF_LIGHT_M_S
    b = np.deg2rad(np.atleast_1d(np.asarray(bearings_deg, dtype=np.float64)) - array.heading_deg)
    ce = math.cos(math.radians(elevation_deg))
    du = np.stack([ce * np.cos(b), -ce * np.sin(b), np.zeros_like(b)])
    a = steering_vectors(array, freq_hz, bearings_deg, elevation_deg=elevation_deg)
    return 1j * k * (array.positions_m @ du) * a


def is_ula(array: ArrayGeometry, tol_m: float = 1e-6) -> tuple[bool, float, np.ndarray]:
    """(is a uniform linear array in channel order, spacing m, unit axis vector)."""
    p = array.positions_m
    d = np.diff(p, axis=0)
    spacing = float(np.linalg.norm(d[0]))
    if spacing == 0:
        return False, 0.0, np.zeros(3)
    axis = d[0] / spacing
    ok = bool(np.all(np.abs(d - d[0]) < tol_m))
    return ok, spacing, axis


def linear_axis_deg(array: ArrayGeometry, tol_m: float = 1e-6) -> float | None:
    """Azimuth (frame, 0..180) of the line holding every element, or None if not collinear.

    A linear array cannot tell a bearing from its mirror image about this line.
    """
    p = array.positions_m - array.positions_m.mean(axis=0)
    _, s, vt = np.linalg.svd(p)
    if s.size > 1 and s[1] > tol_m * max(1.0, s[0]):
        return None
    ax = vt[0]
    return math.degrees(math.atan2(ax[0], ax[1])) % 180.0


def array_for_recording(info, array_path: str | Path | None = None) -> ArrayGeometry:
    """The array of a multi-channel recording: ``--array FILE.toml`` if given, else its own metadata.

    ``info`` is a ``rfdetect.model.RecordingInfo``.  The recording's sensor
    position fills in what the file leaves out; the channel count must match.
    """
    if array_path is not None:
        arr = load_array(array_path)
    elif info.array:
        arr = array_from_dict(info.array, source=f"{info.path} (rfdetect:array)")
    else:
        raise InputError("recording has no antenna array geometry: give --array FILE.toml",
                         path=info.path, param="array")
    s = info.sensor
    if arr.sensor.lat is None and s is not None and s.lat is not None:
        heading = arr.heading_deg
        if "heading_deg" not in (info.array or {}) and array_path is None and s.heading_deg is not None:
            heading = s.heading_deg
        arr = replace(arr, sensor=SensorPosition(s.lat, s.lon, s.alt_m, heading), heading_deg=heading)
    arr.check_channels(info.num_channels, what=f"recording {info.path}")
    return arr
