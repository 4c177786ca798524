"""OFDM confirmation: cyclic-prefix autocorrelation.

Each OFDM symbol repeats its last CP samples in front of itself, so the burst
correlates with itself at a lag of one useful symbol (T_u = 1 / subcarrier
spacing = FFT size / sample rate) and at no other lag beyond the short main lobe
of its bandwidth.  The kernel computes the normalised autocorrelation at every
lag (by FFT); the wrapper finds the peak (T_u, hence FFT size at the link's
native rate) and reads the CP length from the symbol period: the product
x[n] conj(x[n + T_u]) is large only inside prefixes, so it repeats every
T_u + T_cp.

The samples are first limited to the burst's band (with a margin for the
measured width): the prefixes correlate only in the signal's band, and the
noise outside it would dilute the peak (a 16.6 MHz Wi-Fi frame at 0 dB in-band
SNR in a 30.72 MS/s window: S / (S + N) 0.35 across the window, 0.5 in band).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def normalised_autocorr(x, max_lag, out):
    """out[L] = |sum x[n] conj x[n+L]| / sqrt(sum|x[n]|^2 sum|x[n+L]|^2) over the overlap,
    for L in 0..max_lag (FFT-based, zero-padded: no wrap-around)."""
    n = x.shape[0]
    m = 1
    while m < 2 * n:
        m *= 2
    buf = np.zeros(m, np.complex128)
    for i in range(n):
        buf[i] = x[i]
    spec = np.fft.fft(buf)
    for i in range(m):
        spec[i] = spec[i].real * spec[i].real + spec[i].imag * spec[i].imag
    r = np.fft.ifft(spec)
    # Energy of x[0:n-L] and of x[L:n], from prefix sums.
    cum = np.zeros(n + 1)
    for i in range(n):
        cum[i + 1] = cum[i] + x[i].real * x[i].real + x[i].imag * x[i].imag
    for lag in range(min(max_lag + 1, out.shape[0], n)):
        e1 = cum[n - lag]
        e2 = cum[n] - cum[lag]
        den = np.sqrt(e1 * e2)
        out[lag] = abs(r[lag]) / den if den > 0.0 else 0.0


# Band kept around the burst's centre, relative to its measured bandwidth.
BAND_MARGIN = 1.1


def ofdm_evidence(samples: np.ndarray, sample_rate_hz: float, bandwidth_hz: float, *,
                  max_useful_s: float = 150e-6, min_useful_s: float = 1.5e-6) -> dict | None:
    """Useful symbol time and CP time of one burst, with the correlation at the peak and
    its contrast (peak over the median of the searched lags)."""
    x = np.ascontiguousarray(np.asarray(samples, np.complex128))
    n = x.shape[0]
    half_band_hz = BAND_MARGIN * 0.5 * bandwidth_hz
    if n >= 16 and half_band_hz < 0.5 * sample_rate_hz:
        X = np.fft.fft(x)
        X[np.abs(np.fft.fftfreq(n, 1.0 / sample_rate_hz)) > half_band_hz] = 0.0
        x = np.fft.ifft(X)
    lo = max(int(np.ceil(min_useful_s * sample_rate_hz)), int(np.ceil(12 * sample_rate_hz / max(bandwidth_hz, 1.0))))
    hi = min(int(max_useful_s * sample_rate_hz), n // 3)
    if hi <= lo + 8:
        return None
    ac = np.zeros(hi + 1)
    normalised_autocorr(x, hi, ac)
    region = ac[lo:hi + 1]
    k = int(np.argmax(region))
    lag = lo + k
    peak = float(region[k])
    med = float(np.median(region))
    spread = 1.4826 * float(np.median(np.abs(region - med))) + 1e-12
    significance = (peak - med) / spread
    out = {"useful_symbol_s": lag / sample_rate_hz, "subcarrier_spacing_hz": round(sample_rate_hz / lag, 1),
           "cp_correlation": round(peak, 3), "significance": round(significance, 1), "cp_s": None}
    # CP length: where x[n] correlates with x[n + T_u] (inside prefixes) the short-window
    # normalised product is near 1; its duty cycle is T_cp / (T_u + T_cp).
    w = max(4, lag // 16)
    c = x[:n - lag] * np.conj(x[lag:])
    e = 0.5 * (np.abs(x[:n - lag]) ** 2 + np.abs(x[lag:]) ** 2)
    kern = np.ones(w)
    m = np.abs(np.convolve(c, kern, "valid")) / (np.convolve(e, kern, "valid") + 1e-30)
    duty = float(np.mean(m > 0.5))
    if 0.0 < duty < 0.5:
        out["cp_s"] = duty / (1.0 - duty) * lag / sample_rate_hz
    # The floor on the peak keeps a short burst's noisy estimate out; over a long stretch,
    # significance alone speaks (at 0 dB in-band SNR a 4.7 us prefix on 66.7 us symbols
    # correlates at about 0.033).
    out["confirmed"] = significance >= 8.0 and peak >= 0.02
    return out


# ---------------------------------------------------------------- Wi-Fi's prefix on a piece
#
# At a few dB of in-band SNR, or with its channel half outside the receiver's window, a
# Wi-Fi frame reaches the burst detector as slices 0.2-2 MHz wide, the size of a 2.4 GHz
# control-link packet.  What gives a slice away is Wi-Fi's numerology, over the frame's
# time in the band around the slice: x[n] conj x[n + T_u] (T_u = 3.2 us) is large inside
# each symbol's 0.8 us prefix and near zero elsewhere, so folded over the symbol period
# (4 us) it gathers in one window of the prefix's width.  A control link's GFSK, DSSS or
# chirp may correlate at T_u too (a LoRa chirp does, strongly), but evenly over time: its
# folded product has no window that stands out from the rest.
#
# The band kept (10 MHz, a two-sample mean at 20 MS/s) leaves most other emitters of the
# window out, and the mean's impulse response stays well inside the prefix.
PIECE_BAND_HZ = 10e6
PIECE_MIN_SIGNIFICANCE = 5.0
PIECE_MIN_CONTRAST = 0.1


# Lags either side of the useful symbol at which the prefix window must not correlate as
# well: a symbol-synchronous FSK (at 500 kbps, 0101... repeats every 4 us) folds into a
# window too, but its correlation changes smoothly with the lag, over its symbol.
SIDE_LAGS_S = (-0.4e-6, 0.4e-6)


@njit(cache=True)
def band_average(x, cycles_per_sample, m):
    """The mean of m samples taken as if shifted down by ``cycles_per_sample``:
    out[i] = sum_j x[i+j] exp(-2 pi i cycles j) / m, j < m.  This is the shifted signal's
    moving mean times exp(2 pi i cycles i): a phase turning at the shift, which a lag
    product turns into one constant phase, so no sample-by-sample mixing is needed."""
    n = x.shape[0] - m + 1
    out = np.zeros(max(n, 0), np.complex128)
    w = np.exp(-2j * np.pi * cycles_per_sample * np.arange(m)) / m
    for i in range(n):
        acc = 0.0 + 0.0j
        for j in range(m):
            acc += x[i + j] * w[j]
        out[i] = acc
    return out


@njit(cache=True)
def fold_lag_products(x, lags, period, prod, energy):
    """For each lag j: prod[j, k] = sum of x[n] conj x[n+lags[j]] over the n whose phase in
    a symbol of ``period`` samples (fractional) falls in bin k; energy[j, k] = the matching
    sum of (|x[n]|^2 + |x[n+lags[j]]|^2) / 2.  Bins: int(period); zeroed here.  Every n
    with all its lags inside x counts."""
    bins = prod.shape[1]
    nl = lags.shape[0]
    n = x.shape[0]
    max_lag = 0
    for j in range(nl):
        max_lag = max(max_lag, lags[j])
    pr = np.zeros((nl, bins))
    pi = np.zeros((nl, bins))
    en = np.zeros((nl, bins))
    phase = 0.0
    for i in range(n - max_lag):
        k = min(int(phase), bins - 1)
        ar = x[i].real
        ai = x[i].imag
        ea = ar * ar + ai * ai
        for j in range(nl):
            b = x[i + lags[j]]
            pr[j, k] += ar * b.real + ai * b.imag
            pi[j, k] += ai * b.real - ar * b.imag
            en[j, k] += 0.5 * (ea + b.real * b.real + b.imag * b.imag)
        phase += 1.0
        if phase >= period:
            phase -= period
    for j in range(nl):
        for k in range(bins):
            prod[j, k] = pr[j, k] + 1j * pi[j, k]
            energy[j, k] = en[j, k]


@njit(cache=True)
def gated_correlations(prod, energy, gate):
    """From fold_lag_products' sums: the cyclic window of ``gate`` bins where lag 0 (row 0)
    correlates best, and its correlation there, outside it, and the best of the other
    lags' in the same window."""
    nl, bins = prod.shape
    best_k, inside = 0, -1.0
    for k in range(bins):
        p = 0.0j
        e = 0.0
        for g in range(gate):
            p += prod[0, (k + g) % bins]
            e += energy[0, (k + g) % bins]
        c = abs(p) / e if e > 0.0 else 0.0
        if c > inside:
            best_k, inside = k, c
    p_all = 0.0j
    e_all = 0.0
    p_in = 0.0j
    e_in = 0.0
    for k in range(bins):
        p_all += prod[0, k]
        e_all += energy[0, k]
    for g in range(gate):
        p_in += prod[0, (best_k + g) % bins]
        e_in += energy[0, (best_k + g) % bins]
    e_out = e_all - e_in
    outside = abs(p_all - p_in) / e_out if e_out > 0.0 else 0.0
    sides = 0.0
    for j in range(1, nl):
        p = 0.0j
        e = 0.0
        for g in range(gate):
            p += prod[j, (best_k + g) % bins]
            e += energy[j, (best_k + g) % bins]
        if e > 0.0:
            sides = max(sides, abs(p) / e)
    return inside, outside, sides


