"""Blocks of IQ samples in, spectrogram frames out, on one thread or two.

Cutting a stream into frames is sequential only in its bookkeeping (where the
next frame starts, what the previous block left over); ``Framer.plan`` does it
in stream order, and the windows and FFTs follow.  On two cores
``framed_blocks`` reads and frames on a thread of its own, batch by batch, ahead
of the consumer (the kernels and FFTW release the interpreter lock).
"""
from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..kernels.convert import cu8_to_c64
from ..model import CU8Block, IQBlock
from .config import DetectorConfig
from .spectrogram import Spectrogram

# Batches of frames the producing thread may run ahead of the consumer (two cores).
AHEAD_BATCHES = 6
# The consumer runs the FFT of every this many batches itself, the framing thread the
# others: the split that makes the two threads' work about even (see ``_Transform``).
CONSUMER_FFT_EVERY = 3


@dataclass
class FrameBatch:
    """Spectrogram frames of one block, and whether a new segment starts with them.

    Made in one of three ways: with its frames computed; with what computes them,
    when asked, batch by batch (``chunks``): one thread then computes each batch
    just before it is consumed, while it is in the cache; or with ``stream``, the
    batches another thread computes, in order.
    """
    restart_at: int | None            # absolute sample where a new segment starts, if one does
    center_freq_hz: float
    samples_lost: int = 0             # lost before this batch since the stream began
    computed: np.ndarray | None = None
    job: FrameJob | None = None
    spectrogram: Spectrogram | None = None
    stream: Iterator[np.ndarray] | None = None

    @property
    def power(self) -> np.ndarray:
        """All frames, (frames, nfft) float32, linear."""
        if self.computed is None:
            if self.stream is not None:
                parts = [c.copy() for c in self.chunks()]
                self.computed = np.concatenate(parts) if parts else np.zeros((0, self.spectrogram.nfft),
                                                                             np.float32)
            else:
                self.computed = self.spectrogram.compute(self.job.x, self.job.out, head=self.job.head)
        return self.computed

    def chunks(self, spectra: bool = False) -> Iterator[np.ndarray]:
        """The frames in order, a batch at a time; each batch is valid until the next.
        With ``spectra``, batches not computed yet may come as the frames' spectra instead
        (``Spectrogram.spectra``: 2*nfft columns), for a consumer that makes the power."""
        if self.computed is not None:
            yield self.computed
        elif self.stream is not None:
            nfft = self.spectrogram.nfft
            for frames in self.stream:
                yield frames if spectra or frames.shape[1] == nfft else self.spectrogram.power_of(frames)
        elif spectra and self.spectrogram.backend == "fftw":
            yield from self.spectrogram.spectra(self.job.x, self.job.head)
        else:
            yield from self.spectrogram.batches(self.job.x, self.job.head)


@dataclass
class FrameJob:
    """What ``Framer.plan`` decided for one block: frames of ``head`` + ``x`` into ``out``."""
    x: np.ndarray
    head: np.ndarray
    out: np.ndarray
    restart_at: int | None
    center_freq_hz: float
    samples_lost: int


