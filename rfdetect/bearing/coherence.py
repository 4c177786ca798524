"""Sample alignment and phase coherence of the channels of a coherent array.

Channels served by separate receivers (one rtl_tcp per dongle of a
shared-clock array) start streaming at different times: the same instant sits
at a different sample index in each stream.  ``estimate_alignment`` finds, for
every channel, the integer lag against channel 0 by cross-correlation of a
window of each stream (a calibration noise source, or whatever signals are on
the air), and measures how well the channels then agree:

* ``peak_ratio``: the correlation peak over the median of the correlation
  across all lags searched (noise alone gives about 4 over 10^5 lags);
* ``residual_samples``: the fractional delay left after integer alignment
  (phase slope of the cross-spectrum, ``residual_delay``);
* ``coherence``: whether the inter-channel phase holds still over time.  For
  consecutive short windows ``s`` the normalised correlation ``rho_s`` of a
  channel with channel 0 keeps its phase on a coherent array (one emitter at one
  bearing gives one phase); receivers with their own oscillators rotate it by
  ``2 pi df W / fs`` per window.  The measure is ``Re(sum z) / sum |z|`` over
  ``z = rho_s conj(rho_{s+1})`` for the windows where a common signal stands
  out of the noise: near 1 when coherent, ``cos`` of the rotation otherwise.

``CoherenceMonitor`` applies the same measure to the aligned stream, block
after block, and keeps the sample intervals where a channel was not coherent.
"""
from __future__ import annotations

import collections
import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

COHERENCE_WINDOW = 4096        # samples per window of the phase-stability measure
COHERENCE_BANDS = 8            # frequency bands per window: emitters on different channels apart
RHO_GATE = 0.25                # |rho| of noise alone is about 1/sqrt(window / bands) = 0.044
# Bursts that start or end inside a window shorten the spacing between the windows'
# centroids and with it the rotation seen: a 150 Hz offset reads about 0.6, not cos(1.6 rad).
MIN_COHERENCE = 0.8


@dataclass(frozen=True)
class ChannelAlignment:
    channel: int
    lag_samples: int                 # x_k[n + lag] is the instant of x_0[n]
    residual_samples: float          # fractional delay left after dropping lag samples
    peak_ratio: float
    coherence: float | None          # None: too little common signal to tell
    lo_offset_hz: float | None       # mean frequency offset against channel 0 seen by the measure
    method: str                      # "complex" or "envelope" correlation

    def as_dict(self) -> dict:
        def r(v, nd):
            return None if v is None or not math.isfinite(v) else round(float(v), nd)
        return {"channel": self.channel, "lag_samples": self.lag_samples,
                "residual_samples": r(self.residual_samples, 3), "peak_ratio": r(self.peak_ratio, 1),
                "coherence": r(self.coherence, 3), "lo_offset_hz": r(self.lo_offset_hz, 1),
                "method": self.method}


def _xcorr(a: np.ndarray, b: np.ndarray, max_lag: int, fa: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lags, c, fa) with c[lag] = sum_n a[n] conj(b[n + lag]) for |lag| <= max_lag; ``fa``
    is a's spectrum, to pass back in for the next channel."""
    nfft = 1 << int(math.ceil(math.log2(a.size + b.size)))
    if fa is None:
        fa = scipy.fft.fft(a, nfft)
    c = scipy.fft.ifft(fa * np.conj(scipy.fft.fft(b, nfft)))
    lags = np.arange(-max_lag, max_lag + 1)
    # c_circ[m] = sum a[n + m] conj(b[n]); the lag as defined is -m
    c = c[(-lags) % nfft]
    return lags, (c if np.iscomplexobj(a) else c.real), fa


def window_stats(x0: np.ndarray, xk: np.ndarray, window: int = COHERENCE_WINDOW, bands: int = COHERENCE_BANDS
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rho, p0, pk), each (windows, bands): normalised correlation of two aligned channels in
    every frequency band of every window, and the power of each channel there.

    Emitters at different bearings have different inter-channel phases: taken band
    by band, each phase belongs to the emitter on that channel, not to a mix that
    changes as their bursts come and go.
    """
    nwin = min(x0.size, xk.size) // window
    a = scipy.fft.fft(x0[:nwin * window].reshape(nwin, window), axis=1).reshape(nwin, bands, -1)
    b = scipy.fft.fft(xk[:nwin * window].reshape(nwin, window), axis=1).reshape(nwin, bands, -1)
    c = np.einsum("ijk,ijk->ij", a, np.conj(b))
    p0 = np.einsum("ijk,ijk->ij", a, np.conj(a)).real
    pk = np.einsum("ijk,ijk->ij", b, np.conj(b)).real
    p = np.sqrt(p0 * pk)
    return np.where(p > 0, c / np.maximum(p, 1e-300), 0), p0, pk


def window_pairs(x0: np.ndarray, xk: np.ndarray, window: int = COHERENCE_WINDOW,
                 gate: float = RHO_GATE, rho: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(window indices s, z = rho_s conj(rho_{s+1})) of the consecutive windows and bands
    where both hold a common signal, for two aligned channels."""
    if rho is None:
        rho = window_stats(x0, xk, window)[0]
    ok = (np.abs(rho[:-1]) > gate) & (np.abs(rho[1:]) > gate)
    s, band = np.nonzero(ok)
    return s, rho[s, band] * np.conj(rho[s + 1, band])


