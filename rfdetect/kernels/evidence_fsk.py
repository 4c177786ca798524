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
from .resample import firwin_lowpass

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


@lru_cache(maxsize=32)
def _lowpass(cutoff: float) -> np.ndarray:
    return firwin_lowpass(33, cutoff)


def _sorted_median(a: np.ndarray) -> float:
    m = a.shape[0]
    return 0.5 * (float(a[(m - 1) // 2]) + float(a[m // 2]))


def two_level_centre(d: np.ndarray, iterations: int = 8) -> float:
    """Midpoint between the two frequency levels (the carrier, however unbalanced the bits).

    The median sits inside the more frequent level when ones and zeros are not equal in
    number (a preamble, a sync word, a payload of mostly one bit): with h >> 1 it puts
    the carrier on a tone, halves the measured deviation and blinds the slicer.  Two-means
    from the median: split at the centre, move it to the midpoint of the halves' means
    (means, so a level holding 80 % of the samples cannot keep the split inside it) until
    the split stays put, then a last step with medians, which noise clicks do not pull.
    One sort and running sums make each step a binary search."""
    s = np.sort(np.asarray(d, np.float64))
    n = s.shape[0]
    if n == 0:
        return 0.0
    sums = np.concatenate(([0.0], np.cumsum(s)))
    centre = _sorted_median(s)
    split = -1
    for _ in range(iterations):
        k = int(np.searchsorted(s, centre, side="right"))       # s[:k] <= centre < s[k:]
        if k == 0 or k == n:
            return centre
        if k == split:
            break
        split = k
        centre = 0.5 * (sums[k] / k + (sums[n] - sums[k]) / (n - k))
    k = int(np.searchsorted(s, centre, side="right"))
    if k == 0 or k == n:
        return centre
    return 0.5 * (_sorted_median(s[:k]) + _sorted_median(s[k:]))


def symbol_period(runs: np.ndarray) -> tuple[float, float]:
    """(symbol period in samples, share of runs within 0.25 of a whole multiple of it)."""
    t0 = np.percentile(runs, 30)
    sel = runs[(runs > 0.5 * t0) & (runs < 1.5 * t0)]
    t = float(sel.mean()) if sel.size else float(t0)
    r = runs / t
    return t, float(np.mean(np.abs(r - np.round(r)) < 0.25))


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


def fsk_evidence(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bandwidth_hz: float,
                 *, min_runs: int = 8) -> dict | None:
    """Deviation (Hz), symbol rate (Hz), ``fit`` (share of runs whole symbols: about 0.5
    for noise, 0.7-0.9 for FSK at 10-20 dB), ``bimodality`` (E[d^2]^2/E[d^4]: 1 for
    two clean levels, 0.56 for a chirp's uniform sweep, 0.33 for noise), and where the
    carrier is on its ``carrier_deviation_hz`` and ``modulation_index`` (see CARRIER_FLOOR)."""
    bw = max(float(bandwidth_hz), 5e3)
    # An integer decimation to about 4x the bandwidth (the low-pass below is the
    # anti-alias filter too): cheap, and the discriminator needs no exact rate.
    step = max(1, int(sample_rate_hz // (4.0 * bw)))
    rate = sample_rate_hz / step
    x = np.asarray(samples, np.complex128)
    if offset_hz:
        x = x * np.exp(-2j * np.pi * offset_hz / sample_rate_hz * np.arange(x.shape[0]))
    if step > 1:
        x = np.convolve(x, _lowpass(round(0.9 / step, 3)), "same")[::step]
    if x.shape[0] < 64:
        return None
    x = np.convolve(x, _lowpass(min(0.99, round(0.6 * bw / (rate / 2), 3))), "same")
    freq = np.empty(x.shape[0] - 1, np.float64)
    discriminator(np.ascontiguousarray(x), freq)
    smooth = max(1, int(round(rate / bw / 2)))
    box = np.ones(smooth) / smooth
    d = np.convolve(freq * (rate / (2 * np.pi)), box, "same")
    centre = two_level_centre(d)
    d = d - centre
    dev = float(np.median(np.abs(d)))
    m2, m4 = float(np.mean(d * d)), float(np.mean(d ** 4))
    bimodality = m2 * m2 / m4 if m4 > 0 else 0.0
    runs = np.empty(d.shape[0], np.int64)
    n = slicer_runs(d, 0.5 * dev, runs)
    out = {"deviation_hz": round(dev, 1), "symbol_rate_hz": None, "fit": 0.0,
           "bimodality": round(bimodality, 3), "centre_offset_hz": round(centre, 1), "runs": int(n)}
    flat = index = dev_on = 0.0
    if n >= min_runs:
        period, fit = symbol_period(runs[:n].astype(np.float64))
        out["symbol_rate_hz"] = round(rate / period, 1)
        out["fit"] = round(fit, 3)
        # FSK holds its level within a symbol; a chirp's frequency keeps moving.
        lag = max(1, int(round(period / 4)))
        if d.shape[0] > lag:
            flat = float(np.mean(np.abs(d[lag:] - d[:-lag]) < 0.3 * dev))
        # The deviation where the carrier is on: OOK's pulses are one carrier, and the
        # noise between them lends it levels and runs.
        on = d[carrier_present(np.convolve(np.abs(x) ** 2, box, "same"), CARRIER_SMOOTHING * smooth)]
        dev_on = float(np.median(np.abs(on - two_level_centre(on)))) if on.shape[0] else 0.0
        index = 2.0 * dev_on * period / rate
    out["flatness"] = round(flat, 3)
    out["carrier_deviation_hz"] = round(dev_on, 1)
    out["modulation_index"] = round(index, 3)
    out["confirmed"] = out["fit"] >= 0.68 and bimodality >= 0.4 and flat >= 0.12 and index >= MIN_INDEX \
        and dev_on >= CARRIER_DEVIATION_SHARE * dev
    return out


def carrier_present(power: np.ndarray, width: int) -> np.ndarray:
    """Discriminator samples (len(power) - 1) inside a stretch of ``width`` samples whose
    power is all at least CARRIER_FLOOR of the burst's high level (its
    CARRIER_PERCENTILE-th percentile): noise between OOK pulses rises above that floor
    in short spikes only, and the frequency at a pulse's edges is half the noise's."""
    k = (power.shape[0] - 1) * CARRIER_PERCENTILE // 100
    high = power >= CARRIER_FLOOR * float(np.partition(power, k)[k])
    inside = np.convolve(high.astype(np.float64), np.ones(width), "same") >= width - 0.5
    return inside[1:] & inside[:-1]


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
