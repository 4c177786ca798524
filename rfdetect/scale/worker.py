"""The task a Dask worker runs: the detector over warm-up + chunk, the bursts the chunk owns.

A task that is a whole file returns that file's records, made by the serial
pipeline itself: its tracks need nothing from other tasks.  A chunk of a long
file returns bursts, not records: tracks span chunks, so the classifier runs
once, on the client, over the merged bursts (merge.py).  For each owned burst
the worker also returns where the serial pipeline's IQ history would have
found its samples (``SnippetRef``), and the results of the confirmation
kernels its own classifier ran on them (see ``recording_kernels``).

The detector started mid-file is put in the serial run's state where that is
not a matter of convergence (``BurstDetector.resume``): the frame grid and
block grid (plan.py), the samples lost in earlier gaps, and the share of raised
bins measured when the serial run started its floor.  The floor itself
converges during the warm-up.  So does the chirp stage (``--dechirp``): its
detector resumes on the serial window grid (``ChirpDetector.resume``), its
packets and the merger's held bursts are those of the serial run once the
warm-up has passed, and the chunk runs the serial pipeline's own code
(``_ChunkPipeline``), so its bursts reach the classifier in the serial order.
"""
from __future__ import annotations

import bisect
import copy
import os
import tempfile
import time
from dataclasses import dataclass, field, replace

from ..classify import Classifier, KernelRunner
from ..classify.evidence import run_kernel
from ..detect import BurstDetector, DetectorConfig
from ..errors import InputError
from ..model import Burst, FloorSnapshot, RecordingInfo
from ..pipeline import Pipeline
from ..sources import open_source
from ..sources.base import Source
from .plan import ChunkTask, OpenSpec

# A burst's refined start lies within a frame or two of the frame that opened
# its region; regions opened this many FFT lengths around the owned range are
# waited for.
OWN_MARGIN_NFFT = 4


@dataclass(frozen=True)
class SnippetRef:
    """Samples [sample_index0, sample_index0 + num_samples) at ``center_freq_hz``, and the
    worker's noise floor when the burst was handed on (the serial run's, bit for bit)."""
    sample_index0: int
    num_samples: int
    center_freq_hz: float
    floor: FloorSnapshot | None = None


@dataclass(frozen=True)
class RecordOptions:
    """The records of a whole-file task: those of a serial ``analyze`` with these options."""
    all_bursts: bool = False


def burst_key(burst: Burst) -> tuple:
    return (burst.sample_start, burst.sample_end, burst.f_lo_hz, burst.f_hi_hz, burst.snr_db)


# Confirmation kernels are the costly part of classifying (as much as detecting, in
# busy bands), so for chunks they run on the workers: each worker runs a classifier
# over the bursts it sees, as the serial run would, and records every kernel call
# (burst, kernel, candidate signatures) -> result; the client's classifier takes
# its results from there, and runs a kernel itself (reading the samples from the
# file) only for a call no worker made.
def _call_key(kernel: str, burst: Burst, candidates: list) -> tuple:
    return (burst_key(burst), kernel, tuple(s.id for s in candidates))


def recording_kernels(record: dict) -> KernelRunner:
    """Runs each kernel and keeps a copy of its result in ``record``."""
    def run(kernel, burst, iq, candidates):
        result = run_kernel(kernel, burst, iq, candidates)
        record[_call_key(kernel, burst, candidates)] = copy.deepcopy(result)
        return result
    return run


def cached_kernels(lookup: dict) -> KernelRunner:
    """Hands back the result ``lookup`` holds for a call, else runs the kernel."""
    def run(kernel, burst, iq, candidates):
        key = _call_key(kernel, burst, candidates)
        if key in lookup:
            return copy.deepcopy(lookup[key])
        return run_kernel(kernel, burst, iq, candidates)
    return run


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
    records: list | None = None                  # a whole file's records (then no bursts, gaps, kernels)
    samples: int = 0
    samples_read: int = 0
    overflows: int = 0
    counts: dict = field(default_factory=dict)   # the summary's counters over the owned blocks
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


def recording_info(spec: OpenSpec, source: Source) -> RecordingInfo:
    """The source's metadata, named as the archive names it (a URL, not its local copy)."""
    info = source.info
    if spec.path != info.path and "://" in spec.path:
        info = replace(info, path=spec.path)
    return info


def freq_at(info: RecordingInfo, sample: int) -> float:
    retunes = sorted(info.retunes)
    k = bisect.bisect_right([i for i, _ in retunes], sample)
    return float(retunes[k - 1][1]) if k else float(info.center_freq_hz)


def serial_release_fraction(source: Source, config: DetectorConfig, task: ChunkTask) -> float:
    """The raised-bin share a serial run measured when it started its floor at ``task.floor_from``."""
    info = source.info
    det = BurstDetector(config, info.sample_rate_hz, freq_at(info, task.floor_from), sample_index0=task.floor_from)
    for block in source.blocks(task.block_samples, start=task.floor_from):
        det.feed(block)
        if det.floor_ready:
            break
    return det.release_fraction


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


def run_chunk(task: ChunkTask, config: DetectorConfig | None = None,
              records: RecordOptions | None = None) -> ChunkResult:
    """Run one task.  With ``records``, a task that is a whole file returns the file's
    records; otherwise, and for chunks, the bursts (and gaps) the task owns."""
    tune_malloc()
    t0 = time.perf_counter()
    config = config or DetectorConfig()
    with open_spec(task.spec) as source:
        if records is not None and task.count == 1:
            res = _whole_file(task, source, config, records)
        else:
            res = _chunk(task, source, config)
    res.wall_s = time.perf_counter() - t0
    res.worker = f"{os.uname().nodename}:{os.getpid()}"
    return res


