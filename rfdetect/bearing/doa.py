"""Direction of arrival from a spatial covariance: spectra, peaks, source count, uncertainty.

Methods: ``bartlett`` (delay-and-sum beam scan; the maximum-likelihood
estimate for one source), ``capon`` (MVDR), ``music`` (noise subspace) over
any geometry, and ``root_music`` for uniform linear arrays.  Forward-backward
averaging (centro-symmetric arrays) and spatial smoothing (ULAs) decorrelate
coherent multipath before the subspace methods.

The 1-sigma uncertainty of every bearing combines in quadrature: the
Cramer-Rao bound evaluated at the estimated bearings, source powers and
snapshot count; the phase error implied by the part of the signal subspace
that the array manifold does not explain (beyond what noise explains), which
is what residual calibration error, element-position error or mutual coupling
look like; and the array's heading uncertainty (``heading_sigma_deg``), a
bias no single burst can reveal.  A bearing whose covariance does not look
like a few plane waves on this array is marked unusable instead of being
given a number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import minimize_scalar

from ..errors import ParameterError
from . import kernels as K
from .array import (SPEED_OF_LIGHT_M_S, ArrayGeometry, is_ula, linear_axis_deg, steering_derivative,
                    steering_vectors)
from .crb import crb_bearing_deg

METHODS = ("bartlett", "capon", "music", "root_music")


@dataclass(frozen=True)
class DoaConfig:
    method: str = "music"
    grid_step_deg: float = 0.5
    num_sources: int | None = None        # None: estimate (MDL), at least one
    max_sources: int | None = None        # None: half the number of elements
    criterion: str = "mdl"                # "mdl" or "aic"
    forward_backward: bool = False
    smoothing_subarray: int | None = None # ULA spatial smoothing: subarray size
    model_sigma_deg: float = 0.0          # extra error known to the operator, in quadrature
    max_mismatch: float = 0.05            # steering energy outside the signal subspace beyond noise
    min_coherent_fraction: float = 0.7    # signal power in the top eigenvalues
    max_sigma_deg: float = 45.0           # a wider bearing is no bearing
    elevation_deg: float | None = None    # None: estimate (0..max) unless the array is a line
    max_elevation_deg: float = 80.0       # planar arrays cannot tell above from below: above assumed

    def __post_init__(self):
        if self.method not in METHODS:
            raise ParameterError(f"unknown DF method (use one of {', '.join(METHODS)})",
                                 param="method", value=self.method)
        if not 0 < self.grid_step_deg <= 10:
            raise ParameterError("must be in (0, 10] degrees", param="grid_step_deg",
                                 value=self.grid_step_deg)
        if self.criterion not in ("mdl", "aic"):
            raise ParameterError("use mdl or aic", param="criterion", value=self.criterion)


@dataclass(frozen=True)
class DoaResult:
    bearings_deg: tuple[float, ...]
    sigmas_deg: tuple[float, ...]
    snr_db: tuple[float, ...]             # per source, per channel, per snapshot (in band)
    fit: tuple[float, ...]                # |E_s^H a|^2 / |a|^2 of each bearing, 1 = perfect plane wave
    num_sources: int
    method: str
    snapshots: float
    usable: bool
    reason: str = ""
    mirror_ambiguous: bool = False        # linear array: the mirror image about its axis fits equally
    elevations_deg: tuple[float, ...] = ()
    eigenvalues: tuple[float, ...] = ()
    grid_deg: np.ndarray | None = field(default=None, repr=False, compare=False)
    spectrum: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def confidence(self) -> float:
        if not self.usable or not self.fit:
            return 0.0
        return float(np.clip(self.fit[0], 0.0, 1.0))


# -- covariance ---------------------------------------------------------------

def spatial_covariance(x: np.ndarray, select: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Sample covariance of the (channels, snapshots) array over the selected snapshots."""
    x = np.ascontiguousarray(np.asarray(x), dtype=np.complex128)
    if x.ndim != 2:
        raise ParameterError("expected a (channels, snapshots) array", param="x", value=x.shape)
    sel = np.ones(x.shape[1], dtype=np.bool_) if select is None else np.ascontiguousarray(select, dtype=np.bool_)
    if sel.shape != (x.shape[1],):
        raise ParameterError("select must have one entry per snapshot", param="select", value=sel.shape)
    out = np.empty((x.shape[0], x.shape[0]), dtype=np.complex128)
    n = K.covariance_selected(x, sel, out)
    return out, int(n)


