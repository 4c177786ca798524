"""Split an archive into tasks: one per file, or per chunk of a long file.

A chunk owns the samples ``[start, stop)``: the bursts that start there, and
the gaps whose first sample is there.  Its worker begins reading earlier, at
``read_from``, so that the detector's noise floor (an exponential average,
``DetectorConfig.floor_tau_s``) and the IQ history that confirmation kernels
see have reached the state a serial run has at ``start``; it reads on past
``stop`` until every burst it owns has closed (see worker.py).

With the chirp stage (``DetectorConfig.dechirp``) the warm-up also lets the
chirp detector, resumed on the serial run's window grid, settle, and the
pipeline's burst merger see the bursts it holds at ``start``
(``chirp_warmup_samples``).

Every position a worker starts from lies on the block grid of a serial run
(``analyze_source`` with the same ``block_samples``), so its spectrogram
frames, the blocks its history holds and the order in which bursts close are
the serial run's.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from ..detect import DetectorConfig
from ..detect.config import auto_fft_size
from ..errors import ParameterError
from ..model import RecordingInfo
from ..pipeline import HISTORY_S
from ..sources.base import DEFAULT_BLOCK_SAMPLES

# Warm-up in noise-floor time constants.  The floor a mid-file start begins
# with differs from the serial one by a few per cent and the difference decays
# as exp(-t / tau): after 16 tau it is below float32 resolution, and measured
# records were identical from 6 tau on (bench/README_scale.md).
WARMUP_TAUS = 32.0
DEFAULT_CHUNK_S = 240.0       # owned signal per task of a long file


@dataclass(frozen=True)
class OpenSpec:
    """How every process opens a recording: a path all of them see, or an fsspec URL."""
    path: str
    format: str = "auto"
    sample_rate_hz: float | None = None
    center_freq_hz: float | None = None


@dataclass(frozen=True)
class ChunkTask:
    spec: OpenSpec
    file_index: int             # position of the file in the archive
    index: int                  # chunk number within the file
    count: int                  # chunks in the file
    start: int                  # owned samples [start, stop)
    stop: int
    read_from: int              # where the worker starts (block grid, <= start)
    floor_from: int             # where the serial run last (re)started its noise floor
    lost_before: int            # samples lost in gaps before read_from
    block_samples: int
    first_block: int            # serial block number of ``start``
    read_block: int             # serial block number of ``read_from``
    chirp_from: int = 0         # where the serial run last (re)started its chirp detector's windows

    @property
    def last(self) -> bool:
        return self.index == self.count - 1

    @property
    def key(self) -> str:
        return f"rfdetect-scale-{self.file_index}-{self.index}-of-{self.count}"


def block_starts(info: RecordingInfo, block_samples: int = DEFAULT_BLOCK_SAMPLES) -> list[int]:
    """First sample of every block a serial run reads (blocks never span a gap or retune)."""
    bounds = sorted({int(i) for i, _ in info.retunes} | {int(i) for i, _ in info.gaps})
    n = int(info.num_samples or 0)
    out, a = [], 0
    while a < n:
        out.append(a)
        b = min(a + block_samples, n)
        k = bisect.bisect_right(bounds, a)
        if k < len(bounds) and bounds[k] < b:
            b = bounds[k]
        a = b
    return out


def floor_restarts(info: RecordingInfo) -> list[int]:
    """Samples where a serial run starts a new noise floor: the start, and retunes to a new frequency."""
    out, freq = [0], info.center_freq_hz
    for i, f in sorted(info.retunes):
        if f != freq:
            out.append(int(i))
            freq = f
    return out


def chirp_restarts(info: RecordingInfo) -> list[int]:
    """Samples where a serial run's chirp detector starts its window grid anew: the
    floor's restarts, and gaps."""
    return sorted(set(floor_restarts(info)) | {int(i) for i, lost in info.gaps if lost})


