"""Scenario files: TOML (or a dict) -> frozen dataclasses, validated with clear errors.

Every error names the file, the key (e.g. ``emitter[2].mode``) and the offending value.
The format is documented key by key in recordings/scenarios/README.md.
"""
from __future__ import annotations

import math
import os
import tomllib
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ParameterError
from ..units import parse_si
from . import links as L

C_MPS = 299_792_458.0
RECEIVER_KINDS = ("ideal", "rtl-sdr")
CHANNEL_MODELS = ("awgn", "rician", "rayleigh")
MAX_SAMPLES = 1 << 31


@dataclass(frozen=True)
class Receiver:
    sample_rate_hz: float
    center_freq_hz: float
    kind: str = "ideal"
    noise_dbfs: float = -30.0
    noise_figure_db: float = 6.0
    sweep: tuple[tuple[float, float], ...] = ()     # (t_s, center_freq_hz)
    datetime_utc: str | None = None
    hardware: str = ""


@dataclass(frozen=True)
class FrontEnd:
    """RTL-SDR model (used when receiver.kind == "rtl-sdr")."""
    gain_db: float = 0.0
    dc_offset_dbfs: float | None = -35.0
    iq_gain_imbalance_db: float = 0.1
    iq_phase_imbalance_deg: float = 0.5
    ppm: float = 0.0


@dataclass(frozen=True)
class ArrayConfig:
    name: str
    elements_m: tuple[tuple[float, float, float], ...]
    heading_deg: float = 0.0
    gain_errors_db: tuple[float, ...] = ()
    phase_errors_deg: tuple[float, ...] = ()

    @property
    def num_elements(self) -> int:
        return len(self.elements_m)


@dataclass(frozen=True)
class ChannelModel:
    model: str = "awgn"
    k_db: float = 6.0                       # Rician K factor
    delays_s: tuple[float, ...] = (0.0,)
    powers_db: tuple[float, ...] = (0.0,)
    velocity_mps: float = 0.0               # radial velocity, positive = approaching (Doppler)


@dataclass(frozen=True)
class Emitter:
    id: str
    link: str
    mode: str
    domain: str
    freq_hz: float | None = None
    channel: int | None = None
    snr_db: float | None = None
    power_dbm: float | None = None
    distance_m: float | None = None
    path_loss_exponent: float = 2.0
    start_s: float = 0.0
    stop_s: float | None = None
    freq_offset_hz: float = 0.0
    drift_hz_per_s: float = 0.0
    hop_seed: int | None = None
    azimuth_deg: float = 0.0
    elevation_deg: float = 0.0
    interval_s: float | None = None
    phase_s: float | None = None            # first burst this long after start_s (default: random)
    downlink: bool = False
    channel_model: ChannelModel = ChannelModel()

    @property
    def spec(self) -> L.LinkSpec:
        return L.LINKS[self.link]

    @property
    def bandwidth_hz(self) -> float:
        return L.occupied_bandwidth_hz(self.link, self.mode)

    def channels(self) -> tuple[float, ...]:
        if self.spec.ranges:
            return (self.freq_hz,)
        return tuple(self.spec.plans[self.domain])

    def fixed_channel(self) -> int | None:
        if self.spec.ranges:
            return 0
        return self.channel


@dataclass(frozen=True)
class Sensor:
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    duration_s: float
    receiver: Receiver
    emitters: tuple[Emitter, ...]
    description: str = ""
    seed: int = 0
    frontend: FrontEnd = FrontEnd()
    array: ArrayConfig | None = None
    sensor: Sensor = Sensor()
    source: str = "<dict>"

    @property
    def num_channels(self) -> int:
        return self.array.num_elements if self.array else 1


# ---------------------------------------------------------------- loading