def exchange_permutation(array: ArrayGeometry, tol_m: float = 1e-4) -> np.ndarray | None:
    """Index j(i) with r_j = -r_i for every element, or None if not centro-symmetric."""
    p = array.positions_m
    d = np.sqrt(((p[:, None, :] + p[None, :, :]) ** 2).sum(-1))
    j = d.argmin(axis=1)
    if np.all(d[np.arange(len(p)), j] < tol_m) and len(set(j.tolist())) == len(p):
        return j
    return None


def forward_backward(r: np.ndarray, array: ArrayGeometry) -> np.ndarray:
    """(R + J R* J) / 2: decorrelates two coherent arrivals on a centro-symmetric array."""
    j = exchange_permutation(array)
    if j is None:
        raise ParameterError("forward-backward averaging needs a centro-symmetric array "
                             "(every element mirrored through the origin)", path=array.source,
                             param="forward_backward", value=array.name)
    return 0.5 * (r + r.conj()[np.ix_(j, j)])


def spatial_smoothing(r: np.ndarray, array: ArrayGeometry, subarray: int) -> tuple[np.ndarray, ArrayGeometry]:
    """Average the covariances of overlapping ULA subarrays; returns (R, the subarray)."""
    ok, _, _ = is_ula(array)
    m = array.num_elements
    if not ok:
        raise ParameterError("spatial smoothing needs a uniform linear array in channel order",
                             path=array.source, param="smoothing_subarray", value=subarray)
    if not 2 <= subarray <= m:
        raise ParameterError(f"subarray size must be in 2..{m}", param="smoothing_subarray",
                             value=subarray)
    n = m - subarray + 1
    rs = sum(r[i:i + subarray, i:i + subarray] for i in range(n)) / n
    sub = replace(array, elements_m=array.elements_m[:subarray], calibration=None)
    return rs, sub


# -- number of sources --------------------------------------------------------

def estimate_num_sources(eigenvalues: np.ndarray, snapshots: float, criterion: str = "mdl") -> int:
    """Wax & Kailath (1985) MDL or AIC on eigenvalues of the sample covariance."""
    lam = np.sort(np.maximum(np.real(np.asarray(eigenvalues)), 1e-300))[::-1]
    m = lam.size
    best, best_k = math.inf, 0
    for k in range(m):
        tail = lam[k:]
        q = m - k
        geo = math.exp(np.mean(np.log(tail)))
        ari = float(np.mean(tail))
        ll = -snapshots * q * math.log(geo / ari)
        pen = k * (2 * m - k)
        score = ll + (0.5 * pen * math.log(snapshots) if criterion == "mdl" else pen)
        if score < best:
            best, best_k = score, k
    return best_k


# -- spectra ------------------------------------------------------------------

