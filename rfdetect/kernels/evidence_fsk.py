"""FSK / GFSK confirmation: a frequency discriminator.

After mixing the burst to zero and low-passing it to its occupied bandwidth,
the instantaneous frequency of 2-FSK sits near +-deviation and jumps between
the two levels only on symbol boundaries.  A slicer with hysteresis (at half
the deviation, so noise near zero does not toggle it) cuts the discriminator
into runs; every run lasts a whole number of symbols, so the shortest common
run gives the symbol rate, and the share of runs that are whole multiples of
it tells FSK from noise and from chirps (whose runs have no common unit).  The
carrier is the midpoint of the two levels, not the median frequency: bits are rarely
balanced, and a median inside one level halves the deviation and blinds the slicer.
One carrier switched on and off (OOK) must not pass: the deviation is measured again where
the envelope is up, where FSK keeps it whole and it must be large against the symbol rate
(see ``CARRIER_FLOOR``).

Like any discriminator it has a threshold: below about 8 dB in-band SNR noise clicks
cut the runs and flatten the levels, so a weak FSK burst often fails to confirm (see
``classify.evidence.FSK_THRESHOLD_DB``, where that failure counts for nothing).

Below that threshold, :func:`tone_evidence` looks at the whole burst instead: FSK whose
tones are resolved (modulation index about 2 or more: ISM sensors, wM-Bus) puts its power
in two spectral peaks, 2 x deviation apart, with next to nothing between them, for the
whole burst.  A spectrum averaged over the burst's short FFTs (:func:`averaged_power`)
shows them at 0 dB in-band SNR, where one discriminator pass cannot: its noise falls as
the square root of the number of FFTs.  One carrier switched on and off (OOK) shows one
line, a chirp or a GFSK link with h < 1 a flat or single-humped band: no tone pair.  The
tones then give the symbol rate: the difference of the two tones' energies
(:func:`tone_energy_difference`, each tone taken through a boxcar that nulls the other)
is the NRZ bit stream; its level changes fall on a lattice of the symbol period, which
the coherence of their dates against candidate periods pins down to a fraction of a
per cent (the Rayleigh statistic ``n C^2`` of the ``n`` changes says how surely: about 1
for changes at random dates).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from .. import imports
from .resample import firwin_lowpass, shift_to_zero

rocket_fft = imports.rocket_fft()     # registers np.fft with Numba


@njit(cache=True)
def discriminator(x, out_freq):
    """out_freq[n] = angle(x[n+1] conj x[n]), radians per sample (len(x) - 1 values)."""
    for i in range(out_freq.shape[0]):
        a = x[i + 1]
        b = x[i]
        re = a.real * b.real + a.imag * b.imag
        im = a.imag * b.real - a.real * b.imag
        out_freq[i] = np.arctan2(im, re)


@njit(cache=True)
def slicer_runs(d, threshold, out_runs):
    """Run lengths (samples) between level changes of a slicer with hysteresis at
    +-threshold; each change is dated at the last zero crossing before it (where the
    symbol boundary is, whatever the shaping).  The first run (its start is unknown)
    is dropped.  Returns the number of runs written."""
    state = 0
    last = 0
    zc = 0
    count = 0
    first = True
    for i in range(d.shape[0]):
        v = d[i]
        if i > 0 and (v >= 0.0) != (d[i - 1] >= 0.0):
            zc = i
        s = state
        if v > threshold:
            s = 1
        elif v < -threshold:
            s = -1
        if s != state:
            if state != 0:
                if first:
                    first = False
                elif count < out_runs.shape[0]:
                    out_runs[count] = zc - last
                    count += 1
            state = s
            last = zc
    return count


@lru_cache(maxsize=2048)     # cutoffs rounded to 1e-3: at most about 2000
def _lowpass(cutoff: float) -> np.ndarray:
    return firwin_lowpass(33, cutoff)


@njit(cache=True)
def pairwise_sum(a):
    """NumPy's sum of a float64 array, in its pairwise order (so that means equal
    ``np.mean``'s to the last bit)."""
    n = a.shape[0]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r = a[:8].copy()
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for k in range(i, n):
            res += a[k]
        return res
    half = n // 2
    half -= half % 8
    return pairwise_sum(a[:half]) + pairwise_sum(a[half:])