class Framer:
    """Cuts a stream of blocks into spectrogram frames.

    The producer half of the detector: it owns the FFT plan and the samples
    carried between blocks, so it can run ahead of the rest on other threads.
    Frame ``t`` of a segment starts at sample ``origin + t * hop``.
    """

    # Output buffers are reused in turn (fresh arrays cost page faults on every
    # block): a batch stays valid until this many later batches have been planned.
    BUFFERS = 8

    def __init__(self, nfft: int, hop: int, config: DetectorConfig, center_freq_hz: float,
                 sample_index0: int = 0):
        self.nfft, self.hop = nfft, hop
        self.spectrogram = Spectrogram(nfft, hop, config.window, config.fft_backend,
                                       config.frames_per_batch(nfft))
        self.center_freq_hz = float(center_freq_hz)
        self._origin = int(sample_index0)
        self._frames = 0
        self._tail = np.zeros(0, np.complex64)
        self._samples_lost = 0
        self._power = [np.zeros((0, nfft), np.float32) for _ in range(self.BUFFERS)]
        self._turn = 0

    def frame(self, block: IQBlock) -> FrameBatch:
        return self.compute(self.plan(block))

    def defer(self, block: IQBlock) -> FrameBatch:
        """The frames of ``block``, computed batch by batch as they are consumed
        (``FrameBatch.chunks``), on the consumer's thread."""
        job = self.plan(block)
        return FrameBatch(job.restart_at, job.center_freq_hz, job.samples_lost, job=job,
                          spectrogram=self.spectrogram)

    def plan(self, block: IQBlock) -> FrameJob:
        """The bookkeeping of one block, in stream order: segment, carried samples, buffer."""
        x = self._samples_of(block)
        restart_at = None
        if block.samples_lost_before or block.center_freq_hz != self.center_freq_hz \
                or block.sample_index0 != self._origin + self._frames * self.hop + self._tail.shape[0]:
            restart_at = self._origin = int(block.sample_index0)
            self._samples_lost += int(block.samples_lost_before)
            self.center_freq_hz = float(block.center_freq_hz)
            self._frames = 0
            self._tail = x[:0]
        tail = self._tail
        if tail.dtype != x.dtype:                 # a stream of bytes and complex samples mixed
            if not tail.shape[0]:
                tail = x[:0]
            elif x.dtype == np.uint8:
                x = block.samples[0]
            else:
                tail = cu8_to_c64(tail)[0]
        n = self.spectrogram.n_frames(tail.shape[0] + x.shape[0])
        self._turn = (self._turn + 1) % self.BUFFERS
        if self._power[self._turn].shape[0] < n:
            self._power[self._turn] = np.empty((n, self.nfft), np.float32)
        # What the next block's first frames need: the samples from frame n's start on.
        rest = n * self.hop - tail.shape[0]
        self._tail = x[rest:].copy() if rest >= 0 else np.concatenate([tail[n * self.hop:], x])
        self._frames += n
        return FrameJob(x, tail, self._power[self._turn][:n], restart_at, self.center_freq_hz,
                        self._samples_lost)

    def _samples_of(self, block: IQBlock) -> np.ndarray:
        """What the frames are cut from: a block's RTL-SDR bytes as they are (uint8 (n, 2),
        windowed by FFTW's path without converting them first), else its first channel."""
        if isinstance(block, CU8Block) and self.spectrogram.backend == "fftw":
            return block.raw
        return block.samples[0] if block.samples.ndim == 2 else block.samples

    def compute(self, job: FrameJob) -> FrameBatch:
        """The arithmetic of one planned block, all frames at once."""
        power = self.spectrogram.compute(job.x, job.out, head=job.head)
        return FrameBatch(job.restart_at, job.center_freq_hz, job.samples_lost, computed=power)


