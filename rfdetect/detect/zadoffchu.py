"""DJI DroneID bursts found by their Zadoff-Chu symbols, below the noise.

The energy detector needs a DroneID burst near 0 dB in-band SNR, and the classifier's
Zadoff-Chu check on a burst (``kernels.evidence_droneid``) about -6 dB.  Correlated
over the whole stream at each DroneID channel in the receiver's window, the two
Zadoff-Chu symbols stand out far lower: one symbol gathers 28 dB
(``kernels.zc_stream``).

The stream is cut into segments on a fixed grid (so that results do not depend on the
block size).  Per segment: one FFT of the wideband samples; per channel, the bins of a
band ``rate_hz`` wide around the channel (about 10 MS/s: the burst's 9 MHz and the
largest offset covered), transformed back (its local power), and multiplied by the
references' spectra (root 600 and root 147, on the subcarriers and half a subcarrier
up) and transformed back (the correlations at every lag).  ``pair_scores`` keeps the
candidates whose score passes the threshold for ``false_alarms_per_hour`` in noise;
the best of one burst becomes a :class:`Burst` (the OcuSync 2/3 burst around its
symbols: Zadoff-Chu symbols at index 3 and 5 of 9) whose ``features["zadoff_chu"]`` is
the classifier's Zadoff-Chu evidence.

Channels: the DroneID signature's ``kernel_params["search_channels_hz"]`` whose 9 MHz
band lies inside the window.  Cost: about one real time per channel at 30.72 MS/s on
one core (``--zadoff-chu`` is off by default; README, "DroneID below the noise").
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft

from ..kernels.evidence_droneid import ROOTS, ZC_RATE_HZ, ZC_SPACING_HZ, ZC_USED
from ..kernels.zc_stream import pair_lag, pair_scores, pair_threshold, slack_samples, zc_reference_at
from ..model import Burst, IQBlock
from .stretch import Stretch

MIN_RATE_HZ = 10.24e6        # the band correlated around a channel: 601 subcarriers and the offset
SUB_FFT = 1 << 16            # samples of that band per segment
EDGE = 128                   # samples of a segment's band kept clear of its circular wrap
GATE = 6.0                   # root 600's q a candidate needs before its pair is scored
HALF_SUBCARRIER_HZ = 0.5 * ZC_SPACING_HZ
# The statistic's tail in noise is a little heavier than the Exp(1) it assumes (the local
# power is itself measured over one symbol).
THRESHOLD_MARGIN = 1.1
MAX_ROWS = 4096
# An OcuSync 2/3 burst (9 symbols, CP [80,72,72,72,72,72,72,72,80] at 15.36 MS/s): its start
# before the first Zadoff-Chu symbol's useful part (index 3), and its length.
ZC_START_BEFORE = (80 + 1024) + 2 * (72 + 1024) + 72
BURST_SAMPLES = 2 * (80 + 1024) + 7 * (72 + 1024)
BAND_HZ = ZC_USED * ZC_SPACING_HZ


def search_channels(signatures=None) -> tuple[float, ...]:
    """DroneID channel centres: those of the signatures of kernel ``droneid_zc``."""
    if signatures is None:
        from ..signatures import load_all
        signatures = load_all()
    return tuple(sorted({float(f) for sig in signatures if sig.kernel == "droneid_zc"
                         for f in sig.kernel_params.get("search_channels_hz", ())}))


def in_window(channels_hz, sample_rate_hz: float, center_freq_hz: float) -> tuple[float, ...]:
    """The channels whose band lies inside the receiver's window."""
    half = 0.5 * sample_rate_hz - 0.5 * BAND_HZ
    return tuple(f for f in channels_hz if abs(f - center_freq_hz) <= half)


