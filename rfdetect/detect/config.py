"""Detector settings: explicit, immutable, with units in their names."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..errors import ParameterError

# Bins per batch of frames by default (DetectorConfig.frames_per_batch): 1 MB of spectra.
BATCH_BINS = 1 << 17


@dataclass(frozen=True)
class DetectorConfig:
    fft_size: int | None = None        # None: chosen from the sample rate (auto_fft_size)
    hop_fraction: float = 0.5          # hop = fft_size * hop_fraction
    window: str = "hann"
    fft_backend: str = "fftw"          # "fftw" (pyFFTW) or "rocket" (np.fft inside Numba)
    smooth_half_bins: int = 1          # CFAR cell = 2*h+1 adjacent bins
    threshold_db: float = 5.0          # cells above floor by this much extend a region
    seed_threshold_db: float = 12.0    # a region needs one cell this far above the floor
    floor_tau_s: float = 1.0           # time constant of the noise floor average
    floor_rise_db_per_s: float = 1.0   # how fast the floor follows a lasting rise
    floor_step_tau_s: float = 0.05     # time constant when most of the band rises at once:
    floor_step_fraction: float = 0.6   #   more than this fraction of the bins
    floor_step_db: float = 1.76        #   this far above their floor
    floor_step_hold_s: float = 0.05    #   for longer than this,
    floor_step_release_margin: float = 0.05   # until the raised share is within this of plain noise's
    noise_init_s: float = 0.02         # the floor starts as the median of this much signal
    noise_init_min_frames: int = 32
    # Integrated test beside the per-cell one, for bursts near 0 dB in-band SNR
    # (``--integrate``): power averaged over 2*integrate_half_bins+1 bins and three
    # sub-windows of integrate_frames/3 frames, the least of the three; 1 is off.
    # Thresholds set from its distribution in noise (README.md, "Detector").  With
    # it, a run joins a region only within join_level_db of the region's recent
    # runs, so that a weak long signal does not chain the bursts crossing it.
    integrate_frames: int = 1
    integrate_half_bins: int = 4
    integrated_threshold_db: float = 1.5
    integrated_seed_threshold_db: float = 3.5
    join_level_db: float = 10.0
    # Chirp detector beside the energy detector (``--dechirp``): LoRa preambles found by
    # dechirping the wideband IQ for each (bandwidth, SF) of the LoRa signatures of the
    # band ("drone": the drone links' only, "all": LoRaWAN too); see detect/chirp.py.
    dechirp: bool = False
    dechirp_links: str = "drone"
    dechirp_windows: int = 6           # preamble symbols summed by the search (for an 8-symbol
                                       # preamble; a longer one adds its extra symbols)
    dechirp_false_alarms_per_hour: float = 1.0
    # Always-on emitters (detect/steady.py), which the floor absorbs: every steady_check_s
    # of signal, spans of the floor standing steady_threshold_db above the band's noise and
    # its own shoulders, at least steady_min_bandwidth_hz wide (no always-on link is
    # narrower), are reported as bursts of the last steady_span_s.  0 turns it off.
    steady_check_s: float = 0.2
    steady_span_s: float = 0.05
    steady_threshold_db: float = 1.5
    steady_min_bandwidth_hz: float = 2e6
    # Spans standing at least steady_faint_threshold_db (but under steady_threshold_db) are
    # reported too, marked ``faint``: an OFDM video link below the noise (-12 dB in-band
    # raises the floor by 0.2 dB).  The classifier keeps a faint burst only where a
    # kernel confirms a link on it (classify/prefix.py); others cost a check and nothing
    # more.  Equal to steady_threshold_db turns it off.
    steady_faint_threshold_db: float = 0.15
    # Analog video below the noise (detect/linerate.py): every line_rate_check_s of signal,
    # where a video signature's band is in the window, the last line_rate_span_s are searched
    # for the line rate in the power of narrow sub-bands.  0 turns it off.
    line_rate_check_s: float = 0.25
    line_rate_span_s: float = 0.02
    line_rate_false_alarms_per_hour: float = 1.0
    # DJI DroneID below the noise (``--zadoff-chu``, detect/zadoffchu.py): its Zadoff-Chu
    # symbols correlated over the whole stream at the DroneID channels in the window.
    zadoff_chu: bool = False
    zadoff_chu_false_alarms_per_hour: float = 1.0
    # A stage's burst (chirp, Zadoff-Chu) waits at most this long for an energy burst still
    # open, which may stand for it or silence it (detect/merge.py).  A chunked Dask run's
    # warm-up grows with it.
    stage_max_hold_s: float = 0.5
    max_gap_frames: int = 1            # frames without energy that still join a region
    min_frames: int = 1
    min_cells: int = 4
    freq_tol_bins: int = 1
    ring_frames: int = 2048            # frames kept to measure closing regions
    max_active: int = 4096
    batch_frames: int | None = None    # frames per FFT and kernel call; None: frames_per_batch

    def frames_per_batch(self, nfft: int) -> int:
        """``batch_frames``, or by default as many frames as hold BATCH_BINS bins (512 of
        256 bins at 2.4 MS/s), from 64 to 512: a batch's spectra then stay in a core's
        cache (1 MB) from the FFT to the frame kernel, and the Python work per batch is
        spread over enough frames."""
        if self.batch_frames is not None:
            return self.batch_frames
        return min(512, max(64, BATCH_BINS // nfft))

    def __post_init__(self):
        if self.fft_size is not None and (self.fft_size < 16 or self.fft_size & (self.fft_size - 1)):
            raise ParameterError("must be a power of two >= 16", param="fft_size", value=self.fft_size)
        if self.batch_frames is not None and (isinstance(self.batch_frames, bool) or
                                              not isinstance(self.batch_frames, int) or self.batch_frames < 1):
            raise ParameterError("must be a whole number >= 1, or None (chosen from the FFT size)",
                                 param="batch_frames", value=self.batch_frames)
        if not 0 < self.hop_fraction <= 1:
            raise ParameterError("must be in (0, 1]", param="hop_fraction", value=self.hop_fraction)
        if self.integrate_frames != 1 and (self.integrate_frames % 3 or self.integrate_frames % 2 == 0):
            raise ParameterError("must be 1 (off) or 3 times an odd number", param="integrate_frames",
                                 value=self.integrate_frames)
        if self.integrated_seed_threshold_db < self.integrated_threshold_db:
            raise ParameterError("must be >= integrated_threshold_db",
                                 param="integrated_seed_threshold_db",
                                 value=self.integrated_seed_threshold_db)
        if self.dechirp_links not in ("drone", "all"):
            raise ParameterError("must be 'drone' or 'all'", param="dechirp_links", value=self.dechirp_links)
        if not 2 <= self.dechirp_windows <= 8:
            raise ParameterError("must be 2..8 (a preamble has 8 symbols or more)", param="dechirp_windows",
                                 value=self.dechirp_windows)
        if self.steady_check_s < 0 or (self.steady_check_s and not 0 < self.steady_span_s <= self.steady_check_s):
            raise ParameterError("must be 0 (off), or at least steady_span_s (> 0)", param="steady_check_s",
                                 value=self.steady_check_s)
        if not 0 < self.steady_faint_threshold_db <= self.steady_threshold_db:
            raise ParameterError("must be in (0, steady_threshold_db]", param="steady_faint_threshold_db",
                                 value=self.steady_faint_threshold_db)
        if self.line_rate_check_s < 0 or (self.line_rate_check_s and
                                          not 0 < self.line_rate_span_s <= self.line_rate_check_s):
            raise ParameterError("must be 0 (off), or at least line_rate_span_s (> 0)", param="line_rate_check_s",
                                 value=self.line_rate_check_s)
        if self.seed_threshold_db < self.threshold_db:
            raise ParameterError("must be >= threshold_db", param="seed_threshold_db",
                                 value=self.seed_threshold_db)

    def with_(self, **changes) -> "DetectorConfig":
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict) -> "DetectorConfig":
        known = {f.name for f in fields(cls)}
        for key in values:
            if key not in known:
                raise ParameterError("unknown detector setting", param=key, value=values[key])
        return cls(**values)


def auto_fft_size(sample_rate_hz: float) -> int:
    """Power of two near sqrt(fs / 37): 256 bins at 2.4 MS/s (107 us frames, 9.4 kHz
    bins), 1024 at 50 MS/s (20 us, 49 kHz), balancing time against frequency resolution."""
    n = 2 ** round(math.log2(math.sqrt(sample_rate_hz / 37.0)))
    return int(min(max(n, 64), 8192))
