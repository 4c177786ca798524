"""Sources of IQ samples: recordings in HDF5 (native), SigMF and raw formats.

``open_source`` picks the reader from the format name or the file name.  The
helpers below are shared by the file readers (block planning, range checks,
NaN/Inf checks); the reader modules are imported lazily so that importing this
package stays cheap.
"""
from __future__ import annotations

import bisect
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import InputError, ParameterError
from ..model import CU8Block, IQBlock, RecordingInfo
from .base import DEFAULT_BLOCK_SAMPLES, Source

FORMATS = ("auto", "hdf5", "sigmf", "cu8", "cs8", "cs16", "cf32")
RAW_FORMATS = ("cu8", "cs8", "cs16", "cf32")
HDF5_EXTENSIONS = (".h5", ".hdf5")
RAW_EXTENSIONS = (".cu8", ".cs8", ".cs16", ".cf32", ".raw", ".bin", ".iq")
SIGMF_EXTENSIONS = (".sigmf-meta", ".sigmf-data", ".sigmf")
RECORDING_EXTENSIONS = HDF5_EXTENSIONS + RAW_EXTENSIONS + SIGMF_EXTENSIONS
KNOWN_TYPES = ".h5/.hdf5, .sigmf-meta/.sigmf-data, or raw .cu8/.cs8/.cs16/.cf32/.raw/.bin/.iq"

__all__ = ["Source", "open_source", "detect_format", "FORMATS", "DEFAULT_BLOCK_SAMPLES"]


def detect_format(path: str | os.PathLike) -> str:
    """hdf5, sigmf or a raw format name (cu8/cs8/cs16/cf32, or "raw" when the
    extension is .raw/.bin/.iq and the name does not tell)."""
    p = Path(path)
    name = p.name.lower()
    ext = p.suffix.lower()
    if ext in HDF5_EXTENSIONS:
        return "hdf5"
    if ext in SIGMF_EXTENSIONS or Path(str(p) + ".sigmf-meta").is_file():
        return "sigmf"
    if ext in RAW_EXTENSIONS:
        if ext in (".raw", ".bin", ".iq"):
            from .raw import parse_rtl433_name
            return parse_rtl433_name(name)[2] or "raw"
        return ext[1:]
    raise InputError(f"unknown file type {ext or '(no extension)'!r}: expected {KNOWN_TYPES} "
                     "(or pass --format)", path=path)


def recordings_in(directory: str | os.PathLike) -> list[str]:
    """The recordings under ``directory`` and its subdirectories, in name order: files with
    a recording's extension (a SigMF pair once, by its ``.sigmf-meta``); hidden files and
    folders are left out."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            ext = Path(name).suffix.lower()
            if name.startswith(".") or ext not in RECORDING_EXTENSIONS:
                continue
            if ext == ".sigmf-data" and Path(root, name).with_suffix(".sigmf-meta").is_file():
                continue         # the pair is read through its metadata
            found.append(os.path.join(root, name))
    return found


def expand_paths(paths: list[str]) -> list[str]:
    """``paths`` with each directory replaced by the recordings under it (``recordings_in``).
    A directory without any is an error: pointing at the wrong folder should not look like a
    quiet band."""
    out = []
    for path in paths:
        if os.path.isdir(path):
            inside = recordings_in(path)
            if not inside:
                raise InputError(f"a directory without recordings (looked for {KNOWN_TYPES} under it)",
                                 path=path)
            out.extend(inside)
        else:
            out.append(path)
    return out


def open_source(path: str | os.PathLike, format: str = "auto", sample_rate_hz: float | str | None = None,
                center_freq_hz: float | str | None = None, channels: int | None = None) -> Source:
    """Open a recording.

    ``format`` is one of FORMATS.  ``sample_rate_hz`` and ``center_freq_hz``
    (numbers or strings like "2.4M") override the file's metadata; raw files need
    them unless the file name follows rtl_433's convention.  ``channels`` is the
    number of interleaved channels of a raw file (default 1); for HDF5 and SigMF
    it must match the file when given.
    """
    if format not in FORMATS:
        raise ParameterError(f"unknown format (expected one of {', '.join(FORMATS)})",
                             param="format", value=format)
    rate = None if sample_rate_hz is None else positive_param(sample_rate_hz, "sample_rate_hz")
    freq = None if center_freq_hz is None else _param_float(center_freq_hz, "center_freq_hz")
    if channels is not None:
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ParameterError("must be a whole number >= 1", param="channels", value=channels)
        channels = int(channels)
    fmt = detect_format(path) if format == "auto" else format
    if fmt == "hdf5":
        from .hdf5 import HDF5Source
        return HDF5Source(path, sample_rate_hz=rate, center_freq_hz=freq, channels=channels)
    if fmt == "sigmf":
        from .sigmf_io import SigMFSource
        return SigMFSource(path, sample_rate_hz=rate, center_freq_hz=freq, channels=channels)
    from .raw import RawSource
    return RawSource(path, None if fmt == "raw" else fmt, sample_rate_hz=rate,
                     center_freq_hz=freq, channels=channels)


# ------------------------------------------------------------------ shared helpers

def _param_float(value, param: str) -> float:
    from ..units import parse_si
    return parse_si(value, param)


def positive_param(value, param: str) -> float:
    v = _param_float(value, param)
    if v <= 0:
        raise ParameterError("must be greater than zero", param=param, value=value)
    return v


def check_rate(value, path, name: str) -> float:
    """A sample rate read from a file: finite and > 0, else InputError naming it."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError("sample rate is not a number", path=path, param=name, value=value) from None
    if not math.isfinite(v) or v <= 0:
        raise InputError("sample rate must be a finite number greater than zero", path=path,
                         param=name, value=value)
    return v