def _noise_subspace(r: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    w, v = np.linalg.eigh(r)
    order = np.argsort(w)[::-1]
    w, v = w[order], v[:, order]
    return np.ascontiguousarray(v[:, d:]), np.ascontiguousarray(v[:, :d])


def doa_spectrum(method: str, r: np.ndarray, a: np.ndarray, num_sources: int = 1) -> np.ndarray:
    """Spatial spectrum over the steering matrix ``a`` (elements, K); larger = more likely."""
    out = np.empty(a.shape[1], dtype=np.float64)
    a = np.ascontiguousarray(a, dtype=np.complex128)
    r = np.ascontiguousarray(r, dtype=np.complex128)
    if method == "bartlett":
        K.bartlett_spectrum(r, a, out)
    elif method == "capon":
        rinv = np.linalg.pinv(r, hermitian=True)
        K.capon_spectrum(np.ascontiguousarray(rinv), a, out)
    elif method in ("music", "root_music"):
        en, _ = _noise_subspace(r, num_sources)
        K.music_spectrum(en, a, out)
    else:
        raise ParameterError("unknown spectrum method", param="method", value=method)
    return out


def find_peaks_circular(spectrum: np.ndarray, max_peaks: int, circular: bool = True) -> list[int]:
    """Indices of the highest local maxima of a spectrum over a full circle, best first."""
    s = np.asarray(spectrum)
    left, right = np.roll(s, 1), np.roll(s, -1)
    if not circular:
        left[0], right[-1] = -np.inf, -np.inf
    idx = np.flatnonzero((s >= left) & (s > right))
    idx = idx[np.argsort(s[idx])[::-1]]
    return [int(i) for i in idx[:max_peaks]]


def _objective(method: str, r: np.ndarray, array: ArrayGeometry, freq_hz: float, d: int):
    """f(bearing, elevation) to minimise for continuous peak refinement."""
    kp = (2 * np.pi * freq_hz / SPEED_OF_LIGHT_M_S) * array.positions_m
    heading = array.heading_deg

    def steer(b, el):
        az, ev = math.radians(b - heading), math.radians(el)
        ce = math.cos(ev)
        return np.exp(1j * (kp @ np.array([ce * math.sin(az), ce * math.cos(az), math.sin(ev)])))

    if method == "bartlett":
        def f(b, el):
            a = steer(b, el)
            return -float(np.real(a.conj() @ r @ a))
    elif method == "capon":
        rinv = np.linalg.pinv(r, hermitian=True)

        def f(b, el):
            a = steer(b, el)
            return float(np.real(a.conj() @ rinv @ a))
    else:
        enh = _noise_subspace(r, d)[0].conj().T

        def f(b, el):
            t = enh @ steer(b, el)
            return float(np.real(np.vdot(t, t)))
    return f


def refine_peak(method: str, r: np.ndarray, array: ArrayGeometry, freq_hz: float, bearing_deg: float,
                step_deg: float, num_sources: int = 1, elevation_deg: float | None = 0.0,
                max_elevation_deg: float = 80.0) -> tuple[float, float]:
    """(bearing, elevation) optimum near a grid peak; the elevation is searched when None.

    The spectrum over bearing barely depends on elevation for a planar array,
    so bearing, then elevation, then bearing again are refined one at a time.
    """
    f = _objective(method, r, array, freq_hz, num_sources)
    opts = {"xatol": 1e-4}

    def fit_bearing(el, centre, half):
        res = minimize_scalar(lambda b: f(b, el), bounds=(centre - half, centre + half),
                              method="bounded", options=opts)
        return float(res.x) if res.success else centre

    el = 0.0 if elevation_deg is None else float(elevation_deg)
    b = fit_bearing(el, bearing_deg, step_deg)
    if elevation_deg is None:
        grid = np.arange(0.0, max_elevation_deg + 1e-9, 5.0)
        e0 = float(grid[int(np.argmin([f(b, e) for e in grid]))])
        res = minimize_scalar(lambda e: f(b, e), bounds=(max(0.0, e0 - 5.0), min(max_elevation_deg, e0 + 5.0)),
                              method="bounded", options=opts)
        el = float(res.x) if res.success else e0
        b = fit_bearing(el, b, step_deg)
    return b % 360.0, el


def _steer(array: ArrayGeometry, freq_hz: float, bearings, elevations, derivative: bool = False) -> np.ndarray:
    fn = steering_derivative if derivative else steering_vectors
    return np.stack([fn(array, freq_hz, [b], elevation_deg=e)[:, 0] for b, e in zip(bearings, elevations)], axis=1)


def root_music(r: np.ndarray, array: ArrayGeometry, freq_hz: float, num_sources: int) -> list[tuple[float, float]]:
    """Root-MUSIC on a ULA: per source the two mirror bearings (a line array's cone ambiguity)."""
    ok, spacing, axis = is_ula(array)
    if not ok:
        raise ParameterError("root-MUSIC needs a uniform linear array in channel order",
                             path=array.source, param="method", value="root_music")
    m = array.num_elements
    en, _ = _noise_subspace(r, num_sources)
    c = en @ en.conj().T
    coeffs = np.array([np.trace(c, offset=l) for l in range(m - 1, -m, -1)])
    roots = np.roots(coeffs)
    inside = roots[np.abs(roots) < 1.0]
    inside = inside[np.argsort(1.0 - np.abs(inside))][:num_sources]
    k = 2 * np.pi * freq_hz / SPEED_OF_LIGHT_M_S
    axis_az = math.degrees(math.atan2(axis[0], axis[1]))
    out = []
    for z in inside:
        cospsi = float(np.clip(np.angle(z) / (k * spacing), -1.0, 1.0))
        psi = math.degrees(math.acos(cospsi))
        out.append(((axis_az + psi + array.heading_deg) % 360.0,
                    (axis_az - psi + array.heading_deg) % 360.0))
    return out


# -- the estimator ------------------------------------------------------------

def estimate_doa(r: np.ndarray, array: ArrayGeometry, freq_hz: float, snapshots: float,
                 config: DoaConfig = DoaConfig(), *, noise_power: float | None = None,
                 keep_spectrum: bool = False) -> DoaResult:
    """Bearings with 1-sigma uncertainty from a (calibrated) spatial covariance.

    ``snapshots`` is the number of independent snapshots behind ``r`` (for a
    burst: in-band bandwidth times duration); ``noise_power`` the per-channel
    noise power in the same units as ``r`` when it was measured outside the
    signal (e.g. out-of-band bins), which enables the coherence check.
    """
    r = np.asarray(r, dtype=np.complex128)
    m = array.num_elements
    if r.shape != (m, m):
        array.check_channels(r.shape[0], what="covariance")
    if not np.all(np.isfinite(r)):
        return _unusable(config, snapshots, "covariance contains NaN or infinity")
    if snapshots < m:
        return _unusable(config, snapshots, f"burst too short: {snapshots:.0f} independent snapshots "
                         f"for {m} channels (time x bandwidth must be at least {m})")
    r = 0.5 * (r + r.conj().T)
    eig = np.sort(np.linalg.eigvalsh(r))[::-1]
    if eig[0] <= 0:
        return _unusable(config, snapshots, "no signal power (all-zero samples)", eig)
    work_r, work_array = r, array
    if config.forward_backward:
        work_r = forward_backward(work_r, array)
    if config.smoothing_subarray:
        work_r, work_array = spatial_smoothing(work_r, array, config.smoothing_subarray)
    mw = work_array.num_elements
    max_d = config.max_sources or max(1, m // 2)
    max_d = min(max_d, mw - 1)

    weig = np.sort(np.linalg.eigvalsh(work_r))[::-1]
    d_est = estimate_num_sources(weig, max(snapshots, 2.0), config.criterion)
    sigma2 = float(noise_power) if noise_power is not None else float(np.mean(weig[max(d_est, 1):]))

    if noise_power is not None and noise_power > 0:
        # Coherent plane waves put their power into a few eigenvalues; channels without a
        # common phase reference spread it over all of them (or none stands out at all).
        excess = float(np.sum(np.maximum(eig - sigma2, 0.0)))
        snr_lin = excess / (m * sigma2)
        top = float(np.sum(np.maximum(eig[:max_d] - sigma2, 0.0)))
        if snr_lin > 0.3 and top < config.min_coherent_fraction * excess:
            return _unusable(config, snapshots,
                             f"channels not coherent: only {top / excess:.0%} of the in-band signal power "
                             f"is in the {max_d} largest eigenvalues (no common phase reference?)", eig)
    if config.num_sources is None:
        # the largest eigenvalue of pure noise stays below the Marchenko-Pastur edge plus a few
        # Tracy-Widom widths; a burst box whose largest eigenvalue does not clear it holds no signal
        if noise_power is not None and noise_power > 0:
            tt = max(snapshots, 2.0)
            edge = (1 + math.sqrt(m / tt)) ** 2
            width = (math.sqrt(tt) + math.sqrt(m)) * (1 / math.sqrt(tt) + 1 / math.sqrt(m)) ** (1 / 3) / tt
            if eig[0] / sigma2 < edge + 4 * width:
                return _unusable(config, snapshots, f"no signal stands out of the noise in this burst "
                                 f"(largest eigenvalue {eig[0] / sigma2:.2f} x noise)", eig)
        elif d_est == 0:
            return _unusable(config, snapshots, "no signal stands out of the noise in this burst", eig)
    if config.num_sources is not None:
        d = int(config.num_sources)
        if not 1 <= d <= mw - 1:
            raise ParameterError(f"must be in 1..{mw - 1}", param="num_sources", value=d)
    else:
        if d_est > max_d:
            return _unusable(config, snapshots,
                             f"covariance has {d_est} significant eigenvalues on {m} channels: not a few "
                             "plane waves (channels not coherent, or strong multipath)", eig)
        d = max(d_est, 1)

    axis = linear_axis_deg(work_array)
    if axis is None:
        grid = np.arange(0.0, 360.0, config.grid_step_deg)
    else:
        # a line array sees a bearing and its mirror image alike: search one side only
        grid = (axis + work_array.heading_deg + np.arange(0.0, 180.0 + 1e-9, config.grid_step_deg)) % 360.0
    spec = None
    # a line array folds elevation into its cone angle: it is taken as given (default 0)
    el_cfg = config.elevation_deg if (config.elevation_deg is not None or axis is None) else 0.0
    el_grid = 0.0 if el_cfg is None else el_cfg
    if config.method == "root_music":
        pairs = root_music(work_r, work_array, freq_hz, d)
        lo = (axis + work_array.heading_deg) % 360.0
        # of each mirror pair, the one on the same side as the spectral search
        bearings = [p[0] if (p[0] - lo) % 360.0 <= 180.0 + 1e-9 else p[1] for p in pairs]
        elevations = [el_grid] * len(bearings)
    else:
        a = steering_vectors(work_array, freq_hz, grid, elevation_deg=el_grid)
        spec = doa_spectrum(config.method, work_r, a, d)
        peaks = find_peaks_circular(spec, d, circular=axis is None)
        refined = [refine_peak(config.method, work_r, work_array, freq_hz, grid[i], config.grid_step_deg, d,
                               el_cfg, config.max_elevation_deg) for i in peaks]
        bearings = [b for b, _ in refined]
        elevations = [e for _, e in refined]
    if not bearings:
        return _unusable(config, snapshots, "spatial spectrum has no peak", eig)

    # source powers by least squares on the signal part of the covariance
    ab = _steer(work_array, freq_hz, bearings, elevations)
    ap = np.linalg.pinv(ab)
    p = np.real(np.diag(ap @ (work_r - sigma2 * np.eye(mw)) @ ap.conj().T))
    snr = np.maximum(p / max(sigma2, 1e-300), 1e-6)
    _, es = _noise_subspace(work_r, d)
    fit = np.sum(np.abs(es.conj().T @ ab) ** 2, axis=0) / mw
    t = max(snapshots, 1.0)
    crb = crb_bearing_deg(work_array, freq_hz, bearings, 10 * np.log10(snr), t, elevation_deg=elevations)
    # Mismatch between the signal subspace and the manifold beyond what noise explains is
    # phase error (calibration, antenna order, coherence): it widens the sigma honestly.
    # twice the expected noise part: the fit itself fluctuates by about that much
    noise_part = 2.0 * (mw - 1) * (1 + mw * snr) / (t * mw ** 2 * snr ** 2)
    mismatch = np.maximum(1.0 - fit - noise_part, 0.0)
    dv = _steer(work_array, freq_hz, bearings, elevations, derivative=True)
    proj = np.eye(mw) - ab @ np.linalg.pinv(ab)
    h = np.maximum(np.real(np.sum(np.conj(dv) * (proj @ dv), axis=0)), 1e-12)
    # phase errors of M channels: common phase and bearing (and elevation when estimated) absorb
    # their share, the rest shows as mismatch
    free = mw - 2 - (1 if el_cfg is None else 0)
    model = np.rad2deg(np.sqrt(mismatch * mw / max(free, 1) / h))
    sig = np.sqrt(crb ** 2 + model ** 2 + config.model_sigma_deg ** 2 + array.heading_sigma_deg ** 2)
    # the strongest source first
    order = np.argsort(-snr)
    usable, reason = True, ""
    if mismatch[order[0]] > config.max_mismatch:
        usable, reason = False, (f"signal does not match the array manifold (fit {fit[order[0]]:.2f}): "
                                 "wrong geometry, calibration or antenna order, or channels not coherent")
    elif not sig[order[0]] <= config.max_sigma_deg:
        usable, reason = False, (f"bearing uncertainty {sig[order[0]]:.3g} deg exceeds {config.max_sigma_deg:g} deg: "
                                 "no signal stands out of the noise in this burst")
    return DoaResult(
        bearings_deg=tuple(float(bearings[i]) for i in order),
        sigmas_deg=tuple(float(sig[i]) for i in order),
        snr_db=tuple(float(10 * np.log10(snr[i])) for i in order),
        fit=tuple(float(fit[i]) for i in order), num_sources=d, method=config.method,
        snapshots=float(snapshots), usable=usable, reason=reason, mirror_ambiguous=axis is not None,
        eigenvalues=tuple(float(e) for e in eig), elevations_deg=tuple(float(elevations[i]) for i in order),
        grid_deg=grid if keep_spectrum else None, spectrum=spec if keep_spectrum else None)


def _unusable(config: DoaConfig, snapshots: float, reason: str, eig=()) -> DoaResult:
    return DoaResult((), (), (), (), 0, config.method, float(snapshots), False, reason,
                     tuple(float(e) for e in eig))
