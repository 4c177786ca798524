"""Sample accounting for live streams: every sample is handed over or counted as lost.

A live receiver loses samples in four ways, each counted separately and each
turned into ``IQBlock.samples_lost_before`` on the next block handed over (the
pipeline makes it a ``gap`` record):

* **queue overflow**: processing fell behind and the bounded queue between the
  reader thread and the consumer was full (counted exactly);
* **sample clock**: the receiver dropped samples before they reached us (USB
  stall, dropped transfers, a server dropping buffers).  Nothing tells us so;
  the loss shows as buffers arriving later than the sample clock allows, for
  good.  ``ClockLossEstimator`` tells such a lasting shift from a transient
  delay (delayed buffers arrive back to back to catch up; after a loss they
  keep the normal cadence);
* **retune settling**: samples received just after a retune are discarded on
  purpose while the tuner's PLL settles and in-flight transfers drain;
* **reconnect**: the device or server vanished; the time until it came back is
  counted at the sample rate.

``LiveSource`` holds the machinery shared by the RTL-SDR and rtl_tcp sources: a
reader thread that never waits for processing, the bounded queue, settling
after retunes, an optional sweep the reader thread drives itself, and
reconnection.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Sequence

import numpy as np

from ..errors import DeviceError, ParameterError
from ..model import CU8Block, IQBlock, RecordingInfo
from .base import DEFAULT_BLOCK_SAMPLES, Source


# ----------------------------------------------------------------------------- counters

@dataclass
class Accounting:
    """Counters of one live stream (samples unless named otherwise)."""
    samples_received: int = 0          # delivered by the receiver (before settling drops)
    samples_handed_over: int = 0       # given to the consumer
    buffers_received: int = 0
    buffers_handed_over: int = 0
    lost_queue_overflow: int = 0
    lost_sample_clock: int = 0
    lost_retune_settling: int = 0
    lost_reconnect: int = 0
    gaps: int = 0                      # blocks handed over with samples_lost_before > 0
    retunes: int = 0
    reconnects: int = 0
    stalls: int = 0                    # sample-clock loss events

    @property
    def samples_lost(self) -> int:
        return (self.lost_queue_overflow + self.lost_sample_clock + self.lost_retune_settling
                + self.lost_reconnect)

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["samples_lost"] = self.samples_lost
        return d


# ----------------------------------------------------------------------------- sample clock

class ClockLossEstimator:
    """Estimates samples lost upstream from buffer arrival times against the sample clock.

    For each buffer, lateness ``L = t_arrival - samples_so_far / rate``; its running
    minimum (allowed to creep up by ``drift_ppm`` for crystal error) is the
    baseline, and the excess over it is either backlog (transient: delayed
    buffers then arrive back to back, the excess shrinking by one buffer each
    time, until it is gone) or loss (lasting: buffers keep the normal cadence at
    a raised excess).  A buffer arriving with excess above the threshold is held
    back with those after it until the question is settled: the excess falls
    back under the threshold (no loss), or it stays steady (changes by less than
    half a buffer) for ``steady_buffers`` arrivals and ``steady_s`` seconds of
    samples in a row: a loss of the
    smallest excess seen since, rounded to whole ``quantum`` samples (the
    receiver's transfer size: receivers lose whole transfers), placed before the
    first held buffer.

    ``push`` returns the buffers released, each with the loss found before it.
    """

    def __init__(self, sample_rate_hz: float, *, quantum: int = 1, jitter_s: float = 0.004,
                 drift_ppm: float = 200.0, steady_buffers: int = 3, steady_s: float = 0.1,
                 max_held: int = 256):
        self.rate = float(sample_rate_hz)
        self.quantum = max(1, int(quantum))
        self.jitter_s = float(jitter_s)
        self.drift = float(drift_ppm) * 1e-6
        self.steady_buffers = int(steady_buffers)
        self.steady_s = float(steady_s)
        self.max_held = int(max_held)
        self.threshold_s = max(self.jitter_s, 0.25 * self.quantum / self.rate)
        self.reset()

    def reset(self) -> None:
        """Forget the clock (stream restarted: new device session, new rate)."""
        self._count = 0                 # samples received + lost declared
        self._base: float | None = None
        self._t_base = 0.0
        self._held: list[tuple] = []     # (item, n, t_arrival, excess)
        self._steady = 0

    @property
    def holding(self) -> int:
        return len(self._held)

    def _excess(self, n: int, t: float) -> float:
        lateness = t - (self._count + n) / self.rate
        if self._base is None:
            self._base, self._t_base = lateness, t
            return 0.0
        base = self._base + self.drift * max(0.0, t - self._t_base)
        return lateness - base

    def _lower_base(self, t: float) -> None:
        lateness = t - self._count / self.rate
        base = self._base + self.drift * max(0.0, t - self._t_base)
        self._base, self._t_base = min(base, lateness), t

    def push(self, item, n: int, t_arrival: float) -> list[tuple[object, int]]:
        excess = self._excess(n, t_arrival)
        self._count += n
        if excess <= self.threshold_s:
            self._lower_base(t_arrival)
            out = [(h[0], 0) for h in self._held] + [(item, 0)]
            self._held = []
            return out
        if self._held:
            prev = self._held[-1][3]
            self._steady = self._steady + 1 if abs(excess - prev) < 0.5 * n / self.rate else 0
        else:
            self._steady = 0
        self._held.append((item, n, t_arrival, excess))
        need = max(self.steady_buffers, math.ceil(self.steady_s * self.rate / n))
        if self._steady >= need:
            m = min(h[3] for h in self._held[-(need + 1):])
            lost_s = max(0.0, m - self.jitter_s)
            lost = self.quantum * int(round(lost_s * self.rate / self.quantum))
            self._count += lost
            out = [(self._held[0][0], lost)] + [(h[0], 0) for h in self._held[1:]]
            self._held = []
            self._steady = 0
            return out
        if len(self._held) > self.max_held:
            # never settled: hand the oldest over rather than hold the stream back
            return [(self._held.pop(0)[0], 0)]
        return []

    def flush(self) -> list[tuple[object, int]]:
        out = [(h[0], 0) for h in self._held]
        self._held = []
        self._steady = 0
        return out


# ----------------------------------------------------------------------------- live source

@dataclass
class Chunk:
    """Raw cu8 bytes as received, with where they sit in the stream."""
    raw: np.ndarray                   # uint8, 2 * n (I, Q interleaved)
    sample_index0: int                # handed-over (stored) index of the first sample
    center_freq_hz: float
    samples_lost_before: int
    timestamp: float                  # POSIX seconds of the first sample (from arrival time)
    sweep_step: int = 0

    @property
    def num_samples(self) -> int:
        return self.raw.size // 2


@dataclass(frozen=True)
class LiveConfig:
    """How a live source buffers and accounts (sizes in samples, times in seconds)."""
    buffer_samples: int = 32768        # one receiver transfer (16 KiB..256 KiB of cu8)
    queue_buffers: int = 256           # bounded queue between reader and consumer
    settle_s: float = 0.01             # PLL settling after a retune
    inflight_buffers: int = 4          # transfers already queued by the receiver at a retune
    reconnect_timeout_s: float = 30.0  # give up when the receiver stays away this long
    reconnect_interval_s: float = 0.25
    jitter_s: float = 0.004            # arrival jitter tolerated by the sample-clock estimate
    loss_quantum: int | None = None    # None: buffer_samples

    def settle_samples(self, rate_hz: float) -> int:
        return int(round(self.settle_s * rate_hz)) + self.inflight_buffers * self.buffer_samples


class LiveSource(Source):
    """Reader thread + bounded queue + accounting; subclasses talk to the receiver.

    Subclasses implement ``_connect()`` (open/configure; raise DeviceError),
    ``_stream()`` (block, calling ``self._deliver(raw_uint8)`` per buffer, return
    or raise when the receiver is gone or ``_cancel`` was called),
    ``_cancel()``, ``_disconnect()`` and ``_set_frequency(hz)``.
    """

    hardware = ""

    def __init__(self, name: str, sample_rate_hz: float, center_freq_hz: float,
                 gain_db: float | None, config: LiveConfig | None = None):
        self.config = config or LiveConfig()
        self.sample_rate_hz = float(sample_rate_hz)
        self.center_freq_hz = float(center_freq_hz)
        self.gain_db = gain_db
        self.accounting = Accounting()
        self.started_utc = datetime.now(timezone.utc)
        self.info = RecordingInfo(path=name, sample_rate_hz=self.sample_rate_hz,
                                  center_freq_hz=self.center_freq_hz, num_samples=None,
                                  datatype="cu8", datetime_utc=self.started_utc.isoformat()
                                  .replace("+00:00", "Z"), hardware=self.hardware, gain_db=gain_db)
        q = self.config.loss_quantum or self.config.buffer_samples
        self._clock = ClockLossEstimator(self.sample_rate_hz, quantum=q, jitter_s=self.config.jitter_s)
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._lock = threading.RLock()           # frequency, settling, sweep state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._pending_lost = 0                  # counted, waiting for the next handed-over chunk
        self._settle_left = 0
        self._sweep: list[tuple[float, int]] = []
        self._sweep_pos = 0
        self._sweep_left = 0
        self._sweep_step = 0
        self._index = 0                         # handed-over samples (the stored index)
        self._lost_at_disconnect: float | None = None
        self._connected = threading.Event()
        self._retuning = False
        self._tune_target: float | None = None
        self._tune_event = threading.Event()
        self._tune_error: BaseException | None = None
        self._tuner_thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------

    def open(self) -> "LiveSource":
        """Open the receiver without streaming yet (raises DeviceError)."""
        if not self._connected.is_set():
            self._connect()
            self._connected.set()
        return self

    def start(self) -> "LiveSource":
        """Open the receiver if needed and start the reader thread (raises DeviceError)."""
        if self._thread is None:
            self.open()
            # sample 0 is about now: the stream starts with the reader
            self.started_utc = datetime.now(timezone.utc)
            self.info = dataclasses.replace(self.info, datetime_utc=self.started_utc.isoformat(
                timespec="microseconds").replace("+00:00", "Z"))
            self._thread = threading.Thread(target=self._run, name=f"reader {self.info.path}", daemon=True)
            self._thread.start()
            self._tuner_thread = threading.Thread(target=self._tuner, name="tuner", daemon=True)
            self._tuner_thread.start()
        return self

    def tune(self, center_freq_hz: float) -> None:
        """Retune now; samples until the tuner settles are dropped and counted."""
        with self._lock:
            self._retune(float(center_freq_hz))

    def set_sweep(self, steps: Sequence[tuple[float, int]]) -> None:
        """Cycle through (center_freq_hz, dwell_samples) steps, driven by the reader
        thread so that dwells are measured in received samples, not consumer time."""
        steps = [(float(f), int(n)) for f, n in steps]
        if any(n <= 0 for _, n in steps):
            raise ParameterError("dwell must be > 0 samples", param="dwell_samples",
                                 value=[n for _, n in steps])
        with self._lock:
            self._sweep = steps
            self._sweep_pos = 0
            self._sweep_step = 0
            if steps:
                self._sweep_left = steps[0][1]
                if steps[0][0] != self.center_freq_hz:
                    if self._thread is None:
                        self.center_freq_hz = steps[0][0]     # _connect tunes there
                    else:
                        self._request_retune(steps[0][0])

    def _retune(self, f: float) -> None:
        self._set_frequency(f)
        self.center_freq_hz = f
        self.accounting.retunes += 1
        self._settle_left = self.config.settle_samples(self.sample_rate_hz)

    def stop(self) -> None:
        self._stop.set()
        try:
            self._cancel()
        except Exception:
            pass
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        self.stop()
        for t in (self._thread, self._tuner_thread):
            if t is not None and t is not threading.current_thread():
                t.join(timeout=5.0)
        try:
            self._disconnect()
        except Exception:
            pass

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- reader thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._stream()
                except DeviceError:
                    if self._stop.is_set():
                        break
                if self._stop.is_set():
                    break
                self._release(self._clock.flush())
                self._connected.clear()
                lost_t = time.monotonic()
                try:
                    self._disconnect()
                except Exception:
                    pass
                if not self._reconnect(lost_t):
                    break
        except BaseException as exc:                 # surfaced to the consumer
            self._error = exc
        finally:
            self._release(self._clock.flush())
            with self._cond:
                self._cond.notify_all()

    def _reconnect(self, lost_t: float) -> bool:
        deadline = lost_t + self.config.reconnect_timeout_s
        last_error: BaseException | None = None
        while not self._stop.is_set():
            if time.monotonic() > deadline:
                raise DeviceError(f"the receiver went away and did not come back within "
                                  f"{self.config.reconnect_timeout_s:g} s"
                                  + (f" ({last_error})" if last_error else ""), path=self.info.path)
            self._stop.wait(self.config.reconnect_interval_s)
            if self._stop.is_set():
                return False
            try:
                with self._lock:
                    self._connect()
                    if self._sweep:
                        self._sweep_left = self._sweep[self._sweep_pos][1]
            except DeviceError as exc:
                last_error = exc
                continue
            self._connected.set()
            self.accounting.reconnects += 1
            self._lost_at_disconnect = lost_t
            self._clock.reset()
            return True
        return False

    def _deliver(self, raw: np.ndarray) -> None:
        """Called by the reader for every receiver buffer (uint8, I/Q interleaved)."""
        t = time.monotonic()
        t_wall = time.time()
        raw = np.array(raw, dtype=np.uint8, copy=True).reshape(-1)
        if raw.size & 1:
            raw = raw[:-1]
        n = raw.size // 2
        acc = self.accounting
        acc.samples_received += n
        acc.buffers_received += 1
        if self._lost_at_disconnect is not None:
            # the receiver was away from lost_t until this buffer started
            away = max(0.0, t - n / self.sample_rate_hz - self._lost_at_disconnect)
            lost = int(round(away * self.sample_rate_hz))
            acc.lost_reconnect += lost
            self._pending_lost += lost
            self._lost_at_disconnect = None
        item = (raw, t_wall - n / self.sample_rate_hz)
        self._release(self._clock.push(item, n, t))

    def _release(self, released) -> None:
        for (raw, t_wall), lost in released:
            if lost:
                self.accounting.lost_sample_clock += lost
                self.accounting.stalls += 1
                self._pending_lost += lost
            self._segment(raw, t_wall)

    def _segment(self, raw: np.ndarray, t_wall: float) -> None:
        """Apply settling and the sweep to one buffer, then queue what remains."""
        rate = self.sample_rate_hz
        while raw.size:
            with self._lock:
                if self._retuning or self._settle_left:
                    k = raw.size // 2 if self._retuning else min(self._settle_left, raw.size // 2)
                    if not self._retuning:
                        self._settle_left -= k
                    if self._index:       # before the first sample handed over: the start, not a loss
                        self.accounting.lost_retune_settling += k
                        self._pending_lost += k
                    raw = raw[2 * k:]
                    t_wall += k / rate
                    continue
                n = raw.size // 2
                freq = self.center_freq_hz
                step = self._sweep_step
                if self._sweep:
                    k = min(n, self._sweep_left)
                    self._sweep_left -= k
                    part, raw = raw[:2 * k], raw[2 * k:]
                    if self._sweep_left == 0:
                        self._sweep_pos = (self._sweep_pos + 1) % len(self._sweep)
                        self._sweep_step += 1
                        f, dwell = self._sweep[self._sweep_pos]
                        self._sweep_left = dwell
                        if f != self.center_freq_hz:
                            self._request_retune(f)
                else:
                    part, raw = raw, raw[:0]
            self._enqueue(part, freq, t_wall, step)
            t_wall += part.size / 2 / rate

    def _request_retune(self, f: float) -> None:
        # Receivers must not be retuned from inside their own read callback (libusb
        # refuses synchronous transfers there): a tuner thread does it, and every
        # sample received until it is done is dropped as settling.
        self._retuning = True
        self._tune_target = f
        self._tune_event.set()

    def _tuner(self) -> None:
        while not self._stop.is_set():
            if not self._tune_event.wait(0.1):
                continue
            self._tune_event.clear()
            with self._lock:
                f = self._tune_target
            if f is None:
                continue
            try:
                self._set_frequency(f)
            except Exception as exc:     # the reader notices a dead receiver on its own
                self._tune_error = exc
            with self._lock:
                if self._tune_target == f:
                    self._tune_target = None
                    self.center_freq_hz = f
                    self.accounting.retunes += 1
                    self._settle_left = self.config.settle_samples(self.sample_rate_hz)
                    self._retuning = False

    def _enqueue(self, part: np.ndarray, freq: float, t_wall: float, step: int) -> None:
        if not part.size:
            return
        n = part.size // 2
        with self._cond:
            if len(self._queue) >= self.config.queue_buffers:
                # never wait for the consumer: the receiver would lose samples instead
                self.accounting.lost_queue_overflow += n
                self._pending_lost += n
                return
            chunk = Chunk(part, self._index, freq, self._pending_lost, t_wall, step)
            if self._pending_lost:
                self.accounting.gaps += 1
            self._pending_lost = 0
            self._index += n
            self.accounting.samples_handed_over += n
            self.accounting.buffers_handed_over += 1
            self._queue.append(chunk)
            self._cond.notify()

    # -- consumer ------------------------------------------------------------------

    def chunks(self, timeout_s: float | None = None, tick_s: float | None = None) -> Iterator[Chunk | None]:
        """Raw chunks as they arrive, until ``stop()``/``close()``; raises DeviceError
        when the receiver is gone for good or, with ``timeout_s``, silent that long.
        With ``tick_s``, yields None after that long without data (so a caller can
        check its own clock while the receiver is quiet)."""
        self.start()
        last = tick = time.monotonic()
        while True:
            with self._cond:
                while not self._queue:
                    if self._stop.is_set() or (self._thread is not None and not self._thread.is_alive()):
                        break
                    self._cond.wait(0.05)
                    now = time.monotonic()
                    if timeout_s is not None and now - last > timeout_s:
                        raise DeviceError(f"no samples for {timeout_s:g} s", path=self.info.path)
                    if tick_s is not None and now - tick > tick_s:
                        break
                chunk = self._queue.popleft() if self._queue else None
            if chunk is None:
                if self._error is not None:
                    err = self._error
                    if isinstance(err, DeviceError):
                        raise err
                    raise DeviceError(f"reader failed: {err}", path=self.info.path) from err
                if self._stop.is_set() or (self._thread is not None and not self._thread.is_alive()):
                    return
                tick = time.monotonic()
                yield None
                continue
            last = tick = time.monotonic()
            yield chunk

    def blocks(self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start: int = 0,
               stop: int | None = None) -> Iterator[IQBlock]:
        """IQBlocks as they arrive (one per received chunk: low latency)."""
        for c in self.chunks():
            if c is None:
                continue
            yield chunk_to_block(c, self.sample_rate_hz, self.gain_db)
            if stop is not None and c.sample_index0 + c.num_samples >= stop:
                return

    def queue_depth(self) -> int:
        return len(self._queue)

    def coalesce(self, chunk: Chunk, max_samples: int) -> Chunk:
        """``chunk`` extended by the chunks already queued right after it (same
        frequency, no gap), up to ``max_samples``: a consumer that fell behind
        catches up in fewer, larger blocks; one that keeps up is not delayed."""
        parts = [chunk.raw]
        n = chunk.num_samples
        with self._cond:
            while self._queue:
                c = self._queue[0]
                if (c.samples_lost_before or c.center_freq_hz != chunk.center_freq_hz
                        or c.sample_index0 != chunk.sample_index0 + n or n + c.num_samples > max_samples):
                    break
                self._queue.popleft()
                parts.append(c.raw)
                n += c.num_samples
        if len(parts) == 1:
            return chunk
        return Chunk(np.concatenate(parts), chunk.sample_index0, chunk.center_freq_hz, chunk.samples_lost_before,
                     chunk.timestamp, chunk.sweep_step)

    def unreported_lost(self) -> int:
        """Samples counted as lost whose gap no consumer has seen yet (still queued,
        or waiting for the next chunk when the stream stopped)."""
        with self._cond:
            return self._pending_lost + sum(c.samples_lost_before for c in self._queue)

    def describe(self) -> dict:
        """What the summary says about the receiver."""
        return {"source": self.info.path, "hardware": self.hardware,
                "sample_rate_hz": self.sample_rate_hz, "gain_db": self.gain_db,
                "buffer_samples": self.config.buffer_samples, "queue_buffers": self.config.queue_buffers}


def chunk_to_block(c: Chunk, rate: float, gain_db: float | None = None) -> CU8Block:
    """A received chunk as a block of its bytes, converted when its samples are read."""
    return CU8Block(c.raw.reshape(-1, 2), sample_index0=c.sample_index0, center_freq_hz=c.center_freq_hz,
                    sample_rate_hz=rate, timestamp=c.timestamp, gain_db=gain_db,
                    samples_lost_before=c.samples_lost_before)


def check_rate(value: float, param: str = "--sample-rate") -> float:
    """RTL2832 sample rates: 225001-300000 or 900001-3200000 S/s."""
    if not math.isfinite(value) or not (225e3 < value <= 300e3 or 900e3 < value <= 3.2e6):
        raise ParameterError("an RTL-SDR samples at 225001-300000 or 900001-3200000 S/s "
                             "(2.4M is reliable)", param=param, value=value)
    return value