def check_file(path) -> int:
    """Size of an existing, non-empty regular file, else InputError."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=path)
    if not p.is_file():
        raise InputError("not a regular file", path=path)
    size = p.stat().st_size
    if size == 0:
        raise InputError("file is empty", path=path)
    return size


def posix_time(datetime_utc: str | None) -> float | None:
    if not datetime_utc:
        return None
    try:
        t = datetime.fromisoformat(str(datetime_utc).replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def check_range(info: RecordingInfo, block_samples, start, stop) -> tuple[int, int, int]:
    for name, v in (("block_samples", block_samples), ("start", start)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ParameterError("must be a whole number", param=name, value=v)
    if block_samples < 1:
        raise ParameterError("must be at least 1", param="block_samples", value=block_samples)
    n = info.num_samples
    if start < 0 or start > n:
        raise ParameterError(f"must be within 0..{n} (the recording's length)", param="start", value=start)
    if stop is None:
        stop = n
    elif isinstance(stop, bool) or not isinstance(stop, (int, np.integer)) or stop < start:
        raise ParameterError(f"must be a whole number >= start ({start})", param="stop", value=stop)
    return int(block_samples), int(start), int(min(stop, n))


def iter_blocks(info: RecordingInfo, read: Callable[[int, int], np.ndarray], block_samples: int,
                start: int, stop: int | None, check_finite: bool) -> Iterator[IQBlock]:
    """Yield IQBlocks of ``read(a, b)`` -> complex64 (channels, b - a), or for one channel of
    RTL-SDR bytes, uint8 (b - a, 2): a :class:`CU8Block`, converted when first read.

    A block never spans a retune or gap entry; the block that starts at a gap
    entry carries its ``samples_lost_before``; ``center_freq_hz`` follows the
    retune table; timestamps count lost samples.
    """
    block_samples, start, stop = check_range(info, block_samples, start, stop)   # raises now
    return _gen_blocks(info, read, block_samples, start, stop, check_finite)


def _gen_blocks(info, read, block_samples, start, stop, check_finite):
    retunes = sorted(info.retunes)
    r_idx = [i for i, _ in retunes]
    lost_at: dict[int, int] = {}
    for i, lost in info.gaps:
        lost_at[int(i)] = lost_at.get(int(i), 0) + int(lost)
    gap_idx = sorted(lost_at)
    lost_cum = np.cumsum([lost_at[i] for i in gap_idx]).tolist()
    bounds = sorted(set(r_idx) | set(gap_idx))
    t0 = posix_time(info.datetime_utc)
    rate = info.sample_rate_hz
    a = start
    while a < stop:
        b = min(a + block_samples, stop)
        k = bisect.bisect_right(bounds, a)
        if k < len(bounds) and bounds[k] < b:
            b = bounds[k]
        samples = read(a, b)
        if check_finite:
            from ..kernels.convert import find_nonfinite
            bad = find_nonfinite(samples)
            if bad >= 0:
                ch, off = divmod(bad, b - a)
                where = f"sample {a + off}" + (f" (channel {ch})" if info.num_channels > 1 else "")
                raise InputError(f"{where} is NaN or infinite: the recording is corrupt", path=info.path)
        k = bisect.bisect_right(r_idx, a)
        freq = retunes[k - 1][1] if k else info.center_freq_hz
        g = bisect.bisect_right(gap_idx, a)
        lost_total = lost_cum[g - 1] if g else 0
        make = CU8Block if samples.dtype == np.uint8 else IQBlock
        yield make(samples, sample_index0=a, center_freq_hz=float(freq),
                   sample_rate_hz=rate,
                   timestamp=None if t0 is None else t0 + (a + lost_total) / rate,
                   gain_db=info.gain_db, samples_lost_before=lost_at.get(a, 0))
        a = b
