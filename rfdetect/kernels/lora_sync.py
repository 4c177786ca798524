"""LoRa sync word, measured from a packet's IQ.

A LoRa frame (rfdetect/simulate/lora.py) is N preamble up-chirps of value 0, two sync
up-chirps of values (high nibble << 3) and (low nibble << 3) mod 2^SF, 2.25 down-chirps
(the start frame delimiter, SFD), then the data.  LoRaWAN public networks use 0x34
(symbols 24, 32); 0x12 (8, 16) is the default private word, e.g. ExpressLRS's.

At the chirp bandwidth a symbol is 2^SF samples, and any one-symbol window on an up-chirp
dechirps to one tone.  Timing and carrier offsets move every window's tone by the same
amount, so the preamble's tone k0 is the zero the sync symbols are read against.  The
preamble is periodic: a window anywhere in it is one tone, so the preamble alone cannot
fix the symbol boundary.  The windows after it can: on the right boundary each holds one
sync symbol whole, on a wrong one two symbols share its energy.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

from .dechirp import dechirp_fft_ac, windows_ac
from .evidence_lora import band_to_rate, chirp_reference

STEPS = 8                    # symbol-boundary grid: 1/8 symbol (a sync window keeps >= 15/16 of its symbol)
PAD = 4                      # FFT zero padding: bins to a quarter, so k0 and the sync tones share its fraction
MIN_PREAMBLE = 4             # windows on one tone that make a preamble (noise, SF7: ~1e-5 a start)
MAX_SEARCH_SYMBOLS = 64      # the packet's start: leading noise and preambles up to ~60 symbols
SYNC_TOLERANCE = 2.0         # bins a sync value may lie from a multiple of 8
# A sync window's margin: its peak over the strongest bin more than one bin from it.  On a
# clean tone it is the Dirichlet kernel's first sidelobe, about 21 (13 dB); on noise it is the
# ratio of the top two of ~2^SF exponential bins: over 20 000 noise windows at SF7 and SF8
# (padded as here) its 99th percentile is 1.9 and its 99.9th 2.3 (SF8: 1.8, 2.1), while at
# 0 dB in-band a sync window's is 9-21.  3.0 lets a noise window through about once in
# 10^4-10^5, two in a row (both sync windows) far less often.
MARGIN_THRESHOLD = 3.0


@njit(cache=True)
def window_peaks(x, ref, starts, nb, guard, bins, peaks, margins):
    """For each window x[s : s+n] (s in ``starts``, n = len(ref)), less its mean, dechirped by
    ``ref`` and FFT'd zero-padded to ``nb``: its strongest bin, that bin's power over n, and the
    power's ratio to the strongest bin more than ``guard`` bins from it (circularly)."""
    n = ref.shape[0]
    buf = np.zeros(nb, np.complex128)
    power = np.empty(nb)
    for w in range(starts.shape[0]):
        spec = dechirp_fft_ac(x, ref, starts[w], buf)
        best = 0
        for i in range(nb):
            power[i] = spec[i].real * spec[i].real + spec[i].imag * spec[i].imag
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
    power = np.abs(np.fft.fft(windows_ac(x, starts, n) * ref, n=nb, axis=1)) ** 2
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
    best, start, first = (0, -1), 0, 0
    for j in range(1, len(bins) + 1):
        if j == len(bins) or not same[j - 1]:
            if j - start > best[1] - best[0] + 1:
                best = (start, j - 1)
            start = j
    first, last = best
    return first, last


def lora_sync_word(samples: np.ndarray, sample_rate_hz: float, offset_hz: float, bw_hz: float,
                   sf: int) -> dict | None:
    """The sync word of the LoRa packet in ``samples`` (one channel; the packet centred
    ``offset_hz`` from the samples' centre, chirps of ``bw_hz`` and spreading factor ``sf``).

    Returns {"sync_word", "sync_symbols" (the two sync values against the preamble, in
    bins), "preamble_symbols", "margin" (the weaker sync peak over its window's next-highest
    bin, power), "confirmed"}, or None when no preamble followed by two symbols is found.
    ``confirmed``: both margins >= MARGIN_THRESHOLD, both values within SYNC_TOLERANCE of a
    multiple of 8, the SFD right after them (else a preamble window that noise split from
    its run could pass for a sync symbol of value 0), and SF >= 7 (below, nibble << 3 wraps
    modulo 2^SF and the nibbles' top bits are lost)."""
    if sample_rate_hz < bw_hz * 0.999:
        return None
    # A whole number of output samples at exactly bw_hz: band_to_rate's rate is then exact,
    # and the chirps' bins do not drift over the packet.
    q = Fraction(bw_hz / sample_rate_hz).limit_denominator(1000).denominator
    x = np.asarray(samples)
    x = band_to_rate(x[:x.shape[0] - x.shape[0] % q], sample_rate_hz, offset_hz, bw_hz)
    m = 1 << sf
    nb = PAD * m
    hop = m // STEPS
    n_windows = min((x.shape[0] - m) // hop + 1, MAX_SEARCH_SYMBOLS * STEPS)
    if n_windows < (MIN_PREAMBLE + 2) * STEPS:
        return None
    x = np.ascontiguousarray(x, np.complex128)
    starts = np.arange(n_windows, dtype=np.int64) * hop
    up = (np.empty(n_windows, np.int64), np.empty(n_windows), np.empty(n_windows))
    down = (np.empty(n_windows, np.int64), np.empty(n_windows), np.empty(n_windows))
    window_peaks(x, chirp_reference(m, 1), starts, nb, PAD, *up)
    window_peaks(x, chirp_reference(m, -1), starts, nb, PAD, *down)

    best = None
    for phase in range(STEPS):
        bins, peaks, margins = (a[phase::STEPS] for a in up)
        down_margins = down[2][phase::STEPS]
        first, last = _longest_run(bins, nb)
        if last - first + 1 < MIN_PREAMBLE:
            continue
        # The SFD is the first down-chirp after the preamble's start; the two windows before it
        # are the sync symbols (a sync value 0 has joined the run).  Without it (cut off, or
        # too weak), the two after the run.
        is_down = (down_margins >= MARGIN_THRESHOLD) & (down_margins > margins)
        sfd = [j for j in range(first + MIN_PREAMBLE + 2, len(bins)) if is_down[j]][:1]
        s1 = sfd[0] - 2 if sfd else last + 1
        if s1 + 2 > len(bins):
            continue
        # On the right boundary the sync windows hold their symbols whole: the strongest peaks.
        score = min(peaks[s1], peaks[s1 + 1])
        if best is None or score > best[0]:
            best = (score, bins, margins, first, min(last, s1 - 1), s1, bool(sfd))
    if best is None:
        return None
    _, bins, margins, first, last, s1, sfd = best
    wrapped = (bins[first:last + 1] - bins[first] + nb // 2) % nb - nb // 2
    k0 = bins[first] + wrapped.mean()
    values = ((bins[s1:s1 + 2] - k0) / PAD) % m
    nearest = np.round(values / 8) * 8
    nibbles = (nearest % m // 8).astype(int) % 16
    margin = float(min(margins[s1], margins[s1 + 1]))
    confirmed = bool(sfd and sf >= 7 and margin >= MARGIN_THRESHOLD
                     and np.all(np.abs(values - nearest) <= SYNC_TOLERANCE))
    return {"sync_word": int(nibbles[0] << 4 | nibbles[1]),
            "sync_symbols": [int(round(v)) % m for v in values],
            "preamble_symbols": int(s1 - first),
            "margin": round(margin, 3),
            "confirmed": confirmed}
