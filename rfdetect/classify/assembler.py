"""Reassemble packets the burst detector split into pieces.

Two ways a packet comes apart:

- In time.  A chirp spread spectrum packet sweeps its band once per symbol, so
  a spectrogram detector often closes one region per symbol: a LoRa frame
  arrives as a train of contiguous bursts on one channel.  Pieces that touch in
  time (gap below ``piece_gap_s``), sit on the same
  channel and have similar bandwidth are joined into one burst, with their
  samples stitched together.
- In frequency.  Near 0 dB in-band SNR a wideband burst (Wi-Fi, DJI OFDM, FM
  video) stands only about 3 dB above the noise in each cell, and the detector
  keeps it as several regions side by side: a 16.6 MHz Wi-Fi frame as eight
  pieces of 1.5-2 MHz, each the size of a 2.4 GHz control-link burst.  One
  transmitter's burst starts and ends at the same instant across its whole
  band, so pieces whose start and end agree to within the edge measurement
  (``BESIDE_TIME_S`` or ``BESIDE_TIME_FRACTION`` of the duration) and whose
  bands touch (gap at most ``BESIDE_GAP_FRACTION`` of the wider piece's width)
  are one burst over the union of their bands.

Only bursts inside the band of a signature that asked for it are held back
(a LoRa kernel for trains, a wideband link for pieces side by side);
everything else passes straight through.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import replace

import numpy as np

from ..history import IQSnippet
from ..model import Burst

MIN_GAP_S = 60e-6
# ... or this many of the detector's time steps, if more.  A strong LoRa packet at SF8
# comes apart at its symbols' wraps (0.41 ms pieces 0.08-0.2 ms apart at 2.4 MS/s, a step
# 53 us), too short for the dechirp to confirm one by one.  No more: an OOK remote's pulses
# are 0.35 ms apart, ExpressLRS FSK's packets on one channel 0.34 ms (six or more steps),
# and five steps joined two pulses of the remote in recordings/elrs_433.h5.
PIECE_GAP_HOPS = 4
GAP_FRACTION = 0.08
# Gaps inside a packet are the frames or two a weak symbol fell below threshold; the next
# packet of a link on the same channel comes later (ExpressLRS 50 Hz: 1.44 ms after an
# 18.56 ms packet, which GAP_FRACTION alone would join).
MAX_GAP_S = 1.0e-3
# A strong chirp comes apart at its symbols' wraps: pieces of about 0.8 of a symbol, a
# fifth of a symbol apart (SF9 at +10 dB: 0.8 ms pieces 0.22 ms apart).  A piece no longer
# than that, as wide as a chirp's sweep, may be followed after this share of its length.
# (Not a whole packet: ExpressLRS 2.4 GHz at 500 Hz sends its next 1.78 ms packet on the
# channel 0.22 ms later, 200 Hz at 900 MHz its 4.4 ms packets 0.62 ms apart; not an OOK
# pulse, 14 kHz wide; not ExpressLRS FSK's 0.66 ms packets, 0.34 ms apart.)
SYMBOL_GAP_FRACTION = 0.3
SYMBOL_PIECE_MAX_S = 1.2e-3
SYMBOL_PIECE_MIN_HZ = 100e3
BESIDE_TIME_S = 60e-6
BESIDE_TIME_FRACTION = 0.15
BESIDE_GAP_FRACTION = 0.5
# The widest chirp in the library, ExpressLRS 2.4 GHz's 812.5 kHz, with its edges measured
# wide: pieces that overlap in time are joined only in bands up to this wide.
OVERLAP_MAX_HZ = 1.0e6
# A piece still open this long is no piece of a drone link's LoRa packet (the longest in the
# library, mLRS's, is under 45 ms): a later burst is not held back for it.
OPEN_PIECE_MAX_S = 0.05


class _Pending:
    """A packet's pieces so far, with their extent kept up to date, and the measures of
    its last piece that every later burst is compared with (a busy band holds about ten
    packets pending, so each burst meets them all)."""

    def __init__(self, piece: Burst, snippet, train: bool, min_gap_s: float = MIN_GAP_S):
        self.min_gap_s = min_gap_s
        self.pieces = [piece]
        self.snippets = [snippet]
        self.splinters = 0
        self.train = train             # may take later pieces in time (a LoRa packet)
        self.side_by_side = False      # holds pieces split in frequency
        self.start_s, self.end_s = piece.t_start_s, piece.t_end_s
        self.f_lo_hz, self.f_hi_hz = piece.f_lo_hz, piece.f_hi_hz
        self._last(piece)

    def _last(self, piece: Burst) -> None:
        self.last_bandwidth_hz = max(piece.bandwidth_hz, 1.0)
        self.last_center_hz = piece.center_freq_hz
        self.last_duration_s = piece.duration_s
        self.gap_s = piece_gap_s(self.last_duration_s, self.min_gap_s, self.last_bandwidth_hz)

    def add(self, piece: Burst, snippet) -> None:
        self.pieces.append(piece)
        self.snippets.append(snippet)
        self.start_s, self.end_s = min(self.start_s, piece.t_start_s), max(self.end_s, piece.t_end_s)
        self.f_lo_hz, self.f_hi_hz = min(self.f_lo_hz, piece.f_lo_hz), max(self.f_hi_hz, piece.f_hi_hz)
        self._last(piece)

    def absorb(self, other: "_Pending") -> None:
        """Another run of pieces of the same packet (a piece that joins it comes next)."""
        for piece, snip in zip(other.pieces, other.snippets):
            self.add(piece, snip)
        self.splinters += other.splinters

    def add_splinter(self, piece: Burst) -> None:
        self.splinters += 1
        self.end_s = max(self.end_s, piece.t_end_s)


def piece_gap_s(duration_s: float, min_gap_s: float = MIN_GAP_S, bandwidth_hz: float = 0.0) -> float:
    """The longest gap after a piece of ``duration_s`` (and ``bandwidth_hz``) that the
    packet's next piece may follow: ``min_gap_s`` at least (see ``Assembler``)."""
    symbol = duration_s <= SYMBOL_PIECE_MAX_S and bandwidth_hz >= SYMBOL_PIECE_MIN_HZ
    return max(min_gap_s, min((SYMBOL_GAP_FRACTION if symbol else GAP_FRACTION) * duration_s, MAX_GAP_S))


