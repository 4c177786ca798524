"""The records that flow between stages (see recordings/README.md and docs/records.md).

Every time-bearing record points back to absolute sample indices of the
stream, so any result can be found again in the recording.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np


@dataclass(frozen=True)
class SensorPosition:
    lat: float | None = None
    lon: float | None = None
    alt_m: float | None = None
    heading_deg: float | None = None


@dataclass(frozen=True)
class Annotation:
    """A labelled time-frequency box, in absolute samples (ground truth or a detection)."""
    sample_start: int
    sample_count: int
    freq_lower_edge_hz: float | None = None
    freq_upper_edge_hz: float | None = None
    label: str = ""
    comment: str = ""


@dataclass(frozen=True)
class FloorSnapshot:
    """The detector's noise floor per frequency bin at one moment, with what turns samples
    into the same power: frames of ``window``'s length, windowed, transformed, squared,
    times ``scale``, fft-shifted (bin 0 at the window's lowest frequency)."""
    power: np.ndarray        # (nfft,) float32
    window: np.ndarray       # (nfft,)
    scale: float


@dataclass(frozen=True)
class RecordingInfo:
    """What a source knows about its stream before the first sample is read."""
    path: str
    sample_rate_hz: float
    center_freq_hz: float
    num_channels: int = 1
    num_samples: int | None = None          # None: unknown (live stream)
    datatype: str = "cf32_le"               # SigMF name of the stored sample type
    datetime_utc: str | None = None         # ISO 8601 of the first sample
    hardware: str = ""
    gain_db: float | None = None
    sensor: SensorPosition = SensorPosition()
    retunes: tuple[tuple[int, float], ...] = ()     # (sample index, center frequency Hz)
    gaps: tuple[tuple[int, int], ...] = ()          # (sample index, samples lost before it)
    annotations: tuple[Annotation, ...] = ()
    array: dict | None = None               # antenna array description (DESIGN.md section 3)

    @property
    def duration_s(self) -> float | None:
        return None if self.num_samples is None else self.num_samples / self.sample_rate_hz

    def time_utc(self, t_s: float) -> str | None:
        """Absolute UTC (ISO 8601) of a time offset, where the start time is known."""
        if not self.datetime_utc:
            return None
        try:
            start = datetime.fromisoformat(self.datetime_utc.replace("Z", "+00:00"))
        except ValueError:
            return None
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        return (start + timedelta(seconds=t_s)).isoformat().replace("+00:00", "Z")


@dataclass
class IQBlock:
    """A run of contiguous samples, shape (channels, n), complex64."""
    samples: np.ndarray
    sample_index0: int
    center_freq_hz: float
    sample_rate_hz: float
    timestamp: float | None = None          # POSIX seconds (UTC) of the first sample, if known
    gain_db: float | None = None
    samples_lost_before: int = 0            # > 0: a gap of this many samples precedes this block

    @property
    def num_samples(self) -> int:
        return self.samples.shape[-1]


class CU8Block(IQBlock):
    """One channel of RTL-SDR bytes, ``raw`` (uint8 (n, 2): I, Q), converted to complex64
    only when ``samples`` is first read.  The spectrogram windows the bytes themselves
    (kernels.spectrogram.window_frames: the conversion's float32 operations, so the
    same frames), so a recording's blocks are converted only where a burst's samples are
    looked at."""

    def __init__(self, raw: np.ndarray, sample_index0: int, center_freq_hz: float, sample_rate_hz: float,
                 **kwargs):
        self.raw = raw
        self._converted: np.ndarray | None = None
        super().__init__(None, sample_index0, center_freq_hz, sample_rate_hz, **kwargs)

    @property
    def samples(self) -> np.ndarray:
        if self._converted is None:
            from .kernels.convert import cu8_to_c64
            self._converted = cu8_to_c64(self.raw)
        return self._converted

    @samples.setter
    def samples(self, value: np.ndarray | None) -> None:
        if value is not None:                # (IQBlock's __init__ sets None)
            self._converted = value

    @property
    def num_samples(self) -> int:
        return self.raw.shape[0]


@dataclass(frozen=True)
class Burst:
    """One contiguous time-frequency region above the detection threshold."""
    sample_start: int
    sample_end: int          # exclusive
    t_start_s: float
    t_end_s: float
    f_lo_hz: float
    f_hi_hz: float
    snr_db: float
    peak_power_db: float     # dB relative to a full-scale complex tone
    center_freq_hz: float    # power-weighted centroid
    features: dict = field(default_factory=dict)
    # No burst its detector returns after this one starts before this time (None: not
    # known).  Bursts close in end order, so a later one may start earlier than this one.
    horizon_s: float | None = None

    @property
    def duration_s(self) -> float:
        return self.t_end_s - self.t_start_s

    @property
    def bandwidth_hz(self) -> float:
        return self.f_hi_hz - self.f_lo_hz

    def overlaps(self, other: Burst) -> bool:
        """Shares samples and frequencies with ``other`` (touching edges do not count)."""
        return (self.sample_start < other.sample_end and other.sample_start < self.sample_end
                and self.f_lo_hz < other.f_hi_hz and other.f_lo_hz < self.f_hi_hz)
