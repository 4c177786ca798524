"""Per-channel phase and gain calibration of a coherent array, and an antenna-order self-test.

References:

* a **noise source** fed to every channel through a splitter with equal cables
  (``bearing_deg=None``): the channels should then be identical, so the
  principal eigenvector of the covariance *is* the per-channel error;
* a **known transmitter at a known bearing**: the principal eigenvector divided
  by the steering vector of that bearing is the per-channel error.

Channel 0 is the phase and gain reference.  The result is stored in the array
description (``[calibration]`` of the TOML, see ``array.save_array``) and
applied by every estimator that takes the array.

A calibration against one bearing absorbs any antenna-order mistake at that
bearing; ``self_test`` therefore checks a capture from *another* direction (or
any capture after a noise-source calibration) against the array manifold and
reports which channel order explains it best.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .array import ArrayGeometry, Calibration, steering_vectors
from .doa import spatial_covariance


def _principal(r: np.ndarray) -> tuple[np.ndarray, float]:
    w, v = np.linalg.eigh(0.5 * (r + r.conj().T))
    dominance = float(w[-1] / max(np.sum(w), 1e-300))
    return v[:, -1], dominance


def calibrate(r: np.ndarray, array: ArrayGeometry, freq_hz: float, bearing_deg: float | None = None,
              *, min_dominance: float = 0.6, source: str = "reference") -> Calibration:
    """Calibration from the covariance of a reference capture (uncalibrated channels)."""
    r = np.asarray(r, dtype=np.complex128)
    array.check_channels(r.shape[0], what="reference capture")
    v, dominance = _principal(r)
    if dominance < min_dominance:
        raise InputError(f"reference is not one dominant coherent signal: the largest eigenvalue holds "
                         f"{dominance:.0%} of the power (need {min_dominance:.0%}); raise the reference "
                         "level or check that the channels share a clock", param=source, value=round(dominance, 3))
    if bearing_deg is None:
        a = np.ones(array.num_elements, dtype=np.complex128)
        method = "noise-source"
    else:
        a = steering_vectors(array.with_calibration(None), freq_hz, [bearing_deg])[:, 0]
        method = f"transmitter@{bearing_deg:g}deg"
    c = v / a
    c = c / c[0]
    # gains from the diagonal: the eigenvector's magnitudes also carry noise-floor differences
    diag = np.real(np.diag(r))
    w_all = np.linalg.eigvalsh(r)
    noise = float(np.mean(w_all[:-1])) if r.shape[0] > 1 else 0.0
    sig = np.maximum(diag - noise, 1e-300)
    gain_db = 10 * np.log10(sig / sig[0])
    phase_deg = np.rad2deg(np.angle(c))
    return Calibration(tuple(float(p) for p in phase_deg), tuple(float(g) for g in gain_db),
                       float(freq_hz), method)


def calibrate_from_iq(iq_channels: np.ndarray, sample_rate_hz: float, center_freq_hz: float,
                      array: ArrayGeometry, *, bearing_deg: float | None = None, burst=None,
                      sample_index0: int = 0) -> Calibration:
    """Calibration from a reference capture: the whole block, or only one burst's box."""
    x = np.asarray(iq_channels)
    array.check_channels(x.shape[0], what="reference capture")
    raw = array.with_calibration(None)
    if burst is not None:
        from .gated import _burst_fields, gated_covariance
        s0, s1, flo, fhi = _burst_fields(burst)
        gc = gated_covariance(x, sample_rate_hz, center_freq_hz, s0, s1, flo, fhi, raw,
                              sample_index0=sample_index0)
        return calibrate(gc.r, raw, gc.freq_hz, bearing_deg)
    r, _ = spatial_covariance(x)
    return calibrate(r, raw, center_freq_hz, bearing_deg)


@dataclass(frozen=True)
class SelfTestReport:
    order_ok: bool
    fit: float                               # manifold fit of the channel order as given, 0..1
    best_order: tuple[int, ...]              # channel order that fits best (data channel per element)
    best_fit: float
    bearing_deg: float | None                # best-fitting bearing with the order as given
    bearing_error_deg: float | None          # against the known bearing, if one was given
    message: str


