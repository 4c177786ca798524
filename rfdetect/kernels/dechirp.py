"""Wideband dechirp: LoRa preambles found in the IQ directly, at the recording's rate.

Multiplying the wideband IQ by a conjugate chirp of the same sweep rate
(BW^2 / 2^SF) turns an up-chirp of any carrier into a tone for as long as the
chirp does not wrap, and into a second tone BW lower after the wrap; one
symbol-long window then holds the symbol's energy in those two bins (out of
``n`` = symbol length at the recording rate): the 2^SF processing gain that
energy detection lacks.  A preamble repeats the same up-chirp, so the same two
bins light up in windows one symbol apart; summing them over ``k_windows``
such windows, against the window's mean bin, is the search statistic.

``fold_power`` (dechirp, FFT, fold of the two bins) and ``integrate_peaks``
(sum over windows one symbol apart, peak against mean) are the search of
:class:`rfdetect.detect.chirp.ChirpDetector`; ``confirm_preamble`` (a
candidate's symbol boundary and tone) and ``follow_packet`` (a packet's
symbols to its end) the rest of it.  ``*_numpy`` are their twins.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from .. import imports

rocket_fft = imports.rocket_fft()     # registers np.fft with Numba


@lru_cache(maxsize=64)
def conj_chirp(n: int, sweep_rate_hz_per_s: float, sample_rate_hz: float) -> np.ndarray:
    """exp(-j pi k t^2), t = i / fs, i < n: the window's reference (its frequency starts at 0)."""
    t = np.arange(n, dtype=np.float64) / sample_rate_hz
    return np.exp(-1j * np.pi * sweep_rate_hz_per_s * t * t).astype(np.complex64)


@njit(cache=True, nogil=True, inline="always")
def dechirp_fft(x, ref, start, buf):
    """FFT of x[start : start+n] * ref, n = len(ref), through ``buf`` (len(buf) >= n, zero
    beyond n): the dechirped window's spectrum."""
    for i in range(ref.shape[0]):
        buf[i] = x[start + i] * ref[i]
    return np.fft.fft(buf)


# An RTL-SDR's DC offset is a strong tone at 0 Hz (-45 to -30 dBFS against noise at -34 to
# -26).  Dechirped, any tone is a chirp whose spectrum has the same ripple in every window,
# which the search and the confirmation take for a preamble's tone: 860 packets in 20 s of
# noise beside one LoRaWAN node, none of them there.  The chirp detector's windows therefore
# lose their mean first (a chirp's own mean over a symbol is about 1/sqrt(n) of it).
@njit(cache=True, nogil=True, inline="always")
def window_mean(x, start, n):
    """Mean of x[start : start+n], summed in double precision."""
    re, im = 0.0, 0.0
    for i in range(n):
        re += x[start + i].real
        im += x[start + i].imag
    return complex(re / n, im / n)


@njit(cache=True, nogil=True, inline="always")
def dechirp_fft_ac(x, ref, start, buf):
    """dechirp_fft of the window less its mean."""
    m = window_mean(x, start, ref.shape[0])
    for i in range(ref.shape[0]):
        buf[i] = (x[start + i] - m) * ref[i]
    return np.fft.fft(buf)


def windows_ac(x: np.ndarray, starts, n: int) -> np.ndarray:
    """NumPy twin of the windows dechirp_fft_ac takes: rows x[s : s+n] less their means."""
    w = x[np.asarray(starts)[:, None] + np.arange(n)[None, :]]
    return w - w.astype(np.complex128).mean(axis=1, keepdims=True)


FOLD_BATCH = 64              # windows per FFT call of fold_power (one call per window costs more)


@njit(cache=True)
def fold_power(x, ref, hop, fold, out):
    """out[w, k] = |F[k]|^2 + |F[k - fold]|^2 (indices modulo m), F = the m-point FFT of
    (x[w*hop : w*hop+n] less its mean) * ref (zero-padded to m = out.shape[1] >= n, a size the FFT is fast
    at), normalised by n; n = len(ref), ``fold`` = the chirp bandwidth in bins of m."""
    n = ref.shape[0]
    m = out.shape[1]
    rows = np.zeros((min(FOLD_BATCH, out.shape[0]), m), np.complex64)
    inv = np.float32(1.0 / n)
    for w0 in range(0, out.shape[0], FOLD_BATCH):
        count = min(FOLD_BATCH, out.shape[0] - w0)
        for w in range(count):
            a = (w0 + w) * hop
            mean = window_mean(x, a, n)
            for i in range(n):
                rows[w, i] = (x[a + i] - mean) * ref[i]
        spec = np.fft.fft(rows)
        for w in range(count):
            for i in range(m):
                j = i - fold
                if j < 0:
                    j += m
                u, v = spec[w, i], spec[w, j]
                out[w0 + w, i] = (u.real * u.real + u.imag * u.imag + v.real * v.real + v.imag * v.imag) * inv