def _whole_file(task: ChunkTask, source: Source, config: DetectorConfig, options: RecordOptions) -> ChunkResult:
    """The serial pipeline over the file, as ``analyze_source`` with one thread runs it."""
    out: list[dict] = []
    pipeline = Pipeline(recording_info(task.spec, source), out.append, config=config,
                        all_bursts=options.all_bursts)
    for block in source.blocks(task.block_samples):
        pipeline.feed(block)
    pipeline.finish()
    return ChunkResult(task.file_index, task.index, task.count, task.start, task.stop, task.first_block,
                       records=out, samples=pipeline.samples, samples_read=pipeline.samples,
                       overflows=pipeline.detector.overflows, nfft=pipeline.detector.nfft,
                       hop=pipeline.detector.hop)


class _ChunkPipeline(Pipeline):
    """The serial pipeline over a chunk's blocks, with its detectors resumed mid-file: the
    bursts it hands the classifier, in the serial order (with the chirp stage, the order
    in which its merger releases them), are collected instead of turned into records."""

    def __init__(self, info: RecordingInfo, config: DetectorConfig, classifier: Classifier,
                 detector: BurstDetector, task: ChunkTask):
        super().__init__(info, lambda record: None, config=config, classifier=classifier)
        self.bearings = None
        self.detector = detector
        if self.chirp is not None:
            self.chirp.resume(task.read_from, task.chirp_from, freq_at(info, task.read_from),
                              samples_lost=task.lost_before)
        self.released: list[tuple[Burst, object]] = []

    def _classify(self, burst: Burst, iq) -> None:
        self.released.append((burst, iq))
        self.classifier.add(burst, iq)

    def pending(self, lo: int, hi: int) -> bool:
        """A burst that may start in [lo, hi) is still to be handed on."""
        if any(lo <= s < hi for s in self.detector.open_starts()):
            return True
        steady = self.detector.next_steady_start()
        if steady is not None and lo <= steady < hi:
            return True      # a check past the end reports always-on emitters from a span back
        if self.chirp is None:
            return False
        held = self.merger.held_from()
        return self.chirp.pending_from() < hi or (held is not None and held < hi)

    def counts(self) -> dict[str, int]:
        """The summary's counters, as they stand."""
        out = {"overflows": self.detector.overflows}
        if self.chirp is not None:
            out.update(candidates=self.chirp.candidates, confirmed=self.chirp.confirmed,
                       packets=self.chirp.packets, duplicates=self.merger.duplicates)
        return out


def _chunk(task: ChunkTask, source: Source, config: DetectorConfig) -> ChunkResult:
    info = source.info
    fs = info.sample_rate_hz
    lost_total = task.lost_before
    release = None
    if task.read_from > task.floor_from:
        release = serial_release_fraction(source, config, task)
    det = BurstDetector(config, fs, freq_at(info, task.read_from), sample_index0=task.read_from)
    det.resume(samples_lost=lost_total, release_fraction=release)
    recorded: dict = {}
    pipeline = _ChunkPipeline(info, config, Classifier(run_kernel=recording_kernels(recorded)), det, task)
    res = ChunkResult(task.file_index, task.index, task.count, task.start, task.stop, task.first_block,
                      nfft=det.nfft, hop=det.hop)
    margin = OWN_MARGIN_NFFT * det.nfft
    lo, hi = task.start - margin, task.stop + margin
    counts0 = counts1 = None

    def take(block_no: int) -> None:
        for pos, (b, snip) in enumerate(pipeline.released):
            if task.start <= b.sample_start < task.stop:
                res.bursts.append(((block_no, pos), b, _ref(snip)))
        pipeline.released.clear()

    block_no = task.read_block
    ended = True
    for block in source.blocks(task.block_samples, start=task.read_from):
        a = block.sample_index0
        if a >= task.stop:
            counts1 = counts1 or pipeline.counts()
            if not pipeline.pending(lo, hi):
                ended = False
                break
        if a == task.start:
            counts0 = pipeline.counts()
        if block.samples_lost_before:
            if task.start <= a < task.stop:
                res.gaps.append(((block_no, -1), a, int(block.samples_lost_before), lost_total))
            lost_total += int(block.samples_lost_before)
        if task.start <= a < task.stop:
            res.samples += block.num_samples
        res.samples_read += block.num_samples
        pipeline.feed(block)
        take(block_no)
        block_no += 1
    if ended:
        pipeline.flush()
        take(block_no)
        counts1 = counts1 or pipeline.counts()     # (what the end finds counts for the last chunk)
    else:
        pipeline.classifier.finish()
    counts0 = counts0 or dict.fromkeys(counts1, 0)
    res.counts = {k: v - counts0[k] for k, v in counts1.items()}
    res.overflows = res.counts["overflows"]
    res.kernels = {k: v for k, v in recorded.items() if task.start <= k[0][0] < task.stop}
    return res


def _ref(snip) -> SnippetRef | None:
    """Where the samples ``Pipeline._handle`` hands the classifier lie."""
    if snip is None:
        return None
    return SnippetRef(int(snip.sample_index0), int(snip.samples.shape[-1]), float(snip.center_freq_hz),
                      getattr(snip, "floor", None))