def coherence_of(z: np.ndarray, sample_rate_hz: float, window: int = COHERENCE_WINDOW,
                 min_pairs: int = 4) -> tuple[float | None, float | None]:
    """(coherence, lo_offset_hz) from window_pairs' z; None when too few pairs."""
    zabs = float(np.abs(z).sum())
    if z.size < min_pairs or zabs <= 0:
        return None, None
    zsum = complex(z.sum())
    # rho_s conj(rho_{s+1}) turns by 2 pi df W / fs when channel k runs df above channel 0
    return zsum.real / zabs, math.atan2(zsum.imag, zsum.real) * sample_rate_hz / (2 * math.pi * window)


def estimate_alignment(x: list[np.ndarray], sample_rate_hz: float, max_lag: int, *,
                       window: int = COHERENCE_WINDOW) -> list[ChannelAlignment]:
    """Lag of every channel against channel 0 (channel 0 itself: lag 0).

    ``x``: one 1-D complex array per channel, each longer than ``2 * max_lag``.
    The complex correlation gives an exact lag on coherent channels; when it
    shows no clear peak (a channel whose oscillator is not shared rotates its
    phase and smears it) the correlation of the envelopes gives the lag.
    """
    n = min(v.size for v in x)
    if n <= 2 * max_lag:
        raise ValueError("alignment window must be longer than twice the lag searched")
    ref = np.asarray(x[0][:n], np.complex64)
    out = [ChannelAlignment(0, 0, 0.0, float("inf"), 1.0, 0.0, "reference")]
    fref = None
    for k in range(1, len(x)):
        xk = np.asarray(x[k][:n], np.complex64)
        lags, c, fref = _xcorr(ref, xk, max_lag, fref)
        mag = np.abs(c)
        i = int(np.argmax(mag))
        ratio = float(mag[i] / max(np.median(mag), 1e-30))
        method = "complex"
        if ratio < 8.0:
            e0 = np.abs(ref) ** 2
            ek = np.abs(xk) ** 2
            lags, ce, _ = _xcorr(e0 - e0.mean(), ek - ek.mean(), max_lag)
            i_e = int(np.argmax(ce))
            ratio_e = float(ce[i_e] / max(np.median(np.abs(ce)), 1e-30))
            if ratio_e > ratio:
                mag, i, ratio, method = ce, i_e, ratio_e, "envelope"
        lag = int(lags[i])
        d = residual_delay(*_overlap(ref, xk, lag))
        lag += int(round(d))
        frac = d - round(d)
        a, b = _overlap(ref, xk, lag)
        coh, lo = coherence_of(window_pairs(a, b, window)[1], sample_rate_hz, window)
        out.append(ChannelAlignment(k, lag, frac, ratio, coh, lo, method))
    return out