def fold_power_numpy(x, ref, hop, fold, out):
    n = ref.shape[0]
    w = out.shape[0]
    p = np.abs(np.fft.fft(windows_ac(x, np.arange(w) * hop, n) * ref, n=out.shape[1], axis=1)) ** 2 / n
    out[:] = p + np.roll(p, fold, axis=1)


@njit(cache=True)
def integrate_peaks(q, k_windows, step, best_bin, ratio, drift=0.0, row0=0):
    """For rows w >= (k_windows - 1) * step of q: S = sum_j q[w - j*step] (j < k_windows);
    ratio[w'] = max S / mean S and best_bin[w'] = argmax S, w' = w - (k_windows - 1) * step.
    (One running sum per phase w % step: each row is added once and removed once.)
    ``drift``: bins a tone moves on from one window to the one a symbol later (windows a
    whole number of samples apart drift off a fractional symbol); each row is summed moved
    back by round(drift * (row0 + w) / step) bins, ``row0`` the absolute index of row 0,
    and best_bin is the peak's bin in row w."""
    n = q.shape[1]
    first = (k_windows - 1) * step
    acc = np.zeros((step, n), np.float64)
    for w in range(q.shape[0]):
        s = acc[w % step]
        sh = _drift_bins(drift, row0 + w, step, n)
        _add_moved(s, q[w], sh, 1.0)
        if w < first:
            continue
        best = 0
        total = 0.0
        for i in range(n):
            total += s[i]
            if s[i] > s[best]:
                best = i
        best_bin[w - first] = (best + sh) % n
        ratio[w - first] = s[best] / (total / n) if total > 0.0 else 0.0
        _add_moved(s, q[w - first], _drift_bins(drift, row0 + w - first, step, n), -1.0)


