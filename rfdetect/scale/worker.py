"""The task a Dask worker runs: the detector over warm-up + chunk, the bursts the chunk owns.

A worker returns bursts, not records: tracks span chunks, so the classifier
runs once, on the client, over the merged bursts (merge.py).  For each owned
burst the worker also returns where the serial pipeline's IQ history would
have found its samples (``SnippetRef``), and the results of the confirmation
kernels its own classifier ran on them (see ``kernel_cache``).

The detector started mid-file is put in the serial run's state where that is
not a matter of convergence: the frame grid and block grid (plan.py), the
samples lost in earlier gaps, and the share of raised bins measured when the
serial run started its floor (``_release_fraction``).  The floor itself
converges during the warm-up.
"""
from __future__ import annotations

import bisect
import copy
import os
import threading
import tempfile
import time
from dataclasses import dataclass, field

from ..classify import Classifier
from ..detect import BurstDetector, DetectorConfig
from ..errors import InputError
from ..history import IQHistory
from ..kernels import bursts as K
from ..model import Burst, RecordingInfo
from ..pipeline import HISTORY_S
from ..sources import open_source
from ..sources.base import DEFAULT_BLOCK_SAMPLES, Source
from .plan import ChunkTask, OpenSpec

# A burst's refined start lies within a frame or two of the frame that opened
# its region; regions opened this many FFT lengths around the owned range are
# waited for.
OWN_MARGIN_NFFT = 4


@dataclass(frozen=True)
class SnippetRef:
    """Samples [sample_index0, sample_index0 + num_samples) at ``center_freq_hz``."""
    sample_index0: int
    num_samples: int
    center_freq_hz: float


def burst_key(burst: Burst) -> tuple:
    return (burst.sample_start, burst.sample_end, burst.f_lo_hz, burst.f_hi_hz, burst.snr_db)


# Confirmation kernels are the costly part of classifying (as much as detecting, in
# busy bands), so they run on the workers: each worker runs a classifier over the
# bursts it sees, as the serial run would, and records every kernel result
# (burst, kernel, candidate signatures) -> result; the client's classifier takes
# its results from there, and runs a kernel itself (reading the samples from the
# file) only for a call no worker made.  The classifier has no hook for this, so
# ``evidence.run_kernel`` is wrapped; outside a worker or merge it runs as before.
_KERNELS = threading.local()


def install_kernel_cache() -> None:
    from ..classify import evidence as ev_mod
    if getattr(ev_mod.run_kernel, "uses_kernel_cache", False):
        return
    original = ev_mod.run_kernel

    def run_kernel(kernel, burst, iq, candidates):
        key = (burst_key(burst), kernel, tuple(s.id for s in candidates))
        lookup = getattr(_KERNELS, "lookup", None)
        if lookup is not None and key in lookup:
            return copy.deepcopy(lookup[key])
        result = original(kernel, burst, iq, candidates)
        record = getattr(_KERNELS, "record", None)
        if record is not None:
            record[key] = copy.deepcopy(result)
        return result

    run_kernel.uses_kernel_cache = True
    run_kernel.__wrapped__ = original
    ev_mod.run_kernel = run_kernel


class kernel_cache:
    """Within this context, kernel results are looked up in ``lookup`` and recorded in ``record``."""

    def __init__(self, lookup: dict | None = None, record: dict | None = None):
        install_kernel_cache()
        self.lookup, self.record = lookup, record

    def __enter__(self):
        self._saved = getattr(_KERNELS, "lookup", None), getattr(_KERNELS, "record", None)
        _KERNELS.lookup, _KERNELS.record = self.lookup, self.record
        return self

    def __exit__(self, *exc):
        _KERNELS.lookup, _KERNELS.record = self._saved
        return False


@dataclass
class ChunkResult:
    file_index: int
    index: int
    count: int
    start: int
    stop: int
    first_block: int
    bursts: list = field(default_factory=list)   # (key, Burst, SnippetRef | None), key = (block, position)
    gaps: list = field(default_factory=list)     # (key, sample_index, samples_lost, lost_before)
    kernels: dict = field(default_factory=dict)  # (burst_key, kernel, signature ids) -> result
    samples: int = 0
    samples_read: int = 0
    overflows: int = 0
    nfft: int = 0
    hop: int = 0
    wall_s: float = 0.0
    worker: str = ""


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def local_path(path: str) -> str:
    """A local file for ``path``: itself, or an fsspec URL fetched to a local cache
    (with its SigMF data file, and under its own name so that rtl_433's
    file-name convention still applies)."""
    if path.startswith("file://"):
        return path[len("file://"):]
    if not _is_url(path):
        return path
    import hashlib

    import fsspec
    # One directory per URL: files of the same name in different buckets stay apart.
    cache = os.path.join(tempfile.gettempdir(), "rfdetect-fsspec-cache",
                         hashlib.sha1(path.encode()).hexdigest()[:16])
    opts = {"simplecache": {"cache_storage": cache, "same_names": True}}
    urls = [path]
    if path.endswith(".sigmf-meta"):
        urls.append(path[: -len(".sigmf-meta")] + ".sigmf-data")
    try:
        local = fsspec.open_local(["simplecache::" + u for u in urls], **opts)
    except Exception as exc:    # any fsspec backend error: name the URL
        raise InputError(f"cannot fetch: {exc}", path=path) from None
    return local[0]