class _Ctx:
    def __init__(self, path: str):
        self.path = path

    def fail(self, key: str, value, msg: str):
        raise ParameterError(msg, path=self.path, param=key, value=value)

    def table(self, d, key: str, allowed: set[str]) -> dict:
        if d is None:
            return {}
        if not isinstance(d, dict):
            self.fail(key, d, "must be a table")
        for k in d:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k, d[k],
                          f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return d

    def num(self, d, key, name, default=None, *, si=False, positive=False, minimum=None, maximum=None,
            required=False):
        full = f"{key}.{name}" if key else name
        if name not in d:
            if required:
                self.fail(full, None, "is required")
            return default
        v = d[name]
        if isinstance(v, bool):
            self.fail(full, v, "must be a number")
        try:
            x = parse_si(v, full) if si or isinstance(v, str) else float(v)
        except ParameterError:
            self.fail(full, v, "not a number (use e.g. 868.1M, 2.4e6, 250k)")
        except (TypeError, ValueError):
            self.fail(full, v, "must be a number")
        if not math.isfinite(x):
            self.fail(full, v, "must be finite")
        if positive and x <= 0:
            self.fail(full, v, "must be greater than zero")
        if minimum is not None and x < minimum:
            self.fail(full, v, f"must be at least {minimum:g}")
        if maximum is not None and x > maximum:
            self.fail(full, v, f"must be at most {maximum:g}")
        return x

    def string(self, d, key, name, default=None, *, required=False, choices=None):
        full = f"{key}.{name}" if key else name
        if name not in d:
            if required:
                self.fail(full, None, "is required")
            return default
        v = d[name]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(int(v)) if float(v).is_integer() else str(v)
        if not isinstance(v, str):
            self.fail(full, v, "must be a string")
        if choices is not None and v not in choices:
            self.fail(full, v, f"must be one of: {', '.join(choices)}")
        return v

    def floats(self, d, key, name, default=()):
        full = f"{key}.{name}"
        if name not in d:
            return default
        v = d[name]
        if not isinstance(v, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            self.fail(full, v, "must be a list of numbers")
        return tuple(float(x) for x in v)


def load_scenario(src, *, path: str | os.PathLike | None = None) -> Scenario:
    """A Scenario from a TOML file path, a TOML string (``path`` names it), a dict, or a Scenario."""
    if isinstance(src, Scenario):
        return src
    if isinstance(src, dict):
        return _build(src, _Ctx(str(path) if path else "<dict>"))
    p = Path(src)
    ctx = _Ctx(str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such scenario file", path=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read scenario: {exc}", path=p) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"malformed TOML: {exc}", path=p) from None
    return _build(data, ctx)


_TOP = {"scenario", "receiver", "frontend", "array", "sensor", "emitter"}
_SCN = {"name", "description", "duration_s", "seed"}
_RX = {"sample_rate", "center_freq", "type", "noise_dbfs", "noise_figure_db", "sweep", "datetime", "hardware"}
_FE = {"gain_db", "dc_offset_dbfs", "iq_gain_imbalance_db", "iq_phase_imbalance_deg", "ppm"}
_AR = {"name", "geometry", "num_elements", "spacing_m", "radius_m", "elements_m", "heading_deg",
       "gain_errors_db", "phase_errors_deg"}
_EM = {"id", "link", "mode", "domain", "freq", "channel", "snr_db", "power_dbm", "distance_m",
       "path_loss_exponent", "start_s", "stop_s", "freq_offset_hz", "drift_hz_per_s", "hop_seed",
       "azimuth_deg", "elevation_deg", "interval_s", "phase_s", "downlink", "channel_model"}
_CH = {"model", "k_db", "delays_s", "powers_db", "velocity_mps"}