def chirp_warmup_samples(config: DetectorConfig, info: RecordingInfo) -> int:
    """Samples read before an owned chunk for the chirp stage (``config.dechirp``): the
    chirp detector settles (``ChirpDetector.settle_samples``), and the bursts the
    pipeline's merger holds or remembers at that point have come and gone."""
    if not config.dechirp:
        return 0
    from ..detect.chirp import chirp_detector_for
    from ..pipeline import merger_samples
    chirp = chirp_detector_for(config, info.sample_rate_hz, info.center_freq_hz)
    delay, max_hold = merger_samples([chirp], info.sample_rate_hz, config)
    return chirp.settle_samples + 2 * delay + 2 * max_hold


def warmup_samples(config: DetectorConfig, sample_rate_hz: float,
                   block_samples: int = DEFAULT_BLOCK_SAMPLES, warmup_taus: float = WARMUP_TAUS) -> int:
    """Samples read before an owned chunk: floor convergence, plus the IQ history
    the pipeline keeps (HISTORY_S and a block), plus the noise-floor start."""
    floor_s = warmup_taus * max(config.floor_tau_s, config.floor_step_tau_s, config.floor_step_hold_s)
    nfft = config.fft_size or auto_fft_size(sample_rate_hz)
    history = int(sample_rate_hz * HISTORY_S) + DEFAULT_BLOCK_SAMPLES + 2 * block_samples
    return int(math.ceil(floor_s * sample_rate_hz)) + history + 4 * nfft


def plan_file(spec: OpenSpec, info: RecordingInfo, file_index: int, config: DetectorConfig, *,
              chunk_s: float = DEFAULT_CHUNK_S, block_samples: int = DEFAULT_BLOCK_SAMPLES,
              warmup_taus: float = WARMUP_TAUS) -> list[ChunkTask]:
    """Tasks for one file: a single one when the file is short (no warm-up cost)."""
    if not chunk_s > 0:
        raise ParameterError("must be greater than zero", param="chunk_s", value=chunk_s)
    n = int(info.num_samples or 0)
    fs = info.sample_rate_hz
    blocks = block_starts(info, block_samples)
    warm = warmup_samples(config, fs, block_samples, warmup_taus) + chirp_warmup_samples(config, info)
    chunk = max(int(chunk_s * fs), block_samples)
    nfft = config.fft_size or auto_fft_size(fs)
    hop = max(1, int(round(nfft * config.hop_fraction)))
    if block_samples % hop:
        chunk = n        # a mid-file start would not fall on the serial frame grid
    if config.zadoff_chu:
        chunk = n        # the Zadoff-Chu search does not resume mid-file: a file is one task
    # Cut at the block starts nearest to every multiple of the chunk length.
    cuts = [0]
    for target in range(chunk, n, chunk):
        k = bisect.bisect_left(blocks, target)
        if k < len(blocks) and blocks[k] > cuts[-1] and n - blocks[k] >= block_samples:
            cuts.append(blocks[k])
    if len(cuts) > 1 and n - cuts[-1] < chunk // 4:    # no short tail task
        cuts.pop()
    restarts = floor_restarts(info)
    chirp_starts = chirp_restarts(info)
    gaps = sorted((int(i), int(lost)) for i, lost in info.gaps)
    tasks = []
    for c, start in enumerate(cuts):
        stop = cuts[c + 1] if c + 1 < len(cuts) else n
        floor_from = restarts[bisect.bisect_right(restarts, start) - 1]
        if start - floor_from <= warm:
            read_from = floor_from
        else:
            k = bisect.bisect_right(blocks, start - warm) - 1
            read_from = max(blocks[max(k, 0)], floor_from)
        lost = sum(lost for i, lost in gaps if i < read_from)
        tasks.append(ChunkTask(spec, file_index, c, len(cuts), start, stop, read_from, floor_from,
                               lost, block_samples, bisect.bisect_left(blocks, start),
                               bisect.bisect_left(blocks, read_from),
                               chirp_starts[bisect.bisect_right(chirp_starts, read_from) - 1]))
    return tasks