def open_spec(spec: OpenSpec) -> Source:
    return open_source(local_path(spec.path), spec.format, spec.sample_rate_hz, spec.center_freq_hz)


def freq_at(info: RecordingInfo, sample: int) -> float:
    retunes = sorted(info.retunes)
    k = bisect.bisect_right([i for i, _ in retunes], sample)
    return float(retunes[k - 1][1]) if k else float(info.center_freq_hz)


class _ChunkDetector(BurstDetector):
    """A detector whose first floor start keeps the serial run's raised-bin share."""

    def __init__(self, *args, release_fraction: float | None = None, samples_lost: int = 0, **kw):
        super().__init__(*args, **kw)
        self._forced_release = release_fraction
        self.framer._samples_lost = samples_lost
        self._samples_lost = samples_lost

    def _run(self, power):
        if self._forced_release is not None:
            self._release_fraction = self._forced_release
            self._forced_release = None
        return super()._run(power)

    def open_starts(self) -> list[float]:
        """Samples at which the regions still open started."""
        n = int(self._state[K.S_ACTIVE])
        return [self.frame_to_sample(float(f)) for f in self._active[:n, K.A_START]]


def serial_release_fraction(source: Source, config: DetectorConfig, task: ChunkTask, lost_before: int) -> float:
    """The raised-bin share a serial run measured when it started its floor at ``task.floor_from``."""
    info = source.info
    det = _ChunkDetector(config, info.sample_rate_hz, freq_at(info, task.floor_from),
                         sample_index0=task.floor_from, samples_lost=lost_before)
    for block in source.blocks(task.block_samples, start=task.floor_from):
        det.feed(block)
        if det._floor_ready:
            break
    return det._release_fraction


_MALLOC_TUNED = False


def tune_malloc() -> None:
    """Undo Dask's MALLOC_TRIM_THRESHOLD_=65536 for this worker process.

    Dask's nanny sets it so freed memory returns to the OS at once; with it glibc
    serves every block-sized array from fresh mmap'd pages, and the detector ran
    2.7x slower (0.74 s instead of 0.28 s for 4 M samples).  Thresholds of a plain
    process (up to 32 MiB, glibc's own maximum) keep such arrays on the heap."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 << 20)
        libc.mallopt(m_trim_threshold, 128 << 20)
    except (OSError, AttributeError):    # not glibc: nothing to undo
        pass


def run_chunk(task: ChunkTask, config: DetectorConfig | None = None) -> ChunkResult:
    tune_malloc()
    t0 = time.perf_counter()
    config = config or DetectorConfig()
    with open_spec(task.spec) as source:
        info = source.info
        fs = info.sample_rate_hz
        lost_total = task.lost_before
        release = None
        if task.read_from > task.floor_from:
            lost_at_floor = sum(int(lost) for i, lost in info.gaps if int(i) < task.floor_from)
            release = serial_release_fraction(source, config, task, lost_at_floor)
        det = _ChunkDetector(config, fs, freq_at(info, task.read_from), sample_index0=task.read_from,
                             release_fraction=release, samples_lost=lost_total)
        history = IQHistory(int(fs * HISTORY_S) + DEFAULT_BLOCK_SAMPLES)
        res = ChunkResult(task.file_index, task.index, task.count, task.start, task.stop, task.first_block,
                          nfft=det.nfft, hop=det.hop)
        margin = OWN_MARGIN_NFFT * det.nfft
        lo, hi = task.start - margin, task.stop + margin
        overflows0 = None

        classifier = Classifier()
        recorded: dict = {}

        def take(bursts: list[Burst], block_no: int) -> None:
            for pos, b in enumerate(bursts):
                snip = history.snippet(b.sample_start - det.nfft, b.sample_end + det.nfft,
                                       max_samples=int(fs * HISTORY_S))
                with kernel_cache(record=recorded):
                    classifier.add(b, snip)
                if task.start <= b.sample_start < task.stop:
                    res.bursts.append(((block_no, pos), b, _ref(snip)))

        block_no = task.read_block
        ended = True
        for block in source.blocks(task.block_samples, start=task.read_from):
            a = block.sample_index0
            if a >= task.stop and not any(lo <= s < hi for s in det.open_starts()):
                ended = False
                break
            if a == task.start:
                overflows0 = det.overflows
            if block.samples_lost_before:
                if task.start <= a < task.stop:
                    res.gaps.append(((block_no, -1), a, int(block.samples_lost_before), lost_total))
                lost_total += int(block.samples_lost_before)
            if task.start <= a < task.stop:
                res.samples += block.num_samples
            res.samples_read += block.num_samples
            history.append(block)
            take(det.feed(block), block_no)
            block_no += 1
        if ended:
            take(det.finish(), block_no)
        with kernel_cache(record=recorded):
            classifier.finish()
        res.kernels = {k: v for k, v in recorded.items() if task.start <= k[0][0] < task.stop}
        res.overflows = det.overflows - (overflows0 or 0)
    res.wall_s = time.perf_counter() - t0
    res.worker = f"{os.uname().nodename}:{os.getpid()}"
    return res


def _ref(snip) -> SnippetRef | None:
    """Where the samples ``Pipeline._handle`` hands the classifier lie."""
    if snip is None:
        return None
    return SnippetRef(int(snip.sample_index0), int(snip.samples.shape[-1]), float(snip.center_freq_hz))