def prefix_piece_evidence(samples: np.ndarray, sample_rate_hz: float, offset_hz: float,
                          useful_symbol_s: float, prefix_s: float) -> dict | None:
    """Whether the band around a narrow burst (``offset_hz`` from the snippet's centre)
    carries OFDM symbols of ``useful_symbol_s`` with prefixes of ``prefix_s`` over the
    burst's time.  Reports the lag correlation inside the best prefix-wide window of the
    folded symbol, outside it, and inside it at the side lags; the window's lead over the
    larger of the others (``contrast``) in units of the gated estimate's noise is the
    ``significance``."""
    lag = int(round(useful_symbol_s * sample_rate_hz))
    period = (useful_symbol_s + prefix_s) * sample_rate_hz
    gate = int(round(prefix_s * sample_rate_hz))
    x = np.asarray(samples)
    if gate < 2 or x.shape[0] < 4 * period:
        return None
    m = max(1, int(round(sample_rate_hz / PIECE_BAND_HZ)))
    y = band_average(x, offset_hz / sample_rate_hz, m)
    lags = np.array([lag] + [lag + int(round(s * sample_rate_hz)) for s in SIDE_LAGS_S], np.int64)
    bins = int(period)
    prod = np.zeros((lags.shape[0], bins), np.complex128)
    energy = np.zeros((lags.shape[0], bins))
    fold_lag_products(y, lags, period, prod, energy)
    inside, outside, sides = gated_correlations(prod, energy, gate)
    contrast = inside - max(outside, sides)
    significance = contrast * np.sqrt((y.shape[0] - int(lags.max())) * gate / (bins * m))
    return {"useful_symbol_s": useful_symbol_s, "prefix_s": prefix_s,
            "cp_correlation": round(inside, 3), "outside_correlation": round(outside, 3),
            "side_correlation": round(sides, 3), "significance": round(float(significance), 1),
            "confirmed": bool(significance >= PIECE_MIN_SIGNIFICANCE and contrast >= PIECE_MIN_CONTRAST)}


