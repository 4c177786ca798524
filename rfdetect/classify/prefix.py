"""An always-on OFDM link below the noise: its prefix correlation summed over its steady bursts.

Below about -5 dB in-band SNR the cyclic-prefix kernel cannot confirm an OFDM video
link on one steady burst (at -12 dB its prefix correlates at 0.003, the noise at
0.003 over 6 ms).  The link is on for as long as it flies, and the phase of
x[n + T_u] conj x[n] depends only on its carrier's frequency, so the sums of
successive steady bursts of one band add coherently: summed over k bursts (each adds
up to the last 0.1 s of samples) the peak at T_u stands sqrt(k) times higher over the
noise.  ``steady_prefix_sums`` (the ``ofdm_cp_sums`` kernel) takes one burst's sums at
the useful-symbol lags of the always-on OFDM signatures; ``SteadyPrefixes`` adds them
up per band and confirms the link when the best lag's power stands MIN_POWER_RATIO
times the mean of the others'.

In noise each lag's summed power is exponential about the mean, so the best of the
~460 lags searched stands above MIN_POWER_RATIO with a probability of
460 exp(-20) = 1e-6 per check.  A band's sums start again once it has had no steady
burst for HOLD_S.  The kernel is stateless, so a chunked run's workers compute it as
the serial run would (scale/worker.py); the sums are the classifier's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kernels.evidence_ofdm import prefix_lag_sums
from ..model import Burst
from ..signatures import Signature

# Stretch summed for each steady burst, at most: what the pipeline holds (pipeline.HISTORY_S).
SPAN_S = 0.1
MIN_POWER_RATIO = 20.0
# Lags next to the best that its own main lobe raises: left out of the noise's mean.
PEAK_LAGS = 2
HOLD_S = 1.0
# Faint bursts held per band until it confirms (at 5 a second, the last 13 s).
MAX_HELD = 64
# The real frames correlate best at one whole symbol period (see evidence.verdict):
# the search reaches that far past the useful symbol's range.
WHOLE_SYMBOL_REACH = 1.12


@dataclass
class _Band:
    center_freq_hz: float
    bandwidth_hz: float
    sample_rate_hz: float
    receiver_freq_hz: float
    lag_lo: int
    sums: np.ndarray
    energy: float = 0.0
    seconds: float = 0.0
    bursts: int = 0
    sample_end: int = 0
    t_end_s: float = 0.0
    held: list[Burst] = field(default_factory=list)    # summed, before the link confirmed


def _around(band: _Band, burst: Burst) -> bool:
    """Whether the burst's centre is within half of its or the band's width of the band's."""
    return abs(burst.center_freq_hz - band.center_freq_hz) <= 0.5 * max(burst.bandwidth_hz, band.bandwidth_hz)


def steady_prefix_sums(burst: Burst, iq, candidates: list[Signature]) -> dict | None:
    """The ``ofdm_cp_sums`` kernel: over the samples held up to a steady burst's end (at most
    SPAN_S; the emitter is always on), kept to its band, the lag sums of
    ``kernels.evidence_ofdm.prefix_lag_sums`` at the useful-symbol lags of ``candidates``
    (the always-on OFDM signatures it may be), or None without enough samples.  Alone it
    confirms nothing: ``SteadyPrefixes`` adds a band's sums up.  (The band is not moved to
    0 Hz, so each sum's phase is the signal's own, whatever the burst's measured centre.)"""
    if iq is None or not candidates:
        return None
    fs = iq.sample_rate_hz
    lo_s = min(s.kernel_params["useful_symbol_s"][0] for s in candidates)
    hi_s = max(s.kernel_params["useful_symbol_s"][1] for s in candidates) * WHOLE_SYMBOL_REACH
    lag_lo, lag_hi = int(np.ceil(lo_s * fs)), int(hi_s * fs)
    x = iq.samples[0] if iq.samples.ndim == 2 else iq.samples
    stop = min(burst.sample_end, iq.sample_index0 + x.shape[0])
    start = max(iq.sample_index0, stop - int(SPAN_S * fs))
    if stop - start < 4 * lag_hi:
        return None
    sums, energy = prefix_lag_sums(x[start - iq.sample_index0: stop - iq.sample_index0], fs,
                                   burst.center_freq_hz - iq.center_freq_hz, burst.bandwidth_hz, lag_lo, lag_hi)
    return {"sample_rate_hz": fs, "receiver_freq_hz": iq.center_freq_hz, "lag_lo": lag_lo, "sums": sums,
            "energy": energy, "sample_start": start, "sample_end": stop}


