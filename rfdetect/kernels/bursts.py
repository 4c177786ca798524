"""Noise floor, CFAR and burst extraction over spectrogram frames.

The per-frame chain, fused into one pass for speed (each stage is also a
standalone kernel with a NumPy twin in the tests):

1. ``smooth_row``: average power over ``2*h+1`` adjacent bins (a CFAR cell);
2. noise floor per bin: an exponential average of the smoothed power that
   skips cells above the low threshold (censored, so bursts do not lift it)
   and lets those cells rise slowly, so a raised floor is absorbed; when most
   of the band stays above its floor for a while (a gain step), every bin
   follows quickly instead;
3. CFAR test: cell / floor against a low and a high threshold (hysteresis:
   a region is kept only if one of its cells passes the high one);
4. runs of hot bins are joined frame to frame into connected regions; a
   region closes after ``max_gap`` frames without a hot run overlapping it.

On closing, a region is measured from a ring of the last ``R`` raw frames:
band edges (-10 dB from its in-band level), in-band SNR, and start/end edges at the half-power
crossing of the in-band power (with a symmetric window, a frame centred on an
edge holds half the power), interpolated between frames.

All state lives in arrays owned by the caller (see detect/detector.py), so a
stream cut into blocks of any size gives the same regions.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros  # LLVM cttz: the lowest set bit

# Frames between refreshes of the floor's bin sums in the integrated test.
FLOOR_BOX_FRAMES = 8
# Frames in which a region takes runs of any level (a burst's rising edge).
YOUNG_FRAMES = 8
# A burst's band edges are where its spectrum falls this far below its in-band level.
EDGE_DB = 10.0
EDGE_FRACTION = 10 ** (-EDGE_DB / 10)
# A region whose median frame holds less than this share of its strongest frame's energy is
# mostly noise frames: a strong burst shorter than the region, which noise cells in its
# band kept open (a whole-band ADS-B reply of three frames made a region of nine).  Its
# level is then measured where the energy stands at half its peak or more.
PLATEAU_SHARE = 0.25

# What seeded a run or region (bits): a cell above the seed threshold, the integrated test.
SEED_CELL, SEED_INTEGRATED = 1, 2
# Active-region table (int64 columns).
A_START, A_LAST, A_LO, A_HI, A_PLO, A_PHI, A_NLO, A_NHI, A_SEEN, A_SEED, A_CELLS = range(11)
A_COLS = 11
# Closed-region table (float64 columns), in frames and bins.  O_HORIZON: no region
# closed after this one starts before this frame (the earliest start among the regions
# still open, or the frame being decided): bursts close in end order, not start order.
(O_T0, O_T1, O_LO, O_HI, O_START, O_END, O_SNR, O_PEAK, O_FLO, O_FHI, O_CENTROID,
 O_CELLS, O_REFINED, O_HORIZON) = range(14)
O_COLS = 14
# Scalar state (int64): newest frame, first frame of the segment, active
# regions, closed regions waiting to be collected, consecutive frames in which
# most of the band sat above its floor, (once that engaged the step rule) how
# long the band has mostly been back near plain noise, and the last frame
# decided (the integrated test decides a frame some frames after it arrives).
S_FRAME, S_SEG0, S_ACTIVE, S_CLOSED, S_RAISED, S_SETTLED, S_PROC = range(7)
S_COLS = 7
# Kernel parameters, as float64 and int64 arrays (linear thresholds over the floor).
# F_POWER_SCALE: |X|^2 to power, for frames handed over as spectra (see ``make_frame_kernel``).
(F_THR_LO, F_THR_HI, F_ALPHA, F_ALPHA_STEP, F_STEP_RATIO, F_STEP_FRACTION,
 F_RELEASE_FRACTION, F_RISE, F_ITHR_LO, F_ITHR_HI, F_LEVEL_RATIO, F_POWER_SCALE) = range(12)
F_COLS = 12
I_STEP_FRAMES, I_MAX_GAP, I_MIN_FRAMES, I_MIN_CELLS, I_FREQ_TOL = range(5)
I_COLS = 5


@njit(cache=True, nogil=True, fastmath=False)
def shifted_power_row(spectrum, scale, out):
    """out = fftshift(|spectrum|^2) * scale for one frame (``spectrum``: complex64 as
    interleaved float32), in the order of operations of ``kernels.spectrogram.shifted_power``
    (a twin kept in this file, not imported: Numba's cache of the frame kernel would not
    see a change made in another file; the tests hold the two equal to the bit).
    ``fastmath=False`` said explicitly: a callee of a fastmath kernel otherwise inherits
    fastmath, and products contracted into fused multiply-adds round differently."""
    half = out.size // 2
    lo = spectrum[: 2 * half]
    hi = spectrum[2 * half:]
    for k in range(half):
        out[k + half] = (lo[2 * k] * lo[2 * k] + lo[2 * k + 1] * lo[2 * k + 1]) * scale
    for k in range(half):
        out[k] = (hi[2 * k] * hi[2 * k] + hi[2 * k + 1] * hi[2 * k + 1]) * scale


@njit(cache=True, nogil=True)
def _clipped_mean(src, r, k, h):
    n = src.shape[1]
    lo = max(k - h, 0)
    hi = min(k + h, n - 1)
    acc = np.float32(0.0)
    for j in range(lo, hi + 1):
        acc += src[r, j]
    return acc / (hi - lo + 1)


@njit(cache=True, nogil=True, inline="always")
def smooth_into(src, r, dst, w, h):
    """dst[w, k] = mean(src[r, k-h : k+h+1]), window clipped at the edges.

    Inlined into the kernels of ``make_smooth`` and ``make_frame_kernel``, where
    ``h`` is a compile-time constant: the sum over the window unrolls and the loop
    vectorises (with a run-time width it runs about 5x slower).  Rows are taken by
    index, not as views: a view made per frame costs a reference count each way.
    The sum's order is that of the textbook loop.
    """
    n = src.shape[1]
    inner = np.float32(1.0 / (2 * h + 1))
    for k in range(n - 2 * h):
        acc = src[r, h + k]
        for j in range(1, h + 1):
            acc += src[r, h - j + k] + src[r, h + j + k]
        dst[w, h + k] = acc * inner
    for k in range(min(h, n)):
        dst[w, k] = _clipped_mean(src, r, k, h)
    for k in range(max(n - h, h), n):
        dst[w, k] = _clipped_mean(src, r, k, h)


@njit(cache=True, nogil=True, inline="always")
def box_sum(p, r, out, w_row, h, scratch):
    """out[w_row, k] = sum(p[r, k-h : k+h+1]), window clipped at the edges.

    Sums of 1, 2, 4, 8... bins are made by doubling and added as the binary
    digits of the width 2*h+1 (9 = 1 + 8): a few passes that vectorise, where a
    running sum is one chain of dependent additions, about 5x slower.  Rows by
    index, not as views (a view costs a reference count each way, per frame).
    ``scratch``: float32 (2, p.shape[1] + 2*h) or larger.
    """
    n = p.shape[1]
    w = 2 * h + 1
    m = n + 2 * h
    bi = 0              # scratch[bi, i] = sum(a[i : i+length]), a = p between h zeros each side
    ci = 1
    for i in range(h):
        scratch[bi, i] = 0.0
        scratch[bi, h + n + i] = 0.0
    for i in range(n):
        scratch[bi, h + i] = p[r, i]
    for k in range(n):          # w is odd: the sums of one bin come first
        out[w_row, k] = scratch[bi, k]
    offset = 1
    length = 1
    while True:
        if length > 1 and w & length:
            for k in range(n):
                out[w_row, k] += scratch[bi, offset + k]
            offset += length
        if 2 * length > w:
            break
        for i in range(m - 2 * length + 1):
            scratch[ci, i] = scratch[bi, i] + scratch[bi, length + i]
        bi, ci = ci, bi
        length *= 2


@functools.lru_cache(maxsize=None)
def make_smooth(h: int):
    """Kernel factory: ``smooth_row(p, out)`` for CFAR cells of 2*h+1 bins."""

    @njit(cache=True, nogil=True)
    def smooth_row(p, out):
        smooth_into(p.reshape((1, p.size)), 0, out.reshape((1, out.size)), 0, h)

    return smooth_row


@njit(cache=True, nogil=True)
def update_floor(s, floor, thr_lo, alpha, rise):
    """Censored exponential floor update of one frame (branch-free so it vectorises)."""
    for k in range(s.size):
        f = floor[k]
        hot = s[k] > thr_lo * f
        floor[k] = f * rise if hot else f + alpha * (s[k] - f)


@njit(cache=True, nogil=True)
def cfar_row(s, floor, thr, hot):
    """hot[k] = s[k] > thr * floor[k]; returns the number of hot cells."""
    n = 0
    for k in range(s.size):
        h = s[k] > thr * floor[k]
        hot[k] = h
        n += h
    return n


@njit(cache=True, nogil=True)
def _close(state, active, peak, i, closed, ring, floor, nfft, ring_frames, min_frames, min_cells,
           lag):
    """Measure active region i into the closed table (if it qualifies), then remove it.
    ``lag`` > 0: the integrated test is on (see ``make_frame_kernel``)."""
    n_active = state[S_ACTIVE]
    t0 = active[i, A_START]
    t1 = active[i, A_LAST]
    keep = (active[i, A_SEED] != 0 and t1 - t0 + 1 >= min_frames
            and active[i, A_CELLS] >= min_cells and state[S_CLOSED] < closed.shape[0])
    if keep:
        lo = active[i, A_LO]
        hi = active[i, A_HI]
        now = state[S_PROC]
        first = max(state[S_SEG0], state[S_FRAME] - ring_frames + 1)
        row = closed[state[S_CLOSED]]
        row[O_T0] = t0
        row[O_T1] = t1
        row[O_LO] = lo
        row[O_HI] = hi
        row[O_PEAK] = peak[i, 0]
        row[O_CELLS] = active[i, A_CELLS]
        horizon = now
        for j in range(n_active):
            if j != i and active[j, A_START] < horizon:
                horizon = active[j, A_START]
        row[O_HORIZON] = horizon
        # Band edges: where the burst's mean excess spectrum falls EDGE_DB below
        # its in-band level (the mean of the upper half of the region's bins),
        # walking from the detected region's edges and interpolating between bins.
        m = 3
        b0 = max(lo - m, 0)
        b1 = min(hi + m, nfft - 1)
        fa = max(t0, first)
        fb = min(t1, now)
        nb = b1 - b0 + 1
        excess = np.zeros(nb)
        for t in range(fa, fb + 1):
            r = t % ring_frames
            for k in range(nb):
                excess[k] += ring[r, b0 + k]
        for k in range(nb):
            excess[k] = excess[k] / (fb - fa + 1) - floor[b0 + k]
        inband = np.sort(excess[lo - b0: hi - b0 + 1])
        level = inband[inband.size // 2:].mean()
        thr = level * EDGE_FRACTION
        flo = lo - 0.5
        fhi = hi + 0.5
        if level > 0.0:
            k = lo - b0
            if excess[k] >= thr:
                while k > 0 and excess[k - 1] >= thr:
                    k -= 1
            else:
                while k < hi - b0 and excess[k] < thr:
                    k += 1
            flo = b0 + k - 0.5
            if k > 0 and excess[k] > excess[k - 1]:
                flo = b0 + k - 1 + (thr - excess[k - 1]) / (excess[k] - excess[k - 1])
            k = hi - b0
            if excess[k] >= thr:
                while k < nb - 1 and excess[k + 1] >= thr:
                    k += 1
            else:
                while k > lo - b0 and excess[k] < thr:
                    k -= 1
            fhi = b0 + k + 0.5
            if k < nb - 1 and excess[k] > excess[k + 1]:
                fhi = b0 + k + (excess[k] - thr) / (excess[k] - excess[k + 1])
        centroid = 0.5 * (flo + fhi)
        row[O_FLO] = flo
        row[O_FHI] = fhi
        row[O_CENTROID] = centroid
        # In-band power per frame over the occupied bins, floor removed.
        k0 = max(int(np.floor(flo + 0.5)), 0)
        k1 = min(int(np.floor(fhi + 0.5)), nfft - 1)
        if k1 < k0:
            k1 = k0
        noise_band = 0.0
        for k in range(k0, k1 + 1):
            noise_band += floor[k]
        # Look a few frames beyond the region; further with the integrated test,
        # which finds a weak burst's edges some frames late.
        margin = 3 + 8 * lag
        ea = max(t0 - margin, first)
        eb = min(t1 + margin, state[S_FRAME])
        ne = eb - ea + 1
        energy = np.empty(ne)
        for j in range(ne):
            r = (ea + j) % ring_frames
            e = 0.0
            for k in range(k0, k1 + 1):
                e += ring[r, k]
            energy[j] = e - noise_band
        n_in = min(t1, eb) - max(t0, ea) + 1
        if n_in >= 3:
            inside = energy[max(t0, ea) - ea: min(t1, eb) - ea + 1]
            plateau = np.median(inside)
            top = inside.max()
            if plateau < PLATEAU_SHARE * top:
                a = 0
                while inside[a] < 0.5 * top:
                    a += 1
                b = inside.shape[0] - 1
                while inside[b] < 0.5 * top:
                    b -= 1
                plateau = np.median(inside[a: b + 1])
        else:
            plateau = energy.max()
        row[O_SNR] = plateau / noise_band if noise_band > 0 else np.inf
        half = 0.5 * plateau
        refined = 0
        start = t0 - 0.5
        end = t1 + 0.5
        if lag > 0:
            # A wide look at a weak burst: on energy averaged over three frames (which
            # crosses half power where the edge is), walk out from the first and last
            # frames inside the region that reach half power, so that a noise frame
            # beyond an edge is not taken for it (the region itself may start late:
            # it opens only at a seed).
            e3 = energy.copy()
            for j in range(1, ne - 1):
                e3[j] = (energy[j - 1] + energy[j] + energy[j + 1]) / 3.0
            a = max(t0, ea) - ea
            b = min(t1, eb) - ea
            j = a
            while j < b and e3[j] < half:
                j += 1
            if e3[j] >= half:
                # A single frame below half inside a weak burst is noise: step over it.
                while j > 0 and (e3[j - 1] >= half or (j > 1 and e3[j - 2] >= half)):
                    j -= 1 if e3[j - 1] >= half else 2
                if j > 0:
                    start = ea + j - 1 + (half - e3[j - 1]) / (e3[j] - e3[j - 1])
                    refined += 1
            j = b
            while j > a and e3[j] < half:
                j -= 1
            if e3[j] >= half:
                while j < ne - 1 and (e3[j + 1] >= half or (j < ne - 2 and e3[j + 2] >= half)):
                    j += 1 if e3[j + 1] >= half else 2
                if j < ne - 1:
                    end = ea + j + (e3[j] - half) / (e3[j] - e3[j + 1])
                    refined += 2
        else:
            if ea < t0:
                for j in range(ne):
                    if energy[j] >= half:
                        if j > 0:
                            start = ea + j - 1 + (half - energy[j - 1]) / (energy[j] - energy[j - 1])
                            refined += 1
                        break
            for j in range(ne - 1, -1, -1):
                if energy[j] >= half:
                    if j < ne - 1:
                        end = ea + j + (energy[j] - half) / (energy[j] - energy[j + 1])
                        refined += 2
                    break
        row[O_START] = start
        row[O_END] = end
        row[O_REFINED] = refined
        state[S_CLOSED] += 1
    # Remove by moving the last active region into slot i.
    last = n_active - 1
    if i != last:
        for c in range(A_COLS):
            active[i, c] = active[last, c]
        peak[i] = peak[last]
    state[S_ACTIVE] = last


@njit(cache=True, nogil=True, inline="always")
def _near(plo, phi, lo, hi, tol):
    """Do bins lo..hi come within ``tol`` bins of a region whose extent in the last frame
    was plo..phi?"""
    return plo - tol <= hi and lo <= phi + tol


@njit(cache=True, nogil=True, inline="always")
def _compatible(start, log_level, level, t, ratio):
    """May a run whose strongest cell is ``level`` over the floor join a region that
    started at frame ``start``, whose recent runs stood at ``log_level`` (a log)?
    Not when it differs by more than ``ratio`` from them (a strong burst crossing a
    weak long signal stays a burst of its own, and the weak signal goes on as
    itself), except while the region is young (the rising edge of a burst is weaker
    than what follows)."""
    if t - start < YOUNG_FRAMES:
        return True
    return abs(np.log(level) - log_level) < np.log(ratio)


@njit(cache=True, nogil=True)
def close_all(state, active, peak, closed, ring, floor, min_frames, min_cells, lag=0):
    """Close every active region (end of stream or of a segment)."""
    nfft = floor.size
    ring_frames = ring.shape[0]
    while state[S_ACTIVE] > 0:
        _close(state, active, peak, state[S_ACTIVE] - 1, closed, ring, floor, nfft,
               ring_frames, min_frames, min_cells, lag)


@functools.lru_cache(maxsize=None)
def make_frame_kernel(h: int, lag: int = 0, ih: int = 0):
    """Kernel factory: the fused per-frame chain for CFAR cells of 2*h+1 bins.

    With ``lag`` > 0 an integrated test runs beside the per-cell one, so that
    bursts near 0 dB in-band SNR, whose single cells rarely clear the per-cell
    thresholds, form whole regions.  Its statistic for frame ``u`` is the power
    averaged over ``2*ih+1`` bins and over each of three consecutive
    sub-windows of ``sub = (2*lag+1) // 3`` frames centred on ``u``, and then
    the least of the three: a mean over hundreds of cells, which does not
    spread a burst in time (the frames past a burst's end see a quiet
    sub-window), so gaps between packets stay gaps.  Frame ``u`` is decided once
    frame ``u+lag`` has arrived; a cell is hot when either test passes.
    ``lag`` = 0 is the per-cell test alone.
    """
    window = 2 * lag + 1
    sub = window // 3

    @njit(cache=True, nogil=True, fastmath=True)
    def process_frames(power, state, floor, ring, rows, active, peak, closed, fparams, iparams,
                       flush):
        """Run frames ``power`` (frames, nfft) through floor, CFAR and region tracking;
        with ``flush``, also decide the frames still waiting for later ones and close
        every region (end of a segment).  ``power`` may also be the frames' spectra
        (frames, 2*nfft): complex64 FFT output viewed as float32, turned into power
        (``shifted_power_row``, ``fparams[F_POWER_SCALE]``) straight into the ring, so
        that the power of a frame is written once.  ``rows`` (4, 2*lag+1, nfft) keeps
        the last frames' smoothed power, bin sums and sub-window sums, and the floor's
        bin sums.  Returns 0, or 1 when a table was full (regions dropped: the caller
        counts it)."""
        n_frames, nfft = power.shape[0], floor.size
        spectra = power.shape[1] == 2 * nfft
        power_scale = np.float32(fparams[F_POWER_SCALE])
        ring_frames = ring.shape[0]
        # ``hot``: a frame's CFAR mask as 1.0/0.0 (float32, so the test loop vectorises);
        # ``hot8``: the same as bytes, scanned eight at a time.
        hot = np.zeros(nfft, np.float32)
        hot8 = np.zeros(nfft, np.uint8)
        hot64 = hot8.view(np.uint64)    # nfft is a power of two >= 16
        runs = np.empty((nfft // 2 + 1, 3), np.int64)      # lo, hi, seeded
        run_peak = np.empty((nfft // 2 + 1, 2))            # peak, summed level
        # rows: smoothed power, bin sums, sub-window sums; the floor's bin sums.
        smoothed, sums, subs = rows[0], rows[1], rows[2]
        fbox = rows[3, 0]
        floor_rows, fbox_rows = floor.reshape((1, nfft)), rows[3]
        iwork = np.empty((3, nfft), np.float32)
        scratch = np.empty((3, nfft + 2 * (ih + h)), np.float32)
        thr_lo = np.float32(fparams[F_THR_LO])
        thr_hi = np.float32(fparams[F_THR_HI])
        alpha = np.float32(fparams[F_ALPHA])
        alpha_step = np.float32(fparams[F_ALPHA_STEP])
        step_ratio = np.float32(fparams[F_STEP_RATIO])
        rise = np.float32(fparams[F_RISE])
        level_ratio = fparams[F_LEVEL_RATIO]
        ithr_lo = np.float32(fparams[F_ITHR_LO])
        ithr_hi = np.float32(fparams[F_ITHR_HI])
        step_frames, max_gap, min_frames, min_cells, freq_tol = (
            iparams[I_STEP_FRAMES], iparams[I_MAX_GAP], iparams[I_MIN_FRAMES],
            iparams[I_MIN_CELLS], iparams[I_FREQ_TOL])
        one = np.float32(1.0)
        zero = np.float32(0.0)
        scale = np.float32(sub)
        status = 0
        f = 0
        while True:
            # The next frame to decide: with the integrated test, ``lag`` frames behind
            # the newest; with ``flush``, the ones still waiting once every frame is in.
            if f < n_frames:
                t = state[S_FRAME] + 1
                state[S_FRAME] = t
                kept = ring[t % ring_frames]
                if spectra:
                    shifted_power_row(power[f], power_scale, kept)
                else:
                    p = power[f]
                    for k in range(nfft):      # an explicit loop: 3x faster than a slice copy here
                        kept[k] = p[k]
                f += 1
                smooth_into(ring, t % ring_frames, smoothed, t % window, h)
                if lag > 0:
                    tw = t % window
                    box_sum(smoothed, tw, sums, tw, ih, scratch)
                    for k in range(nfft):
                        subs[tw, k] = sums[tw, k]
                    for j in range(1, min(sub, t - state[S_SEG0] + 1)):
                        pw = (t - j) % window
                        for k in range(nfft):
                            subs[tw, k] += sums[pw, k]
                u = t - lag
                if u < state[S_SEG0]:
                    continue
            elif flush and state[S_PROC] < state[S_FRAME]:
                u = state[S_PROC] + 1
            else:
                break
            # Floor, CFAR and region tracking of frame u (its power is in ``ring``, its
            # smoothed rows in ``rows``).  Written out here, not as an inlined function:
            # each array argument of one costs a reference count each way, per frame,
            # which came to more than the CFAR test itself.
            state[S_PROC] = u
            pr = u % ring_frames        # the frame's power: ring[pr], smoothed: smoothed[sw]
            sw = u % window
            n_hot = zero
            n_seed = zero
            n_raised = zero
            for k in range(nfft):
                sk = smoothed[sw, k]
                fk = floor[k]
                m = one if sk > thr_lo * fk else zero
                hot[k] = m
                n_hot += m
                n_seed += one if sk > thr_hi * fk else zero
                n_raised += one if sk > step_ratio * fk else zero
            integrated = False
            if lag > 0 and u - lag >= state[S_SEG0] and u + lag <= state[S_FRAME]:
                # The least of the three sub-window sums (near a segment's ends, where
                # one is missing, the per-cell test decides alone), against the floor
                # averaged over the same bins.
                integrated = True
                r0 = (u - lag + sub - 1) % window
                r1 = (u - lag - 1 + 2 * sub) % window
                r2 = (u - lag - 1 + 3 * sub) % window
                for k in range(nfft):
                    iwork[0, k] = min(subs[r0, k], subs[r1, k], subs[r2, k])
                if u % FLOOR_BOX_FRAMES == 0 or fbox[nfft // 2] <= 0.0:
                    # The floor moves slowly (a time constant of about a second): its bin
                    # sums are refreshed every few frames, on a schedule of absolute frame
                    # numbers so that any block size gives the same result.
                    box_sum(floor_rows, 0, fbox_rows, 0, ih, scratch)
                # Near a strong cell the bin sums hold its power: the integrated test would
                # widen every strong burst by the sums' reach and bridge it to its
                # neighbours (then a weaker burst beside a strong one is taken for its
                # skirt).  It decides only away from cells above the seed threshold.
                # iwork rows: the least sub-window sums, strong cells, their neighbourhood.
                n_strong = zero
                for k in range(nfft):
                    m = one if smoothed[sw, k] > thr_hi * floor[k] else zero
                    iwork[1, k] = m
                    n_strong += m
                if n_strong > zero:
                    box_sum(iwork, 1, iwork, 2, ih + h, scratch)
                else:                   # most frames: a dozen passes saved
                    for k in range(nfft):
                        iwork[2, k] = zero
                # The outer ih bins average fewer cells (noisier): per-cell test only.
                ithr = ithr_lo * scale
                for k in range(nfft - 2 * ih):
                    was = hot[ih + k]
                    passes = iwork[0, ih + k] > ithr * fbox[ih + k] and iwork[2, ih + k] == zero
                    now = max(was, one if passes else zero)
                    hot[ih + k] = now
                    n_hot += now - was
            # Runs of hot cells, with their peak and whether they hold a seed
            # (a cell above the high threshold).  Hot cells are sparse in noise:
            # skip eight empty bins at a time, and in the others go from hot cell to
            # hot cell (a byte each, found by its bit): branches on every bin cost more
            # in mispredictions than the few hot cells of a noise frame.  Without a
            # region open and without a seed, no run can open or extend one: the frame
            # is noise, and its runs are not looked for at all.
            n_runs = 0
            last = -2                   # the last hot cell seen
            if n_hot > zero and (state[S_ACTIVE] > 0 or n_seed > zero or integrated):
                for k in range(nfft):
                    hot8[k] = np.uint8(hot[k])
                for w in range(nfft // 8):
                    bits = hot64[w]
                    while bits != 0:
                        k = 8 * w + (trailing_zeros(bits) >> 3)
                        bits &= bits - np.uint64(1)
                        if k != last + 1:   # a new run: lo, hi, seeded; peak, level
                            runs[n_runs, 0] = k
                            runs[n_runs, 2] = 0
                            run_peak[n_runs, 0] = 0.0
                            run_peak[n_runs, 1] = 0.0
                            n_runs += 1
                        r = n_runs - 1
                        runs[r, 1] = k
                        if smoothed[sw, k] > thr_hi * floor[k]:
                            runs[r, 2] |= SEED_CELL
                        run_peak[r, 1] = max(run_peak[r, 1], smoothed[sw, k] / floor[k])
                        if integrated and ih <= k < nfft - ih:
                            if iwork[0, k] > ithr_hi * scale * fbox[k] and iwork[2, k] == zero:
                                runs[r, 2] |= SEED_INTEGRATED
                        run_peak[r, 0] = max(run_peak[r, 0], ring[pr, k])
                        last = k
            # Engage after most of the band stayed up for step_frames; release
            # only once the raised share is back near its level in plain noise.
            if state[S_RAISED] > step_frames:
                # A random walk up while mostly settled: robust to single frames.
                if n_raised < fparams[F_RELEASE_FRACTION] * nfft:
                    state[S_SETTLED] += 1
                    if state[S_SETTLED] > step_frames:
                        state[S_RAISED] = 0
                        state[S_SETTLED] = 0
                elif state[S_SETTLED] > 0:
                    state[S_SETTLED] -= 1
            elif fparams[F_STEP_FRACTION] * nfft < n_raised:
                state[S_RAISED] += 1
            else:
                state[S_RAISED] = 0
            if state[S_RAISED] > step_frames:
                # Most of the band stayed up: a gain or floor step, not a burst (a
                # burst over a fifth of the band raises under 40 % of the bins, and
                # strong short bursts that fill the band do not last).
                for k in range(nfft):
                    floor[k] += alpha_step * (smoothed[sw, k] - floor[k])
            else:
                for k in range(nfft):
                    fk = floor[k]
                    floor[k] = fk * rise if hot[k] > zero else fk + alpha * (smoothed[sw, k] - fk)
            # Join each run to the active regions it touches (merging them), or open one.
            # A run only the integrated test seeds, within the bin sums' reach of a region
            # much stronger than it (young or not), is that region's far skirt, not a burst.
            reach = freq_tol + ih + h
            for r in range(n_runs):
                lo_k, hi_k, seeded = runs[r, 0], runs[r, 1], runs[r, 2]
                pk, lv = run_peak[r, 0], run_peak[r, 1]
                target = -1
                skirt = False
                i = 0
                while i < state[S_ACTIVE]:
                    plo, phi = active[i, A_PLO], active[i, A_PHI]
                    touches = _near(plo, phi, lo_k, hi_k, freq_tol)
                    if touches and not _compatible(active[i, A_START], peak[i, 1], lv, u, level_ratio):
                        # Much weaker than a region it touches: that region's skirt.
                        skirt |= np.log(lv) < peak[i, 1]
                        touches = False
                    elif (seeded == SEED_INTEGRATED and not touches and _near(plo, phi, lo_k, hi_k, reach)
                          and np.log(lv) < peak[i, 1] - np.log(level_ratio)):
                        skirt = True
                    if touches:
                        if target < 0:
                            target = i
                            i += 1
                        else:
                            # Merge region i into target, then drop i.
                            active[target, A_START] = min(active[target, A_START], active[i, A_START])
                            active[target, A_LO] = min(active[target, A_LO], active[i, A_LO])
                            active[target, A_HI] = max(active[target, A_HI], active[i, A_HI])
                            active[target, A_SEED] |= active[i, A_SEED]
                            active[target, A_CELLS] += active[i, A_CELLS]
                            if active[i, A_SEEN] == u:
                                if active[target, A_SEEN] == u:
                                    active[target, A_NLO] = min(active[target, A_NLO], active[i, A_NLO])
                                    active[target, A_NHI] = max(active[target, A_NHI], active[i, A_NHI])
                                else:
                                    active[target, A_NLO] = active[i, A_NLO]
                                    active[target, A_NHI] = active[i, A_NHI]
                                    active[target, A_SEEN] = u
                            active[target, A_PLO] = min(active[target, A_PLO], active[i, A_PLO])
                            active[target, A_PHI] = max(active[target, A_PHI], active[i, A_PHI])
                            peak[target, 0] = max(peak[target, 0], peak[i, 0])
                            peak[target, 1] = max(peak[target, 1], peak[i, 1])
                            last = state[S_ACTIVE] - 1
                            if target == last:
                                target = i
                            for c in range(A_COLS):
                                active[i, c] = active[last, c]
                            peak[i] = peak[last]
                            state[S_ACTIVE] = last
                    else:
                        i += 1
                if target < 0:
                    # A chirp wrapping from one edge of its band to the other (LoRa):
                    # a sweeping region last seen at one edge of the band it has
                    # covered, and a narrow run right after it at the other edge.
                    for i in range(state[S_ACTIVE]):
                        a = active[i]
                        width = a[A_PHI] - a[A_PLO] + 1
                        if not (a[A_LAST] >= u - 1 and a[A_HI] - a[A_LO] + 1 >= 3 * width
                                and hi_k - lo_k + 1 <= 2 * width + 2
                                and a[A_LO] - freq_tol <= lo_k and hi_k <= a[A_HI] + freq_tol
                                and _compatible(active[i, A_START], peak[i, 1], lv, u, level_ratio)):
                            continue
                        up = a[A_PHI] >= a[A_HI] - width and lo_k <= a[A_LO] + width
                        down = a[A_PLO] <= a[A_LO] + width and hi_k >= a[A_HI] - width
                        if up or down:
                            target = i
                            break
                if target < 0:
                    if not seeded or skirt:
                        # Only a seed opens a region; weaker runs only extend one.
                        continue
                    if state[S_ACTIVE] >= active.shape[0]:
                        status = 1
                        continue
                    target = state[S_ACTIVE]
                    state[S_ACTIVE] += 1
                    active[target, A_START] = u
                    active[target, A_LO] = lo_k
                    active[target, A_HI] = hi_k
                    active[target, A_PLO] = lo_k
                    active[target, A_PHI] = hi_k
                    active[target, A_SEEN] = -1
                    active[target, A_SEED] = 0
                    active[target, A_CELLS] = 0
                    peak[target, 0] = 0.0
                    peak[target, 1] = np.log(lv)
                a = active[target]
                a[A_LAST] = u
                a[A_LO] = min(a[A_LO], lo_k)
                a[A_HI] = max(a[A_HI], hi_k)
                if a[A_SEEN] == u:
                    a[A_NLO] = min(a[A_NLO], lo_k)
                    a[A_NHI] = max(a[A_NHI], hi_k)
                else:
                    a[A_NLO] = lo_k
                    a[A_NHI] = hi_k
                    a[A_SEEN] = u
                a[A_SEED] |= seeded
                a[A_CELLS] += hi_k - lo_k + 1
                if pk > peak[target, 0]:
                    peak[target, 0] = pk
                # The region's recent level: the log of its runs' levels, smoothed (the
                # strongest while young).
                if u - a[A_START] < YOUNG_FRAMES:
                    peak[target, 1] = max(peak[target, 1], np.log(lv))
                else:
                    peak[target, 1] += 0.25 * (np.log(lv) - peak[target, 1])
            # Regions seen this frame carry this frame's extent forward; stale ones close.
            i = 0
            while i < state[S_ACTIVE]:
                if active[i, A_SEEN] == u:
                    active[i, A_PLO] = active[i, A_NLO]
                    active[i, A_PHI] = active[i, A_NHI]
                if active[i, A_LAST] < u - max_gap:
                    if state[S_CLOSED] >= closed.shape[0]:
                        status = 1
                    _close(state, active, peak, i, closed, ring, floor, nfft, ring_frames,
                           min_frames, min_cells, lag)
                else:
                    i += 1
        if flush:
            # Here rather than by a call from Python: one compiled function fewer to load.
            close_all(state, active, peak, closed, ring, floor, iparams[I_MIN_FRAMES],
                      iparams[I_MIN_CELLS], lag)
        return status

    return process_frames
