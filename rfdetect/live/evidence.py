"""Evidence clips: for each new detection, the raw samples around it as an HDF5 file.

A ring buffer keeps the last ``ring_s`` seconds of raw cu8 chunks.  The first
record of a new emitter (track) opens a clip holding the ring from ``pre_s``
before its first burst; every chunk that arrives after is appended, until the
record that ends the track (``evidence.report == "update"``, or a record
without early reporting) plus ``post_s``, or ``max_clip_s``.  The clip is then
annotated with the detection's last record and closed.  Clips are ordinary
native recordings (cu8, with the stream's retunes and gaps): ``rfdetect
analyze`` reprocesses them.
"""
from __future__ import annotations

import collections
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..model import Annotation
from ..sources.accounting import Chunk
from ..sources.hdf5 import HDF5Writer


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class _Clip:
    path: Path
    writer: HDF5Writer
    start: int                 # stream index of the clip's sample 0
    next: int                  # stream index of the next sample to append
    freq: float
    record: dict
    end: int | None = None     # stream index where the clip stops (known once the track ended)


class EvidenceRecorder:
    def __init__(self, directory: str, sample_rate_hz: float, *, pre_s: float = 1.5, post_s: float = 0.5,
                 ring_s: float = 20.0, max_clip_s: float = 60.0, hardware: str = "",
                 gain_db: float | None = None, sensor=None):
        if pre_s < 1.0:
            raise ParameterError("evidence needs at least 1 s before the first burst", param="pre_s", value=pre_s)
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"cannot create the directory: {exc.strerror}", param="--record-evidence",
                                 value=directory) from None
        self.rate = float(sample_rate_hz)
        self.pre = int(pre_s * self.rate)
        self.post = int(post_s * self.rate)
        self.ring_samples = int(ring_s * self.rate)
        self.max_clip = int(max_clip_s * self.rate)
        self.hardware = hardware
        self.gain_db = gain_db
        self.sensor = sensor
        self._ring: collections.deque[Chunk] = collections.deque()
        self._ring_n = 0
        self._open: dict = {}
        self._done: set = set()
        self.clips: list[str] = []

    # -- input ---------------------------------------------------------------------

    def add(self, chunk: Chunk) -> list[str]:
        """Keep a chunk, extend the open clips; return the paths of clips closed now."""
        self._ring.append(chunk)
        self._ring_n += chunk.num_samples
        while self._ring and self._ring_n - self._ring[0].num_samples >= self.ring_samples:
            old = self._ring.popleft()
            self._ring_n -= old.num_samples
        closed = []
        for key, clip in list(self._open.items()):
            self._append(clip, chunk)
            limit = clip.start + self.max_clip
            if (clip.end is not None and clip.next >= clip.end) or clip.next >= limit:
                closed.append(self._close(key))
        return closed

    def on_record(self, record: dict) -> None:
        """Feed every output record: a new emitter's detection opens a clip; the
        record that ends its track sets where the clip stops."""
        if record.get("type") != "detection":
            return
        key = record.get("track_id")
        if key is None:
            key = (record.get("link"), record.get("sample_start"))
        if key in self._done:
            return
        clip = self._open.get(key)
        if clip is None:
            clip = self._open_clip(key, record)
            if clip is None:
                return
        clip.record = record
        final = (record.get("evidence") or {}).get("report") not in ("first", "renamed")
        if final:
            clip.end = int(record.get("sample_end", clip.next)) + self.post

    def finish(self) -> list[str]:
        """Close every open clip with the samples there are (end of the scan)."""
        return [self._close(key) for key in list(self._open)]

    # -- clips ---------------------------------------------------------------------

    def _open_clip(self, key, rec: dict) -> _Clip | None:
        if not self._ring:
            return None
        a = max(int(rec.get("sample_start", 0)) - self.pre, self._ring[0].sample_index0)
        first = next((c for c in self._ring if c.sample_index0 + c.num_samples > a), None)
        if first is None:
            return None
        a = max(a, first.sample_index0)
        t0 = first.timestamp + (a - first.sample_index0) / self.rate
        link = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(rec.get("link", "unknown")))
        stamp = datetime.fromtimestamp(t0, timezone.utc).strftime("%Y%m%dT%H%M%S_%fZ")
        track = rec.get("track_id", len(self.clips) + len(self._open))
        path = self.dir / f"{stamp}_{link}_{track}.h5"
        writer = HDF5Writer(path, self.rate, first.center_freq_hz, datatype="cu8", datetime_utc=_utc(t0),
                            hardware=self.hardware, gain_db=self.gain_db, sensor=self.sensor, overwrite=True)
        clip = _Clip(path, writer, a, a, first.center_freq_hz, rec)
        self._open[key] = clip
        for c in list(self._ring):
            self._append(clip, c)
        return clip

    def _append(self, clip: _Clip, c: Chunk) -> None:
        stop = c.sample_index0 + c.num_samples
        if clip.end is not None:
            stop = min(stop, clip.end)
        lo = max(clip.next, c.sample_index0)
        if stop <= lo:
            return
        w = clip.writer
        if c.samples_lost_before and lo == c.sample_index0 and w.samples_written:
            w.add_gap(w.samples_written, c.samples_lost_before)
        if c.center_freq_hz != clip.freq:
            w.add_retune(w.samples_written, c.center_freq_hz)
            clip.freq = c.center_freq_hz
        i, j = lo - c.sample_index0, stop - c.sample_index0
        w.append(np.ascontiguousarray(c.raw[2 * i:2 * j]).reshape(1, -1, 2))
        clip.next = stop

    def _close(self, key) -> str:
        clip = self._open.pop(key)
        self._done.add(key)
        rec = clip.record
        s0 = max(0, int(rec.get("sample_start", clip.start)) - clip.start)
        s1 = min(clip.next, int(rec.get("sample_end", clip.next))) - clip.start
        bw = float(rec.get("bandwidth_hz") or 0.0)
        fc = float(rec.get("center_freq_hz") or 0.0)
        comment = json.dumps({**rec, "clip_sample_offset": clip.start}, default=str)
        with clip.writer as w:
            w.add_annotation(Annotation(s0, max(0, s1 - s0), fc - bw / 2, fc + bw / 2,
                                        label=str(rec.get("link", "")), comment=comment))
        self.clips.append(str(clip.path))
        return str(clip.path)