def framed_blocks(blocks: Iterator[IQBlock], framer: Framer,
                  workers: int = 0) -> Iterator[tuple[IQBlock, FrameBatch]]:
    """Blocks with their spectrogram frames, in order.  With ``workers`` > 0, one more
    thread (whatever the number) reads the blocks and computes their frames' spectra
    (windows and FFTs) ahead of the caller, who consumes them meanwhile, batch by
    batch: a batch crosses to the consumer's core while still in the cache, where a
    whole block's frames would not."""
    if workers <= 0:
        for block in blocks:
            yield block, framer.defer(block)
        return
    done = object()
    # Two queues of C, not a ``queue.Queue``: each put and get of that runs Python under
    # the interpreter lock, which the two threads then pass back and forth for every batch
    # (about 10 % of the run).  ``room`` holds a token per batch the framing thread may
    # still run ahead.
    q: queue.SimpleQueue = queue.SimpleQueue()
    room: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(AHEAD_BATCHES):
        room.put(None)
    spectrogram = framer.spectrogram
    rows = spectrogram.batch_frames
    if spectrogram.backend == "fftw":
        # Power frames: half the bytes of the spectra, and they cross to the consumer's core.
        # This thread runs most FFTs, from one input buffer into one output buffer, both of
        # which stay in its cache, and turns the output into power, in one of a cycle of
        # buffers.  Every CONSUMER_FFT_EVERY-th batch is windowed into an input of its own
        # and handed over with its FFT still to run (``_Transform``); the consumer's frame
        # kernel makes that batch's power.  A power buffer or a consumer's plan used now was
        # last handed over at least AHEAD_BATCHES + 2 batches ago, which the consumer has
        # let go of by then (it holds the batch it took last, and the queue the rest).
        ahead = AHEAD_BATCHES + 2
        mine = spectrogram.more_plans(1)[0]
        own = spectrogram.more_plans(-(-ahead // CONSUMER_FFT_EVERY), own_input=True)
        consumers = {id(fft) for fft in own}
        own = itertools.cycle(own)
        plans = (next(own) if turn % CONSUMER_FFT_EVERY == 0 else mine for turn in itertools.count(1))
        powers = itertools.cycle([np.empty((rows, spectrogram.nfft), np.float32) for _ in range(ahead)])

        def batches(job: FrameJob) -> Iterator:
            for fft, n in spectrogram.windowed(job.x, job.head, plans):
                if id(fft) in consumers:
                    yield _Transform(fft, n)
                else:
                    fft.execute()           # before the next batch is windowed into its input
                    yield spectrogram.power_into(fft, n, next(powers))
    else:
        def batches(job: FrameJob) -> Iterator[np.ndarray]:
            return spectrogram.batches(job.x, job.head)     # (fresh arrays, rocket-fft)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                room.get(timeout=0.1)
            except queue.Empty:
                continue
            q.put(item)
            return True
        return False

    def produce():
        try:
            for block in blocks:
                job = framer.plan(block)
                if not put((block, job, -(-job.out.shape[0] // rows))):
                    return
                for frames in batches(job):
                    if not put(frames):
                        return
            put(done)
        except BaseException as exc:   # handed to the consumer, raised there in order
            put(exc)

    def take():
        item = q.get()
        room.put(None)
        if isinstance(item, BaseException):
            raise item
        return item.spectra() if isinstance(item, _Transform) else item

    producer = threading.Thread(target=produce, name="rfdetect-framer", daemon=True)
    producer.start()
    try:
        while True:
            item = take()
            if item is done:
                return
            block, job, count = item
            chunks = _Taken(take, count)
            yield block, FrameBatch(job.restart_at, job.center_freq_hz, job.samples_lost, job=job,
                                    spectrogram=spectrogram, stream=chunks)
            for _ in chunks:          # what the caller left unread
                pass
    finally:
        stop.set()
        producer.join(timeout=5)


class _Transform:
    """A windowed batch whose FFT the consumer runs, when it takes the batch: its share of
    the framing, which keeps the two threads' work about even.  The same plan on the same
    input as the framing thread would have run: the same values."""

    __slots__ = ("fft", "rows")

    def __init__(self, fft, rows: int):
        self.fft, self.rows = fft, rows

    def spectra(self) -> np.ndarray:
        """(frames, 2*nfft) float32: complex64 viewed as interleaved float32."""
        self.fft.execute()                  # releases the interpreter lock
        return self.fft.output_array.view(np.float32)[: self.rows]


class _Taken:
    """The next ``count`` items of ``take``: a plain iterator, which a consumer that
    stops early does not close, so that the rest can still be taken off the queue."""

    def __init__(self, take, count: int):
        self._take, self._left = take, count

    def __iter__(self):
        return self

    def __next__(self):
        if not self._left:
            raise StopIteration
        self._left -= 1
        return self._take()