def _build(data: dict, ctx: _Ctx) -> Scenario:
    ctx.table(data, "", _TOP)
    s = ctx.table(data.get("scenario", {}), "scenario", _SCN)
    duration = ctx.num(s, "scenario", "duration_s", positive=True, required=True)
    seed = ctx.num(s, "scenario", "seed", 0, minimum=0)
    if seed != int(seed):
        ctx.fail("scenario.seed", s["seed"], "must be a whole number")
    name = ctx.string(s, "scenario", "name", Path(ctx.path).stem if ctx.path != "<dict>" else "scenario")
    descr = ctx.string(s, "scenario", "description", "")

    r = ctx.table(data.get("receiver"), "receiver", _RX)
    if "receiver" not in data:
        ctx.fail("receiver", None, "table is required")
    fs = ctx.num(r, "receiver", "sample_rate", si=True, positive=True, required=True)
    fc = ctx.num(r, "receiver", "center_freq", si=True, positive=True, required=True)
    kind = ctx.string(r, "receiver", "type", "ideal", choices=RECEIVER_KINDS)
    sweep = []
    sw = r.get("sweep", [])
    if not isinstance(sw, list):
        ctx.fail("receiver.sweep", sw, "must be an array of tables {t_s, center_freq}")
    last_t = 0.0
    for i, entry in enumerate(sw):
        key = f"receiver.sweep[{i}]"
        e = ctx.table(entry, key, {"t_s", "center_freq"})
        t = ctx.num(e, key, "t_s", required=True, minimum=0.0)
        f = ctx.num(e, key, "center_freq", si=True, positive=True, required=True)
        if t <= last_t and i > 0 or t >= duration:
            ctx.fail(f"{key}.t_s", t, "retune times must increase and lie inside the duration")
        last_t = t
        sweep.append((t, f))
    if duration * fs > MAX_SAMPLES:
        ctx.fail("scenario.duration_s", duration, f"too long at {fs:g} S/s (more than 2^31 samples)")
    receiver = Receiver(fs, fc, kind, ctx.num(r, "receiver", "noise_dbfs", -30.0, maximum=0.0),
                        ctx.num(r, "receiver", "noise_figure_db", 6.0, minimum=0.0), tuple(sweep),
                        ctx.string(r, "receiver", "datetime", None), ctx.string(r, "receiver", "hardware", ""))

    fe = ctx.table(data.get("frontend"), "frontend", _FE)
    frontend = FrontEnd(ctx.num(fe, "frontend", "gain_db", 0.0),
                        ctx.num(fe, "frontend", "dc_offset_dbfs", -35.0, maximum=0.0),
                        ctx.num(fe, "frontend", "iq_gain_imbalance_db", 0.1, minimum=-6, maximum=6),
                        ctx.num(fe, "frontend", "iq_phase_imbalance_deg", 0.5, minimum=-30, maximum=30),
                        ctx.num(fe, "frontend", "ppm", 0.0, minimum=-500, maximum=500))
    array = _array(data.get("array"), ctx) if "array" in data else None
    se = ctx.table(data.get("sensor"), "sensor", {"lat", "lon", "alt_m"})
    sensor = Sensor(ctx.num(se, "sensor", "lat", None, minimum=-90, maximum=90),
                    ctx.num(se, "sensor", "lon", None, minimum=-180, maximum=180),
                    ctx.num(se, "sensor", "alt_m", None))

    ems = data.get("emitter", [])
    if isinstance(ems, dict):
        ems = [ems]
    if not isinstance(ems, list):
        ctx.fail("emitter", ems, "must be an array of tables ([[emitter]])")
    emitters = []
    ids = set()
    for i, e in enumerate(ems):
        em = _emitter(e, i, ctx, duration, receiver)
        if em.id in ids:
            ctx.fail(f"emitter[{i}].id", em.id, "duplicate emitter id")
        ids.add(em.id)
        emitters.append(em)
    return Scenario(name, duration, receiver, tuple(emitters), descr, int(seed), frontend, array, sensor, ctx.path)


