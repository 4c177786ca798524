"""The scenario engine: schedules every emitter's bursts, synthesises the ones the receiver
sees, and renders the recording block by block (channels, noise, array, front end).

Reproducibility: all randomness flows from the scenario seed: the noise of channel c is a
counter-based stream keyed by (seed, c), so sample i is the same whatever the block size; the
front end and the array errors have their own generators; each emitter has one keyed by its
id (adding or reordering emitters does not change the others); each burst's payload and
carrier phase come from (emitter, burst index), whether or not other bursts are rendered.
"""
from __future__ import annotations

import bisect
import gc
import json
import math
import zlib
from contextlib import contextmanager
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from scipy import fft as sfft

from ..model import Annotation
from . import channel as ch
from . import links as L
from .analog_video import FMVideoRenderer
from .array import array_description, channel_errors, steering_vector
from .frontend import RtlSdrModel
from .kernels import gauss_noise, mix_add
from .scenario import Emitter, Scenario

BLOCK_SAMPLES = 1 << 18
_UNIT_STEER = np.ones(1, np.complex128)     # a single antenna: read only
_NOISE_KEY, _FRONTEND_KEY, _ARRAY_KEY = 0x6E6F6973, 0x66726F6E, 0x61727261


@dataclass(slots=True)
class _Active:
    emitter: int
    tx: L.TxBurst
    start: int
    f_carrier_hz: float
    amp: float
    snr_db: float
    phase0: float
    steer: np.ndarray
    edges: tuple                   # (f_lo, f_hi) of the part inside the receiver's band
    wave: np.ndarray | None = None


@dataclass
class _Continuous:
    emitter: int
    start: int
    stop: int
    f_carrier_hz: float
    amp: float
    snr_db: float
    renderer: FMVideoRenderer
    steer: np.ndarray


@dataclass
class Plan:
    scenario: Scenario
    seed: int
    sample_rate_hz: float          # nominal (written to the file)
    true_rate_hz: float            # actual sample clock (ppm error applied)
    lo_scale: float                # actual LO / nominal LO
    num_samples: int
    retunes: list                  # [(sample_index, center_freq_hz)] incl. sample 0
    noise_power: float
    pending: list = field(default_factory=list)       # _Active sorted by start, not yet synthesised
    continuous: list = field(default_factory=list)
    annotations: list = field(default_factory=list)
    array: dict | None = None
    errors: np.ndarray | None = None
    frontend: RtlSdrModel | None = None
    comment_heads: dict = field(default_factory=dict)   # (emitter, snr) -> annotation comment head