def joins(piece: Burst, pending: _Pending, bandwidth_hz: float) -> bool:
    """``bandwidth_hz``: the piece's."""
    bw = pending.last_bandwidth_hz
    if not (bw / 1.5 <= bandwidth_hz <= bw * 1.5):
        return False
    if abs(piece.center_freq_hz - pending.last_center_hz) > 0.25 * bw:
        return False
    gap = piece.t_start_s - pending.end_s
    return -pending.last_duration_s <= gap <= pending.gap_s


def beside(piece: Burst, pending: _Pending) -> bool:
    """A piece of the same emission split in frequency: it starts and ends with the
    pending burst and its band touches the pending one's."""
    if len(pending.pieces) > 1 and not pending.side_by_side:
        return False
    tol = max(BESIDE_TIME_S, BESIDE_TIME_FRACTION * max(piece.duration_s, pending.end_s - pending.start_s))
    if abs(piece.t_start_s - pending.start_s) > tol or abs(piece.t_end_s - pending.end_s) > tol:
        return False
    gap = max(piece.f_lo_hz - pending.f_hi_hz, pending.f_lo_hz - piece.f_hi_hz)
    width = max(piece.bandwidth_hz, max(b.bandwidth_hz for b in pending.pieces))
    return gap <= BESIDE_GAP_FRACTION * width


def splinter_of(piece: Burst, pending: _Pending, bandwidth_hz: float) -> bool:
    """A narrower burst inside the packet's time span and band: a piece of its sweep.
    ``bandwidth_hz``: the piece's."""
    start, lo, hi = pending.start_s, pending.f_lo_hz, pending.f_hi_hz
    return (bandwidth_hz < 0.8 * (hi - lo) and start <= piece.t_start_s <= pending.end_s + pending.gap_s
            and lo <= piece.center_freq_hz <= hi)


def overlaps(piece: Burst, pending: _Pending, within_gap: bool = True) -> bool:
    """A piece of the packet that the detector saw as another region at the same time: a
    chirp lifts each frame's cells unevenly, and regions of one packet overlap in time,
    closing out of order (ExpressLRS 50 Hz at 0 dB: 0.1-2.5 ms, 130-490 kHz of its
    500 kHz).  The piece's span meets the packet's (``within_gap``: within the gap its last
    piece allows; else it overlaps it), and the narrower of the two bands lies within the
    wider, give or take a quarter of its width, and spans a quarter of it or more: a packet
    on the next channel does not, nor an OOK remote's 20 kHz pulse on the packet's channel.  No band wider than a chirp's
    (OVERLAP_MAX_HZ), and where wideband links send too (``Assembler``'s "both"), only
    pieces that overlap: the slices of a Wi-Fi frame overlap in time as well, and joined
    across their gaps they no longer look like slices (a Wi-Fi recording of the false-alarm
    bench, wifi:757011, was named Spektrum DSMX)."""
    gap_s = pending.gap_s if within_gap else 0.0
    meets = piece.t_start_s < pending.end_s + gap_s and piece.t_end_s > pending.start_s - gap_s
    (n_lo, n_hi), (w_lo, w_hi) = sorted(((piece.f_lo_hz, piece.f_hi_hz), (pending.f_lo_hz, pending.f_hi_hz)),
                                        key=lambda band: band[1] - band[0])
    margin = 0.25 * (w_hi - w_lo)
    return (meets and w_hi - w_lo <= OVERLAP_MAX_HZ
            and n_lo >= w_lo - margin and n_hi <= w_hi + margin and n_hi - n_lo >= margin)


