"""Burst-gated direction finding.

The covariance is built only from the samples of one burst and only from the
frequency bins inside its edges, so a frequency hopper gets a bearing per
burst and a strong emitter on another channel does not pull the bearing.
Per-channel noise is measured in the same frames from bins outside the burst,
which lets the estimator tell a coherent plane wave from channels without a
common phase reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError, ParameterError
from .array import ArrayGeometry, steering_vectors
from .doa import DoaConfig, DoaResult, estimate_doa, spatial_covariance
from .records import bearing_record


@dataclass(frozen=True)
class GateConfig:
    nfft: int | None = None          # None: about 8 bins across the burst, 64..4096
    min_bins_per_burst: int = 4
    noise_quantile: float = 0.25     # robust to other emitters occupying part of the band
    edge_guard_frac: float = 0.1     # band edges excluded from the noise estimate (anti-alias roll-off)


@dataclass(frozen=True)
class GatedCovariance:
    r: np.ndarray                    # (elements, elements), calibrated
    snapshots: float                 # independent in-band snapshots: bandwidth x duration
    noise_power: float | None        # per channel, per bin, same scale as r
    freq_hz: float                   # RF centre of the selected bins
    bins: int
    frames: int
    segments: tuple[np.ndarray, ...] = ()   # covariances of consecutive time slices of the burst


def _burst_fields(burst) -> tuple[int, int, float, float]:
    if isinstance(burst, dict):
        g = burst.get
    elif isinstance(burst, (tuple, list)):
        if len(burst) != 4:
            raise ParameterError("a burst tuple is (sample_start, sample_end, f_lo_hz, f_hi_hz)",
                                 param="burst", value=burst)
        return int(burst[0]), int(burst[1]), float(burst[2]), float(burst[3])
    else:
        def g(k):
            return getattr(burst, k, None)
    vals = [g("sample_start"), g("sample_end"), g("f_lo_hz"), g("f_hi_hz")]
    if any(v is None for v in vals):
        raise ParameterError("burst needs sample_start, sample_end, f_lo_hz, f_hi_hz",
                             param="burst", value=burst)
    return int(vals[0]), int(vals[1]), float(vals[2]), float(vals[3])


def _pick_nfft(fs: float, bw: float, n: int, requested: int | None) -> int:
    if requested:
        return int(min(requested, n))
    want = 2 ** int(math.ceil(math.log2(max(8.0 * fs / max(bw, 1.0), 64.0))))
    want = min(want, 4096)
    while want > 16 and want > n // 2:
        want //= 2
    return max(min(want, n), 1)


def gated_covariance(iq_channels: np.ndarray, sample_rate_hz: float, center_freq_hz: float,
                     sample_start: int, sample_end: int, f_lo_hz: float, f_hi_hz: float,
                     array: ArrayGeometry, *, sample_index0: int = 0,
                     config: GateConfig = GateConfig()) -> GatedCovariance:
    """Covariance of one burst's time-frequency box, after the array's calibration."""
    x = np.asarray(iq_channels)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise InputError("IQ must have shape (channels, samples)", param="iq_channels", value=x.shape)
    array.check_channels(x.shape[0])
    if array.calibration is not None and array.calibration.num_channels != x.shape[0]:
        array.check_channels(array.calibration.num_channels, what="calibration")
    fs = float(sample_rate_hz)
    if not fs > 0:
        raise ParameterError("must be greater than zero", param="sample_rate_hz", value=sample_rate_hz)
    if not f_hi_hz > f_lo_hz:
        raise ParameterError("burst f_hi_hz must exceed f_lo_hz", param="burst", value=(f_lo_hz, f_hi_hz))
    a0 = sample_start - sample_index0
    a1 = sample_end - sample_index0
    if a0 < 0 or a1 > x.shape[1] or a1 <= a0:
        raise InputError(f"burst samples {sample_start}..{sample_end} are outside the IQ block "
                         f"{sample_index0}..{sample_index0 + x.shape[1]}", param="burst",
                         value=(sample_start, sample_end))
    seg = x[:, a0:a1].astype(np.complex128)
    if array.calibration is not None:
        seg = seg * array.calibration.weights()[:, None]
    n = seg.shape[1]
    bw = f_hi_hz - f_lo_hz
    nfft = _pick_nfft(fs, bw, n, config.nfft)
    hop = max(nfft // 2, 1)
    frames = 1 + (n - nfft) // hop
    win = np.hanning(nfft + 2)[1:-1] if nfft >= 8 else np.ones(nfft)
    idx = np.arange(frames)[:, None] * hop + np.arange(nfft)[None, :]
    spec = np.fft.fftshift(np.fft.fft(seg[:, idx] * win, axis=-1), axes=-1)  # (M, frames, nfft)
    freqs = center_freq_hz + (np.arange(nfft) - nfft // 2) * fs / nfft
    inband = (freqs >= f_lo_hz) & (freqs <= f_hi_hz)
    if inband.sum() < 1:
        inband[np.argmin(np.abs(freqs - 0.5 * (f_lo_hz + f_hi_hz)))] = True
    nb = int(inband.sum())
    snaps = spec[:, :, inband].reshape(x.shape[0], -1)
    r, _ = spatial_covariance(snaps)
    # time slices: a coherent array keeps its inter-channel phases through the burst,
    # receivers without a common reference drift apart
    nseg = 4 if frames >= 8 else 2 if frames >= 4 else 0
    segments = []
    for k in range(nseg):
        f0, f1 = k * frames // nseg, (k + 1) * frames // nseg
        rs, _ = spatial_covariance(spec[:, f0:f1, :][:, :, inband].reshape(x.shape[0], -1))
        segments.append(rs)
    # noise: well outside the burst and away from the anti-alias edges
    guard = max(bw, 4 * fs / nfft)
    edge = config.edge_guard_frac * fs / 2
    outside = ((freqs < f_lo_hz - guard) | (freqs > f_hi_hz + guard)) & \
              (np.abs(freqs - center_freq_hz) < fs / 2 - edge)
    noise = None
    if outside.sum() >= max(8, nfft // 8):
        pw = np.abs(spec[:, :, outside]) ** 2
        q = config.noise_quantile
        noise = float(np.mean(np.quantile(pw.reshape(x.shape[0], -1), q, axis=1)) / -math.log(1 - q))
    # information content: the burst's time-bandwidth product, not the (overlapping) bin count
    t_eff = max(1.0, min(nb * fs / nfft, bw) * n / fs)
    f_c = float(np.mean(freqs[inband]))
    return GatedCovariance(r, t_eff, noise, f_c, nb, frames, tuple(segments))


def doa_for_burst(iq_channels, sample_rate_hz, center_freq_hz, burst, array: ArrayGeometry, *,
                  config: DoaConfig = DoaConfig(), gate: GateConfig = GateConfig(),
                  sample_index0: int = 0) -> tuple[DoaResult, GatedCovariance]:
    s0, s1, flo, fhi = _burst_fields(burst)
    gc = gated_covariance(iq_channels, sample_rate_hz, center_freq_hz, s0, s1, flo, fhi, array,
                          sample_index0=sample_index0, config=gate)
    res = estimate_doa(gc.r, array, gc.freq_hz, gc.snapshots, config, noise_power=gc.noise_power)
    if res.usable and gc.segments:
        drift, limit = phase_drift(gc, res, array)
        if drift > limit:
            res = replace(res, usable=False, reason=(
                f"channels not coherent: inter-channel phases drift during the burst (subspace change "
                f"{drift:.3f} > {limit:.3f}; no common phase reference?)"))
    return res, gc


def phase_drift(gc: GatedCovariance, res: DoaResult, array: ArrayGeometry) -> tuple[float, float]:
    """(largest change of the signal direction between time slices, the change noise explains).

    With one dominant source: the principal eigenvectors of every pair of slices
    are compared.  With comparable sources (whose mix may change with time) each
    slice's principal eigenvector is compared with the span of their steering vectors.
    """
    m = gc.r.shape[0]
    snr_db = sorted(res.snr_db, reverse=True) if res.snr_db else [0.0]
    vs = [np.linalg.eigh(0.5 * (rs + rs.conj().T))[1][:, -1] for rs in gc.segments]
    if len(snr_db) > 1 and snr_db[0] - snr_db[1] < 6.0:
        # the mix of comparable sources may change with time, but every slice's dominant
        # direction must still be a combination of the estimated sources' steering vectors
        els = res.elevations_deg or (0.0,) * len(res.bearings_deg)
        a = np.stack([steering_vectors(array, gc.freq_hz, [b], elevation_deg=e)[:, 0]
                      for b, e in zip(res.bearings_deg, els)], axis=1)
        q, _ = np.linalg.qr(a)
        drift = max(1.0 - float(np.sum(np.abs(q.conj().T @ u) ** 2)) for u in vs)
        pair = 1.0
    else:
        drift = max(1.0 - float(np.abs(vs[i].conj() @ vs[j]) ** 2)
                    for i in range(len(vs)) for j in range(i + 1, len(vs)))
        pair = 2.0
    snr = 10.0 ** (snr_db[0] / 10.0)
    t_seg = max(gc.snapshots / len(gc.segments), 1.0)
    expected = pair * (m - 1) * (1 + m * snr) / (t_seg * m ** 2 * snr ** 2)
    return drift, max(0.02, 4.0 * expected)


def bearing_for_burst(iq_channels: np.ndarray, sample_rate_hz: float, center_freq_hz: float, burst,
                      array: ArrayGeometry, method: str = "music", *, link: str = "unknown",
                      sample_index0: int = 0, config: DoaConfig | None = None,
                      gate: GateConfig = GateConfig(), time_utc: str | None = None,
                      sensor_id: str | None = None) -> dict:
    """One ``bearing`` record (DESIGN.md section 5) for one burst of a multi-channel capture.

    ``burst`` is a ``rfdetect.model.Burst`` (or a dict / tuple with
    ``sample_start, sample_end, f_lo_hz, f_hi_hz``, absolute sample indices and
    RF Hz); ``iq_channels`` is (elements, samples) whose first column is sample
    ``sample_index0``.  A bearing that cannot be trusted comes back with
    ``usable: false``, ``bearing_deg: null`` and the reason; so does a burst of which
    most samples are not in ``iq_channels`` (cut by a gap in the stream).
    """
    cfg = config or DoaConfig(method=method)
    s0, s1, flo, fhi = _burst_fields(burst)
    # a burst cut by a gap in the stream: the samples that remain, if they are most of it
    n = np.shape(iq_channels)[-1]
    a0, a1 = max(s0, sample_index0), min(s1, sample_index0 + n)
    times = dict(t_start_s=s0 / sample_rate_hz, t_end_s=s1 / sample_rate_hz, time_utc=time_utc,
                 sensor_id=sensor_id)
    cut = a0 > s0 or a1 < s1
    if cut and a1 - a0 < max(64, (s1 - s0) // 2):
        res = DoaResult((), (), (), (), 0, cfg.method, 0.0, False,
                        reason=f"most of the burst's samples ({s0}..{s1}) are not in the IQ given "
                        f"({sample_index0}..{sample_index0 + n}): a gap in the stream?")
        return bearing_record(res, array, link=link, freq_hz=0.5 * (flo + fhi), **times)
    res, gc = doa_for_burst(iq_channels, sample_rate_hz, center_freq_hz, (a0, a1, flo, fhi), array,
                            config=cfg, gate=gate, sample_index0=sample_index0)
    return bearing_record(res, array, link=link, freq_hz=gc.freq_hz, **times)


def _wrap180(x):
    return (np.asarray(x) + 180.0) % 360.0 - 180.0


def combine_bearings(bearings_deg, sigmas_deg, *, reject_sigma: float = 4.0,
                     common_sigma_deg: float = 0.0, max_scale: float = 3.0, split_fraction: float = 1 / 3) -> dict:
    """Inverse-variance circular mean of one track's bearings over time.

    Outliers further than ``reject_sigma`` of their own sigma (scaled up by the
    robust spread when the sigmas understate it) from the weighted median are
    dropped; when the scatter exceeds what the sigmas promise (reduced
    chi-square > 1: the emitter moved, multipath) the combined sigma is
    inflated accordingly rather than shrinking with the count.
    ``common_sigma_deg`` is the part of every sigma shared by all bursts (the
    array's heading uncertainty): it does not average out and is added back.
    When the rejected bursts carry more than ``split_fraction`` of the weight the
    bursts point in different directions: no bearing (``None``), and a ``reason``.
    """
    b = np.asarray(bearings_deg, dtype=np.float64)
    s = np.asarray(sigmas_deg, dtype=np.float64)
    ok = np.isfinite(b) & np.isfinite(s) & (s > 0)
    b, s = b[ok], s[ok]
    s = np.sqrt(np.maximum(s ** 2 - common_sigma_deg ** 2, (0.05 * s) ** 2))
    if b.size == 0:
        return {"bearing_deg": None, "bearing_sigma_deg": None, "bursts_used": 0, "bursts_rejected": 0}
    w = 1.0 / s ** 2
    # weighted circular median as a robust centre
    ref = b[np.argmax(w)]
    rel = _wrap180(b - ref)
    order = np.argsort(rel)
    cw = np.cumsum(w[order])
    centre = ref + rel[order][np.searchsorted(cw, 0.5 * cw[-1])]
    z = _wrap180(b - centre) / np.maximum(s, 1e-9)
    # when the sigmas understate the scatter, reject against the scatter actually seen, up to
    # a point: bursts from two directions (two emitters under one track) must not widen the
    # gate until their mean, a bearing between them, is accepted
    scale = max(1.0, 1.4826 * float(np.median(np.abs(z - np.median(z))))) if z.size >= 5 else 1.0
    keep = np.abs(z) <= reject_sigma * min(scale, max_scale) + 1e-9
    if keep.sum() == 0:
        keep[:] = True
    if w[~keep].sum() > split_fraction * w.sum():
        return {"bearing_deg": None, "bearing_sigma_deg": None, "bursts_used": 0, "bursts_rejected": int(b.size),
                "reason": f"the bursts point in different directions ({int((~keep).sum())} of {b.size} far from "
                          f"the others): more than one emitter under this detection?"}
    bk, wk = b[keep], w[keep]
    rel = _wrap180(bk - centre)
    mean_rel = float(np.sum(wk * rel) / np.sum(wk))
    sigma = 1.0 / math.sqrt(float(np.sum(wk)))
    if bk.size > 1:
        chi2 = float(np.sum(wk * (rel - mean_rel) ** 2)) / (bk.size - 1)
        sigma *= math.sqrt(max(chi2, 1.0))
    sigma = math.sqrt(sigma ** 2 + common_sigma_deg ** 2)
    return {"bearing_deg": float((centre + mean_rel) % 360.0), "bearing_sigma_deg": sigma,
            "bursts_used": int(keep.sum()), "bursts_rejected": int((~keep).sum())}