@contextmanager
def paused_gc():
    """Run without the cyclic garbage collector: the thousands of burst objects of a recording
    trigger full collections that walk every object the process holds (NumPy's, SciPy's and
    Numba's included), up to a third of the run time; the engine makes no reference cycles,
    so reference counting frees everything anyway."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _snr_db(e: Emitter, scn: Scenario, freq_hz: float) -> float:
    if e.snr_db is not None:
        return e.snr_db
    return ch.snr_from_link_budget(e.power_dbm, e.distance_m, freq_hz, e.bandwidth_hz,
                                   scn.receiver.noise_figure_db, e.path_loss_exponent)


def make_plan(scn: Scenario, seed: int | None = None) -> Plan:
    seed = scn.seed if seed is None else int(seed)
    rx = scn.receiver
    ppm = scn.frontend.ppm if rx.kind == "rtl-sdr" else 0.0
    fs = rx.sample_rate_hz
    fs_true = fs * (1 + ppm * 1e-6)
    n_total = int(round(scn.duration_s * fs))
    retunes = [(0, rx.center_freq_hz)] + [(int(round(t * fs_true)), f) for t, f in rx.sweep]
    plan = Plan(scn, seed, fs, fs_true, 1 + ppm * 1e-6, n_total, retunes, 10.0 ** (rx.noise_dbfs / 10.0))
    if rx.kind == "rtl-sdr":
        plan.frontend = RtlSdrModel(scn.frontend, np.random.default_rng([seed, _FRONTEND_KEY]))
    nch = scn.num_channels
    if scn.array is not None:
        errs, g_db, p_deg = channel_errors(scn.array, np.random.default_rng([seed, _ARRAY_KEY]))
        plan.errors = errs.astype(np.complex128)
        plan.array = array_description(scn, g_db, p_deg)
    else:
        plan.errors = np.ones(1, np.complex128)

    def steer(e: Emitter, f: float) -> np.ndarray:
        if scn.array is None:
            return _UNIT_STEER
        return plan.errors * steering_vector(scn.array.elements_m, e.azimuth_deg, e.elevation_deg, f,
                                             scn.array.heading_deg)

    for ei, e in enumerate(scn.emitters):
        spec = e.spec
        rng = np.random.default_rng([seed, zlib.crc32(e.id.encode())])
        hop_seed = e.hop_seed if e.hop_seed is not None else zlib.crc32(f"{seed}:{e.id}".encode())
        burst_seed = int(rng.integers(0, 2 ** 62))
        bw = e.bandwidth_hz
        chans = e.channels()
        fixed = e.fixed_channel()
        if spec.schedule == "continuous":
            f0 = chans[fixed or 0]
            fcar = f0 + e.freq_offset_hz + ch.doppler_hz(e.channel_model.velocity_mps, f0)
            snr = _snr_db(e, scn, f0)
            power = ch.signal_power_for_snr(snr, plan.noise_power, fs_true, bw)
            s0 = int(round(e.start_s * fs_true))
            s1 = min(int(round(e.stop_s * fs_true)), n_total)
            mode = spec.modes[e.mode]
            plan.continuous.append(_Continuous(ei, s0, s1, fcar, math.sqrt(power), snr,
                                               FMVideoRenderer(mode["standard"], fs_true), steer(e, fcar)))
            vis = _visible(plan, s0, fcar, bw)
            if vis is not None:
                plan.annotations.append(_annotation(e, s0, s1 - s0, vis, snr, {"channel": fixed or 0}))
            continue
        txs = L.schedule(spec, e.mode, chans, fixed, e.start_s, e.stop_s, rng, hop_seed, burst_seed, e,
                         keep=_keep_factory(plan, e, bw))
        for tx in txs:
            start = int(round(tx.t_start_s * fs_true))
            if start >= n_total:
                break
            fcar = (tx.freq_hz + e.freq_offset_hz + e.drift_hz_per_s * (tx.t_start_s - e.start_s)
                    + ch.doppler_hz(e.channel_model.velocity_mps, tx.freq_hz))
            edges = _visible(plan, start, fcar, bw)
            if edges is None:
                continue
            snr = _snr_db(e, scn, tx.freq_hz)
            power = ch.signal_power_for_snr(snr, plan.noise_power, fs_true, bw)
            ph0 = L.burst_phase(burst_seed, tx.index)
            plan.pending.append(_Active(ei, tx, start, fcar, math.sqrt(power), snr, ph0, steer(e, fcar), edges))
    plan.pending.sort(key=lambda a: (a.start, a.emitter))
    return plan


def _keep_factory(plan: Plan, e: Emitter, bw: float):
    """Vectorised visibility test for scheduled bursts (same rule as :func:`_visible`)."""
    idx = np.array([r[0] for r in plan.retunes], np.int64)
    centres = np.array([r[1] for r in plan.retunes], np.float64) * plan.lo_scale
    half = plan.sample_rate_hz / 2

    def keep(ts: np.ndarray, freqs: np.ndarray) -> np.ndarray:
        start = np.rint(ts * plan.true_rate_hz).astype(np.int64)
        fcar = (freqs + e.freq_offset_hz + e.drift_hz_per_s * (ts - e.start_s)
                + e.channel_model.velocity_mps / ch.C_MPS * freqs)
        fc = centres[np.maximum(np.searchsorted(idx, start, side="right") - 1, 0)]
        return (start < plan.num_samples) & (fcar + bw / 2 > fc - half) & (fcar - bw / 2 < fc + half)
    return keep


def _center_at(plan: Plan, sample: int) -> float:
    i = bisect.bisect_right([r[0] for r in plan.retunes], sample) - 1
    return plan.retunes[max(i, 0)][1]


def _visible(plan: Plan, sample: int, f_carrier: float, bw: float):
    """(f_lo, f_hi) of the part of the signal inside the receiver's band, or None."""
    fc = _center_at(plan, sample) * plan.lo_scale
    half = plan.sample_rate_hz / 2
    lo, hi = max(f_carrier - bw / 2, fc - half), min(f_carrier + bw / 2, fc + half)
    return (lo, hi) if hi > lo else None