def _fits(v: np.ndarray, a: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """|a^H P v|^2 / (|a|^2 |v|^2) for every permutation P (rows) and steering column."""
    pv = v[perms]                                   # (P, M)
    num = np.abs(pv @ a.conj()) ** 2                # (P, K)
    return num / (np.sum(np.abs(a) ** 2, axis=0)[None, :] * np.sum(np.abs(v) ** 2))


def self_test(r: np.ndarray, array: ArrayGeometry, freq_hz: float, bearing_deg: float | None = None,
              *, min_fit: float = 0.9, margin: float = 0.02, tol_deg: float = 5.0,
              grid_step_deg: float = 0.5) -> SelfTestReport:
    """Check that the (calibrated) covariance of one strong emitter fits the array as wired.

    With ``bearing_deg`` known, the order must fit at that bearing; without it,
    only orders that are not equivalent by symmetry (rotations, mirror images of
    a circle give a rotated or mirrored bearing) can be told apart.  A swap of two
    elements is invisible from the direction perpendicular to their baseline:
    test from a direction that is not.  ``r`` is the raw (uncalibrated)
    covariance; the array's calibration is applied here.
    """
    r = np.asarray(r, dtype=np.complex128)
    array.check_channels(r.shape[0], what="test capture")
    m = array.num_elements
    if array.calibration is not None:
        w = array.calibration.weights()
        r = (w[:, None] * r) * w.conj()[None, :]
    v, _ = _principal(r)
    geo = array.with_calibration(None)
    if bearing_deg is None:
        grid = np.arange(0.0, 360.0, grid_step_deg)
    else:
        grid = np.array([float(bearing_deg)])
    a = steering_vectors(geo, freq_hz, grid)
    if m <= 7:
        perms = np.array(list(itertools.permutations(range(m))))
    else:  # identity plus every single swap
        perms = [list(range(m))]
        for i, j in itertools.combinations(range(m), 2):
            p = list(range(m))
            p[i], p[j] = j, i
            perms.append(p)
        perms = np.array(perms)
    f = _fits(v, a, perms)
    best_k = f.max(axis=1)
    ident = int(np.flatnonzero((perms == np.arange(m)).all(axis=1))[0])
    fit = float(best_k[ident])
    b = int(np.argmax(best_k))
    est = float(grid[int(np.argmax(f[ident]))]) if bearing_deg is None else None
    if bearing_deg is not None:
        # the bearing the identity order gives, for the report
        full = np.arange(0.0, 360.0, grid_step_deg)
        fi = _fits(v, steering_vectors(geo, freq_hz, full), perms[ident:ident + 1])[0]
        est = float(full[int(np.argmax(fi))])
    err = None if bearing_deg is None else float((est - bearing_deg + 180.0) % 360.0 - 180.0)
    # a small array tolerates a swap of neighbours fairly well, so the order as given must fit
    # about as well as the best order, not only above an absolute level
    ok = bool(fit >= min_fit and fit >= best_k[b] - margin and (err is None or abs(err) <= tol_deg))
    if ok:
        msg = f"antenna order fits the array (fit {fit:.2f})"
    else:
        msg = (f"antenna order does not fit the array (fit {fit:.2f}"
               + (f", bearing off by {err:.1f} deg" if err is not None else "")
               + f"); best order {tuple(int(i) for i in perms[b])} fits {best_k[b]:.2f}")
    return SelfTestReport(ok, fit, tuple(int(i) for i in perms[b]), float(best_k[b]), est, err, msg)


# ----------------------------------------------------------------------------- whole captures

def capture_bursts(x: np.ndarray, sample_rate_hz: float, center_freq_hz: float, *, min_snr_db: float = 10.0,
                   min_samples: int = 256) -> list:
    """The capture's bursts (detected on channel 0), strongest first."""
    from ..detect import BurstDetector, DetectorConfig
    from ..model import IQBlock
    det = BurstDetector(DetectorConfig(), sample_rate_hz, center_freq_hz)
    bursts = list(det.feed(IQBlock(np.asarray(x, np.complex64), 0, center_freq_hz, sample_rate_hz)))
    bursts += list(det.finish())
    bursts = [b for b in bursts if b.snr_db >= min_snr_db and b.sample_end - b.sample_start >= min_samples]
    return sorted(bursts, key=lambda b: -b.snr_db)


def _box(burst) -> dict:
    return {"sample_start": int(burst.sample_start), "sample_end": int(burst.sample_end),
            "f_lo_hz": float(burst.f_lo_hz), "f_hi_hz": float(burst.f_hi_hz), "snr_db": round(float(burst.snr_db), 2)}


def calibrate_capture(x: np.ndarray, sample_rate_hz: float, center_freq_hz: float, array: ArrayGeometry,
                      bearing_deg: float | None = None) -> tuple[Calibration, dict | None]:
    """Calibration from a reference capture: a noise source (``bearing_deg`` None) over the whole
    capture, or the strongest burst of a transmitter at ``bearing_deg``.  Returns the calibration
    and the time-frequency box used (None: the whole capture)."""
    if bearing_deg is None:
        return calibrate_from_iq(x, sample_rate_hz, center_freq_hz, array), None
    bursts = capture_bursts(x, sample_rate_hz, center_freq_hz)
    if not bursts:
        raise InputError("no burst 10 dB above the noise in the reference capture: is the transmitter on?",
                         param="reference")
    return (calibrate_from_iq(x, sample_rate_hz, center_freq_hz, array, bearing_deg=bearing_deg,
                              burst=bursts[0]), _box(bursts[0]))


def self_test_capture(x: np.ndarray, sample_rate_hz: float, center_freq_hz: float, array: ArrayGeometry,
                      bearing_deg: float | None = None, *, exclude: dict | None = None
                      ) -> tuple[SelfTestReport | None, dict | None]:
    """``self_test`` on the strongest burst of a capture (apart from the band ``exclude``,
    the reference burst: a calibration fits its own reference whatever the order).
    (None, None) when the capture holds no burst to test on."""
    from .gated import gated_covariance
    for b in capture_bursts(x, sample_rate_hz, center_freq_hz):
        if exclude is not None and b.f_lo_hz < exclude["f_hi_hz"] and exclude["f_lo_hz"] < b.f_hi_hz:
            continue
        gc = gated_covariance(x, sample_rate_hz, center_freq_hz, b.sample_start, b.sample_end, b.f_lo_hz,
                              b.f_hi_hz, array.with_calibration(None))
        return self_test(gc.r, array, gc.freq_hz, bearing_deg), _box(b)
    return None, None