def _array(a, ctx: _Ctx) -> ArrayConfig:
    a = ctx.table(a, "array", _AR)
    geom = ctx.string(a, "array", "geometry", "custom" if "elements_m" in a else "ula",
                      choices=("ula", "uca", "custom"))
    if geom == "custom":
        el = a.get("elements_m")
        if not isinstance(el, list) or not el:
            ctx.fail("array.elements_m", el, "must be a list of [x, y, z] positions in metres")
        pos = []
        for i, p in enumerate(el):
            if not isinstance(p, list) or len(p) not in (2, 3) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in p):
                ctx.fail(f"array.elements_m[{i}]", p, "must be [x, y] or [x, y, z] in metres")
            pos.append(tuple(float(v) for v in p) + ((0.0,) if len(p) == 2 else ()))
    else:
        n = ctx.num(a, "array", "num_elements", required=True, minimum=1, maximum=64)
        if n != int(n):
            ctx.fail("array.num_elements", n, "must be a whole number")
        n = int(n)
        if geom == "ula":
            d = ctx.num(a, "array", "spacing_m", required=True, positive=True)
            pos = [((i - (n - 1) / 2) * d, 0.0, 0.0) for i in range(n)]
        else:
            rad = ctx.num(a, "array", "radius_m", required=True, positive=True)
            pos = [(rad * math.sin(2 * math.pi * i / n), rad * math.cos(2 * math.pi * i / n), 0.0)
                   for i in range(n)]
    n = len(pos)
    ge = ctx.floats(a, "array", "gain_errors_db")
    pe = ctx.floats(a, "array", "phase_errors_deg")
    for key, v in (("gain_errors_db", ge), ("phase_errors_deg", pe)):
        if v and len(v) != n:
            ctx.fail(f"array.{key}", list(v), f"needs one value per element ({n})")
    return ArrayConfig(ctx.string(a, "array", "name", f"{geom}-{n}"),
                       tuple(tuple(round(c, 9) for c in p) for p in pos),
                       ctx.num(a, "array", "heading_deg", 0.0), ge, pe)