class ZadoffChuDetector:
    """Feed contiguous IQ blocks; get back the DroneID bursts found, as bursts.  ``channels_hz``:
    the DroneID channels; those in the window are searched (again at each retune)."""

    def __init__(self, sample_rate_hz: float, center_freq_hz: float, channels_hz: tuple[float, ...], *,
                 false_alarms_per_hour: float = 1.0, sample_index0: int = 0):
        if sample_rate_hz < MIN_RATE_HZ:
            raise ValueError(f"sample rate {sample_rate_hz} Hz: the Zadoff-Chu search needs {MIN_RATE_HZ} or more")
        self.sample_rate_hz = float(sample_rate_hz)
        self.stream = Stretch(center_freq_hz)
        self.all_channels_hz = tuple(channels_hz)
        self.false_alarms_per_hour = false_alarms_per_hour
        self.decimation = max(1, int(self.sample_rate_hz // MIN_RATE_HZ))
        self.rate_hz = self.sample_rate_hz / self.decimation
        self.n_fft = SUB_FFT * self.decimation
        r = self.rate_hz
        self.n_sym = int(round(r / ZC_SPACING_HZ))
        self.lag = pair_lag(r)
        self.slack = slack_samples(r)
        reach = self.lag + self.slack + self.n_sym + EDGE
        self._lo = reach
        self._hi = SUB_FFT - self.n_sym - reach
        self.hop = (self._hi - self._lo) * self.decimation      # wideband samples a segment owns
        self.offsets_hz = (0.0, HALF_SUBCARRIER_HZ)
        self._tune(center_freq_hz)
        self._refs = {(root, off): np.conj(scipy.fft.fft(zc_reference_at(root, r, off), SUB_FFT)).astype(np.complex64)
                      for root in ROOTS for off in self.offsets_hz}
        self._rows = np.empty((MAX_ROWS, 5))
        self.segments = 0
        self.candidates = 0
        self.found = 0
        self._reset(int(sample_index0))
        self.stream.expected = int(sample_index0)

    def _tune(self, center_freq_hz: float) -> None:
        """The channels in the window, their FFT bins (in the inverse FFT's order) and the
        threshold for one false burst an hour over them."""
        self._bins_for = float(center_freq_hz)
        self.channels_hz = in_window(self.all_channels_hz, self.sample_rate_hz, center_freq_hz)
        k = np.fft.fftfreq(SUB_FFT, 1.0 / SUB_FFT).astype(np.int64)
        self._bins = [(int(round((f - center_freq_hz) / self.sample_rate_hz * self.n_fft)) + k) % self.n_fft
                      for f in self.channels_hz]
        tests = 3600.0 * self.rate_hz * max(len(self.channels_hz), 1) * len(self.offsets_hz)
        pair_tests = 2 * (self.n_sym + 2 * self.slack)
        self.threshold = THRESHOLD_MARGIN * pair_threshold(tests / max(self.false_alarms_per_hour, 1e-9),
                                                           pair_tests, GATE)

    # -- stream ---------------------------------------------------------------------------
    def _reset(self, origin: int) -> None:
        """A new stretch: segments on a grid from ``origin``."""
        self._origin = origin
        self._k = 0
        self._last_end = -(1 << 62)

    @property
    def latency_samples(self) -> int:
        """How long after a burst's end it is returned, at most: a segment."""
        return self.n_fft

    def feed(self, block: IQBlock) -> list[Burst]:
        if self.stream.add(block):
            if self._bins_for != block.center_freq_hz:
                self._tune(block.center_freq_hz)
            self._reset(int(block.sample_index0))
        out = []
        while self._segment_start(self._k) + self.n_fft <= self.stream.expected:
            out += self._segment(self._k)
            self._k += 1
        self.stream.keep_from(self._segment_start(self._k))
        return out

    def finish(self) -> list[Burst]:
        """The end of the stream: the last, partial segment, zero-filled."""
        out = []
        while self._segment_start(self._k) + self._lo * self.decimation < (self.stream.expected or 0):
            out += self._segment(self._k)
            self._k += 1
        return out

    def _segment_start(self, k: int) -> int:
        return self._origin + k * self.hop - self._lo * self.decimation

    # -- search ---------------------------------------------------------------------------
    def _segment(self, k: int) -> list[Burst]:
        s0 = self._segment_start(k)
        seg = np.zeros(self.n_fft, np.complex64)
        held = self.stream.span(s0, s0 + self.n_fft)
        first = max(self.stream.x0 - s0, 0)          # (a stretch's first segment starts before it)
        seg[first:first + held.shape[0]] = held
        self.segments += 1
        d = self.decimation
        spectrum = scipy.fft.fft(seg)
        found = []
        n = self.n_sym
        for c, bins in enumerate(self._bins):
            band = spectrum[bins]
            y = scipy.fft.ifft(band)
            p = np.abs(y) ** 2
            cs = np.concatenate([[0.0], np.cumsum(p, dtype=np.float64)])
            power = np.empty(SUB_FFT)
            power[:SUB_FFT - n + 1] = (cs[n:] - cs[:-n]) / n
            power[SUB_FFT - n + 1:] = np.inf            # wraps round: never a candidate
            # Nor a window reaching into the zeros before a stretch or after its end: there the
            # band's filter leaks a little of the samples beside them, against next to no power
            # (scores of 1e12 at the ends of Wi-Fi recordings).
            power[:max(0, -(-first // d) + EDGE)] = np.inf
            power[max(0, (first + held.shape[0]) // d - n - EDGE + 1):] = np.inf
            # (And samples that are zeros in the recording itself: no power to divide by.)
            finite = power[np.isfinite(power)]
            power = np.maximum(power, max(1e-4 * float(np.median(finite)) if finite.size else 0.0, 1e-30))
            for off in self.offsets_hz:
                q600 = np.abs(scipy.fft.ifft(band * self._refs[(ROOTS[0], off)])) ** 2 / power
                q147 = np.abs(scipy.fft.ifft(band * self._refs[(ROOTS[1], off)])) ** 2 / power
                m = pair_scores(q600, q147, self._lo, self._hi, n, self.lag, self.slack, GATE, self.threshold,
                                self._rows)
                for row in self._rows[:m]:
                    found.append((float(row[1]), c, off, row.copy(), float(power[int(row[0])])))
        self.candidates += len(found)
        return self._bursts(s0, found)

    def _bursts(self, s0: int, found: list) -> list[Burst]:
        """The best candidate of each burst (candidates within a burst's length of a better one
        are the same burst), as bursts."""
        d, fs, r = self.decimation, self.sample_rate_hz, self.rate_hz
        out = []
        span = int(round(BURST_SAMPLES * r / ZC_RATE_HZ))
        taken: list[int] = []
        for score, c, off, row, power_i in sorted(found, key=lambda t: -t[0]):
            i, q600, pair, m = int(row[0]), float(row[2]), float(row[3]), int(row[4])
            if any(abs(i - j) < span for j in taken):
                continue
            taken.append(i)
            first = i if m > i else i - self.lag          # the earlier Zadoff-Chu symbol
            start = s0 + d * first - int(round(ZC_START_BEFORE * fs / ZC_RATE_HZ))
            end = start + int(round(BURST_SAMPLES * fs / ZC_RATE_HZ))
            if end <= self._last_end:
                continue                                  # already returned by the segment before
            self._last_end = end
            snr = (q600 - 1.0) / ZC_USED
            centre = self.channels_hz[c] + off
            lost = self.stream.samples_lost
            self.found += 1
            out.append(Burst(
                sample_start=start, sample_end=end, t_start_s=(start + lost) / fs, t_end_s=(end + lost) / fs,
                f_lo_hz=centre - 0.5 * BAND_HZ, f_hi_hz=centre + 0.5 * BAND_HZ,
                snr_db=10 * math.log10(snr) if snr > 0 else -99.0,
                # (The band's samples are the inverse FFT of n_fft / SUB_FFT times fewer bins.)
                peak_power_db=10 * math.log10(max(power_i * max(snr, 0.0) / d ** 2, 1e-30)),
                center_freq_hz=centre,
                features={"zadoff_chu": {
                    "confirmed": True, "stream": True,
                    f"zc{ROOTS[0]}": round(math.sqrt(q600 / self.n_sym), 4),
                    f"zc{ROOTS[1]}": round(math.sqrt(max(pair, 0.0) / self.n_sym), 4),
                    "zc_lag_diff": int(round((m - i) * ZC_RATE_HZ / r)),
                    "cfo_hz": off, "score": round(score / self.threshold, 3)}},
            ))
        return sorted(out, key=lambda b: b.sample_start)


def zadoff_chu_detector_for(config, sample_rate_hz: float, center_freq_hz: float,
                            sample_index0: int = 0) -> ZadoffChuDetector | None:
    """The Zadoff-Chu stage a :class:`DetectorConfig` asks for (``zadoff_chu``), or None when
    the rate is too low or no DroneID channel lies in the window."""
    if not config.zadoff_chu or sample_rate_hz < MIN_RATE_HZ:
        return None
    channels = search_channels()
    if not in_window(channels, sample_rate_hz, center_freq_hz):
        return None
    return ZadoffChuDetector(sample_rate_hz, center_freq_hz, channels,
                             false_alarms_per_hour=config.zadoff_chu_false_alarms_per_hour,
                             sample_index0=sample_index0)