# ------------------------------------------------- an always-on OFDM link below the noise
#
# At -12 dB in-band SNR a 4.7 us prefix on 66.7 us symbols correlates at about 0.003 in
# its band: 6 ms of a burst cannot tell it from noise, but the link is on for as long as
# it flies, and the correlation's phase at the useful symbol's lag depends only on the
# carrier offset, so sums over many stretches of it add coherently (classify/prefix.py).
# The band is kept with raised-cosine sides: a brick-wall band's sinc tails correlate
# noise at every lag (about 1 / (pi B tau), as large as the prefix at this SNR).
PREFIX_TAPER = 0.3      # the sides' width, relative to the band


def band_taper(n: int, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """The FFT bins (NumPy order) of ``n`` samples that the band of ``bandwidth_hz`` around
    ``offset_hz`` keeps, and their weights: 1 within half the bandwidth of ``offset_hz``,
    falling as a raised cosine to 0 over PREFIX_TAPER of it more."""
    df = sample_rate_hz / n
    lo = 0.5 * bandwidth_hz
    hi = lo * (1.0 + PREFIX_TAPER)
    k = np.arange(int(np.ceil((offset_hz - hi) / df)), int(np.floor((offset_hz + hi) / df)) + 1)
    k = k[np.abs(k) < n / 2]          # (inside the window)
    f = np.abs(k * df - offset_hz)
    w = np.ones(k.shape[0], np.float32)
    side = f > lo
    w[side] = 0.5 + 0.5 * np.cos(np.pi * np.minimum((f[side] - lo) / (hi - lo), 1.0))
    return np.mod(k, n), w


def prefix_lag_sums(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float,
                    lag_lo: int, lag_hi: int) -> tuple[np.ndarray, float]:
    """For the samples kept to the band of ``bandwidth_hz`` around ``offset_hz``: the sums
    sum_n y[n + L] conj y[n] for L = lag_lo..lag_hi, cyclic over the stretch (the L
    products that wrap round pair unrelated samples, or zeros: noise, a fraction L / n of it),
    and the band's energy sum |y|^2.  By FFT: the inverse transform of |Y|^2 (real: half of
    it, ``ihfft``).  (Not moved to 0 Hz: the band's offset turns every sum by
    exp(2 pi i offset L / fs), the signal's own.)"""
    from scipy import fft as scipy_fft    # (not at import: the engine starts without scipy.fft)

    x = np.asarray(samples, np.complex64)
    # Zero-padded to a length the FFT factors well (a stretch's own length may hold a large
    # prime: 10x slower); the zeros add nothing to the sums.
    n = scipy_fft.next_fast_len(x.shape[0])
    spectrum = scipy_fft.fft(x, n)
    bins, w = band_taper(n, sample_rate_hz, offset_hz, bandwidth_hz)
    kept = spectrum[bins]
    power = np.zeros(n, np.float32)
    power[bins] = (kept.real ** 2 + kept.imag ** 2) * w ** 2
    r = scipy_fft.ihfft(power)        # = ifft(power)[: n // 2 + 1]
    return r[lag_lo: lag_hi + 1].astype(np.complex128), float(power.sum()) / n
