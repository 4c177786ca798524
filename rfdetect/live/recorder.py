"""Crash-safe capture of a live stream to the native HDF5 format (cu8).

Wraps ``HDF5Writer``: gaps and retunes go into their tables as they happen,
the file is flushed every ``flush_interval_s`` (a crash, even kill -9, leaves a
file readable up to the last flush, marked incomplete), and recording stops
cleanly, with a readable complete file and a clear reason, before the
``max_bytes`` cap or before the disk has less than ``reserve_bytes`` free.
"""
from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import InputError, RFDetectError
from ..model import Annotation
from ..sources.accounting import Chunk
from ..sources.hdf5 import HDF5Writer


CHUNK_BYTES = 2 * (1 << 18)        # HDF5Writer's cu8 chunk: (1, 262144, 2) bytes


class RecordingStopped(RFDetectError):
    """The recording reached its cap or the disk is (nearly) full; the file is closed and valid."""
    exit_code = 4


def _utc(ts: float | None) -> str:
    t = datetime.fromtimestamp(ts, timezone.utc) if ts else datetime.now(timezone.utc)
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


class Recorder:
    def __init__(self, path: str | os.PathLike, sample_rate_hz: float, center_freq_hz: float, *,
                 hardware: str = "", gain_db: float | None = None, max_bytes: int | None = None,
                 reserve_bytes: int = 8 << 20, flush_interval_s: float = 1.0,
                 datetime_utc: str | None = None, overwrite: bool = False, sensor=None,
                 num_channels: int = 1, array: dict | None = None):
        self.path = str(path)
        self.max_bytes = max_bytes
        self.reserve_bytes = int(reserve_bytes)
        self.flush_interval_s = float(flush_interval_s)
        self._freq = float(center_freq_hz)
        self._dir = str(Path(self.path).resolve().parent)
        self._check_space(0)
        if datetime_utc is None:
            datetime_utc = _utc(None)
        self.writer = HDF5Writer(self.path, sample_rate_hz, center_freq_hz, datatype="cu8",
                                 datetime_utc=datetime_utc, hardware=hardware, num_channels=num_channels,
                                 gain_db=gain_db, sensor=sensor, overwrite=overwrite, array=array)
        self._last_flush = time.monotonic()
        self._flushed_bytes = 0
        self.stopped_reason: str | None = None
        self.samples_lost = 0

    @property
    def samples_written(self) -> int:
        return self.writer.samples_written

    @property
    def bytes_written(self) -> int:
        return 2 * self.writer.num_channels * self.writer.samples_written

    def _check_space(self, nbytes: int) -> None:
        if self.max_bytes is not None and getattr(self, "writer", None) is not None \
                and self.bytes_written + nbytes > self.max_bytes:
            raise RecordingStopped(f"the recording reached its size cap of {self.max_bytes} bytes",
                                   path=self.path)
        free = shutil.disk_usage(self._dir).free
        # HDF5 holds appended data in its chunk cache until a flush and allocates whole
        # chunks: what the disk will have to take is more than the free space shows
        unflushed = self.bytes_written - self._flushed_bytes if getattr(self, "writer", None) else 0
        if free - nbytes - unflushed - 2 * CHUNK_BYTES < self.reserve_bytes:
            raise RecordingStopped(f"the disk is full (only {free // (1 << 20)} MiB free, "
                                   f"{self.reserve_bytes // (1 << 20)} MiB kept in reserve)", path=self.path)

    def write(self, chunk: Chunk) -> None:
        """Append one chunk (raises RecordingStopped, after closing the file, at the cap)."""
        n = chunk.num_samples
        try:
            self._check_space(2 * n * self.writer.num_channels)
        except RecordingStopped as exc:
            self.stop(str(exc.message))
            raise
        w = self.writer
        try:
            if chunk.samples_lost_before:
                w.add_gap(w.samples_written, chunk.samples_lost_before)
                self.samples_lost += chunk.samples_lost_before
            if chunk.center_freq_hz != self._freq:
                w.add_retune(w.samples_written, chunk.center_freq_hz)
                self._freq = chunk.center_freq_hz
            # one channel: raw is (2n,); a coherent array's chunk: (channels, 2n)
            w.append(np.ascontiguousarray(chunk.raw).reshape(w.num_channels, -1, 2))
            now = time.monotonic()
            if now - self._last_flush >= self.flush_interval_s:
                self.flush()
        except (OSError, RuntimeError) as exc:
            self.stop(f"write failed: {exc}")
            raise RecordingStopped(f"write failed ({exc}); the file holds what was flushed",
                                   path=self.path) from None

    def annotate(self, annotation: Annotation) -> None:
        self.writer.add_annotation(annotation)

    def flush(self) -> None:
        self.writer.flush()
        self._last_flush = time.monotonic()
        self._flushed_bytes = self.bytes_written

    def stop(self, reason: str) -> None:
        """Close early, keeping a valid file that says why it stopped."""
        if self.stopped_reason is None:
            self.stopped_reason = reason
            try:
                self.writer.add_annotation(Annotation(self.writer.samples_written, 0, label="recording-stopped",
                                                      comment=reason))
            except (OSError, RuntimeError, InputError):
                pass
        self.close()

    def close(self) -> None:
        try:
            self.writer.close(complete=True)
        except (OSError, RuntimeError):
            pass
