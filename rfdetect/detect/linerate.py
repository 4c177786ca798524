"""Analog video found by its line rate, below the noise.

An FM video transmitter is always on and 6-8 MHz wide.  Above about 0 dB in-band SNR
the burst detector's floor shows it (detect/steady.py) and the classifier reads its line
rate on that burst.  Below that, its power is a fraction of a dB over the
noise floor, which a front end's ripple matches; what still stands out is the line rate
in the power of narrow sub-bands (``kernels.evidence_fmvideo.line_rate_scores``): 20 ms
of a PAL transmitter at -12 dB score 50-60 where noise stays under 7.

Once ``span_s`` into a stretch (a stream, or what follows a gap or retune), and then
every ``check_s`` of signal at fixed sample positions (so that a run's results do not
depend on its block size), the last ``span_s`` are scored for the line rates of the
video signatures whose bands the window reaches.  Sub-bands
scoring above the threshold (set from the score's distribution in noise for
``false_alarms_per_hour``, with a margin for what the bound leaves out) make one burst,
marked ``steady`` like the floor's always-on bursts, whose ``features["line_rate"]`` is
the classifier's line-rate evidence.  Its band runs from the lowest to the highest
sub-band where the line rate shows: inside the video's channel, but at -12 dB often a few
MHz narrower than it (the levels a picture visits rarely do not show), and its SNR is the
band's power over the other sub-bands'.

Called a few times a second on 20 ms of signal: NumPy and SciPy's FFT, not a kernel.
"""
from __future__ import annotations

import math

import numpy as np

from ..kernels.evidence_fmvideo import (LINE_RATES_HZ, line_rate_scores, line_rate_threshold, search_bins,
                                        sub_band_size)
from ..model import Burst, IQBlock
from .stretch import Stretch

# The threshold's bound assumes exponential bins; the power of windowed frames from a live
# front end is less tidy.  In noise (bench/README, "Analog video below the noise") the
# highest score of 20 ms was 6-7 against a bound of 10.7 for one an hour.
THRESHOLD_MARGIN = 1.5
OUTLINE_CHECKS = 0.01


def line_rates_for(sample_rate_hz: float, center_freq_hz: float, signatures=None) -> tuple[float, ...]:
    """Line rates of the line-rate signatures (kernel ``fm_video``) with a band inside the
    receiver's window."""
    if signatures is None:
        from ..signatures import load_all
        signatures = load_all()
    lo, hi = center_freq_hz - sample_rate_hz / 2, center_freq_hz + sample_rate_hz / 2
    rates: set[float] = set()
    for sig in signatures:
        if sig.kernel == "fm_video" and any(b.lo_hz <= hi and b.hi_hz >= lo for b in sig.bands):
            rates.update(float(r) for r in sig.kernel_params.get("line_rates_hz", ()))
    return tuple(sorted(rates))