class SteadyPrefixes:
    def __init__(self):
        self._bands: list[_Band] = []

    def add(self, burst: Burst, sums: dict | None) -> dict | None:
        """The prefix evidence of the band's steady bursts so far, this one's ``sums``
        (``steady_prefix_sums``) included, as the cyclic-prefix kernel reports it
        (``useful_symbol_s``, ``confirmed``...), or None where there is nothing summed.
        Samples an earlier burst of the band added are not added again."""
        if sums is None:
            return None
        band = self._band(burst, sums["sample_rate_hz"], sums["receiver_freq_hz"], sums["lag_lo"],
                          sums["sums"].shape[0])
        if sums["sample_start"] >= band.sample_end:
            band.sums += sums["sums"]
            band.energy += sums["energy"]
            band.seconds += (sums["sample_end"] - sums["sample_start"]) / sums["sample_rate_hz"]
            band.bursts += 1
            band.sample_end = sums["sample_end"]
        band.t_end_s = burst.t_end_s
        return self._evidence(band) if band.bursts else None

    def hold(self, burst: Burst) -> None:
        """``burst``, just summed, confirmed nothing: kept with its band, whose sums may
        confirm a link later."""
        band = self._find(burst)
        if band is not None:
            band.held.append(burst)
            # (A span that never confirms, a front end's ripple, is held for as long as it
            # lasts: only the last few join a track, the sums keep the rest.)
            del band.held[:-MAX_HELD]

    def release(self, burst: Burst) -> list[Burst]:
        """The bursts held in ``burst``'s band (now that its sums confirmed a link with
        ``burst``), oldest first; the band holds none after."""
        band = self._find(burst)
        if band is None:
            return []
        held, band.held = band.held, []
        return held

    def _find(self, burst: Burst) -> _Band | None:
        """The band this steady burst was summed into."""
        return next((b for b in self._bands if b.t_end_s == burst.t_end_s and _around(b, burst)), None)

    def _band(self, burst: Burst, fs: float, receiver_freq_hz: float, lag_lo: int, lags: int) -> _Band:
        """The band this steady burst continues (its centre within half of either's width,
        seen within HOLD_S, through the same tuning), or a new one."""
        self._bands = [b for b in self._bands if burst.t_start_s <= b.t_end_s + HOLD_S]
        for b in self._bands:
            if (b.sample_rate_hz, b.receiver_freq_hz, b.lag_lo, b.sums.shape[0]) == (fs, receiver_freq_hz, lag_lo, lags) \
                    and _around(b, burst):
                return b
        band = _Band(burst.center_freq_hz, burst.bandwidth_hz, fs, receiver_freq_hz, lag_lo,
                     np.zeros(lags, np.complex128))
        self._bands.append(band)
        return band

    @staticmethod
    def _evidence(band: _Band) -> dict:
        power = np.abs(band.sums) ** 2
        k = int(np.argmax(power))
        others = np.ones(power.shape[0], bool)
        others[max(0, k - PEAK_LAGS): k + PEAK_LAGS + 1] = False
        ratio = float(power[k] / power[others].mean()) if others.any() and power[others].mean() > 0 else 0.0
        lag = band.lag_lo + k
        return {"useful_symbol_s": lag / band.sample_rate_hz,
                "subcarrier_spacing_hz": round(band.sample_rate_hz / lag, 1),
                "cp_correlation": round(float(np.sqrt(power[k])) / band.energy, 4) if band.energy > 0 else 0.0,
                "cp_s": None, "power_ratio": round(ratio, 1),
                "summed_s": round(band.seconds, 3), "summed_bursts": band.bursts,
                "confirmed": ratio >= MIN_POWER_RATIO}