@functools.lru_cache(maxsize=4)
def _delay_steering(nfft: int, bands: int, span: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """(delays, exp(-j 2 pi f d) per band: (bands, delays, nfft / bands))."""
    d = np.arange(-span, span + step / 2, step)
    f = np.fft.fftfreq(nfft).reshape(bands, 1, nfft // bands)
    return d, np.exp(-2j * np.pi * d[None, :, None] * f).astype(np.complex64)


def residual_delay(a: np.ndarray, b: np.ndarray, nfft: int = 4096, bands: int = 16,
                   span: float = 4.0, step: float = 0.05) -> float:
    """Delay d (samples, |d| <= span) with b[n] = a[n - d], to a fraction of a sample.

    The peak of the full-band correlation magnitude is no sample-exact lag: signals
    narrower than the sample rate make it broad, and emitters at different bearings
    (a different inter-channel phase each) interfere across it.  Each of ``bands``
    frequency bands of the averaged cross-spectrum gives a correlation that is
    symmetric about the true delay whatever the phases; their powers are summed.
    """
    nseg = min(a.size, b.size) // nfft
    if nseg < 1:
        return 0.0
    win = np.hanning(nfft).astype(np.float32)
    fa = scipy.fft.fft(a[:nseg * nfft].reshape(nseg, nfft) * win, axis=1)
    fb = scipy.fft.fft(b[:nseg * nfft].reshape(nseg, nfft) * win, axis=1)
    cross = np.sum(fa * np.conj(fb), axis=0).reshape(bands, nfft // bands, 1)   # |A|^2 exp(+j 2 pi f d / nfft)
    d, steer = _delay_steering(nfft, bands, span, step)
    power = np.sum(np.abs(steer @ cross)[..., 0] ** 2, axis=0)
    return float(d[int(np.argmax(power))])


def _overlap(x0: np.ndarray, xk: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The parts of two streams covering the same instants, given xk[n + lag] = x0[n]."""
    if lag >= 0:
        m = min(x0.size, xk.size - lag)
        return x0[:m], xk[lag:lag + m]
    m = min(x0.size + lag, xk.size)
    return x0[-lag:-lag + m], xk[:m]


class CoherenceMonitor:
    """Phase coherence and alignment of the channels against channel 0, block after block.

    * coherence: keeps the last ``pairs`` gated window pairs of each channel; when
      they hold enough common signal and their coherence falls under
      ``min_coherence``, the span they cover is recorded as incoherent;
    * alignment: a signal standing well above the noise on both channels must
      correlate when they are aligned.  When most such windows of a channel do
      not (samples lost unnoticed on one channel shift it), the channel is put in
      ``misaligned`` and the span is recorded as incoherent too; the source then
      realigns and calls ``realigned()``.
    """

    def __init__(self, num_channels: int, sample_rate_hz: float, *, min_coherence: float = MIN_COHERENCE,
                 pairs: int = 16, min_pairs: int = 8, window: int = COHERENCE_WINDOW, strong_factor: float = 4.0):
        self.num_channels = int(num_channels)
        self.rate = float(sample_rate_hz)
        self.min_coherence = float(min_coherence)
        self.window = int(window)
        self.min_pairs = int(min_pairs)
        self.strong_factor = float(strong_factor)
        self._recent = [collections.deque(maxlen=int(pairs)) for _ in range(self.num_channels)]
        self._evidence = [collections.deque(maxlen=2 * int(pairs)) for _ in range(self.num_channels)]
        self._floors = [collections.deque(maxlen=16) for _ in range(self.num_channels)]
        self.intervals: list[list[int]] = []       # [start, end) sample indices, merged
        self.incoherent_channels: set[int] = set()
        self.misaligned: set[int] = set()
        self.lowest: dict[int, float] = {}

    def _floor(self, k: int, p: np.ndarray) -> np.ndarray:
        """Noise power per band: the quieter windows of recent blocks, whatever the bursts do."""
        self._floors[k].append(np.percentile(p, 20, axis=0))
        return np.min(self._floors[k], axis=0)

    def feed(self, samples: np.ndarray, sample_index0: int) -> None:
        """One aligned block (channels, n); windows do not straddle blocks."""
        x = np.asarray(samples)
        w = self.window
        if x.shape[1] < 2 * w:
            return
        floor0 = None
        for k in range(1, self.num_channels):
            rho, p0, pk = window_stats(x[0], x[k], w)
            if floor0 is None:
                floor0 = self._floor(0, p0)
            pos = sample_index0 + np.arange(rho.shape[0]) * w
            ok, z = window_pairs(x[0], x[k], w, rho=rho)
            recent = self._recent[k]
            recent.extend(zip(pos[ok].tolist(), z.tolist()))
            if ok.size:
                coh, _ = coherence_of(np.array([v for _, v in recent]), self.rate, w, self.min_pairs)
                if coh is not None and coh < self.min_coherence:
                    self.incoherent_channels.add(k)
                    self.lowest[k] = min(coh, self.lowest.get(k, 1.0))
                    self._add_interval(recent[0][0], recent[-1][0] + 2 * w)
            strong = (p0 > self.strong_factor * floor0) & (pk > self.strong_factor * self._floor(k, pk))
            evidence = self._evidence[k]
            s, band = np.nonzero(strong)
            evidence.extend(zip(pos[s].tolist(), (np.abs(rho[s, band]) > RHO_GATE).tolist()))
            if len(evidence) >= self.min_pairs and sum(c for _, c in evidence) < 0.25 * len(evidence):
                self.misaligned.add(k)
                self._add_interval(evidence[0][0], evidence[-1][0] + w)
                evidence.clear()

    def realigned(self) -> None:
        self.misaligned.clear()
        for d in self._evidence + self._recent:
            d.clear()

    def _add_interval(self, a: int, b: int) -> None:
        if self.intervals and a <= self.intervals[-1][1]:
            self.intervals[-1][1] = max(self.intervals[-1][1], b)
        else:
            self.intervals.append([a, b])

    def incoherent_between(self, sample_start: int, sample_end: int) -> bool:
        return any(a < sample_end and sample_start < b for a, b in self.intervals)

    def describe(self) -> dict:
        return {"incoherent_channels": sorted(self.incoherent_channels),
                "lowest_coherence": {str(k): round(v, 3) for k, v in sorted(self.lowest.items())},
                "incoherent_intervals": [list(i) for i in self.intervals]}
