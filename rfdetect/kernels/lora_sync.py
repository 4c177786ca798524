"""LoRa sync word, measured from a packet's IQ.

A LoRa frame (rfdetect/simulate/lora.py) is N preamble up-chirps of value 0, two sync
up-chirps of values (high nibble << 3) and (low nibble << 3) mod 2^SF, 2.25 down-chirps
(the start frame delimiter, SFD), then the data.  LoRaWAN public networks use 0x34
(symbols 24, 32); 0x12 (8, 16) is the default private word, e.g. ExpressLRS's.

A one-symbol window on an up-chirp, dechirped, is one tone (two: the chirp's two sides of
its wrap, a bandwidth apart).  Timing and carrier offsets move every window's tone alike,
so the preamble's tone k0 is the zero the sync symbols are read against.  The preamble is
periodic: a window anywhere in it is one tone, so the preamble alone cannot fix the symbol
boundary; the windows after it can: on the right boundary each holds one sync symbol
whole, on a wrong one two symbols share it.

The windows are taken at twice the chirp bandwidth and the powers of the wrap's two tones
summed (as ``dechirp.fold_power`` does).  At exactly the bandwidth the two tones alias onto
one bin, but with a phase step between them unless the wrap falls on a sample: with a
fractional timing offset a symbol wrapping mid-window (0x34's 24 and 32) lost its peak's
shape, and one in ten packets at +10 dB its confirmation.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

from .dechirp import conj_chirp, dechirp_fft_ac, windows_ac
from .evidence_lora import band_to_rate

STEPS = 8                # symbol-boundary grid: 1/8 symbol (a sync window keeps >= 15/16 of its symbol)
PAD = 4                  # FFT zero padding: a quarter bin, so k0 and the sync tones share their fraction
GUARD_BINS = 2           # a margin's next-highest bin lies further: a tone split in halves by its wrap
                         # has a main lobe +-2 bins wide
MIN_PREAMBLE = 4         # windows on one tone (+-1 bin) that make a preamble (noise: ~5e-6 a window)
MAX_SEARCH_SYMBOLS = 64  # the packet's start: leading noise and preambles up to ~60 symbols
SYNC_TOLERANCE = 2.0     # bins a sync value may lie from a multiple of 8
# A sync window's margin: its peak over the strongest bin more than GUARD_BINS from it.  On a
# packet at 0 dB in-band it was 3.7-30 (the lowest for 0x34 at SF7, whose tones the wrap
# splits most), at +10 dB 8-60.  On noise it is the ratio of the top two of ~2^SF bins:
# over 100 000 noise windows at SF7 (50 000 at SF8) its 99.9th percentile is 2.14 (1.97),
# its 99.99th 2.51 (2.23); 1.2e-4 (2e-5) of them reach 2.5.  Both sync windows must.
MARGIN_THRESHOLD = 2.5
SFD_CHUNK = 4            # windows dechirped for the delimiter at a time (_first_down_chirp)
# Below this spreading factor a sync value (nibble << 3) wraps modulo 2^SF and the nibbles'
# top bits are lost: a word is read there, but never confirmed.
MIN_CONFIRMED_SF = 7


@njit(cache=True)
def window_peaks(x, ref, starts, nb, guard, bins, peaks, margins):
    """For each window x[s : s+n] (s in ``starts``, n = len(ref)), less its mean, dechirped by
    ``ref``: the FFT of 2*nb bins, its halves' powers summed into nb bins (at twice the chirp
    bandwidth a chirp's tone and its wrap's lie half the FFT apart); the strongest of them,
    its power over n, and that power's ratio to the strongest more than ``guard`` bins from it
    (circularly)."""
    n = ref.shape[0]
    buf = np.zeros(2 * nb, np.complex128)
    power = np.empty(nb)
    for w in range(starts.shape[0]):
        spec = dechirp_fft_ac(x, ref, starts[w], buf)
        best = 0
        for i in range(nb):
            u, v = spec[i], spec[i + nb]
            power[i] = u.real * u.real + u.imag * u.imag + v.real * v.real + v.imag * v.imag
            if power[i] > power[best]:
                best = i
        second = 0.0
        for i in range(nb):
            d = abs(i - best)
            if min(d, nb - d) > guard and power[i] > second:
                second = power[i]
        bins[w] = best
        peaks[w] = power[best] / n
        margins[w] = power[best] / second if second > 0.0 else np.inf


def window_peaks_numpy(x, ref, starts, nb, guard, bins, peaks, margins):
    n = ref.shape[0]
    spec = np.abs(np.fft.fft(windows_ac(x, starts, n) * ref, n=2 * nb, axis=1)) ** 2
    power = spec[:, :nb] + spec[:, nb:]
    bins[:] = power.argmax(axis=1)
    peaks[:] = power.max(axis=1) / n
    d = np.abs(np.arange(nb)[None, :] - bins[:, None])
    second = np.where(np.minimum(d, nb - d) > guard, power, 0.0).max(axis=1)
    with np.errstate(divide="ignore"):
        margins[:] = np.where(second > 0, power.max(axis=1) / second, np.inf)


def _longest_run(bins: np.ndarray, nb: int) -> tuple[int, int]:
    """(first, last) window of the longest run of consecutive windows whose bins lie within one
    bin (PAD of nb) of the one before."""
    d = np.abs(np.diff(bins))
    same = np.minimum(d, nb - d) <= PAD
    best, start = (0, -1), 0
    for j in range(1, len(bins) + 1):
        if j == len(bins) or not same[j - 1]:
            if j - start > best[1] - best[0] + 1:
                best = (start, j - 1)
            start = j
    return best


def _first_down_chirp(x, ref_down, starts, j0, up_margins, nb) -> list[int]:
    """[the first window from ``j0`` on that holds a down-chirp standing out more than the
    up-chirp there], or [].  The windows are dechirped for down-chirps SFD_CHUNK at a time
    from ``j0``: the delimiter follows the preamble's sync symbols, so the rest of the
    windows are seldom needed (each window is independent: the same answer as all of them
    dechirped at once)."""
    for a in range(j0, starts.shape[0], SFD_CHUNK):
        b = min(a + SFD_CHUNK, starts.shape[0])
        bins, peaks, margins = np.empty(b - a, np.int64), np.empty(b - a), np.empty(b - a)
        window_peaks(x, ref_down, np.ascontiguousarray(starts[a:b]), nb, GUARD_BINS * PAD, bins, peaks, margins)
        hit = np.flatnonzero((margins >= MARGIN_THRESHOLD) & (margins > up_margins[a:b]))
        if hit.size:
            return [a + int(hit[0])]
    return []


def lora_sync_word(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bw_hz: float,
                   sf: int) -> dict | None:
    """The sync word of the LoRa packet in ``samples`` (one channel; the packet centred
    ``offset_hz`` from the samples' centre, chirps of ``bw_hz`` and spreading factor ``sf``).

    Returns {"sync_word", "sync_symbols" (the two sync values against the preamble, in
    bins), "preamble_symbols", "margin" (the weaker sync peak over its window's next-highest
    bin, power), "confirmed"}, or None when no preamble followed by two symbols is found.
    ``confirmed``: both margins >= MARGIN_THRESHOLD, both values within SYNC_TOLERANCE of a
    multiple of 8, the SFD right after them (else a preamble window that noise split from
    its run could pass for a sync symbol of value 0), and SF >= MIN_CONFIRMED_SF (below, nibble << 3 wraps
    modulo 2^SF and the nibbles' top bits are lost)."""
    if sample_rate_hz < bw_hz * 0.999:
        return None
    # Twice the chirp bandwidth, a whole number of samples: the rate is then exact and the
    # chirps' bins do not drift over the packet.
    rate_hz = 2.0 * bw_hz
    q = Fraction(rate_hz / sample_rate_hz).limit_denominator(1000).denominator
    x = np.asarray(samples)
    x = band_to_rate(x[:x.shape[0] - x.shape[0] % q], sample_rate_hz, offset_hz, rate_hz)
    m = 1 << sf
    n = 2 * m
    nb = PAD * m
    hop = n // STEPS
    n_windows = min((x.shape[0] - n) // hop + 1, MAX_SEARCH_SYMBOLS * STEPS)
    if n_windows < (MIN_PREAMBLE + 2) * STEPS:
        return None
    x = np.ascontiguousarray(x, np.complex128)
    starts = np.arange(n_windows, dtype=np.int64) * hop
    ref = conj_chirp(n, bw_hz * bw_hz / m, rate_hz)
    up = (np.empty(n_windows, np.int64), np.empty(n_windows), np.empty(n_windows))
    window_peaks(x, ref, starts, nb, GUARD_BINS * PAD, *up)
    ref_down = np.conj(ref)

    best = None
    for phase in range(STEPS):
        bins, peaks, margins = (a[phase::STEPS] for a in up)
        first, last = _longest_run(bins, nb)
        if last - first + 1 < MIN_PREAMBLE:
            continue
        # The SFD is the first down-chirp after the preamble's start; the two windows before it
        # are the sync symbols (a sync value 0 has joined the run).  Without it (cut off, or
        # too weak), the two after the run.
        sfd = _first_down_chirp(x, ref_down, starts[phase::STEPS], first + MIN_PREAMBLE + 2, margins, nb)
        s1 = sfd[0] - 2 if sfd else last + 1
        if s1 + 2 > len(bins):
            continue
        # On the right boundary the sync windows hold their symbols whole: the strongest peaks.
        score = (bool(sfd), min(peaks[s1], peaks[s1 + 1]))
        if best is None or score > best[0]:
            best = (score, bins, peaks, margins, first, min(last, s1 - 1), s1)
    if best is None:
        return None
    (sfd, _), bins, peaks, margins, first, last, s1 = best
    # The run's first window may hold mostly noise and a little of the first up-chirp.
    whole = np.flatnonzero(peaks[first:last + 1] >= 0.5 * np.median(peaks[first:last + 1])) + first
    wrapped = (bins[whole] - bins[whole[0]] + nb // 2) % nb - nb // 2
    k0 = bins[whole[0]] + wrapped.mean()
    values = ((bins[s1:s1 + 2] - k0) / PAD) % m
    nearest = np.round(values / 8) * 8
    nibbles = (nearest % m // 8).astype(int) % 16
    margin = float(min(margins[s1], margins[s1 + 1]))
    confirmed = bool(sfd and sf >= MIN_CONFIRMED_SF and margin >= MARGIN_THRESHOLD
                     and np.all(np.abs(values - nearest) <= SYNC_TOLERANCE))
    return {"sync_word": int(nibbles[0] << 4 | nibbles[1]),
            "sync_symbols": [int(round(v)) % m for v in values],
            "preamble_symbols": int(s1 - whole[0]),
            "margin": round(margin, 3),
            "confirmed": confirmed}