def _comment_head(e: Emitter, snr: float) -> str:
    info = {"emitter": e.id, "mode": e.mode, "domain": e.domain, "snr_db": round(float(snr), 3),
            "drone": e.spec.drone, "bandwidth_hz": e.bandwidth_hz}
    return json.dumps(info)[:-1]


def _json_value(v) -> str:
    # ints and booleans are most of the values, and json.dumps costs microseconds per call
    if type(v) is int:
        return str(v)
    if v is True:
        return "true"
    return json.dumps(v)


def _annotation(e: Emitter, start: int, count: int, edges, snr: float, extra: dict,
                head: str | None = None) -> Annotation:
    """Ground truth of one burst; the comment is a JSON object (emitter, mode, snr_db, ...).
    ``head``: the comment's start for (e, snr) when the caller has it already."""
    bw = e.bandwidth_hz
    tail = [f', "{k}": {_json_value(v)}' for k, v in extra.items() if v is not None]
    if edges[1] - edges[0] < bw * 0.999:
        tail.append(', "partial_band": true')
    return Annotation(int(start), int(count), float(edges[0]), float(edges[1]), e.link,
                      (head or _comment_head(e, snr)) + "".join(tail) + "}")


def _synthesise(plan: Plan, a: _Active) -> None:
    scn = plan.scenario
    e = scn.emitters[a.emitter]
    w = a.tx.synth(plan.true_rate_hz)             # with the transmitter's on/off ramps
    p = float(np.vdot(w, w).real) / len(w) if len(w) else 1.0
    w = np.asarray(w, np.complex64)
    w *= np.float32(a.amp / math.sqrt(p))
    cm = e.channel_model
    if cm.model != "awgn":
        rng = L.burst_rng(zlib.crc32(e.id.encode()) ^ plan.seed, a.tx.index, 11)
        taps = ch.multipath_taps(rng, cm.model, cm.k_db, cm.delays_s, cm.powers_db, plan.true_rate_hz)
        w = ch.apply_taps(w, taps)
    a.wave = w
    count = min(len(w), plan.num_samples - a.start)
    tx_extra = a.tx.extra
    extra = {"channel": a.tx.channel, "packet": tx_extra.get("packet"),
             "telemetry": tx_extra.get("telemetry"), "downlink": tx_extra.get("downlink") or None}
    key = (a.emitter, a.snr_db)
    head = plan.comment_heads.get(key)
    if head is None:
        head = plan.comment_heads[key] = _comment_head(e, a.snr_db)
    plan.annotations.append(_annotation(e, a.start, count, a.edges, a.snr_db, extra, head))


def _mask_partial(seg: np.ndarray, rel_hz: float, fs: float) -> np.ndarray:
    """The receiver's anti-alias filter: drop what would land outside +-fs/2 after the shift."""
    return _mask_partials([seg], [rel_hz], fs)[0]


def _mask_partials(segs: list[np.ndarray], rels_hz: list[float], fs: float) -> list[np.ndarray]:
    """:func:`_mask_partial` of each segment.  Segments of one length share their FFTs, a
    batch along the last axis: row by row the same arithmetic as one at a time, in a third of
    the time (a hopping link's bursts at the band edges all have the same length)."""
    out = list(segs)
    by_len: dict[int, list[int]] = {}
    for i, seg in enumerate(segs):
        if len(seg):
            by_len.setdefault(len(seg), []).append(i)
    for n, idx in by_len.items():
        m = sfft.next_fast_len(n)
        spec = sfft.fft(np.stack([segs[i] for i in idx]), m, axis=-1)
        for row, i in enumerate(idx):
            spec[row, _outside(m, float(rels_hz[i]), float(fs))] = 0
        y = sfft.ifft(spec, axis=-1, overwrite_x=True)[:, :n].astype(np.complex64, copy=False)
        for row, i in enumerate(idx):
            out[i] = y[row]
    return out