@njit(cache=True)
def two_level_centre(d, iterations=8):
    """Midpoint between the two frequency levels (the carrier, however unbalanced the bits).

    The median sits inside the more frequent level when ones and zeros are not equal in
    number (a preamble, a sync word, a payload of mostly one bit): with h >> 1 it puts
    the carrier on a tone, halves the measured deviation and blinds the slicer.  Two-means
    from the median: split at the centre, move it to the midpoint of the halves' means
    (means, so a level holding 80 % of the samples cannot keep the split inside it) until
    the split stays put, then a last step with medians, which noise clicks do not pull.
    Each step is one pass over d, the medians selections: no sort (a sort of a burst's
    samples cost more than the rest of the FSK kernel)."""
    n = d.shape[0]
    if n == 0:
        return 0.0
    centre = np.median(d)
    split = -1
    for _ in range(iterations):
        k, low, high = _split_sums(d, centre)
        if k == 0 or k == n:
            return centre
        if k == split:
            break
        split = k
        centre = 0.5 * (low / k + high / (n - k))
    k = _split_sums(d, centre)[0]
    if k == 0 or k == n:
        return centre
    lower, upper = np.empty(k), np.empty(n - k)
    i = j = 0
    for v in d:
        if v <= centre:
            lower[i] = v
            i += 1
        else:
            upper[j] = v
            j += 1
    return 0.5 * (np.median(lower) + np.median(upper))


@njit(cache=True, inline="always")
def _split_sums(d, centre):
    """(how many of d are <= centre, their sum, the others' sum)."""
    k, low, high = 0, 0.0, 0.0
    for v in d:
        if v <= centre:
            k += 1
            low += v
        else:
            high += v
    return k, low, high


@njit(cache=True)
def symbol_period(runs):
    """(symbol period in samples, share of runs within 0.25 of a whole multiple of it): the
    mean of the runs within half of their 30th percentile (``np.percentile``'s linear
    interpolation), or that percentile when none is."""
    n = runs.shape[0]
    s = np.sort(runs)
    at = (n - 1) * 0.3
    lo = int(np.floor(at))
    if lo >= n - 1:
        t0 = s[n - 1]
    else:
        gamma = at - lo
        diff = s[lo + 1] - s[lo]
        t0 = s[lo + 1] - diff * (1.0 - gamma) if gamma >= 0.5 else s[lo] + diff * gamma
    sel = runs[(runs > 0.5 * t0) & (runs < 1.5 * t0)]
    t = pairwise_sum(sel) / sel.shape[0] if sel.shape[0] else t0
    whole = 0
    for i in range(n):
        r = runs[i] / t
        if abs(r - np.rint(r)) < 0.25:
            whole += 1
    return t, whole / n


# OOK is one carrier switched on and off.  Its pulses' frequency noise, cut by the slicer,
# can pass for two levels with whole-symbol runs, and so can the noise between pulses; what
# it lacks is a deviation where the carrier is on.  That is measured on the discriminator
# samples inside a stretch of CARRIER_SMOOTHING smoothing lengths whose power is all at
# least CARRIER_FLOOR of the burst's high level (its CARRIER_PERCENTILE-th percentile), and
# must be CARRIER_DEVIATION_SHARE of the whole snippet's deviation (FSK keeps its envelope:
# about 1 from 8 dB up; OOK with gaps much less) and make a modulation index (2 x
# deviation / symbol rate) of MIN_INDEX.  Simulated OOK bursts from 5 to 30 dB whose levels
# and runs pass read at most 0.16; the library's FSK links 0.35 (GFSK at h = 0.35-0.5,
# whose shaped levels read a little low) to 4 (sensors with resolved tones).
CARRIER_FLOOR = 0.25
CARRIER_PERCENTILE = 90
CARRIER_SMOOTHING = 4
CARRIER_DEVIATION_SHARE = 0.5
MIN_INDEX = 0.2


