"""Streaming burst detector: IQ blocks in, Burst records out, independent of block size.

Two halves: ``Framer`` (framer.py) turns blocks into spectrogram frames,
``BurstDetector`` runs them through the floor, CFAR and region kernels.
``feed`` chains both; a pipeline may frame on other threads
(``framer.framed_blocks``) and hand the frames to ``consume``.
"""
from __future__ import annotations

import math

import numpy as np

from ..kernels import bursts as K
from ..model import Burst, FloorSnapshot, IQBlock
from .config import DetectorConfig, auto_fft_size
from .framer import FrameBatch, Framer
from .steady import EDGE_FRACTION, NOISE_QUANTILE, faint_spans_wanted, raised_spans


class BurstDetector:
    """Feed contiguous IQ blocks; get back every burst as soon as it has ended.

    Frames of a segment are numbered from its first sample, so the result does
    not depend on how the stream is cut into blocks.  A gap or a retune starts a
    new segment: open bursts are closed, and after a retune the floor restarts.
    """

    def __init__(self, config: DetectorConfig, sample_rate_hz: float, center_freq_hz: float,
                 sample_index0: int = 0):
        self.config = config
        self.sample_rate_hz = float(sample_rate_hz)
        self.center_freq_hz = float(center_freq_hz)
        self.nfft = config.fft_size or auto_fft_size(self.sample_rate_hz)
        self.hop = max(1, int(round(self.nfft * config.hop_fraction)))
        self.framer = Framer(self.nfft, self.hop, config, center_freq_hz, sample_index0)
        frame_s = self.hop / self.sample_rate_hz
        self._thr_lo = 10 ** (config.threshold_db / 10.0)
        self._step_ratio = 10 ** (config.floor_step_db / 10)
        self._init_frames = max(config.noise_init_min_frames,
                                int(config.noise_init_s / frame_s))
        self._lag = lag = config.integrate_frames // 2    # frames a decision waits
        self._kernel = K.make_frame_kernel(config.smooth_half_bins, lag,
                                           config.integrate_half_bins if lag else 0)
        self._state = np.zeros(K.S_COLS, np.int64)
        self._state[K.S_FRAME] = -1
        self._state[K.S_PROC] = -1
        self._floor = np.zeros(self.nfft, np.float32)
        self._snapshot: tuple[int, FloorSnapshot] | None = None   # (frame, floor then)
        self._ring = np.zeros((config.ring_frames, self.nfft), np.float32)
        self._rows = np.zeros((4, 2 * lag + 1, self.nfft), np.float32)
        self._fparams = np.zeros(K.F_COLS)
        self._iparams = np.zeros(K.I_COLS, np.int64)
        self._iparams[[K.I_MAX_GAP, K.I_MIN_FRAMES, K.I_MIN_CELLS, K.I_FREQ_TOL]] = (
            config.max_gap_frames, config.min_frames, config.min_cells, config.freq_tol_bins)
        f = self._fparams
        f[K.F_THR_LO], f[K.F_THR_HI] = self._thr_lo, 10 ** (config.seed_threshold_db / 10.0)
        f[K.F_ITHR_LO] = 10 ** (config.integrated_threshold_db / 10.0)
        f[K.F_ITHR_HI] = 10 ** (config.integrated_seed_threshold_db / 10.0)
        f[K.F_ALPHA] = 1.0 - math.exp(-frame_s / config.floor_tau_s)
        f[K.F_ALPHA_STEP] = 1.0 - math.exp(-frame_s / config.floor_step_tau_s)
        f[K.F_STEP_RATIO] = self._step_ratio
        f[K.F_STEP_FRACTION] = config.floor_step_fraction
        f[K.F_RISE] = 10 ** (config.floor_rise_db_per_s * frame_s / 10.0)
        f[K.F_LEVEL_RATIO] = 10 ** (config.join_level_db / 10.0) if lag else np.inf
        f[K.F_POWER_SCALE] = self.framer.spectrogram.scale
        self._iparams[K.I_STEP_FRAMES] = int(config.floor_step_hold_s / frame_s)
        self._active = np.zeros((config.max_active, K.A_COLS), np.int64)
        self._peak = np.zeros((config.max_active, 2))     # peak power, strongest run's level
        self._closed = np.zeros((config.max_active, K.O_COLS))
        self.overflows = 0
        self.frames_processed = 0
        # Checks of the floor for always-on emitters (steady.py): after the frame that
        # crosses each multiple of this many samples of the stream, so that they fall on the
        # same frames for any block size, and for a detector started mid-stream
        # (rfdetect.scale) as for the serial run.
        self._steady_every = int(round(config.steady_check_s * self.sample_rate_hz))
        self._steady_span = max(1, int(round(config.steady_span_s / frame_s)))
        self._checked_frame = -1
        self._steady_min_bins = max(3, int(math.ceil(config.steady_min_bandwidth_hz / sample_rate_hz * self.nfft)))
        self._samples_lost = 0   # before the current segment: sample indices skip them, time does not
        self._start_segment(int(sample_index0), reset_floor=True)

    # -- segments -------------------------------------------------------------
    def _start_segment(self, sample_index: int, reset_floor: bool) -> None:
        self._origin = sample_index                  # absolute sample of the segment's frame 0
        self._seg_first_frame = int(self._state[K.S_FRAME]) + 1
        self._state[K.S_SEG0] = self._seg_first_frame
        self._state[K.S_PROC] = self._seg_first_frame - 1
        if reset_floor:
            self._floor_ready = False
            self._pending: list[np.ndarray] = []
            self._pending_frames = 0

    def restart(self, sample_index: int, center_freq_hz: float | None = None) -> list[Burst]:
        """A gap or retune at ``sample_index``: close open bursts, start a new segment."""
        out = self.finish()
        retuned = center_freq_hz is not None and center_freq_hz != self.center_freq_hz
        if retuned:
            self.center_freq_hz = float(center_freq_hz)
        self._start_segment(sample_index, reset_floor=retuned)
        return out

    # -- streaming ------------------------------------------------------------
    def feed(self, block: IQBlock) -> list[Burst]:
        return self.consume(self.framer.defer(block))

    def consume(self, batch: FrameBatch) -> list[Burst]:
        """The consumer half: frames made by ``framer`` (possibly on another thread)."""
        out: list[Burst] = []
        if batch.restart_at is not None and not (batch.restart_at == self._origin
                                                 and self._state[K.S_FRAME] + 1 == self._seg_first_frame):
            out += self.restart(batch.restart_at, batch.center_freq_hz)
        self._samples_lost = batch.samples_lost
        # Spectra where the frames are computed here: the frame kernel makes their power.
        for frames in batch.chunks(spectra=True):
            if frames.shape[0]:
                out += self._process(frames)
        return out

    def finish(self) -> list[Burst]:
        """Close everything open (end of stream); the detector can go on afterwards."""
        out: list[Burst] = []
        if not self._floor_ready and self._pending_frames:
            out += self._init_floor_and_run()
        if self._floor_ready:
            # Decide the frames still waiting for the integrated test's later frames, and
            # close every region (none opens before the floor runs).
            self.overflows += self._kernel(self._ring[:0], self._state, self._floor, self._ring,
                                           self._rows, self._active, self._peak,
                                           self._closed, self._fparams, self._iparams, True)
        out += self._collect()
        return out

    def _process(self, frames: np.ndarray) -> list[Burst]:
        """Power frames (nfft columns) or their spectra (2*nfft, see ``consume``)."""
        if not self._floor_ready:
            if frames.shape[1] == self.nfft:
                power = frames.copy()      # the framer reuses its buffers
            else:
                power = self.framer.spectrogram.power_of(frames)
            self._pending.append(power)
            self._pending_frames += power.shape[0]
            if self._pending_frames < self._init_frames:
                return []
            return self._init_floor_and_run()
        return self._run(frames)

    def _init_floor_and_run(self) -> list[Burst]:
        frames = np.concatenate(self._pending)
        self._pending, self._pending_frames = [], 0
        head = frames[: self._init_frames]
        smoothed = np.empty(head.shape, np.float32)
        smooth_row = K.make_smooth(self.config.smooth_half_bins)
        for i in range(head.shape[0]):
            smooth_row(head[i], smoothed[i])
        # The median resists bursts; the censored mean is what the running
        # update converges to, so start there.
        median = np.maximum(np.median(smoothed, axis=0), np.finfo(np.float32).tiny)
        quiet = smoothed <= self._thr_lo * median
        counts = np.maximum(quiet.sum(axis=0), 1)
        self._floor[:] = np.where(quiet.any(axis=0), (smoothed * quiet).sum(axis=0) / counts, median)
        # Share of bins "raised" in plain noise: the step rule releases near it.
        raised = (smoothed > self._step_ratio * self._floor).mean()
        self._fparams[K.F_RELEASE_FRACTION] = float(raised) + self.config.floor_step_release_margin
        self._floor_ready = True
        self._snapshot = None
        if not self._steady_every:
            return self._run(frames)
        # An emitter on from the start is in the floor already: looked for at once, not
        # only at the first multiple of the check interval.
        out = self._run(frames[: self._init_frames])
        if self._checked_frame != int(self._state[K.S_FRAME]):     # (unless one just fell there)
            out += self._steady_bursts(faint=False)
        return out + self._run(frames[self._init_frames:])

    def _run(self, power: np.ndarray) -> list[Burst]:
        out: list[Burst] = []
        f0 = 0
        batch = self.framer.spectrogram.batch_frames
        while f0 < power.shape[0]:
            n = min(batch, power.shape[0] - f0)
            to_check = self._frames_to_check()
            n = min(n, to_check)
            chunk = power[f0: f0 + n]
            status = self._kernel(chunk, self._state, self._floor, self._ring, self._rows,
                                  self._active, self._peak, self._closed,
                                  self._fparams, self._iparams, False)
            self.overflows += status
            self.frames_processed += n
            f0 += n
            out += self._collect()
            if n == to_check:
                out += self._steady_bursts()
        return out

    def _frames_to_check(self) -> int:
        """Frames from the next one to the next check's, inclusive (a large number when off):
        the check follows the first frame starting at or past the next multiple of
        ``_steady_every`` samples after the segment's start."""
        if not self._steady_every:
            return 1 << 62
        first = int(self._state[K.S_FRAME]) + 1
        start = self._origin + (first - self._seg_first_frame) * self.hop
        before = start - self.hop if first > self._seg_first_frame else self._origin
        target = (before // self._steady_every + 1) * self._steady_every
        return max(0, -(-(target - start) // self.hop)) + 1

    def _steady_bursts(self, faint: bool = True) -> list[Burst]:
        """The always-on emitters the floor holds now, as bursts of the last frames.
        ``faint``: also the spans under the plain threshold, which a burst in the stretch
        the floor first learns from raises as much (so not at the first look)."""
        self._checked_frame = int(self._state[K.S_FRAME])
        if not self._floor_may_stand_raised():
            return []
        shape = {"min_bins": self._steady_min_bins, "shoulder_bins": max(2, self._steady_min_bins // 4)}
        spans = [(lo, hi, level, False) for lo, hi, level in
                 raised_spans(self._floor, threshold_db=self.config.steady_threshold_db, **shape)]
        if faint and self.config.steady_faint_threshold_db < self.config.steady_threshold_db and \
                faint_spans_wanted(self.sample_rate_hz, self.center_freq_hz):
            # Outlined at their own (lower) level, so that a span the plain check finds keeps
            # its edges; a faint span overlapping one of those is that span.
            spans += [(lo, hi, level, True) for lo, hi, level in
                      raised_spans(self._floor, threshold_db=self.config.steady_faint_threshold_db, **shape)
                      if not any(lo <= b and a <= hi for a, b, _, _ in spans)]
        last = float(self._state[K.S_FRAME])
        # A span's edges are those of its bins (the floor is smoothed over a CFAR cell).
        return [self._burst(last - self._steady_span, last, lo - 0.5, hi + 0.5, level - 1.0,
                            float(self._floor[lo: hi + 1].max()),
                            {"frames": self._steady_span, "cells": (hi - lo + 1) * self._steady_span,
                             "edges_refined": False, "steady": True, **({"faint": True} if faint else {})})
                for lo, hi, level, faint in spans]

    def _floor_may_stand_raised(self) -> bool:
        """False when no bin of the floor reaches ``raised_spans``' thresholds, so that it
        would find nothing: checked from the order statistic just below its noise quantile
        (a partition, not a quantile: a few microseconds instead of the 0.3 ms of the whole
        search, which nearly always ends empty)."""
        floor = self._floor
        n = floor.shape[0]
        edge = int(n * EDGE_FRACTION)
        centre = floor[edge: n - edge] if n - 2 * edge >= 8 else floor
        k = int((centre.shape[0] - 1) * NOISE_QUANTILE)
        below = float(np.partition(centre, k)[k])      # the quantile interpolates up from it
        lowest_db = self.config.steady_faint_threshold_db \
            if faint_spans_wanted(self.sample_rate_hz, self.center_freq_hz) else self.config.steady_threshold_db
        ratio = 10 ** (lowest_db / 10)
        # A span needs a bin above sqrt(ratio) x noise, and a mean of at least ratio x noise;
        # the margin covers the quantile's rounding.
        bound = max(ratio, math.sqrt(ratio)) * below * (1 - 1e-3)
        return not (below > 0 and float(floor.max()) < bound)

    def _collect(self) -> list[Burst]:
        n = int(self._state[K.S_CLOSED])
        if n == 0:
            return []
        rows = self._closed[:n].copy()
        self._state[K.S_CLOSED] = 0
        return [self._to_burst(r) for r in rows]

    # -- units ----------------------------------------------------------------
    def frame_to_sample(self, frame_pos: float) -> float:
        """Absolute sample index at the centre of (fractional) frame ``frame_pos``."""
        return self._origin + (frame_pos - self._seg_first_frame) * self.hop + self.nfft / 2

    def bin_to_hz(self, bin_pos: float) -> float:
        return self.center_freq_hz + (bin_pos - self.nfft / 2) * self.sample_rate_hz / self.nfft

    def _to_burst(self, row: np.ndarray) -> Burst:
        return self._burst(row[K.O_START], row[K.O_END], row[K.O_FLO], row[K.O_FHI], row[K.O_SNR],
                           row[K.O_PEAK],
                           {"frames": int(row[K.O_T1] - row[K.O_T0] + 1), "cells": int(row[K.O_CELLS]),
                            "edges_refined": bool(int(row[K.O_REFINED]) == 3)},
                           horizon_s=self._horizon_at(float(row[K.O_HORIZON])))

    def _burst(self, start_frame: float, end_frame: float, lo_bin: float, hi_bin: float,
               snr: float, peak_power: float, features: dict, horizon_s: float | None = None) -> Burst:
        """A burst between two (fractional) frames and bins of this segment, in samples,
        seconds (counting the samples lost before it) and Hz; ``snr`` and ``peak_power``
        linear."""
        fs = self.sample_rate_hz
        s0 = max(int(round(self.frame_to_sample(start_frame))), self._origin)
        s1 = max(int(round(self.frame_to_sample(end_frame))), s0 + 1)
        f_lo, f_hi = self.bin_to_hz(lo_bin), self.bin_to_hz(hi_bin)
        lost = self._samples_lost
        return Burst(
            sample_start=s0, sample_end=s1, t_start_s=(s0 + lost) / fs, t_end_s=(s1 + lost) / fs,
            f_lo_hz=f_lo, f_hi_hz=f_hi,
            snr_db=10 * math.log10(snr) if snr > 0 else -99.0,
            peak_power_db=10 * math.log10(max(peak_power, 1e-30)),
            center_freq_hz=0.5 * (f_lo + f_hi),
            features=features, horizon_s=horizon_s,
        )

    # -- state of a stream resumed mid-way (used by rfdetect.scale) -----------
    # A run that starts part-way into a recording (one chunk of it, on another
    # process) needs what does not converge during its warm-up: the samples lost
    # before its start, and the raised-bin share the stream's first floor start
    # measured.  Kept together here so the internals can change under it.
    def resume(self, samples_lost: int = 0, release_fraction: float | None = None) -> None:
        """Continue a stream that began before ``sample_index0``: ``samples_lost``
        samples were lost in gaps before it (times count them, sample indices do not),
        and when the floor starts, its step rule releases near ``release_fraction``
        (see ``release_fraction``) instead of the share measured here."""
        self.framer._samples_lost = self._samples_lost = int(samples_lost)
        if release_fraction is None:
            return

        def first_run(power: np.ndarray) -> list[Burst]:
            del self._run                 # the class's own from now on
            self._fparams[K.F_RELEASE_FRACTION] = release_fraction
            return self._run(power)
        self._run = first_run             # the floor starts just before its first run

    @property
    def floor_ready(self) -> bool:
        """The noise floor has started (after ``DetectorConfig.noise_init_s`` of signal)."""
        return self._floor_ready

    def floor_snapshot(self) -> FloorSnapshot | None:
        """A copy of the noise floor as it stands (None before it has started).  The bursts
        handed on between two frames share one copy: a chunked run ships it with each."""
        if not self._floor_ready:
            return None
        frame = int(self._state[K.S_FRAME])
        if self._snapshot is None or self._snapshot[0] != frame:
            spec = self.framer.spectrogram
            self._snapshot = (frame, FloorSnapshot(self._floor.copy(), spec.window, float(spec.scale)))
        return self._snapshot[1]

    def next_steady_start(self) -> float | None:
        """Sample at which the bursts of the next check for always-on emitters will start
        (they cover the span before it), or None when the check is off."""
        if not self._steady_every:
            return None
        return self.frame_to_sample(float(self._next_steady_frame()))

    def _next_steady_frame(self) -> int:
        """First frame of the span the next check for always-on emitters reports."""
        return int(self._state[K.S_FRAME]) + self._frames_to_check() - self._steady_span

    @property
    def release_fraction(self) -> float:
        """Share of bins the step rule counts as raised in plain noise (plus the
        configured margin), as measured when the floor started."""
        return float(self._fparams[K.F_RELEASE_FRACTION])

    def horizon_s(self) -> float:
        """No burst this detector returns later starts before this time: the start of
        the earliest region still open, or else of the first frame not yet decided (less
        a frame, as a burst's edge is interpolated between frames)."""
        n = int(self._state[K.S_ACTIVE])
        first = min([int(self._state[K.S_PROC]) + 1, *(int(f) for f in self._active[:n, K.A_START])])
        if self._steady_every:
            # The next check reports its emitters from a span back.
            first = min(first, self._next_steady_frame())
        return self._horizon_at(float(first))

    def _horizon_at(self, frame: float) -> float:
        """Seconds before which no burst starting at ``frame`` or later begins (its edge is
        interpolated between frames)."""
        return float(self.frame_to_sample(frame) - self.nfft + self._samples_lost) / self.sample_rate_hz

    def open_starts(self) -> list[float]:
        """Samples at which the regions still open started."""
        n = int(self._state[K.S_ACTIVE])
        return [self.frame_to_sample(float(f)) for f in self._active[:n, K.A_START]]