class LineRateDetector:
    def __init__(self, sample_rate_hz: float, center_freq_hz: float, line_rates_hz: tuple[float, ...], *,
                 check_s: float, span_s: float, false_alarms_per_hour: float = 1.0):
        self.sample_rate_hz = float(sample_rate_hz)
        self.stream = Stretch(center_freq_hz)
        self.line_rates_hz = tuple(line_rates_hz)
        self._names = {r: name for name, r in LINE_RATES_HZ.items()}
        self._every = max(1, int(round(check_s * sample_rate_hz)))
        self._span = min(int(round(span_s * sample_rate_hz)), self._every)
        self.nfft = sub_band_size(sample_rate_hz)
        self._full_scale = float(np.hanning(self.nfft).sum()) ** 2
        tests = len(self.line_rates_hz) * self.nfft * 3600.0 / (self._every / sample_rate_hz)
        bins = search_bins(self._span, sample_rate_hz)
        self.threshold = THRESHOLD_MARGIN * line_rate_threshold(tests, false_alarms_per_hour, search_bins=bins)
        # The video's extent: sub-bands above a lower level, which noise reaches in one
        # check of OUTLINE_CHECKS; so that one emitter's bursts keep one band from check to
        # check (at -15 dB its edges score near the threshold).
        self.outline = min(self.threshold, THRESHOLD_MARGIN * line_rate_threshold(
            len(self.line_rates_hz) * self.nfft, OUTLINE_CHECKS, search_bins=bins))
        self._next_check = self._span
        self.checks = 0
        self.found = 0

    @property
    def center_freq_hz(self) -> float:
        return self.stream.center_freq_hz

    def feed(self, block: IQBlock) -> list[Burst]:
        if self.stream.add(block):
            # The first check as soon as a stretch holds ``span_s`` (as the floor's first look
            # for always-on emitters, 20 ms in: the burst test cuts a video into pieces that
            # would start emitters of their own until it is confirmed), then at multiples of
            # ``check_s`` in samples.
            self._next_check = block.sample_index0 + self._span
        out = []
        while self._next_check <= self.stream.expected:
            burst = self._check(self._next_check)
            if burst is not None:
                out.append(burst)
            self._next_check = (self._next_check // self._every + 1) * self._every
        self.stream.keep_from(min(self._next_check - self._span, self.stream.expected))   # what the next check reads
        return out

    def _check(self, end: int) -> Burst | None:
        s0 = end - self._span
        x = self.stream.span(s0, end)
        self.checks += 1
        scores, power = line_rate_scores(x, self.sample_rate_hz, self.line_rates_hz)
        i = int(np.argmax(scores.max(axis=1)))
        row = scores[i]
        if not row.max() >= self.threshold:
            return None
        above = np.flatnonzero(row >= self.outline)
        self.found += 1
        fs, n = self.sample_rate_hz, self.nfft
        f_lo = self.center_freq_hz + (above[0] - n / 2 - 0.5) * fs / n
        f_hi = self.center_freq_hz + (above[-1] - n / 2 + 0.5) * fs / n
        rate = self.line_rates_hz[i]
        lost = self.stream.samples_lost
        peak = float(row[above].max())
        band = power[above[0]: above[-1] + 1]
        return Burst(
            sample_start=s0, sample_end=end, t_start_s=(s0 + lost) / fs, t_end_s=(end + lost) / fs,
            f_lo_hz=f_lo, f_hi_hz=f_hi,
            snr_db=_snr_db(band, np.delete(power, np.arange(above[0], above[-1] + 1))),
            # (A full-scale tone fills one sub-band with the window's sum, squared.)
            peak_power_db=10 * math.log10(max(float(band.max()) / self._full_scale, 1e-30)),
            center_freq_hz=0.5 * (f_lo + f_hi),
            features={"steady": True, "frames": int(x.shape[0] // n),
                      "cells": int(x.shape[0] // n) * int(above[-1] - above[0] + 1), "edges_refined": False,
                      "line_rate": {"standard": self._names.get(rate, f"{rate:.3f} Hz"),
                                    "line_rate_hz": rate, "score": round(peak, 1),
                                    "sub_bands": int(above.size), "confirmed": True}},
        )


# Sub-bands outside the video needed to tell its SNR (else -99, unknown).
MIN_NOISE_SUB_BANDS = 8


def _snr_db(band: np.ndarray, outside: np.ndarray) -> float:
    """In-band SNR from the sub-bands' mean power: the video's band over the median of
    the sub-bands outside it, less one (the noise under the video)."""
    if outside.shape[0] < MIN_NOISE_SUB_BANDS:
        return -99.0
    excess = float(band.mean()) / max(float(np.median(outside)), 1e-30) - 1.0
    return 10 * math.log10(excess) if excess > 0 else -99.0


def line_rate_detector_for(config, sample_rate_hz: float, center_freq_hz: float) -> LineRateDetector | None:
    """The line-rate stage a :class:`DetectorConfig` asks for (``line_rate_check_s``), or
    None when it is off or no video signature's band is in the window."""
    if not config.line_rate_check_s:
        return None
    rates = line_rates_for(sample_rate_hz, center_freq_hz)
    if not rates:
        return None
    return LineRateDetector(sample_rate_hz, center_freq_hz, rates, check_s=config.line_rate_check_s,
                            span_s=config.line_rate_span_s,
                            false_alarms_per_hour=config.line_rate_false_alarms_per_hour)
