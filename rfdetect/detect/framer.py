"""Blocks of IQ samples in, spectrogram frames out, on one thread or several.

Cutting a stream into frames is sequential only in its bookkeeping (where the
next frame starts, what the previous block left over); the windows and FFTs of
different blocks are independent.  ``Framer.plan`` does the bookkeeping in
stream order, ``Framer.compute`` the arithmetic, which ``framed_blocks`` spreads
over worker threads (the kernels and FFTW release the interpreter lock).
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..model import IQBlock
from .config import DetectorConfig
from .spectrogram import Spectrogram


@dataclass
class FrameBatch:
    """Spectrogram frames of one block, and whether a new segment starts with them.

    Made either with its frames computed (on a worker thread) or with what
    computes them, when asked, batch by batch (``chunks``): one thread then
    computes each batch just before it is consumed, while it is in the cache.
    """
    restart_at: int | None            # absolute sample where a new segment starts, if one does
    center_freq_hz: float
    samples_lost: int = 0             # lost before this batch since the stream began
    computed: np.ndarray | None = None
    job: FrameJob | None = None
    spectrogram: Spectrogram | None = None

    @property
    def power(self) -> np.ndarray:
        """All frames, (frames, nfft) float32, linear."""
        if self.computed is None:
            self.computed = self.spectrogram.compute(self.job.x, self.job.out, head=self.job.head)
        return self.computed

    def chunks(self) -> Iterator[np.ndarray]:
        """The frames in order, a batch at a time; each batch is valid until the next."""
        if self.computed is not None:
            yield self.computed
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
        self._config = config
        self.spectrogram = self.new_spectrogram()
        self.center_freq_hz = float(center_freq_hz)
        self._origin = int(sample_index0)
        self._frames = 0
        self._tail = np.zeros(0, np.complex64)
        self._samples_lost = 0
        self._power = [np.zeros((0, nfft), np.float32) for _ in range(self.BUFFERS)]
        self._turn = 0

    def new_spectrogram(self) -> Spectrogram:
        """An FFT plan with its own buffers, for one more thread."""
        c = self._config
        return Spectrogram(self.nfft, self.hop, c.window, c.fft_backend, c.batch_frames)

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
        x = block.samples[0] if block.samples.ndim == 2 else block.samples
        restart_at = None
        if block.samples_lost_before or block.center_freq_hz != self.center_freq_hz \
                or block.sample_index0 != self._origin + self._frames * self.hop + self._tail.size:
            restart_at = self._origin = int(block.sample_index0)
            self._samples_lost += int(block.samples_lost_before)
            self.center_freq_hz = float(block.center_freq_hz)
            self._frames = 0
            self._tail = np.zeros(0, np.complex64)
        tail = self._tail
        n = self.spectrogram.n_frames(tail.size + x.size)
        self._turn = (self._turn + 1) % self.BUFFERS
        if self._power[self._turn].shape[0] < n:
            self._power[self._turn] = np.empty((n, self.nfft), np.float32)
        # What the next block's first frames need: the samples from frame n's start on.
        rest = n * self.hop - tail.size
        self._tail = x[rest:].copy() if rest >= 0 else np.concatenate([tail[n * self.hop:], x])
        self._frames += n
        return FrameJob(x, tail, self._power[self._turn][:n], restart_at, self.center_freq_hz,
                        self._samples_lost)

    def compute(self, job: FrameJob, spectrogram: Spectrogram | None = None) -> FrameBatch:
        """The arithmetic of one planned block; any thread, each with its own ``spectrogram``."""
        power = (spectrogram or self.spectrogram).compute(job.x, job.out, head=job.head)
        return FrameBatch(job.restart_at, job.center_freq_hz, job.samples_lost, computed=power)


def framed_blocks(blocks: Iterator[IQBlock], framer: Framer,
                  workers: int = 0) -> Iterator[tuple[IQBlock, FrameBatch]]:
    """Blocks with their spectrogram frames, in order.  With ``workers`` > 0, reading
    runs on its own thread and the windows and FFTs on ``workers`` threads, blocks
    ahead of the caller, who consumes the frames meanwhile."""
    if workers <= 0:
        for block in blocks:
            yield block, framer.defer(block)
        return
    done = object()
    # Blocks in flight: queued, one the reader holds, one being consumed: within
    # the framer's buffer rotation.
    q: queue.Queue = queue.Queue(maxsize=Framer.BUFFERS - 3)
    stop = threading.Event()
    local = threading.local()

    def compute(job: FrameJob) -> FrameBatch:
        if not hasattr(local, "spectrogram"):
            local.spectrogram = framer.new_spectrogram()
        return framer.compute(job, local.spectrogram)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rfdetect-fft")

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read():
        try:
            for block in blocks:
                if not put((block, pool.submit(compute, framer.plan(block)))):
                    return
            put(done)
        except BaseException as exc:   # handed to the consumer, raised there in order
            put(exc)

    reader = threading.Thread(target=read, name="rfdetect-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            block, future = item
            yield block, future.result()
    finally:
        stop.set()
        reader.join(timeout=5)
        pool.shutdown(wait=True, cancel_futures=True)