def merge(pieces: list[Burst], splinters: int = 0) -> Burst:
    if len(pieces) == 1 and not splinters:
        return pieces[0]
    first = min(pieces, key=lambda b: b.sample_start)
    last = max(pieces, key=lambda b: b.sample_end)
    w = np.array([b.duration_s for b in pieces])
    centre = float(np.sum(w * np.array([b.center_freq_hz for b in pieces])) / w.sum())
    snr = float(10 * np.log10(np.sum(w * 10 ** (np.array([b.snr_db for b in pieces]) / 10)) / w.sum()))
    bws = sorted(b.bandwidth_hz for b in pieces)
    half = 0.5 * bws[len(bws) // 2]
    features = dict(first.features)
    features["pieces"] = len(pieces)
    if splinters:
        features["splinters"] = splinters
    return replace(first, sample_end=last.sample_end, t_end_s=last.t_end_s, f_lo_hz=centre - half,
                   f_hi_hz=centre + half, snr_db=snr, peak_power_db=max(b.peak_power_db for b in pieces),
                   center_freq_hz=centre, features=features)


def merge_beside(pieces: list[Burst]) -> Burst:
    """Pieces of one burst side by side in frequency: the union of their bands, the
    median of their edges in time (each piece measures the same edges), the in-band SNR
    averaged over the band."""
    widest = max(pieces, key=lambda b: b.bandwidth_hz)
    by_start = sorted(pieces, key=lambda b: b.sample_start)[(len(pieces) - 1) // 2]
    by_end = sorted(pieces, key=lambda b: b.sample_end)[len(pieces) // 2]
    f_lo, f_hi = min(b.f_lo_hz for b in pieces), max(b.f_hi_hz for b in pieces)
    bw = np.array([b.bandwidth_hz for b in pieces])
    snr_lin = np.sum(bw * 10 ** (np.array([b.snr_db for b in pieces]) / 10)) / max(bw.sum(), 1e-9)
    features = dict(widest.features)
    features["pieces"] = len(pieces)
    features["side_by_side"] = True
    return replace(widest, sample_start=by_start.sample_start, t_start_s=by_start.t_start_s,
                   sample_end=max(by_end.sample_end, by_start.sample_start + 1), t_end_s=by_end.t_end_s,
                   f_lo_hz=f_lo, f_hi_hz=f_hi, snr_db=float(10 * np.log10(max(snr_lin, 1e-12))),
                   peak_power_db=max(b.peak_power_db for b in pieces),
                   center_freq_hz=0.5 * (f_lo + f_hi), features=features)


def stitch(snippets: list) -> IQSnippet | None:
    """The longest contiguous run of samples the snippets cover (they may overlap), with
    the noise floor of the last."""
    snips = sorted((s for s in snippets if s is not None), key=lambda s: s.sample_index0)
    if not snips:
        return None
    runs = [[snips[0]]]
    for s in snips[1:]:
        prev_end = max(x.sample_index0 + x.samples.shape[-1] for x in runs[-1])
        if s.sample_index0 <= prev_end and s.center_freq_hz == runs[-1][0].center_freq_hz:
            runs[-1].append(s)
        else:
            runs.append([s])
    best = max(runs, key=lambda r: max(x.sample_index0 + x.samples.shape[-1] for x in r) - r[0].sample_index0)
    start = best[0].sample_index0
    stop = max(x.sample_index0 + x.samples.shape[-1] for x in best)
    out = np.empty((best[0].samples.shape[0], stop - start), best[0].samples.dtype)
    for x in best:
        out[:, x.sample_index0 - start: x.sample_index0 - start + x.samples.shape[-1]] = x.samples
    return IQSnippet(out, start, best[0].sample_rate_hz, best[0].center_freq_hz, getattr(best[-1], "floor", None))


def flush_point_s(burst: Burst) -> float:
    """The earliest start a burst arriving after ``burst`` may have.  Bursts arrive as they
    close, in end order: a piece of a packet that is still open when a shorter burst on
    another channel closes comes after it, with an earlier start (the detector's horizon
    says how early).  A region open for longer than ``OPEN_PIECE_MAX_S`` (a continuous
    emitter) is not waited for, so that it does not hold every packet back."""
    if burst.horizon_s is None:
        return burst.t_start_s
    return min(burst.t_start_s, max(burst.horizon_s, burst.t_start_s - OPEN_PIECE_MAX_S))


class Assembler:
    """Streaming: ``push`` returns the (burst, snippet) pairs that are complete.

    ``holds(burst)`` says what a burst may be a piece of: ``"train"`` (a packet cut in
    time), ``"beside"`` (a wideband burst cut in frequency), ``"both"``, or None (it
    passes straight through).

    What is complete leaves in start order behind the packets still held: a burst that
    starts after a held packet waits for it, so that the tracker sees each emitter's
    packets in the order they were sent (a held packet may wait for a piece still open
    for up to ``OPEN_PIECE_MAX_S``)."""

    def __init__(self, holds, min_gap_s: float = MIN_GAP_S):
        """``min_gap_s``: the gap a packet's pieces may leave whatever their length
        (``set_frame_hop``)."""
        self._holds = holds
        self.min_gap_s = min_gap_s
        self._pending: list[_Pending] = []
        self._ready: list[tuple[float, int, Burst, object]] = []    # heap by start
        self._count = 0

    def set_frame_hop(self, frame_hop_s: float) -> None:
        """The detector's time step: pieces may leave PIECE_GAP_HOPS of them, if more than
        MIN_GAP_S."""
        self.min_gap_s = max(MIN_GAP_S, PIECE_GAP_HOPS * frame_hop_s)

    def push(self, burst: Burst, iq) -> list[tuple[Burst, object]]:
        self._queue(self._flush_before(flush_point_s(burst), burst.t_end_s))
        self._hold(burst, iq)
        return self._release()

    def _hold(self, burst: Burst, iq) -> None:
        hold = self._holds(burst)
        if not hold:
            self._queue([(burst, iq)])
            return
        train = hold in ("train", "both")
        if hold in ("beside", "both"):
            group = [p for p in self._pending if beside(burst, p)]
            if group:
                host = group[0]
                for p in group[1:]:        # the piece bridges two groups: one burst
                    for piece, snip in zip(p.pieces, p.snippets):
                        host.add(piece, snip)
                    self._pending.remove(p)
                host.add(burst, iq)
                host.side_by_side = True
                return
        if train:
            bw = burst.bandwidth_hz
            group = [p for p in self._pending if p.train and not p.side_by_side
                     and (joins(burst, p, bw) or overlaps(burst, p, within_gap=hold == "train"))]
            if group:
                host = group[0]
                for p in group[1:]:        # the piece bridges two runs of pieces: one packet
                    host.absorb(p)
                    self._pending.remove(p)
                host.add(burst, iq)
                return
            for p in self._pending:
                if p.train and not p.side_by_side and splinter_of(burst, p, bw):
                    # A piece of the sweep the detector saw narrow (a symbol boundary): part
                    # of the packet, and it bridges the packet to its next full piece.
                    p.add_splinter(burst)
                    return
        self._pending.append(_Pending(burst, iq, train, self.min_gap_s))

    def _queue(self, done: list[tuple[Burst, object]]) -> None:
        for burst, iq in done:
            heapq.heappush(self._ready, (burst.t_start_s, self._count, burst, iq))
            self._count += 1

    def _release(self) -> list[tuple[Burst, object]]:
        held_from = min((p.start_s for p in self._pending), default=math.inf)
        out = []
        while self._ready and self._ready[0][0] < held_from:
            _, _, burst, iq = heapq.heappop(self._ready)
            out.append((burst, iq))
        return out

    def advance(self, horizon_s: float) -> list[tuple[Burst, object]]:
        """No burst pushed from now on starts before ``horizon_s``: what is complete by then
        is returned now rather than when the next burst arrives (in a quiet band, much later)."""
        self._queue(self._flush_before(horizon_s, horizon_s))
        return self._release()

    def _flush_before(self, t_start_s: float, t_end_s: float) -> list:
        """What a burst from ``t_start_s`` to ``t_end_s`` (or any later one) can no longer join."""
        out, keep = [], []
        for p in self._pending:
            # Pieces close in order; one that ended well before this start is complete, and
            # so is one whose side-by-side pieces would all have closed before this one.
            if t_start_s - p.end_s > 4 * p.gap_s \
                    or (not p.train and t_end_s - p.end_s > max(4 * MIN_GAP_S,
                                                                BESIDE_TIME_FRACTION * 4 * p.last_duration_s)):
                out.append(self._emit(p))
            else:
                keep.append(p)
        self._pending = keep
        return out

    def finish(self) -> list:
        self._queue([self._emit(p) for p in self._pending])
        self._pending = []
        return self._release()

    @staticmethod
    def _emit(p: _Pending):
        if len(p.pieces) == 1:
            return merge(p.pieces, p.splinters), p.snippets[0]
        if p.side_by_side:
            return merge_beside(p.pieces), stitch(p.snippets)
        return merge(p.pieces, p.splinters), stitch(p.snippets)