@njit(cache=True, nogil=True)
def _drift_bins(drift, row, step, n):
    return int(round(drift * (row // step))) % n


@njit(cache=True, nogil=True, inline="always")
def _add_moved(s, row, sh, sign):
    """s[(i - sh) % n] += sign * row[i], 0 <= sh < n, in two runs (no modulo per bin)."""
    n = row.shape[0]
    for i in range(sh, n):
        s[i - sh] += sign * row[i]
    for i in range(sh):
        s[n - sh + i] += sign * row[i]


def integrate_peaks_numpy(q, k_windows, step, best_bin, ratio, drift=0.0, row0=0):
    first = (k_windows - 1) * step
    rows = q.shape[0] - first
    if rows <= 0:
        return
    n = q.shape[1]
    sh = np.round(drift * ((row0 + np.arange(q.shape[0])) // step)).astype(np.int64) % n
    moved = np.array([np.roll(q[w], -sh[w]) for w in range(q.shape[0])])
    s = np.zeros((rows, n), np.float64)
    for j in range(k_windows):
        s += moved[first - j * step: first - j * step + rows]
    best = np.argmax(s, axis=1)
    best_bin[:rows] = (best + sh[first:]) % n
    mean = s.mean(axis=1)
    peak = s[np.arange(rows), best]
    ratio[:rows] = np.where(mean > 0, peak / np.where(mean > 0, mean, 1.0), 0.0)


# -- confirmation of a search candidate, and a packet's symbols ------------------------------
# (Shared by the kernels below, their twins, and rfdetect/detect/chirp.py.)
OFFSETS = 8                  # symbol-boundary grid of the confirmation (1/8 symbol)
PREAMBLE_TONE = 4.0          # a preamble symbol before the confirmed ones: its tone this far above noise
MAX_PREAMBLE_BACK = 4        # symbols looked at before the confirmed windows
RUN_SYMBOLS = 4              # symbols averaged to decide that a packet goes on
NEXT_PREAMBLE = 3            # symbols on the preamble's tone after data that start a new packet
END_MARGIN = 1.5             # a packet ends after its last symbol this far above the run threshold
DATA_GRID_SHIFT = 0.25       # the start frame delimiter lasts 2.25 symbols: the data's grid is the
                             # preamble's shifted by a quarter symbol
SFD_THRESHOLD = 12.0         # two delimiter peaks in a row (noise: 2.2 each, 0.3 % of pairs reach
                             # 12; a delimiter at -10 dB in-band, SF6: about 7.4 each)

# A strong signal that is no chirp of this sweep rate (a LoRa chirp of another rate, a tone,
# OOK pulses) is spread by the dechirp over about a bandwidth of bins, with a ripple that
# repeats in every window; against the whole window's mean bin its peaks pass the
# confirmation (a 26 dB LoRaWAN packet at SF12 / 125 kHz, dechirped at 500 kHz: a thousand
# confirmations in 3 s; an 8 dB gateway, or OOK remotes, some a second).  Where the bins
# within a bandwidth of the tone (each window's strongest main lobe left out: a run may
# reach the sync word's tones) stand above the window's mean by more than SPREAD_Z standard
# deviations of that mean, the tone must pass SPREAD_MARGIN times the confirmation's
# threshold against their level: the ripple's peaks are no noise, they repeat in every
# window, and most stand up to 1.5 times the threshold above their level, a few up to 2
# (of the 321 confirmations a margin of 1 let through in two crowded 868 MHz recordings,
# 269 stood raised, 7 of them at 1.5-2 times).  ExpressLRS 900 and 2.4 at -12 to 0 dB: 3 of
# 787 confirmations turned away, all at 0 dB; the ExpressLRS 900 packets found stayed the
# same.  Not measured against the local level always: its own noise would turn away
# preambles just above the threshold (12 of 229 at -10 dB).
SPREAD_Z = 3.0
SPREAD_MARGIN = 2.0
# Less raised, by LOCAL_Z standard deviations or more, the level still holds more than noise
# (a weak spread signal: the splatter of an OOK remote's keying, a LoRaWAN packet's slower
# chirps), and the tone must pass its way's threshold against it (once: their peaks do not
# repeat as the ripple of a strong one does).  In 60 s of crowded 868 MHz negatives 6 of
# the 11 false SF5/SF6 packets the power and coherence ways confirmed stood 2.1-2.9
# deviations raised and under their threshold against the level; the packets of mLRS (SF5)
# and ExpressLRS 900 (SF6) at -10 dB stood at most 1.05 raised (172 confirmations of 14
# trials), those of ExpressLRS 2.4 (SF5, 20 MS/s) at -12 dB up to 1.8 (at 1.5, 2 of 20 trials
# lost their name).
LOCAL_Z = 2.0

# confirm_preamble's out[0]
CONFIRM_OUT_OF_RANGE, CONFIRM_WEAK, CONFIRM_ONE_WINDOW, CONFIRM_OK, CONFIRM_SPREAD = 0, 1, 2, 3, 4
# follow_packet's state: st[...] (ST_COUNT of them)
(ST_NEXT, ST_SYMBOLS, ST_GOOD, ST_DATA_SEEN, ST_ON_TONE, ST_TONE_AT, ST_LAST_GOOD, ST_DONE,
 ST_FOLLOWED, ST_SHIFT, ST_COUNT) = range(11)


@njit(cache=True, nogil=True)
def _candidate_bin(o, c, k_top, k_bw, nb):
    """The c-th (0..5) bin tried at boundary offset ``o``: the chirp's start frequency is the
    peak's upper tone or the one a bandwidth below (c // 3), its bin or a neighbour (c % 3)."""
    k = int(round(k_top - (c // 3) * k_bw - k_bw * o / OFFSETS))
    return (k + c % 3 - 1) % nb


@njit(cache=True, nogil=True)
def level_around(x, ref, u, k_win, nb, k, k_bw, buf, symbol_samples):
    """The mean bin within a bandwidth (``k_bw`` bins) of bin ``k`` in the windows ending at u
    (k_win of them, one symbol apart), each window's strongest main lobe left out, and that
    mean's relative standard deviation in noise."""
    n = ref.shape[0]
    half = min(int(round(k_bw)), (nb - 1) // 2)
    lobe = int(round(nb / n))                  # the main lobe: one unpadded bin either side
    m = 2 * half + 1
    row = np.zeros(m)
    level, count = 0.0, 0
    for j in range(k_win):
        spec = dechirp_fft_ac(x, ref, _symbols_before(u, j, symbol_samples), buf)
        for i in range(m):
            v = spec[(k - half + i) % nb]
            row[i] = (v.real * v.real + v.imag * v.imag) / n
        top = np.argmax(row)
        for i in range(m):
            if abs(i - top) > lobe:
                level += row[i]
                count += 1
    # (Padded bins are correlated: a mean of them varies as one of count * n / nb independent ones.)
    return level / max(count, 1), math.sqrt(nb / n / max(count, 1))


@njit(cache=True, nogil=True, inline="always")
def _spread(level, rel_sd, noise, peak, threshold, k_win):
    return level > noise * (1.0 + SPREAD_Z * rel_sd) and peak < SPREAD_MARGIN * threshold * k_win * level


@njit(cache=True, nogil=True, inline="always")
def _under_local_level(level, rel_sd, noise, peak, threshold, k_win):
    return level > noise * (1.0 + LOCAL_Z * rel_sd) and peak < threshold * k_win * level


@njit(cache=True, nogil=True)
def spread_around(x, ref, u, k_win, nb, k, k_bw, noise, peak, threshold, buf, symbol_samples):
    """True when, in the windows ending at u (k_win of them, one symbol apart), the bins
    within a bandwidth (``k_bw`` bins) of bin ``k`` stand above ``noise`` (the windows' mean
    bin) with the tone's ``peak`` (its sum over the windows) under SPREAD_MARGIN *
    ``threshold`` times their level (SPREAD_Z)."""
    level, rel_sd = level_around(x, ref, u, k_win, nb, k, k_bw, buf, symbol_samples)
    return _spread(level, rel_sd, noise, peak, threshold, k_win)


def level_around_numpy(x, ref, u, k_win, nb, k, k_bw, symbol_samples):
    n = ref.shape[0]
    half = min(int(round(k_bw)), (nb - 1) // 2)
    lobe = int(round(nb / n))
    p = (np.abs(np.fft.fft(windows_ac(x, u - _symbols_back(np.arange(k_win), symbol_samples), n) * ref, n=nb, axis=1)) ** 2 / n)[
        :, (k + np.arange(-half, half + 1)) % nb]
    outside = np.abs(np.arange(p.shape[1])[None, :] - np.argmax(p, axis=1)[:, None]) > lobe
    return p[outside].mean(), math.sqrt(nb / n / outside.sum())


@njit(cache=True, nogil=True, inline="always")
def _symbols_before(u, j, symbol_samples):
    """Start of the window ``j`` symbols before the one at ``u``: the symbol's true length,
    rounded from ``u`` (whole samples a symbol would drift off a fractional one: at SF5 /
    500 kHz and 2.4 MS/s, 153.6 samples, 0.4 a symbol, so that 11 windows later the
    dechirped tone has moved by a bin)."""
    return u - int(round(j * symbol_samples))


def _symbols_back(j, symbol_samples):
    """NumPy twin of ``_symbols_before``: u - _symbols_back(j, ...) for arrays of ``j``."""
    return np.round(np.asarray(j) * symbol_samples).astype(np.int64)


# A preamble repeats one up-chirp with its phase carried on: dechirped, its windows hold one
# tone whose phase moves on by the same step from window to window (the carrier's advance
# over a symbol, and the boundary's offset in chips), where noise's phases are random.
# The coherence, |sum of the windows' values at the tone, each turned by j times the best
# step|^2 over the sum of their powers, is at most k_win (a clean preamble) and about 1 for
# noise whatever the windows' powers: the search's choice of windows, which raises their
# powers (CONFIRM_MARGIN), leaves it alone.  SF5 at 2.4 MS/s, -10 dB in-band, mLRS's 11
# windows: median 8 against noise's 1, where the power sum (the confirmation's statistic)
# stands at its threshold.
COHERENCE_STEPS = 64         # phase steps tried (the full circle)
COHERENCE_BINS = 2           # tone frequencies tried either side of the power sum's bin (half a bin of
                             # the unpadded window: its windows, a whole number of samples
                             # apart, drift off a fractional symbol, and so does its tone)
# Noise: the chance that the best of the steps and frequencies reaches c is about
# COHERENCE_TRIALS_PER_WINDOW * k_win * exp(-c) (measured, tests/test_dechirp_kernels.py).
COHERENCE_TRIALS_PER_WINDOW = 3.0


@njit(cache=True, nogil=True)
def preamble_coherence(x, u, n, k, nb, k_win, symbol_samples, rate):
    """Coherence of a tone near bin ``k`` (of ``nb``) in the k_win preamble symbols ending at
    x[u:]: window j starts at u - round(j * symbol_samples) (the symbol's true length, so the
    windows do not drift off the symbols), loses its mean and is dechirped by the reference
    exp(-j pi rate (t + e)^2) of its start's rounding ``e`` (``rate`` in cycles per sample^2);
    v_j is its value at frequency f against absolute time.  Returns the best, over the
    frequencies k + i (|i| <= COHERENCE_BINS) bins and COHERENCE_STEPS steps d, of
    |sum_j v_j exp(-j d j)|^2 / sum_j |v_j|^2."""
    nf = 2 * COHERENCE_BINS + 1
    v = np.zeros((nf, k_win), np.complex128)
    y = np.zeros(n, np.complex128)
    for j in range(k_win):
        b = _symbols_before(u, j, symbol_samples)
        e = b - (u - j * symbol_samples)
        m = window_mean(x, b, n)
        for t in range(n):
            tt = t + e
            ph = -math.pi * rate * tt * tt
            y[t] = (x[b + t] - m) * complex(math.cos(ph), math.sin(ph))
        for i in range(nf):
            f = (k + i - COHERENCE_BINS) / nb
            acc = 0j
            for t in range(n):
                ph = -2.0 * math.pi * f * (b + t)
                acc += y[t] * complex(math.cos(ph), math.sin(ph))
            v[i, j] = acc
    best = 0.0
    for i in range(nf):
        power = 0.0
        for j in range(k_win):
            power += v[i, j].real * v[i, j].real + v[i, j].imag * v[i, j].imag
        if power <= 0.0:
            continue
        for s in range(COHERENCE_STEPS):
            d = 2.0 * math.pi * s / COHERENCE_STEPS
            acc = 0j
            for j in range(k_win):
                acc += v[i, j] * complex(math.cos(d * j), -math.sin(d * j))
            best = max(best, (acc.real * acc.real + acc.imag * acc.imag) / power)
    return best


def preamble_coherence_numpy(x, u, n, k, nb, k_win, symbol_samples, rate):
    j = np.arange(k_win)
    b = u - _symbols_back(j, symbol_samples)
    e = b - (u - j * symbol_samples)
    t = np.arange(n)
    tt = t[None, :] + e[:, None]
    y = windows_ac(x, b, n) * np.exp(-1j * np.pi * rate * tt * tt)
    f = (k + np.arange(-COHERENCE_BINS, COHERENCE_BINS + 1)) / nb
    v = (y[None, :, :] * np.exp(-2j * np.pi * f[:, None, None] * (b[:, None] + t[None, :])[None, :, :])).sum(axis=2)
    d = 2 * np.pi * np.arange(COHERENCE_STEPS) / COHERENCE_STEPS
    sums = np.abs(v @ np.exp(-1j * d[None, :] * j[:, None])) ** 2          # (frequencies, steps)
    power = (np.abs(v) ** 2).sum(axis=1)
    return float((sums / power[:, None]).max())


@njit(cache=True)
def confirm_preamble(x, a, ref, nb, k_win, k_top, k_bw, threshold, out, coherent_threshold=math.inf,
                     coherence_min=math.inf, symbol_samples=0.0, rate=0.0):
    """Confirm a search candidate (its last window at x[a:], the search's peak at bin ``k_top``
    of ``nb``): the windows k_win symbols back from each of OFFSETS boundaries (1/8 symbol apart),
    dechirped and FFT'd with zero padding to ``nb``; on the right boundary a preamble is one tone
    (at bin k_top - o/OFFSETS bandwidths, or a bandwidth, ``k_bw`` bins, below; +-1 bin).
    out = [status, u, k, noise, peak, ratio, first, coherence]: status CONFIRM_*; ``u`` the last window of the
    best boundary, ``k`` its bin, ``noise`` the mean bin of one window, ``peak`` the bin's sum
    over the windows, ``ratio`` = peak / (k_win * noise) against ``threshold``; ``first`` the
    earliest window on the tone (the windows may reach back before the preamble), and further
    back while it holds.  Positions are indices of x.  CONFIRM_SPREAD: the bins around the tone
    hold a signal the dechirp spread, and against their level the tone is not one (``spread_around``);
    CONFIRM_WEAK also where they stand LOCAL_Z deviations raised and the tone is under its way's
    threshold against their level.
    A ``ratio`` under ``threshold`` but at ``coherent_threshold`` or more passes too where the
    tone's coherence over the windows (``preamble_coherence``, out[7]) reaches ``coherence_min``."""
    n = ref.shape[0]
    out[:] = 0.0
    if symbol_samples <= 0.0:
        symbol_samples = float(n)
    lo = _symbols_before(a - int(round((OFFSETS - 1) * n / OFFSETS)), k_win - 1, symbol_samples)
    if lo < 0 or a + n > x.shape[0]:
        return
    buf = np.zeros(nb, np.complex64)
    pw = np.zeros((OFFSETS, k_win, 6))
    means = np.zeros(OFFSETS)
    best_r = 0.0
    bo, bc = -1, 0
    for o in range(OFFSETS):
        u = a - int(round(o * n / OFFSETS))
        total = 0.0
        for j in range(k_win):
            spec = dechirp_fft_ac(x, ref, _symbols_before(u, j, symbol_samples), buf)
            for i in range(nb):
                total += spec[i].real * spec[i].real + spec[i].imag * spec[i].imag
            for c in range(6):
                s = spec[_candidate_bin(o, c, k_top, k_bw, nb)]
                pw[o, j, c] = (s.real * s.real + s.imag * s.imag) / n
        means[o] = total / n / nb
        if means[o] <= 0.0:
            continue
        for c in range(6):
            r = pw[o, :, c].sum() / means[o]
            if r > best_r:
                best_r, bo, bc = r, o, c
    out[0] = CONFIRM_WEAK
    out[5] = best_r
    if bo < 0 or best_r < min(threshold, coherent_threshold):
        return
    u = a - int(round(bo * n / OFFSETS))
    k = _candidate_bin(bo, bc, k_top, k_bw, nb)
    if best_r < threshold:
        out[7] = preamble_coherence(x, u, n, k, nb, k_win, symbol_samples, rate)
        if out[7] < coherence_min:
            return
    noise = means[bo] / k_win
    peak = pw[bo, :, bc].sum()
    out[1], out[2], out[3], out[4] = u, k, noise, peak
    if pw[bo, :, bc].max() - noise > 0.5 * (peak - k_win * noise):
        out[0] = CONFIRM_ONE_WINDOW     # one window holds most of it: a strong symbol, not a preamble
        return
    level, rel_sd = level_around(x, ref, u, k_win, nb, k, k_bw, buf, symbol_samples)
    if _spread(level, rel_sd, noise, peak, threshold, k_win):
        out[0] = CONFIRM_SPREAD
        return
    if _under_local_level(level, rel_sd, noise, peak, threshold if best_r >= threshold else coherent_threshold,
                          k_win):
        out[0] = CONFIRM_WEAK
        return
    back = k_win - 1
    for j in range(k_win - 1, -1, -1):
        if pw[bo, j, bc] >= PREAMBLE_TONE * noise:
            back = j
            break
    if back == k_win - 1:
        for _ in range(MAX_PREAMBLE_BACK):
            before = _symbols_before(u, back + 1, symbol_samples)
            if before < 0:
                break
            spec = dechirp_fft_ac(x, ref, before, buf)
            best = 0.0
            for d in range(-1, 2):
                s = spec[(k + d) % nb]
                best = max(best, (s.real * s.real + s.imag * s.imag) / n)
            if best < PREAMBLE_TONE * noise:
                break
            back += 1
    first = _symbols_before(u, back, symbol_samples)
    out[0] = CONFIRM_OK
    out[6] = first


def confirm_preamble_numpy(x, a, ref, nb, k_win, k_top, k_bw, threshold, out, coherent_threshold=math.inf,
                           coherence_min=math.inf, symbol_samples=0.0, rate=0.0):
    n = ref.shape[0]
    out[:] = 0.0
    symbol_samples = symbol_samples if symbol_samples > 0 else float(n)
    us = np.array([a - int(round(o * n / OFFSETS)) for o in range(OFFSETS)])
    starts = (us[:, None] - _symbols_back(np.arange(k_win), symbol_samples)[None, :]).ravel()
    if starts.min() < 0 or a + n > x.shape[0]:
        return

    def power(starts):
        return np.abs(np.fft.fft(windows_ac(x, starts, n) * ref, n=nb, axis=1)) ** 2 / n

    p = power(starts).reshape(OFFSETS, k_win, nb)
    totals = p.sum(axis=1)
    means = totals.mean(axis=1)
    best_r, choice = 0.0, None
    for o in range(OFFSETS):
        if means[o] <= 0:
            continue
        for f in (k_top, k_top - k_bw):
            k = int(round(f - k_bw * o / OFFSETS))
            for kk in (k - 1, k, k + 1):
                r = totals[o, kk % nb] / means[o]
                if r > best_r:
                    best_r, choice = r, (o, kk % nb)
    out[0], out[5] = CONFIRM_WEAK, best_r
    if choice is None or best_r < min(threshold, coherent_threshold):
        return
    o, k = choice
    if best_r < threshold:
        out[7] = preamble_coherence_numpy(x, us[o], n, k, nb, k_win, symbol_samples, rate)
        if out[7] < coherence_min:
            return
    noise, peak = means[o] / k_win, totals[o, k]
    out[1:5] = us[o], k, noise, peak
    if p[o, :, k].max() - noise > 0.5 * (peak - k_win * noise):
        out[0] = CONFIRM_ONE_WINDOW
        return
    level, rel_sd = level_around_numpy(x, ref, us[o], k_win, nb, k, k_bw, symbol_samples)
    if _spread(level, rel_sd, noise, peak, threshold, k_win):
        out[0] = CONFIRM_SPREAD
        return
    if _under_local_level(level, rel_sd, noise, peak, threshold if best_r >= threshold else coherent_threshold,
                          k_win):
        out[0] = CONFIRM_WEAK
        return
    toned = np.flatnonzero(p[o, :, k] >= PREAMBLE_TONE * noise)
    back = int(toned.max()) if toned.size else k_win - 1
    for _ in range(MAX_PREAMBLE_BACK if back == k_win - 1 else 0):
        before = us[o] - _symbols_back(back + 1, symbol_samples)
        if before < 0 or power([before])[0, [(k - 1) % nb, k, (k + 1) % nb]].max() < PREAMBLE_TONE * noise:
            break
        back += 1
    out[0], out[6] = CONFIRM_OK, us[o] - _symbols_back(back, symbol_samples)


@njit(cache=True, nogil=True)
def _folded_peak(spec, k0, width, sign, lo, hi, n):
    """Best of |S[k0+i]|^2 + |S[k0+i+sign*width]|^2 (bins modulo len(S)) over lo <= i < hi,
    over n, and its i: a window's tone with its wrap folded in (``sign`` -1: an up-chirp's
    wrap goes a bandwidth down; +1: a down-chirp's goes up)."""
    nb = spec.shape[0]
    at = lo
    best = -1.0
    for i in range(lo, hi):
        a = (k0 + i) % nb
        b = (k0 + i + sign * width) % nb
        v = (spec[a].real * spec[a].real + spec[a].imag * spec[a].imag
             + spec[b].real * spec[b].real + spec[b].imag * spec[b].imag) / n
        if v > best:
            best, at = v, i
    return best, at


@njit(cache=True, nogil=True)
def _ends_before_next_preamble(st, anchor, symbol_samples):
    """The last NEXT_PREAMBLE symbols on one tone are the next packet's preamble: the
    packet ended before them."""
    st[ST_LAST_GOOD] = anchor + st[ST_SHIFT] + int(round((st[ST_SYMBOLS] - NEXT_PREAMBLE) * symbol_samples))
    st[ST_GOOD] -= NEXT_PREAMBLE
    st[ST_DONE] = 1


@njit(cache=True, nogil=True)
def _after_symbol(st, at, peak_up, peak, width, run_thr, anchor, symbol_samples):
    """A followed symbol's tone at ``at``, peaks over the noise ``peak_up`` (up-chirp) and
    ``peak`` (either): the end-of-packet rules.  True when the next packet's preamble began."""
    if peak_up >= run_thr:
        # Preamble symbols repeat one bin (a periodic emitter's next packet starts near our
        # grid: its tone near ours); data symbols do not.
        d = abs(at - (width // 4 if st[ST_SHIFT] else 0))
        on_tone = min(d, width - d) <= width // 8
        d = abs(at - st[ST_TONE_AT])
        same = st[ST_ON_TONE] > 0 and min(d, width - d) <= 1
        if on_tone and st[ST_DATA_SEEN] != 0:
            st[ST_ON_TONE] = st[ST_ON_TONE] + 1 if same else 1
        else:
            st[ST_ON_TONE] = 0
        st[ST_TONE_AT] = at
        if not on_tone:
            st[ST_DATA_SEEN] = 1
        if st[ST_ON_TONE] == NEXT_PREAMBLE:
            _ends_before_next_preamble(st, anchor, symbol_samples)
            return True
    else:
        st[ST_ON_TONE] = 0
    if peak >= run_thr + END_MARGIN:
        # (Noise past the end reaches ``run_thr`` often enough to stretch packets.)
        st[ST_LAST_GOOD] = st[ST_NEXT]
    return False


@njit(cache=True)
def follow_packet(x, x0, ref, ref_down, nb, k0, width, noise, run_thr, anchor, symbol_samples, limit, until,
                  st, peaks):
    """Follow a confirmed packet symbol by symbol (windows of len(ref) at absolute positions,
    x[0] at ``x0``) until one would end past ``until`` or the packet ends (st[ST_DONE]).

    The next window starts at anchor + st[ST_SHIFT] + round(st[ST_SYMBOLS] * symbol_samples),
    ``anchor`` a preamble symbol boundary.  A window is dechirped (``ref``), FFT'd (``nb``
    bins), the chirp's band (``width`` bins from ``k0``) folded with the band below: a
    preamble, sync or data symbol (a cyclic shift) is one tone in it; its peak over
    ``noise``, less one, is the symbol's.  Until the start frame delimiter is found, a
    window is also dechirped with ``ref_down``: on the preamble's grid a delimiter
    down-chirp is a tone at the band's top (+-1 bin, folded with the band above), and where
    that is stronger it is the symbol's peak.  Two windows in a row whose delimiter peaks
    sum to SFD_THRESHOLD or more are the delimiter: the data start 2.25 symbols after it,
    so the grid moves on by a quarter symbol (st[ST_SHIFT]).  A symbol's peak goes into the
    ring ``peaks[:RUN_SYMBOLS]`` (peaks[RUN_SYMBOLS]: the last window's delimiter peak);
    one of ``run_thr`` or more holds a tone (st[ST_GOOD]); END_MARGIN more moves the
    packet's end (st[ST_LAST_GOOD]).  The packet ends when the mean of the last RUN_SYMBOLS
    peaks falls below ``run_thr``, at ``limit``, or when after data the preamble's tone
    (the band's start on the preamble's grid, a quarter up it on the data's; within
    width/8 bins) repeats NEXT_PREAMBLE times on one bin: the emitter's next packet (its
    symbols taken back)."""
    n = ref.shape[0]
    buf = np.zeros(nb, np.complex64)
    shift = int(round(DATA_GRID_SHIFT * symbol_samples))
    end = x0 + x.shape[0]
    if until > end:
        until = end
    while st[ST_DONE] == 0 and st[ST_NEXT] + n <= until:
        a = st[ST_NEXT] - x0
        best, at = _folded_peak(dechirp_fft_ac(x, ref, a, buf), k0, width, -1, 0, width, n)
        peak_up = best / noise - 1.0
        peak = peak_up
        if st[ST_SHIFT] == 0:
            best_down, _ = _folded_peak(dechirp_fft_ac(x, ref_down, a, buf), k0, width, 1, -1, 2, n)
            peak_down = best_down / noise - 1.0
            peak = max(peak, peak_down)
            if peak_down + peaks[RUN_SYMBOLS] >= SFD_THRESHOLD:
                st[ST_SHIFT] = shift
            peaks[RUN_SYMBOLS] = peak_down
        peaks[st[ST_FOLLOWED] % RUN_SYMBOLS] = peak
        st[ST_FOLLOWED] += 1
        st[ST_SYMBOLS] += 1
        st[ST_NEXT] = anchor + st[ST_SHIFT] + int(round(st[ST_SYMBOLS] * symbol_samples))
        if peak >= run_thr:
            st[ST_GOOD] += 1
        if _after_symbol(st, at, peak_up, peak, width, run_thr, anchor, symbol_samples):
            break
        if st[ST_FOLLOWED] >= RUN_SYMBOLS:
            mean = 0.0
            for i in range(RUN_SYMBOLS):
                mean += peaks[i]
            if mean / RUN_SYMBOLS < run_thr:
                st[ST_DONE] = 1
        if st[ST_NEXT] >= limit:
            st[ST_DONE] = 1


def follow_packet_numpy(x, x0, ref, ref_down, nb, k0, width, noise, run_thr, anchor, symbol_samples, limit, until,
                        st, peaks):
    n = ref.shape[0]
    band = (k0 + np.arange(width)) % nb
    top = (k0 + np.arange(-1, 2)) % nb
    until = min(until, x0 + x.shape[0])
    history = [peaks[i % RUN_SYMBOLS] for i in range(max(0, st[ST_FOLLOWED] - RUN_SYMBOLS), st[ST_FOLLOWED])]
    while not st[ST_DONE] and st[ST_NEXT] + n <= until:
        a = st[ST_NEXT] - x0
        win = windows_ac(x, [a], n)[0]
        pw = np.abs(np.fft.fft(win * ref, n=nb)) ** 2 / n
        folded = pw[band] + pw[(band - width) % nb]
        at = int(folded.argmax())
        peak_up = peak = float(folded[at]) / noise - 1.0
        if not st[ST_SHIFT]:
            pd = np.abs(np.fft.fft(win * ref_down, n=nb)) ** 2 / n
            peak_down = float((pd[top] + pd[(top + width) % nb]).max()) / noise - 1.0
            peak = max(peak, peak_down)
            if peak_down + peaks[RUN_SYMBOLS] >= SFD_THRESHOLD:
                st[ST_SHIFT] = int(round(DATA_GRID_SHIFT * symbol_samples))
            peaks[RUN_SYMBOLS] = peak_down
        peaks[st[ST_FOLLOWED] % RUN_SYMBOLS] = peak
        history.append(peak)
        st[ST_FOLLOWED] += 1
        st[ST_SYMBOLS] += 1
        st[ST_NEXT] = anchor + st[ST_SHIFT] + int(round(st[ST_SYMBOLS] * symbol_samples))
        st[ST_GOOD] += peak >= run_thr
        if _after_symbol(st, at, peak_up, peak, width, run_thr, anchor, symbol_samples):
            break
        recent = history[-RUN_SYMBOLS:]
        if (len(recent) == RUN_SYMBOLS and sum(recent) / RUN_SYMBOLS < run_thr) or st[ST_NEXT] >= limit:
            st[ST_DONE] = 1
