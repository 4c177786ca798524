"""DJI DroneID confirmation: Zadoff-Chu correlation with a carrier-offset search.

A DroneID burst carries two Zadoff-Chu OFDM symbols (roots 600 and 147), placed
directly on the 601 centre subcarriers of a 1024-point IFFT at 15.36 MS/s with
the DC element zeroed (the convention the real Mavic Air 2 recording matches;
the FFT-of-a-time-domain-ZC convention does not).  The burst is mixed to zero,
resampled to 15.36 MS/s, limited to the band it can occupy, and correlated
against both references over every lag and a set of carrier offsets.

The offset is found in two parts.  Its fraction of a subcarrier comes from the
cyclic prefixes: every prefix repeats the samples 1024 later, so the phase of
sum x[n] conj(x[n + 1024]) over the burst is -2 pi f / 15 kHz.  The whole
subcarriers come from the Zadoff-Chu search itself: a shift of k subcarriers
still correlates, but at lags that move by a different amount per root, so only
the right k keeps the two symbols 2192 samples apart.  The search therefore
spans the burst-centre error of a weak burst (the detector's band edges at
0 dB in-band SNR are off by 100 kHz and more) at the cost of one
correlation per subcarrier, then refines on a grid of about 1 kHz.

The correlation is normalised by the signal's energy inside the searched band
only: at 0 dB in-band SNR the peak is then about sqrt(S / (S + N)) = 0.7
instead of the 0.6 that the noise of the whole 15.36 MHz would leave.

A frequency shift of the signal by k FFT bins is a rotation of its spectrum, so
each offset costs one inverse FFT per root, inside the kernel.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from numba import njit

from .resample import resample_poly, shift_to_zero

ZC_RATE_HZ = 15.36e6
ZC_NFFT = 1024
ZC_USED = 601
ZC_SPACING_HZ = ZC_RATE_HZ / ZC_NFFT      # 15 kHz
ROOTS = (600, 147)
# Two ZC symbols two symbols apart: 2 x (1024 + 72) samples at 15.36 MS/s.
ZC_LAG_SAMPLES = 2192
LAG_TOL = 6           # samples at 15.36 MS/s
# Carrier offset searched around the burst's measured centre: the transmitter's own
# offset (up to about 55 kHz on the Mavic Air 2 recording after band-centre estimation)
# plus the error of a weak burst's measured band centre (up to about 150 kHz at 0 dB).
MAX_CFO_HZ = 300e3
# Both roots must correlate at least this much (normalised, in band).  A DroneID burst
# gives about sqrt(S / (S + N)): 0.7 at 0 dB in-band SNR, 0.45 at -6 dB.  Without the
# Zadoff-Chu pair (noise; plain OFDM; Wi-Fi; OcuSync C2 and video frames; the Mavic Air 2
# recording's other wideband bursts) the highest peak seen is 0.17, and the two peaks
# must also sit 2192 +- 6 samples apart.
MIN_CORRELATION = 0.4


def zc_frequency(root: int, n_used: int = ZC_USED, nfft: int = ZC_NFFT) -> np.ndarray:
    n = np.arange(n_used)
    z = np.exp(-1j * np.pi * root * n * (n + 1) / n_used)
    z[n_used // 2] = 0.0
    X = np.zeros(nfft, np.complex128)
    X[np.mod(np.arange(n_used) - n_used // 2, nfft)] = z
    return X


@lru_cache(maxsize=8)
def zc_reference(root: int) -> np.ndarray:
    """The time-domain ZC symbol (no cyclic prefix) at 15.36 MS/s, unit energy."""
    x = np.fft.ifft(zc_frequency(root))
    return (x / np.linalg.norm(x)).astype(np.complex128)


@lru_cache(maxsize=8)
def _reference_spectra(roots: tuple, n_fft: int) -> np.ndarray:
    """(roots, n_fft) conjugated FFTs of the zero-padded references (shared: not to be written)."""
    R = np.empty((len(roots), n_fft), np.complex128)
    for i, root in enumerate(roots):
        R[i] = np.conj(np.fft.fft(zc_reference(root), n_fft))
    return R


@njit(cache=True)
def zc_cfo_search(X, R, shifts, energy, out_corr, out_lag):
    """Normalised correlation peaks of a signal against references, per offset.

    X: FFT (length N) of the zero-padded signal; R: (roots, N) conjugated FFTs of the
    zero-padded unit-energy references; shifts: bin rotations to try (a shift k
    removes a carrier offset of +k bins); energy: (lags,) signal energy under the
    reference at each lag.  out_corr, out_lag: (roots, shifts) best |c|^2 / energy
    (the squared normalised correlation) and its lag.
    """
    n = X.shape[0]
    n_lags = energy.shape[0]
    Y = np.empty(n, np.complex128)
    for r in range(R.shape[0]):
        for s in range(shifts.shape[0]):
            k = shifts[s]
            for i in range(n):
                j = i + k
                if j >= n:
                    j -= n
                elif j < 0:
                    j += n
                Y[i] = X[j] * R[r, i]
            y = np.fft.ifft(Y)
            best = 0.0
            best_lag = 0
            for m in range(n_lags):
                e = energy[m]
                if e > 0.0:
                    v = (y[m].real * y[m].real + y[m].imag * y[m].imag) / e
                    if v > best:
                        best = v
                        best_lag = m
            out_corr[r, s] = best
            out_lag[r, s] = best_lag


@njit(cache=True)
def sliding_energy(x, length, out):
    """out[m] = sum |x[m:m+length]|^2 for m in range(len(out))."""
    acc = 0.0
    for i in range(min(length, x.shape[0])):
        acc += x[i].real * x[i].real + x[i].imag * x[i].imag
    for m in range(out.shape[0]):
        out[m] = acc
        if m + length < x.shape[0]:
            a = x[m + length]
            acc += a.real * a.real + a.imag * a.imag
        b = x[m]
        acc -= b.real * b.real + b.imag * b.imag
        if acc < 0.0:
            acc = 0.0


def to_zc_rate(samples: np.ndarray, sample_rate_hz: float, offset_hz: float) -> np.ndarray:
    """Mix ``offset_hz`` to zero and resample to 15.36 MS/s (low-pass included)."""
    x = shift_to_zero(samples, offset_hz, sample_rate_hz)
    fr = Fraction(ZC_RATE_HZ / sample_rate_hz).limit_denominator(2000)
    if fr.numerator == fr.denominator:
        return x
    return resample_poly(x, fr.numerator, fr.denominator)


def band_limited(x: np.ndarray, half_width_hz: float, n_fft: int) -> np.ndarray:
    """``x`` (at 15.36 MS/s) with everything beyond +-``half_width_hz`` removed (FFT mask
    on the zero-padded signal, so nothing wraps around)."""
    X = np.fft.fft(x, n_fft)
    f = np.fft.fftfreq(n_fft, 1.0 / ZC_RATE_HZ)
    X[np.abs(f) > half_width_hz] = 0.0
    return np.fft.ifft(X)[: x.shape[0]]


def cp_fraction_hz(x: np.ndarray) -> float:
    """Carrier offset modulo one subcarrier (15 kHz) from the cyclic prefixes of an OFDM
    burst at 15.36 MS/s: -angle(sum x[n] conj(x[n + 1024])) / 2 pi subcarriers."""
    if x.shape[0] <= ZC_NFFT:
        return 0.0
    c = np.vdot(x[ZC_NFFT:], x[:-ZC_NFFT])      # sum x[n] conj(x[n + 1024])
    return float(-np.angle(c) / (2 * np.pi) * ZC_SPACING_HZ)


def droneid_zc(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, *,
               max_cfo_hz: float = MAX_CFO_HZ, roots=ROOTS) -> dict | None:
    """Zadoff-Chu evidence for one burst.  ``samples``: one channel covering the burst;
    ``offset_hz``: burst centre relative to the samples' centre frequency; the true
    carrier may be up to ``max_cfo_hz`` from it.

    Returns correlations per root (0..1), the lag between the two peaks in 15.36 MS/s
    samples, and the carrier offset found; None when the rate cannot hold the burst.
    """
    if sample_rate_hz < 10e6 or samples.shape[-1] < 64:
        return None
    x = to_zc_rate(samples, sample_rate_hz, offset_hz)
    if x.shape[0] < ZC_NFFT + 8:
        return None
    n_fft = 1 << int(np.ceil(np.log2(x.shape[0] + ZC_NFFT)))
    x = band_limited(x, ZC_USED / 2 * ZC_SPACING_HZ + max_cfo_hz, n_fft)
    frac_hz = cp_fraction_hz(x)
    x = shift_to_zero(x, frac_hz, ZC_RATE_HZ)
    X = np.fft.fft(x, n_fft)
    R = _reference_spectra(tuple(roots), n_fft)
    bin_hz = ZC_RATE_HZ / n_fft
    per_sub = n_fft // ZC_NFFT                 # FFT bins per subcarrier (4 or more)
    m_max = int(np.ceil(max_cfo_hz / ZC_SPACING_HZ))
    energy = np.empty(x.shape[0] - ZC_NFFT + 1, np.float64)
    sliding_energy(x, ZC_NFFT, energy)

    def search(shifts):
        corr = np.empty((len(roots), shifts.shape[0]), np.float64)
        lag = np.empty((len(roots), shifts.shape[0]), np.int64)
        zc_cfo_search(X, R, shifts, energy, corr, lag)
        return corr, lag

    # Whole subcarriers first, then about 1 kHz steps up to half a subcarrier either side
    # of the best (the prefixes' estimate of the fraction scatters by about 1 kHz at 0 dB
    # in-band SNR, and a real burst's offset drifts by a few kHz along it).
    shifts = np.arange(-m_max, m_max + 1, dtype=np.int64) * per_sub
    corr, lag = search(shifts)
    centre = shifts[_joint_best(corr, lag, len(roots))]
    step = max(1, per_sub // 16)
    shifts = centre + np.arange(-per_sub // 2, per_sub // 2 + 1, step, dtype=np.int64)
    corr, lag = search(shifts)
    best = _joint_best(corr, lag, len(roots))
    out = {"cfo_hz": float(frac_hz + shifts[best] * bin_hz)}
    lags = []
    ok = np.ones(shifts.shape[0], bool)
    if len(roots) == 2:
        ok = np.abs(np.abs(lag[1] - lag[0]) - ZC_LAG_SAMPLES) <= LAG_TOL
        ok[best] = True
    for i, root in enumerate(roots):
        # Each root takes its own peak near the burst's offset, among offsets that keep
        # the two symbols' spacing (the offset drifts slightly along a burst).
        j = int(np.argmax(np.where(ok, corr[i], -1.0)))
        out[f"zc{root}"] = float(np.sqrt(corr[i, j]))
        out[f"zc{root}_lag"] = int(lag[i, j])
        lags.append(int(lag[i, j]))
    if len(roots) == 2:
        out["zc_lag_diff"] = lags[1] - lags[0]
    return out


def _joint_best(corr: np.ndarray, lag: np.ndarray, n_roots: int) -> int:
    """Offset index where both roots peak highest *and* two ZC symbols apart.

    A Zadoff-Chu sequence shifted by whole subcarriers still correlates, at a
    shifted lag (a ZC property), and the shift differs per root: an offset of
    whole subcarriers shows up as a wrong lag difference, so the lag difference
    decides the offset, the correlation only ranks the candidates that keep it.
    """
    total = corr.sum(axis=0)
    if n_roots == 2:
        ok = np.abs(np.abs(lag[1] - lag[0]) - ZC_LAG_SAMPLES) <= LAG_TOL
        if ok.any():
            total = np.where(ok, total, -1.0)
    return int(np.argmax(total))


def droneid_confirmed(ev: dict | None, min_correlation: float = MIN_CORRELATION, lag_tol: int = LAG_TOL) -> bool:
    """Both roots correlate, two ZC symbols apart (either order of the roots)."""
    if not ev:
        return False
    return (ev["zc600"] >= min_correlation and ev["zc147"] >= min_correlation
            and abs(abs(ev["zc_lag_diff"]) - ZC_LAG_SAMPLES) <= lag_tol)