@njit(cache=True)
def carrier_present(power, width):
    """Discriminator samples (len(power) - 1) inside a stretch of ``width`` samples whose
    power is all at least CARRIER_FLOOR of the burst's high level (its
    CARRIER_PERCENTILE-th percentile): noise between OOK pulses rises above that floor
    in short spikes only, and the frequency at a pulse's edges is half the noise's.
    (The stretch around sample i is i - width // 2 .. i + (width - 1) // 2, as
    ``np.convolve(..., "same")`` centres it.)"""
    n = power.shape[0]
    k = (n - 1) * CARRIER_PERCENTILE // 100
    floor = CARRIER_FLOOR * np.partition(power, k)[k]
    inside = np.zeros(n, np.bool_)
    run = 0                     # high samples in a row ending at i
    for i in range(n):
        run = run + 1 if power[i] >= floor else 0
        if run >= width:
            inside[i - (width - 1) // 2] = True
    return inside[1:] & inside[:-1]


@njit(cache=True)
def convolve_same(x, h, step, out):
    """out[j] = np.convolve(x, h, "same")[j * step] (x and out float64 or complex128, h
    float64, len(x) >= len(h)): only the outputs a decimation by ``step`` keeps, each a sum
    of its terms in the order np.correlate takes them."""
    zero = np.zeros(1, x.dtype)[0]
    for j in range(out.shape[0]):
        out[j] = _same_output(x, h, j * step, zero)


@njit(cache=True, inline="always")
def _same_output(x, h, i, acc):
    m = h.shape[0]
    left = m // 2
    for t in range(max(0, left - i), min(m, x.shape[0] - i + left)):
        acc += x[i - left + t] * h[m - 1 - t]
    return acc


@njit(cache=True)
def lowpass_same(x, h, step, out):
    """convolve_same for complex x and a long filter, to the same bits: the real and
    imaginary parts filtered apart (a complex sample times a real tap is the two parts
    times the tap), the outputs whose terms all lie inside x a tap at a time across
    them (a loop the compiler vectorises), on x split into its ``step`` phases (each tap
    then reads a contiguous run)."""
    n = x.shape[0]
    m = h.shape[0]
    left = m // 2
    j0 = min(out.shape[0], (left + step - 1) // step)
    j1 = max(j0, min(out.shape[0], (n - m + left) // step + 1))
    rows = (n + step - 1) // step
    re = np.zeros((step, rows))
    im = np.zeros((step, rows))
    for i in range(n):
        re[i % step, i // step] = x[i].real
        im[i % step, i // step] = x[i].imag
    acc_re = np.zeros(j1 - j0)
    acc_im = np.zeros(j1 - j0)
    for t in range(m):
        c = h[m - 1 - t]
        p = (t - left) % step
        q = (t - left - p) // step + j0
        a = re[p, q:q + j1 - j0]
        b = im[p, q:q + j1 - j0]
        for k in range(j1 - j0):
            acc_re[k] += a[k] * c
            acc_im[k] += b[k] * c
    for k in range(j1 - j0):
        out[j0 + k] = complex(acc_re[k], acc_im[k])
    for j in range(j0):
        out[j] = _same_output(x, h, j * step, 0j)
    for j in range(j1, out.shape[0]):
        out[j] = _same_output(x, h, j * step, 0j)


# fsk_measure's out[...]
(FSK_DEVIATION, FSK_CENTRE, FSK_BIMODALITY, FSK_RUNS, FSK_PERIOD, FSK_FIT, FSK_FLATNESS,
 FSK_CARRIER_DEVIATION, FSK_COUNT) = range(9)


@njit(cache=True)
def fsk_measure(x, step, decimation_taps, band_taps, smooth, hz_per_radian, min_runs, out):
    """fsk_evidence's measurements in one pass over the mixed burst ``x`` (see
    :func:`fsk_evidence_numpy`, which this computes step by step): decimation by ``step``
    through ``decimation_taps`` (step > 1), the band's low-pass, the discriminator (Hz)
    smoothed over ``smooth`` samples, its levels and slicer runs, and where there are
    ``min_runs`` runs the symbol period (samples), flatness and the deviation where the
    carrier is on.  out[FSK_*]; the period, fit, flatness and carrier deviation stay 0
    with fewer runs."""
    out[:] = 0.0
    if step > 1:
        y = np.empty((x.shape[0] + step - 1) // step, np.complex128)
        lowpass_same(x, decimation_taps, step, y)
    else:
        y = x
    z = np.empty(y.shape[0], np.complex128)
    lowpass_same(y, band_taps, 1, z)
    freq = np.empty(z.shape[0] - 1)
    discriminator(z, freq)
    for i in range(freq.shape[0]):
        freq[i] = freq[i] * hz_per_radian
    box = np.full(smooth, 1.0 / smooth)
    d = np.empty(freq.shape[0])
    convolve_same(freq, box, 1, d)
    centre = two_level_centre(d)
    nd = d.shape[0]
    for i in range(nd):
        d[i] -= centre
    dev = np.median(np.abs(d))
    sq = d * d
    m2 = pairwise_sum(sq) / nd
    for i in range(nd):
        sq[i] *= sq[i]           # d^4 as a square squared (pow() costs 10 ns a sample)
    m4 = pairwise_sum(sq) / nd
    runs = np.empty(nd, np.int64)
    n = slicer_runs(d, 0.5 * dev, runs)
    out[FSK_DEVIATION] = dev
    out[FSK_CENTRE] = centre
    out[FSK_BIMODALITY] = m2 * m2 / m4 if m4 > 0 else 0.0
    out[FSK_RUNS] = n
    if n < min_runs:
        return
    period, fit = symbol_period(runs[:n].astype(np.float64))
    out[FSK_PERIOD] = period
    out[FSK_FIT] = fit
    lag = max(1, int(np.rint(period / 4)))
    if nd > lag:
        flat = 0
        for i in range(nd - lag):
            if abs(d[i + lag] - d[i]) < 0.3 * dev:
                flat += 1
        out[FSK_FLATNESS] = flat / (nd - lag)
    power = np.empty(z.shape[0])
    for i in range(z.shape[0]):
        a = abs(z[i])
        power[i] = a * a
    smoothed = np.empty(z.shape[0])
    convolve_same(power, box, 1, smoothed)
    on = d[carrier_present(smoothed, CARRIER_SMOOTHING * smooth)]
    if on.shape[0]:
        out[FSK_CARRIER_DEVIATION] = np.median(np.abs(on - two_level_centre(on)))


def _fsk_front(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float):
    """(burst mixed to zero, decimation step, rate after it, its low-pass taps or None,
    the band's low-pass taps, discriminator smoothing in samples), or None when fewer than
    64 samples remain after the decimation."""
    bw = max(float(bandwidth_hz), 5e3)
    # An integer decimation to about 4x the bandwidth (the low-pass below is the
    # anti-alias filter too): cheap, and the discriminator needs no exact rate.
    step = max(1, int(sample_rate_hz // (4.0 * bw)))
    rate = sample_rate_hz / step
    n = np.shape(samples)[0]
    # (np.convolve's "same" output is as long as the longer of its inputs.)
    if (-(-max(n, 33) // step) if step > 1 else n) < 64:
        return None
    x = shift_to_zero(samples, offset_hz, sample_rate_hz)
    decimation = _lowpass(round(0.9 / step, 3)) if step > 1 else None
    band = _lowpass(min(0.99, round(0.6 * bw / (rate / 2), 3)))
    return x, step, rate, decimation, band, max(1, int(round(rate / bw / 2)))


def _fsk_record(rate: float, dev: float, centre: float, bimodality: float, n: int, period: float,
                fit: float, flat: float, dev_on: float, min_runs: int) -> dict:
    out = {"deviation_hz": round(dev, 1), "symbol_rate_hz": None, "fit": 0.0,
           "bimodality": round(bimodality, 3), "centre_offset_hz": round(centre, 1), "runs": int(n)}
    index = 0.0
    if n >= min_runs:
        out["symbol_rate_hz"] = round(rate / period, 1)
        out["fit"] = round(fit, 3)
        index = 2.0 * dev_on * period / rate
    out["flatness"] = round(flat, 3)
    out["carrier_deviation_hz"] = round(dev_on, 1)
    out["modulation_index"] = round(index, 3)
    out["confirmed"] = out["fit"] >= 0.68 and bimodality >= 0.4 and flat >= 0.12 and index >= MIN_INDEX \
        and dev_on >= CARRIER_DEVIATION_SHARE * dev
    return out


def fsk_evidence(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float,
                 *, min_runs: int = 8) -> dict | None:
    """Deviation (Hz), symbol rate (Hz), ``fit`` (share of runs whole symbols: about 0.5
    for noise, 0.7-0.9 for FSK at 10-20 dB), ``bimodality`` (E[d^2]^2/E[d^4]: 1 for
    two clean levels, 0.56 for a chirp's uniform sweep, 0.33 for noise), and where the
    carrier is on its ``carrier_deviation_hz`` and ``modulation_index`` (see CARRIER_FLOOR).
    None when the burst is too short.  (:func:`fsk_measure`; :func:`fsk_evidence_numpy`
    is its twin.)"""
    front = _fsk_front(samples, sample_rate_hz, offset_hz, bandwidth_hz)
    if front is None:
        return None
    x, step, rate, decimation, band, smooth = front
    m = np.empty(FSK_COUNT)
    fsk_measure(x, step, band if decimation is None else decimation, band, smooth, rate / (2 * np.pi),
                min_runs, m)
    return _fsk_record(rate, float(m[FSK_DEVIATION]), float(m[FSK_CENTRE]), float(m[FSK_BIMODALITY]),
                       int(m[FSK_RUNS]), float(m[FSK_PERIOD]), float(m[FSK_FIT]), float(m[FSK_FLATNESS]),
                       float(m[FSK_CARRIER_DEVIATION]), min_runs)


def fsk_evidence_numpy(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float,
                       *, min_runs: int = 8) -> dict | None:
    front = _fsk_front(samples, sample_rate_hz, offset_hz, bandwidth_hz)
    if front is None:
        return None
    x, step, rate, decimation, band, smooth = front
    if step > 1:
        x = np.convolve(x, decimation, "same")[::step]
    x = np.convolve(x, band, "same")
    freq = np.empty(x.shape[0] - 1, np.float64)
    discriminator(np.ascontiguousarray(x), freq)
    box = np.ones(smooth) / smooth
    d = np.convolve(freq * (rate / (2 * np.pi)), box, "same")
    centre = two_level_centre(d)
    d = d - centre
    dev = float(np.median(np.abs(d)))
    sq = d * d
    m2, m4 = float(np.mean(sq)), float(np.mean(sq * sq))
    bimodality = m2 * m2 / m4 if m4 > 0 else 0.0
    runs = np.empty(d.shape[0], np.int64)
    n = slicer_runs(d, 0.5 * dev, runs)
    period = fit = flat = dev_on = 0.0
    if n >= min_runs:
        period, fit = symbol_period(runs[:n].astype(np.float64))
        # FSK holds its level within a symbol; a chirp's frequency keeps moving.
        lag = max(1, int(round(period / 4)))
        if d.shape[0] > lag:
            flat = float(np.mean(np.abs(d[lag:] - d[:-lag]) < 0.3 * dev))
        # The deviation where the carrier is on: OOK's pulses are one carrier, and the
        # noise between them lends it levels and runs.
        on = d[carrier_present(np.convolve(np.abs(x) ** 2, box, "same"), CARRIER_SMOOTHING * smooth)]
        dev_on = float(np.median(np.abs(on - two_level_centre(on)))) if on.shape[0] else 0.0
    return _fsk_record(rate, dev, centre, bimodality, n, period, fit, flat, dev_on, min_runs)


# ---- tone pair over the whole burst (below the discriminator's threshold) -------------
TONE_BINS_PER_BANDWIDTH = 48      # spectral resolution: about this many bins across the burst
TONE_MIN_SEGMENTS = 8
TONE_MAX_NFFT = 1 << 14
# A tone pair: the weaker tone at least this share of the stronger one's excess over the
# noise and this many noise standard deviations above it (the averaged spectrum of noise
# alone scatters by 1/sqrt(segments) of its level), the spectrum between the tones no
# higher than this share of the weaker one, and the tones this many times the mean
# excess between them (a flat chirp band scatters into bumps no deeper than that).
TONE_MIN_RATIO = 0.25
TONE_MIN_SIGMA = 8.0
TONE_MAX_DIP = 0.15
TONE_MIN_CONTRAST = 2.0
# The symbol lattice: at least this Rayleigh statistic (a random set of dates reaches it
# with probability about exp(-10) per trial period).
TONE_MIN_RAYLEIGH = 10.0
TONE_SMOOTHING = (1, 2, 4, 8)     # extra smoothing of the energy difference, in boxcar lengths
# Smoothing longer than this share of a symbol would merge symbols: the lattice found
# through it is not theirs (at h = 1 the tones' own boxcar is a whole symbol).
TONE_MAX_SMOOTHING = 0.6
# The lattice search: periods this many times the runs' rough period, in this many steps.
LATTICE_SPAN = (0.6, 1.4)
LATTICE_STEPS = 161


@njit(cache=True)
def averaged_power(x, window, out):
    """out[k] = mean over the non-overlapping segments of len(window) samples of
    |FFT(segment * window)[k]|^2 (unshifted bins).  Returns the number of segments."""
    n = window.shape[0]
    m = x.shape[0] // n
    out[:] = 0.0
    buf = np.empty(n, np.complex128)
    for s in range(m):
        for i in range(n):
            buf[i] = x[s * n + i] * window[i]
        spec = np.fft.fft(buf)
        for k in range(n):
            out[k] += spec[k].real * spec[k].real + spec[k].imag * spec[k].imag
    if m > 0:
        for k in range(n):
            out[k] /= m
    return m


@njit(cache=True)
def tone_energy_difference(x, f1_cycles, f2_cycles, length, out):
    """out[i] = |y1[i]|^2 - |y2[i]|^2, y = x mixed down by a tone (cycles per sample) and
    summed over ``length`` samples (x[i : i+length]), normalised; len(out) = len(x) - length + 1."""
    s1 = 0j
    s2 = 0j
    w1 = np.exp(-2j * np.pi * f1_cycles)
    w2 = np.exp(-2j * np.pi * f2_cycles)
    p1 = 1.0 + 0j
    p2 = 1.0 + 0j
    m1 = np.empty(x.shape[0], np.complex128)
    m2 = np.empty(x.shape[0], np.complex128)
    for i in range(x.shape[0]):
        # Phasors recomputed every 1024 samples: a running product would drift.
        if i % 1024 == 0:
            p1 = np.exp(-2j * np.pi * f1_cycles * i)
            p2 = np.exp(-2j * np.pi * f2_cycles * i)
        m1[i] = x[i] * p1
        m2[i] = x[i] * p2
        p1 *= w1
        p2 *= w2
    inv = 1.0 / length
    for i in range(x.shape[0]):
        s1 += m1[i]
        s2 += m2[i]
        if i >= length:
            s1 -= m1[i - length]
            s2 -= m2[i - length]
        if i >= length - 1:
            a = s1 * inv
            b = s2 * inv
            out[i - length + 1] = (a.real * a.real + a.imag * a.imag) - (b.real * b.real + b.imag * b.imag)


def tone_pair(excess: np.ndarray, segments: int) -> tuple[int, int] | None:
    """Bins of two tones in a spectrum's excess over the noise (noise = 0), or None."""
    e = np.convolve(excess, np.ones(3) / 3, "same")
    if e.shape[0] < 3:
        return None
    inner = e[1:-1]
    peaks = np.nonzero((inner >= e[:-2]) & (inner >= e[2:]) & (inner > 0))[0] + 1
    if peaks.shape[0] < 2:
        return None
    a = int(peaks[np.argmax(e[peaks])])
    best, pair = 0.0, None
    for b in peaks:
        if abs(b - a) < 3:
            continue
        lo, hi = min(a, b), max(a, b)
        score = e[b] - e[lo:hi + 1].min()
        if score > best:
            best, pair = score, (a, int(b))
    if pair is None:
        return None
    a, b = pair
    lo, hi = min(a, b), max(a, b)
    second, valley, between = e[b], max(float(e[lo:hi + 1].min()), 0.0), float(e[lo:hi + 1].mean())
    ok = (second >= TONE_MIN_RATIO * e[a] and second * np.sqrt(segments) >= TONE_MIN_SIGMA
          and valley <= TONE_MAX_DIP * second and second >= TONE_MIN_CONTRAST * between)
    return pair if ok else None


@njit(cache=True)
def lattice_coherence(dates, periods, out):
    """out[j] = |mean over the dates t of exp(2 pi i t / periods[j])|: 1 when every date
    falls on a lattice of that period, about 1/sqrt(len(dates)) for random dates."""
    n = dates.shape[0]
    for j in range(periods.shape[0]):
        w = 2.0 * np.pi / periods[j]
        re = 0.0
        im = 0.0
        for i in range(n):
            re += np.cos(w * dates[i])
            im += np.sin(w * dates[i])
        out[j] = np.sqrt(re * re + im * im) / n if n > 0 else 0.0


def lattice_period(runs: np.ndarray, period: float) -> tuple[float, float]:
    """(period, Rayleigh statistic n C^2) of the level changes dated by ``runs`` (their
    cumulative sums) against periods LATTICE_SPAN times ``period``, C = the best coherence."""
    dates = np.cumsum(runs).astype(np.float64)
    periods = period * np.linspace(LATTICE_SPAN[0], LATTICE_SPAN[1], LATTICE_STEPS)
    c = np.empty(LATTICE_STEPS, np.float64)
    lattice_coherence(dates, periods, c)
    j = int(np.argmax(c))
    return float(periods[j]), float(dates.shape[0] * c[j] ** 2)


def _moving_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Means of x over every w consecutive samples ("valid" boxcar), by running sums."""
    c = np.concatenate(([0.0], np.cumsum(x)))
    return (c[w:] - c[:-w]) / w


def tone_evidence(samples: np.ndarray, sample_rate_hz: float, offset_hz: float,
                  bandwidth_hz: float) -> dict | None:
    """Deviation and symbol rate from a burst's tone pair (None: no tone pair, or no symbol
    lattice between the tones): ``tone_deviation_hz`` (half the tones' spacing),
    ``tone_symbol_rate_hz`` and ``tone_rayleigh`` (the lattice's Rayleigh statistic)."""
    x = np.ascontiguousarray(samples, np.complex128)
    bw = max(float(bandwidth_hz), 5e3)
    nfft = min(TONE_MAX_NFFT, 1 << int(np.ceil(np.log2(sample_rate_hz / bw * TONE_BINS_PER_BANDWIDTH))))
    while nfft > 64 and x.shape[0] // nfft < TONE_MIN_SEGMENTS:
        nfft //= 2
    if x.shape[0] // nfft < TONE_MIN_SEGMENTS:
        return None
    power = np.empty(nfft, np.float64)
    segments = averaged_power(x, np.hanning(nfft), power)
    power = np.fft.fftshift(power)
    freqs = (np.arange(nfft) - nfft // 2) * (sample_rate_hz / nfft)
    # The burst is a small part of the receiver's window: the median bin is noise (a burst
    # filling most of it lowers the excess, and with it the chance of a tone pair).
    noise = float(np.median(power))
    if noise <= 0:
        return None
    band = np.nonzero(np.abs(freqs - offset_hz) <= 0.75 * bw)[0]
    pair = tone_pair(power[band] / noise - 1.0, segments)
    if pair is None:
        return None
    f1, f2 = freqs[band[pair[0]]], freqs[band[pair[1]]]
    spacing = abs(f2 - f1)
    # A boxcar of 1/spacing nulls the other tone; each tone is then seen in about
    # +-spacing/2, which holds a symbol rate up to the spacing (h >= 1).
    length = max(1, int(round(sample_rate_hz / spacing)))
    if x.shape[0] <= 2 * length:
        return None
    diff = np.empty(x.shape[0] - length + 1, np.float64)
    tone_energy_difference(x, f1 / sample_rate_hz, f2 / sample_rate_hz, length, diff)
    best = (0.0, 0.0)
    for mult in TONE_SMOOTHING:
        w = length * mult
        if w >= diff.shape[0]:
            break
        d = _moving_mean(diff, w) if mult > 1 else diff
        runs = np.empty(d.shape[0], np.int64)
        n = slicer_runs(d, 0.5 * float(np.median(np.abs(d))), runs)
        if n < 8:
            continue
        rough = symbol_period(runs[:n].astype(np.float64))[0]
        if w > TONE_MAX_SMOOTHING * LATTICE_SPAN[1] * rough:
            continue        # no period the lattice search may find is long enough
        period, rayleigh = lattice_period(runs[:n], rough)
        if w <= TONE_MAX_SMOOTHING * period and rayleigh > best[1]:
            best = (period, rayleigh)
    if best[1] < TONE_MIN_RAYLEIGH:
        return None
    return {"tone_deviation_hz": round(0.5 * float(spacing), 1),
            "tone_symbol_rate_hz": round(sample_rate_hz / best[0], 1),
            "tone_rayleigh": round(best[1], 1)}