def _emitter(e, i: int, ctx: _Ctx, duration: float, rx: Receiver) -> Emitter:
    key = f"emitter[{i}]"
    e = ctx.table(e, key, _EM)
    link = ctx.string(e, key, "link", required=True)
    if link not in L.LINKS:
        ctx.fail(f"{key}.link", link, f"unknown link (known: {', '.join(sorted(L.LINKS))})")
    spec = L.LINKS[link]
    eid = ctx.string(e, key, "id", f"{link}-{i}")
    mode = ctx.string(e, key, "mode", spec.default_mode)
    if mode not in spec.modes:
        ctx.fail(f"{key}.mode", mode, f"{link} has no such mode (modes: {', '.join(spec.modes)})")
    domain = ctx.string(e, key, "domain", None)
    freq = ctx.num(e, key, "freq", None, si=True, positive=True)
    if domain is None and freq is not None and not spec.ranges:
        domain = next((d for d, plan in spec.plans.items() if L.bp.channel_index(plan, freq) is not None), None)
    if domain is None and freq is not None and spec.ranges:
        domain = next((d for d, rr in spec.plans.items() if any(lo <= freq <= hi for lo, hi in rr)), None)
    if domain is None:
        if freq is not None:
            ctx.fail(f"{key}.freq", e.get("freq"), f"outside every band plan of {link}")
        domain = spec.default_domain
    if domain not in spec.plans:
        ctx.fail(f"{key}.domain", domain, f"{link} has no such band domain (domains: {', '.join(spec.plans)})")
    channel = None
    bw = L.occupied_bandwidth_hz(link, mode)
    if spec.ranges:
        if freq is None:
            freq = L.DEFAULT_FREQ.get((link, domain), sum(spec.plans[domain][0]) / 2)
        if not any(lo + bw / 2 <= freq <= hi - bw / 2 for lo, hi in spec.plans[domain]):
            ctx.fail(f"{key}.freq", e.get("freq", freq), f"outside the {domain} allocation of {link} "
                     f"({', '.join(f'{lo / 1e6:g}-{hi / 1e6:g} MHz' for lo, hi in spec.plans[domain])})")
    else:
        plan = spec.plans[domain]
        if freq is not None:
            channel = L.bp.channel_index(plan, freq)
            if channel is None:
                ctx.fail(f"{key}.freq", e.get("freq"), f"not a channel of {link} in domain {domain} "
                         f"({len(plan)} channels, {plan[0] / 1e6:g}-{plan[-1] / 1e6:g} MHz)")
        if "channel" in e:
            c = e["channel"]
            if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < len(plan):
                ctx.fail(f"{key}.channel", c, f"must be a channel index 0..{len(plan) - 1} of {link} {domain}")
            channel = c
        if channel is None and spec.schedule in ("continuous", "periodic"):
            channel = 0
    if bw > rx.sample_rate_hz:
        ctx.fail("receiver.sample_rate", rx.sample_rate_hz,
                 f"too low for {eid} ({link} {mode}): its occupied bandwidth is {bw / 1e6:.4g} MHz; "
                 f"use at least {bw / 1e6:.4g} MS/s (the simulator does not alias signals)")
    snr = ctx.num(e, key, "snr_db", None, minimum=-40, maximum=100)
    pdbm = ctx.num(e, key, "power_dbm", None, minimum=-200, maximum=100)
    dist = ctx.num(e, key, "distance_m", None, positive=True)
    if snr is None and pdbm is None:
        snr = 20.0
    if snr is not None and pdbm is not None:
        ctx.fail(f"{key}.power_dbm", pdbm, "give either snr_db or power_dbm (with distance_m), not both")
    if pdbm is not None and dist is None:
        ctx.fail(f"{key}.distance_m", None, "is required with power_dbm")
    start = ctx.num(e, key, "start_s", 0.0, minimum=0.0)
    stop = ctx.num(e, key, "stop_s", duration, positive=True)
    if stop <= start:
        ctx.fail(f"{key}.stop_s", stop, f"must be after start_s ({start:g})")
    if start >= duration:
        ctx.fail(f"{key}.start_s", start, f"must be before the end of the scenario ({duration:g} s)")
    hop_seed = ctx.num(e, key, "hop_seed", None, minimum=0)
    ch = ctx.table(e.get("channel_model"), f"{key}.channel_model", _CH)
    ckey = f"{key}.channel_model"
    model = ctx.string(ch, ckey, "model", "awgn", choices=CHANNEL_MODELS)
    delays = ctx.floats(ch, ckey, "delays_s", (0.0,))
    powers = ctx.floats(ch, ckey, "powers_db", (0.0,) * len(delays))
    if len(delays) != len(powers):
        ctx.fail(f"{ckey}.powers_db", list(powers), f"needs one value per delay ({len(delays)})")
    if any(d < 0 for d in delays):
        ctx.fail(f"{ckey}.delays_s", list(delays), "delays must be >= 0")
    cm = ChannelModel(model, ctx.num(ch, ckey, "k_db", 6.0), delays, powers,
                      ctx.num(ch, ckey, "velocity_mps", 0.0, minimum=-C_MPS / 1e3, maximum=C_MPS / 1e3))
    dl = e.get("downlink", False)
    if not isinstance(dl, bool):
        ctx.fail(f"{key}.downlink", dl, "must be true or false")
    return Emitter(eid, link, mode, domain, freq, channel, snr, pdbm, dist,
                   ctx.num(e, key, "path_loss_exponent", 2.0, minimum=1.0, maximum=6.0), start, min(stop, duration),
                   ctx.num(e, key, "freq_offset_hz", 0.0, si=True), ctx.num(e, key, "drift_hz_per_s", 0.0),
                   None if hop_seed is None else int(hop_seed), ctx.num(e, key, "azimuth_deg", 0.0),
                   ctx.num(e, key, "elevation_deg", 0.0, minimum=-90, maximum=90),
                   ctx.num(e, key, "interval_s", None, positive=True),
                   ctx.num(e, key, "phase_s", None, minimum=0.0), dl, cm)


def emitter_seed(seed: int, emitter_id: str) -> list[int]:
    """Entropy for one emitter's generator: independent of the other emitters and their order."""
    return [int(seed), zlib.crc32(emitter_id.encode("utf-8"))]
