"""Raw interleaved I/Q files: cu8, cs8, cs16 (little endian), cf32 (little endian).

Sample rate and centre frequency come from the arguments, else from the file
name following rtl_433's convention (see ``parse_rtl433_name``), else opening
fails with an InputError asking for --sample-rate/--center-freq.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError, ParameterError
from ..kernels.convert import cs8_to_complex64, cs16_to_complex64, cu8_to_complex64
from ..model import IQBlock, RecordingInfo
from . import check_file, iter_blocks
from .base import DEFAULT_BLOCK_SAMPLES, Source

# name: (memmap dtype of one I or Q value, SigMF datatype)
RAW_TYPES = {"cu8": (np.dtype(np.uint8), "cu8"), "cs8": (np.dtype(np.int8), "ci8"),
             "cs16": (np.dtype("<i2"), "ci16_le"), "cf32": (np.dtype("<f4"), "cf32_le")}
_FORMAT_TOKENS = {"cu8": "cu8", "cs8": "cs8", "cs16": "cs16", "cf32": "cf32"}
_SCALE = {"k": 1e3, "m": 1e6, "g": 1e9}


def parse_rtl433_name(name: str) -> tuple[float | None, float | None, str | None]:
    """(center_freq_hz, sample_rate_hz, format) from a file name, rtl_433 style.

    Like rtl_433's ``parse_file_info`` the name is scanned left to right for
    tokens; a later token overrides an earlier one:

    * a number ``[0-9]+(.[0-9]+)?`` directly followed by letters:
      ``M`` -> centre frequency in MHz (``868.3M``); ``k`` -> sample rate in kHz
      (``250k``, ``2000k``); ``Hz``/``kHz``/``MHz``/``GHz`` -> frequency;
      ``sps``/``ksps``/``Msps``/``Gsps`` -> sample rate (case-insensitive);
    * a word starting with a letter (``g001``, ``cu8``, ``cs16``, ``cf32``, ``cs8``)
      is a format or content name, never a number.

    One addition to rtl_433: when the name holds two or more bare ``M`` numbers
    and no rate token (``x_2450M_2.4M.cu8``), the largest is the frequency and the
    smallest the sample rate (rtl_433 would take the last as frequency).
    Example: ``g001_868.3M_250k.cu8`` -> (868.3e6, 250e3, "cu8").
    """
    freq = rate = fmt = None
    bare_m: list[float] = []
    s = name
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch.isdigit() and ch.isascii():
            j = i
            while j < n and s[j].isdigit():
                j += 1
            if j < n and s[j] == ".":
                if j + 1 < n and s[j + 1].isdigit():
                    j += 1
                    while j < n and s[j].isdigit():
                        j += 1
                else:           # "12." not followed by a digit: rtl_433 restarts after the dot
                    i = j + 1
                    continue
            num = float(s[i:j])
            k = j
            while k < n and s[k].isascii() and s[k].isalpha():
                k += 1
            unit = s[j:k].lower()
            if unit == "m":
                freq = num * 1e6
                bare_m.append(num * 1e6)
            elif unit == "k":
                rate = num * 1e3
            elif unit == "hz":
                freq = num
            elif unit == "sps":
                rate = num
            elif len(unit) == 3 and unit[1:] == "hz" and unit[0] in _SCALE:
                freq = num * _SCALE[unit[0]]
            elif len(unit) == 4 and unit[1:] == "sps" and unit[0] in _SCALE:
                rate = num * _SCALE[unit[0]]
            i = k
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < n and s[j].isascii() and s[j].isalnum():
                j += 1
            word = s[i:j].lower()
            if word in _FORMAT_TOKENS:
                fmt = _FORMAT_TOKENS[word]
            i = j
        else:
            i += 1
    if rate is None and len(bare_m) >= 2:
        freq, rate = max(bare_m), min(bare_m)
    return freq, rate, fmt


class RawSource(Source):
    """A raw I/Q file read lazily through numpy.memmap.

    ``channels`` > 1 means the file interleaves that many channels sample by
    sample (SigMF order).  If the file grows while it is read (a recorder still
    writing it), ``blocks()`` raises InputError after the last block.
    """

    def __init__(self, path: str | os.PathLike, format: str | None = None, *,
                 sample_rate_hz: float | None = None, center_freq_hz: float | None = None,
                 channels: int | None = None):
        self.path = str(path)
        self._mm = None
        size = check_file(self.path)
        name_freq, name_rate, name_fmt = parse_rtl433_name(Path(self.path).name)
        fmt = format or name_fmt
        if fmt is None:
            raise InputError("cannot tell the sample format from the file name: pass --format "
                             "cu8, cs8, cs16 or cf32", path=self.path)
        if fmt not in RAW_TYPES:
            raise ParameterError(f"not a raw format (expected one of {', '.join(RAW_TYPES)})",
                                 param="format", value=fmt)
        self.format = fmt
        vdtype, datatype = RAW_TYPES[fmt]
        nch = 1 if channels is None else int(channels)
        frame = 2 * vdtype.itemsize * nch
        if size % frame:
            what = f"{nch} channel(s) of {fmt}" if nch > 1 else fmt
            raise InputError(f"size {size} bytes is not a multiple of {frame} bytes (one I/Q sample of "
                             f"{what}): truncated or not {fmt}", path=self.path)
        rate = sample_rate_hz if sample_rate_hz is not None else name_rate
        freq = center_freq_hz if center_freq_hz is not None else name_freq
        missing = [opt for opt, v in (("--sample-rate", rate), ("--center-freq", freq)) if v is None]
        if missing:
            raise InputError(f"a raw {fmt} file has no metadata: pass {' and '.join(missing)} (or name the "
                             "file rtl_433 style, e.g. rec_868.3M_250k.cu8)", path=self.path)
        if not rate > 0:
            raise ParameterError("must be greater than zero", param="sample_rate_hz", value=rate)
        self._size = size
        self._vdtype = vdtype
        try:
            self._mm = np.memmap(self.path, dtype=vdtype, mode="r", shape=(size // vdtype.itemsize,))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot map file: {exc}", path=self.path) from None
        self.info = RecordingInfo(path=self.path, sample_rate_hz=float(rate), center_freq_hz=float(freq),
                                  num_channels=nch, num_samples=size // frame, datatype=datatype)

    def read_raw(self, a: int, b: int) -> np.ndarray:
        """Stored values of samples a..b, flat, in file order."""
        c = self.info.num_channels
        return self._mm[2 * c * a:2 * c * b]

    def _read(self, a: int, b: int) -> np.ndarray:
        c = self.info.num_channels
        raw = self.read_raw(a, b)
        if self.format == "cu8" and c == 1:
            return np.array(raw).reshape(-1, 2)      # a CU8Block's bytes, out of the mapping
        out = np.empty((c, b - a), np.complex64)
        if self.format == "cf32":
            z = raw.view("<c8").reshape(b - a, c)
            out[...] = z.T
        elif self.format == "cu8":
            cu8_to_complex64(raw, out)
        elif self.format == "cs8":
            cs8_to_complex64(raw, out)
        else:
            cs16_to_complex64(raw if np.little_endian else raw.astype(np.int16), out)
        return out

    def blocks(self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start: int = 0,
               stop: int | None = None) -> Iterator[IQBlock]:
        if self._mm is None:
            raise InputError("source is closed", path=self.path)
        inner = iter_blocks(self.info, self._read, block_samples, start, stop,
                            check_finite=self.format == "cf32")
        return self._watch_growth(inner)

    def _watch_growth(self, inner):
        yield from inner
        try:
            now = os.stat(self.path).st_size
        except OSError:
            now = self._size
        if now != self._size:
            raise InputError(f"the file changed size from {self._size} to {now} bytes while it was read "
                             "(still being written?): read it again when the recording has finished",
                             path=self.path)

    def close(self) -> None:
        self._mm = None
