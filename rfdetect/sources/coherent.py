"""A coherent array of RTL-SDR channels, one live source per channel, merged sample-exactly.

The channels share a clock (a KrakenSDR, or dongles fed from one reference
oscillator), but each is served on its own (one rtl_tcp per dongle) and starts
streaming at its own moment: the same instant sits at a different index in
each stream.  ``CoherentSource``:

* tunes every channel identically (same rate, frequency, gain);
* **aligns** them: the first ``align_s`` of every stream are cross-correlated
  with channel 0 (``rfdetect.bearing.coherence.estimate_alignment``: a
  calibration noise source, or whatever signals are on the air), and each
  channel drops samples until it starts at the same instant; the integer lags,
  the fractional residual, the correlation peak and the phase coherence of every
  channel are kept in ``alignment`` and reported in the summary.  A channel
  without a clear correlation peak within ``align_timeout_s`` is an error that
  names it;
* yields blocks of shape (channels, n) whose sample ``i`` is the same instant on
  every channel.  Samples lost on any channel (queue overflow, dropped server
  buffers, reconnects) are a gap for all channels, never silent;
* realigns after a channel reconnects or the array is retuned (the stream
  positions of a restarted server are not known to the sample), and when a
  strong signal on two channels stops correlating (samples lost on one channel
  without a trace, e.g. dropped by a server while the client was still busy);
* watches the phase coherence of the aligned channels (``CoherenceMonitor``)
  and keeps the sample intervals where a channel lost it; ``incoherent_between``
  tells a consumer whether a bearing over an interval can be trusted.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..errors import DeviceError, ParameterError
from ..model import IQBlock, RecordingInfo
from .accounting import LiveSource
from .base import DEFAULT_BLOCK_SAMPLES, Source


@dataclass(frozen=True)
class CoherentConfig:
    max_lag_s: float = 0.25           # largest start-time difference between channels
    align_timeout_s: float = 10.0     # seconds of stream to find a common signal in
    min_peak_ratio: float = 8.0       # correlation peak over its median across lags
    min_coherence: float | None = None   # None: rfdetect.bearing.coherence.MIN_COHERENCE
    max_chunk_samples: int = 1 << 18

    def align_samples(self, rate_hz: float) -> int:
        """Window correlated per attempt: a power of two longer than twice the lag searched."""
        return 1 << int(math.ceil(math.log2(2.2 * self.max_lag_s * rate_hz)))


@dataclass
class ArrayChunk:
    """Aligned cu8 bytes of every channel: ``raw`` is uint8 (channels, 2n), I/Q interleaved."""
    raw: np.ndarray
    sample_index0: int
    center_freq_hz: float
    samples_lost_before: int
    timestamp: float
    sweep_step: int = 0

    @property
    def num_samples(self) -> int:
        return self.raw.shape[1] // 2


class ArrayAccounting:
    """The array's sample accounting: its own (aligned) hand-over and gaps, the channels' causes."""

    CAUSES = ("lost_queue_overflow", "lost_sample_clock", "lost_retune_settling", "lost_reconnect")

    def __init__(self, channels: Sequence[LiveSource]):
        self._channels = channels
        self.samples_handed_over = 0
        self.buffers_handed_over = 0
        self.samples_lost = 0            # aligned samples missing on at least one channel
        self.gaps = 0
        self.realignments = 0
        self.samples_dropped_aligning = 0   # before the first aligned sample and while realigning

    @property
    def samples_received(self) -> int:
        return sum(ch.accounting.samples_received for ch in self._channels)

    @property
    def retunes(self) -> int:
        return self._channels[0].accounting.retunes

    def as_dict(self) -> dict:
        d = {"samples_received": self.samples_received, "samples_handed_over": self.samples_handed_over,
             "buffers_handed_over": self.buffers_handed_over, "samples_lost": self.samples_lost,
             "gaps": self.gaps, "retunes": self.retunes, "realignments": self.realignments,
             "samples_dropped_aligning": self.samples_dropped_aligning}
        for cause in self.CAUSES:
            d[cause] = sum(getattr(ch.accounting, cause) for ch in self._channels)
        d["reconnects"] = sum(ch.accounting.reconnects for ch in self._channels)
        d["channels"] = [ch.accounting.as_dict() for ch in self._channels]
        return d


class _Channel:
    """Received segments of one channel in its own stream coordinates (handed-over + lost)."""

    def __init__(self):
        self.segments: collections.deque = collections.deque()   # [stream_start, raw uint8]
        self.lost = 0                       # samples lost so far in this channel's stream
        self.reconnects = 0
        self.base = 0                       # stream index of aligned sample 0

    def push(self, chunk) -> None:
        self.lost += chunk.samples_lost_before
        self.segments.append([chunk.sample_index0 + self.lost, chunk.raw])

    def queued(self) -> int:
        return sum(r.size // 2 for _, r in self.segments)

    def first(self) -> int | None:
        return self.segments[0][0] if self.segments else None

    def trim_before(self, stream_index: int) -> None:
        while self.segments:
            s, r = self.segments[0]
            n = r.size // 2
            if s + n <= stream_index:
                self.segments.popleft()
            elif s < stream_index:
                self.segments[0] = [stream_index, r[2 * (stream_index - s):]]
                return
            else:
                return

    def window(self, limit: int) -> tuple[np.ndarray | None, int | None]:
        """(the first ``limit`` samples, None) if queued without a hole; (None, stream index
        after the hole) if there is one; (None, None) while too few have arrived."""
        parts, end, got = [], None, 0
        for s, r in self.segments:
            if end is not None and s != end:
                return None, s
            parts.append(r)
            got += r.size // 2
            end = s + r.size // 2
            if got >= limit:
                return np.concatenate(parts)[:2 * limit], None
        return None, None

    def take(self, n: int) -> np.ndarray:
        s, r = self.segments[0]
        out = r[:2 * n]
        if r.size // 2 == n:
            self.segments.popleft()
        else:
            self.segments[0] = [s + n, r[2 * n:]]
        return out


class CoherentSource(Source):
    hardware = "coherent RTL-SDR array"

    def __init__(self, channels: Sequence[LiveSource], *, array=None, config: CoherentConfig = CoherentConfig()):
        if len(channels) < 2:
            raise ParameterError("a coherent array needs at least 2 channels", param="channels",
                                 value=len(channels))
        if array is not None:
            array.check_channels(len(channels), what="list of receivers (one --rtl-tcp per element)")
        c0 = channels[0]
        for k, ch in enumerate(channels):
            if (ch.sample_rate_hz, ch.center_freq_hz, ch.gain_db) != (c0.sample_rate_hz, c0.center_freq_hz,
                                                                       c0.gain_db):
                raise ParameterError("every channel of a coherent array must be tuned identically",
                                     param=f"channel {k}", value=(ch.sample_rate_hz, ch.center_freq_hz, ch.gain_db))
        self.channels = list(channels)
        self.array = array
        self.config = config
        self.sample_rate_hz = c0.sample_rate_hz
        self.center_freq_hz = c0.center_freq_hz
        self.gain_db = c0.gain_db
        self.accounting = ArrayAccounting(self.channels)
        self.alignment: list = []             # ChannelAlignment per channel, from the latest alignment
        self.realignment_log: list[dict] = []
        from ..bearing.coherence import MIN_COHERENCE, CoherenceMonitor
        self.min_coherence = MIN_COHERENCE if config.min_coherence is None else config.min_coherence
        self.monitor = CoherenceMonitor(len(channels), self.sample_rate_hz, min_coherence=self.min_coherence)
        self._state = [_Channel() for _ in channels]
        self._misaligned_seen: set[int] = set()
        self._aligned = False
        self._align_tried = 0                 # samples per channel spent looking for a common signal
        self._cursor = 0                      # aligned index of the next sample handed over
        self._t0 = 0.0                        # POSIX time of aligned sample 0
        self._pending_lost = 0
        self._stopped = False
        self._started = False
        arr = None
        sensor = c0.info.sensor
        if array is not None:
            arr = {"name": array.name, "elements_m": [list(e) for e in array.elements_m],
                   "heading_deg": array.heading_deg}
            sensor = dataclasses.replace(array.sensor, heading_deg=array.heading_deg)
        self.info = RecordingInfo(path="array:" + ",".join(ch.info.path for ch in channels),
                                  sample_rate_hz=self.sample_rate_hz, center_freq_hz=self.center_freq_hz,
                                  num_channels=len(channels), num_samples=None, datatype="cu8",
                                  datetime_utc=c0.info.datetime_utc, hardware=self.hardware,
                                  gain_db=self.gain_db, sensor=sensor, array=arr)

    # -- control -------------------------------------------------------------------

    def open(self) -> "CoherentSource":
        for ch in self.channels:
            ch.open()
        return self

    def start(self) -> "CoherentSource":
        if not self._started:
            self._started = True
            for ch in self.channels:
                ch.start()
            self.info = dataclasses.replace(self.info, datetime_utc=self.channels[0].info.datetime_utc)
        return self

    def tune(self, center_freq_hz: float) -> None:
        for ch in self.channels:
            ch.tune(center_freq_hz)
        self.center_freq_hz = float(center_freq_hz)
        self._aligned = False                 # the channels settle at different stream positions

    def set_sweep(self, steps) -> None:
        if len({float(f) for f, _ in steps}) > 1:
            raise ParameterError("a coherent array scans one centre frequency: sweeping is not supported",
                                 param="--freq", value=[float(f) for f, _ in steps])

    def stop(self) -> None:
        self._stopped = True
        for ch in self.channels:
            ch.stop()

    def close(self) -> None:
        self._stopped = True
        for ch in self.channels:
            ch.close()

    @property
    def connected(self) -> bool:
        return all(ch.connected for ch in self.channels)

    def queue_depth(self) -> int:
        return max(ch.queue_depth() for ch in self.channels)

    def unreported_lost(self) -> int:
        """Lost samples no gap record has carried yet: the array's pending gap, the holes
        between segments still held here (the larger channel's: the union is at least
        that), and what the channels hold."""
        held = max((sum(b[0] - (a[0] + a[1].size // 2) for a, b in zip(st.segments, list(st.segments)[1:]))
                    for st in self._state), default=0)
        return self._pending_lost + held + sum(ch.unreported_lost() for ch in self.channels)

    def coalesce(self, chunk: ArrayChunk, max_samples: int) -> ArrayChunk:
        return chunk                            # chunks are already merged up to max_chunk_samples

    def describe(self) -> dict:
        return {"source": self.info.path, "hardware": self.hardware, "sample_rate_hz": self.sample_rate_hz,
                "gain_db": self.gain_db, "channels": [ch.describe() for ch in self.channels],
                "alignment": [a.as_dict() for a in self.alignment],
                "offsets_samples": [st.base - self._state[0].base for st in self._state],
                "realignments": self.realignment_log, "min_coherence": self.min_coherence,
                "coherence": self.monitor.describe()}

    def incoherence(self, sample_start: int, sample_end: int) -> str | None:
        """Why a bearing over these (handed-over) samples cannot be trusted, or None: some
        channel had no common phase reference at alignment, or lost it meanwhile."""
        bad = [a for a in self.alignment if a.coherence is not None and a.coherence < self.min_coherence]
        if bad:
            return ("channels not coherent: " + ", ".join(
                f"channel {a.channel} coherence {a.coherence:.2f}" for a in bad)
                + f" with channel 0 at alignment (need {self.min_coherence:g}); do the receivers share a clock?")
        if self.monitor.incoherent_between(sample_start, sample_end):
            return ("channels not coherent: channel(s) "
                    + ", ".join(map(str, sorted(self.monitor.incoherent_channels | self._misaligned_seen)))
                    + f" lost phase coherence (below {self.min_coherence:g}) or sample alignment with "
                    "channel 0 during this emission")
        return None

    # -- merging -------------------------------------------------------------------

    def chunks(self, timeout_s: float | None = None, tick_s: float | None = None) -> Iterator[ArrayChunk | None]:
        """Aligned chunks as they become complete on every channel (None every ``tick_s``
        without one); raises DeviceError when a channel fails or alignment is impossible."""
        self.start()
        gens = [ch.chunks(tick_s=0.02) for ch in self.channels]
        last = tick = time.monotonic()
        while not self._stopped:
            # pull from the channel furthest behind, so that no queue grows unbounded here
            k = min(range(len(gens)), key=lambda i: self._state[i].queued())
            c = next(gens[k], StopIteration)
            if c is StopIteration:
                return
            if c is not None:
                st = self._state[k]
                reconnects = self.channels[k].accounting.reconnects
                if reconnects != st.reconnects:
                    st.reconnects = reconnects
                    if self._aligned:
                        self._aligned = False   # a restarted server's position is not known to the sample
                st.push(c)
            out = self._merge()
            now = time.monotonic()
            if out is not None:
                last = tick = now
                yield out
            elif tick_s is not None and now - tick > tick_s:
                tick = now
                yield None
            if timeout_s is not None and now - last > timeout_s:
                raise DeviceError(f"no aligned samples for {timeout_s:g} s", path=self.info.path)

    def _merge(self) -> ArrayChunk | None:
        if not self._aligned and not self._align():
            return None
        states = self._state
        while True:
            if any(not s.segments for s in states):
                return None
            for s in states:
                s.trim_before(self._cursor + s.base)
            if any(not s.segments for s in states):
                return None
            first = max(s.first() - s.base for s in states)
            if first > self._cursor:
                # a hole on some channel: a gap for every channel
                self._pending_lost += first - self._cursor
                self._cursor = first
                continue
            n = min(min(s.segments[0][1].size // 2 for s in states), self.config.max_chunk_samples)
            raw = np.stack([s.take(n) for s in states])
            return self._hand_over(raw)

    def _hand_over(self, raw: np.ndarray) -> ArrayChunk:
        n = raw.shape[1] // 2
        acc = self.accounting
        index = acc.samples_handed_over
        if self._pending_lost:
            acc.gaps += 1
            acc.samples_lost += self._pending_lost
        chunk = ArrayChunk(raw, index, self.center_freq_hz, self._pending_lost,
                           self._t0 + self._cursor / self.sample_rate_hz)
        self._pending_lost = 0
        self._cursor += n
        acc.samples_handed_over += n
        acc.buffers_handed_over += 1
        return chunk

    def _align(self) -> bool:
        """Estimate the lags once every channel holds a window; True when aligned."""
        from ..bearing.coherence import estimate_alignment
        rate = self.sample_rate_hz
        need = self.config.align_samples(rate)
        states = self._state
        first_time = not self.alignment
        while True:
            # windows from the same stream index of every channel (stream indices count lost
            # samples, so they keep time up to the start-up skew being measured)
            if any(not s.segments for s in states):
                return False
            start = max(s.first() for s in states)
            for s in states:
                before = s.queued()
                s.trim_before(start)
                if first_time:
                    self.accounting.samples_dropped_aligning += before - s.queued()
            if any(s.first() != start for s in states if s.segments):
                continue
            found = [s.window(need) for s in states]
            holes = [h for _, h in found if h is not None]
            if holes:
                for s in states:
                    s.trim_before(max(holes))
                continue
            if any(w is None for w, _ in found):
                return False
            windows = [w for w, _ in found]
            break
        from ..kernels.convert import cu8_to_complex64
        x = []
        for raw in windows:
            out = np.empty((1, need), np.complex64)
            cu8_to_complex64(raw, out)
            x.append(out[0])
        max_lag = int(self.config.max_lag_s * rate)
        result = estimate_alignment(x, rate, max_lag)
        weak = [a.channel for a in result[1:] if a.peak_ratio < self.config.min_peak_ratio]
        if weak:
            self._align_tried += need // 2
            if self._align_tried > self.config.align_timeout_s * rate:
                raise DeviceError(
                    f"cannot align channel(s) {', '.join(map(str, weak))} with channel 0: no common signal in "
                    f"{self.config.align_timeout_s:g} s (best correlation peak "
                    f"{min(result[k].peak_ratio for k in weak):.1f}x its median, need "
                    f"{self.config.min_peak_ratio:g}x); do the receivers share a clock and see the same "
                    "antenna signals or noise source?", path=self.info.path)
            for s in states:
                s.trim_before(start + need // 2)
            return False
        lags = [a.lag_samples for a in result]
        base0 = start - min(lags) if first_time else states[0].base
        for s, lag in zip(states, lags):
            s.base = base0 + lag
        if first_time:
            self._cursor = 0
            self._t0 = self.channels[0].started_utc.timestamp() + base0 / rate
            self.accounting.samples_dropped_aligning += sum(s.base - start for s in states)
        else:
            self.accounting.realignments += 1
            self.monitor.realigned()
            self.realignment_log.append({"at_sample": self.accounting.samples_handed_over,
                                         "lag_samples": [a.lag_samples for a in result]})
        self.alignment = result
        self._aligned = True
        return True

    def chunk_block(self, chunk: ArrayChunk) -> IQBlock:
        """Complex (channels, n) block of a chunk; also feeds the coherence monitor."""
        from ..kernels.convert import cu8_to_complex64
        out = np.empty(chunk.raw.shape[:1] + (chunk.num_samples,), np.complex64)
        cu8_to_complex64(chunk.raw.reshape(-1), out.reshape(1, -1))
        self.monitor.feed(out, chunk.sample_index0)
        if self.monitor.misaligned:
            # samples lost unnoticed on some channel: find the lags again on what follows
            self._misaligned_seen |= self.monitor.misaligned
            self._aligned = False
        return IQBlock(samples=out, sample_index0=chunk.sample_index0, center_freq_hz=chunk.center_freq_hz,
                       sample_rate_hz=self.sample_rate_hz, timestamp=chunk.timestamp, gain_db=self.gain_db,
                       samples_lost_before=chunk.samples_lost_before)

    def blocks(self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start: int = 0,
               stop: int | None = None) -> Iterator[IQBlock]:
        for c in self.chunks():
            if c is None:
                continue
            yield self.chunk_block(c)
            if stop is not None and c.sample_index0 + c.num_samples >= stop:
                return


def open_rtl_tcp_array(addresses: Sequence[str], array=None, *, config: CoherentConfig = CoherentConfig(),
                       live_config=None, **tuning) -> CoherentSource:
    """One rtl_tcp server per element (channel i is element i), tuned identically."""
    from .rtltcp import RtlTcpSource
    return CoherentSource([RtlTcpSource(a, config=live_config, **tuning) for a in addresses], array=array,
                          config=config)