@lru_cache(maxsize=256)
def _outside(m: int, rel_hz: float, fs: float) -> np.ndarray:
    """FFT bins that a shift by rel_hz would carry past +-fs/2 (hopping links reuse a few)."""
    f = np.fft.fftfreq(m, 1.0 / fs) + rel_hz
    return np.nonzero((f < -fs / 2) | (f >= fs / 2))[0]


def _add(out: np.ndarray, dst0: int, x: np.ndarray, steer: np.ndarray, rel_hz: float, drift: float,
         tau0: float, fs: float, phase0: float) -> None:
    n = len(x)
    for c in range(out.shape[0]):
        g = complex(steer[c]) if len(steer) > c else 1.0
        mix_add(out[c, dst0:dst0 + n], x, g.real, g.imag, rel_hz, drift, tau0, fs, phase0)


def noise_key(seed: int, channel: int) -> int:
    return int(np.random.SeedSequence([int(seed), _NOISE_KEY, int(channel)]).generate_state(1, np.uint64)[0])


def render_blocks(plan: Plan, block_samples: int = BLOCK_SAMPLES, out: np.ndarray | None = None
                  ) -> Iterator[np.ndarray]:
    """Yield the recording as complex64 blocks (channels, n) before the front end.

    ``out``: a complex64 array (channels, num_samples) to render into, the blocks being its
    views (no copy for callers that keep the whole recording); by default each block is new."""
    scn = plan.scenario
    fs = plan.true_rate_hz
    nch = scn.num_channels
    keys = [noise_key(plan.seed, c) for c in range(nch)]
    sigma = math.sqrt(plan.noise_power / 2.0)
    active: list[_Active] = []
    pending = plan.pending
    pi = 0
    cuts = [r[0] for r in plan.retunes]
    for a in range(0, plan.num_samples, block_samples):
        b = min(a + block_samples, plan.num_samples)
        blk = np.empty((nch, b - a), np.complex64) if out is None else out[:, a:b]
        for c in range(nch):
            gauss_noise(keys[c], a, sigma, blk[c])
        while pi < len(pending) and pending[pi].start < b:
            _synthesise(plan, pending[pi])
            active.append(pending[pi])
            pi += 1
        bounds = [a] + [c for c in cuts if a < c < b] + [b]
        for pa, pb in zip(bounds[:-1], bounds[1:]):
            fc = _center_at(plan, pa) * plan.lo_scale
            parts = []                     # (burst, first sample, segment, carrier - centre)
            partial = []                   # indices into parts of the bursts that stick out
            for act in active:
                s, w = act.start, act.wave
                i0, i1 = max(pa, s) - s, min(pb, s + len(w)) - s
                if i1 <= i0:
                    continue
                rel = act.f_carrier_hz - fc
                if abs(rel) + scn.emitters[act.emitter].bandwidth_hz / 2 > plan.sample_rate_hz / 2:
                    partial.append(len(parts))
                parts.append((act, i0, w[i0:i1], rel))
            masked = _mask_partials([parts[k][2] for k in partial], [parts[k][3] for k in partial], fs)
            for k, seg in zip(partial, masked):
                parts[k] = parts[k][:2] + (seg,) + parts[k][3:]
            for act, i0, seg, rel in parts:        # in order: float sums depend on it
                _add(blk, act.start + i0 - a, seg, act.steer, rel, scn.emitters[act.emitter].drift_hz_per_s,
                     i0 / fs, fs, act.phase0)
            for c in plan.continuous:
                s0, s1 = max(pa, c.start), min(pb, c.stop)
                if s1 <= s0:
                    continue
                e = scn.emitters[c.emitter]
                rel = c.f_carrier_hz - fc
                if abs(rel) - e.bandwidth_hz / 2 >= plan.sample_rate_hz / 2:
                    continue
                w = c.renderer.render(s0 - c.start, s1 - s0) * np.float32(c.amp)
                if abs(rel) + e.bandwidth_hz / 2 > plan.sample_rate_hz / 2:
                    w = _mask_partial(w, rel, fs)
                _add(blk, s0 - a, w, c.steer, rel, 0.0, (s0 - c.start) / fs, fs, 0.0)
        active = [act for act in active if act.start + len(act.wave) > b]
        yield blk


def sorted_annotations(plan: Plan) -> list[Annotation]:
    return sorted(plan.annotations, key=lambda an: (an.sample_start, an.label, an.comment))
