"""Join chunk results into exactly the records a serial run emits.

A whole-file task brings the file's records themselves (worker.py).  Chunks
of a long file bring the bursts (and gaps) they own, each keyed by the serial
block in which it closed and its position among the bursts that block
closed.  Sorted by that key they are in the serial run's order, so feeding
them here, in order, to one ``Classifier`` gives the serial tracks,
detections and summary.  Results may arrive in any order; records are
emitted as soon as no chunk still missing can hold an earlier one.
"""
from __future__ import annotations

import heapq
from functools import cached_property
from typing import Callable

import numpy as np

from ..classify import Classifier
from ..detect import DetectorConfig
from ..model import RecordingInfo
from ..pipeline import Pipeline
from ..records import gap_record
from ..sources.base import Source
from .worker import ChunkResult, SnippetRef, cached_kernels

Emit = Callable[[dict], None]


class LazySnippet:
    """An ``IQSnippet`` whose samples are read from the recording only when used."""

    def __init__(self, ref: SnippetRef, open_reader: Callable[[], Source], sample_rate_hz: float):
        self.sample_index0 = ref.sample_index0
        self.center_freq_hz = ref.center_freq_hz
        self.sample_rate_hz = sample_rate_hz
        self.floor = ref.floor
        self._ref = ref
        self._open = open_reader

    @cached_property
    def samples(self) -> np.ndarray:
        src = self._open()
        a, n = self._ref.sample_index0, self._ref.num_samples
        parts = [b.samples for b in src.blocks(max(n, 1), start=a, stop=a + n)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


class _GivenSnippets:
    """Stands in for the pipeline's IQ history: hands back the snippet the worker
    found for the burst being handled, so ``Pipeline._handle`` runs unchanged."""

    def __init__(self):
        self.current = None

    def snippet(self, start: int, stop: int, max_samples: int | None = None):
        return self.current


class FileMerger:
    """One file's chunk results in, its serial records out (through ``emit``).

    A whole-file result's records are passed on as they are.  Otherwise the
    records are made by a ``Pipeline`` that is fed bursts instead of blocks, so
    counts, detections, bearings and the summary are the serial pipeline's own.
    """

    def __init__(self, info: RecordingInfo, emit: Emit, count: int, first_blocks: list[int], *,
                 config: DetectorConfig | None = None, all_bursts: bool = False,
                 open_reader: Callable[[], Source] | None = None, array_path: str | None = None):
        self.info = info
        self.count = count
        self.first_blocks = first_blocks
        self.emit = emit
        self._options = dict(config=config, all_bursts=all_bursts, array_path=array_path)
        self.kernels: dict = {}           # workers' kernel results, see worker.recording_kernels
        self._summary: dict | None = None   # a whole-file task's, emitted with its records
        self._given = _GivenSnippets()
        self._open_reader = open_reader
        self._reader: Source | None = None
        self._results: dict[int, ChunkResult] = {}
        self._prefix = 0                  # chunks 0.._prefix-1 have been queued
        self._queue: list = []            # (key, seq, kind, payload)
        self._seq = 0
        self.done = False

    @cached_property
    def pipeline(self) -> Pipeline:
        """Made when first needed: a whole-file result needs none."""
        pipeline = Pipeline(self.info, self.emit, classifier=Classifier(run_kernel=cached_kernels(self.kernels)),
                            **self._options)
        pipeline.history = self._given
        return pipeline

    @property
    def complete(self) -> bool:
        return self._prefix == self.count

    @property
    def merged_chunks(self) -> int:
        return self._prefix

    def add(self, result: ChunkResult) -> None:
        """A chunk's result (a second copy of one, after a re-run, is ignored)."""
        if result.index in self._results or self.done:
            return
        if result.records is not None:
            self._results[result.index] = None
            self._prefix = self.count
            for record in result.records:
                self.emit(record)
            self._summary = result.records[-1]
            return
        self._results[result.index] = result
        while self._prefix in self._results:
            r = self._results[self._prefix]
            self.pipeline.samples += r.samples
            self._add_counts(r.counts or {"overflows": r.overflows})
            self.kernels.update(r.kernels)
            for key, sample_index, lost, lost_before in r.gaps:
                heapq.heappush(self._queue, (key, self._next(), "gap", (sample_index, lost, lost_before)))
            for key, burst, ref in r.bursts:
                heapq.heappush(self._queue, (key, self._next(), "burst", (burst, ref)))
            self._results[self._prefix] = None     # merged: keep the index, drop the data
            self._prefix += 1
        bound = self.first_blocks[self._prefix] if self._prefix < self.count else None
        while self._queue and (bound is None or self._queue[0][0][0] < bound):
            self._pop()

    def _add_counts(self, counts: dict[str, int]) -> None:
        p = self.pipeline
        p.detector.overflows += counts.get("overflows", 0)
        if p.chirp is not None:
            for name in ("candidates", "confirmed", "packets"):
                setattr(p.chirp, name, getattr(p.chirp, name) + counts.get(name, 0))
            p.merger.duplicates += counts.get("duplicates", 0)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _pop(self) -> None:
        _, _, kind, payload = heapq.heappop(self._queue)
        (self._gap if kind == "gap" else self._burst)(*payload)

    def _gap(self, sample_index: int, lost: int, lost_before: int) -> None:
        p = self.pipeline
        p.gaps += 1
        p.emit(gap_record(sample_index, lost, self.info, lost_before=lost_before))
        p.samples_lost += lost

    def _burst(self, burst, ref: SnippetRef | None) -> None:
        iq = None
        if ref is not None and self._open_reader is not None:
            iq = LazySnippet(ref, self._reader_source, self.info.sample_rate_hz)
        self._given.current = iq
        self.pipeline._handle([burst])
        self._given.current = None

    def _reader_source(self) -> Source:
        if self._reader is None:
            self._reader = self._open_reader()
        return self._reader

    def finish(self, error: str | None = None) -> dict:
        """Close the tracks and emit the summary (with ``error`` when a chunk failed:
        then only the chunks before the failed one have been merged)."""
        if self.done:
            raise RuntimeError("finish called twice")
        self.done = True
        if self._summary is not None:
            return self._summary
        while self._queue:
            self._pop()
        try:
            return self.pipeline.finish(error=error)
        finally:
            if self._reader is not None:
                self._reader.close()
