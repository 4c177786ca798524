"""The native recording format: HDF5 (layout in recordings/README.md, format_version 1)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from ..errors import InputError, ParameterError
from ..kernels.convert import c64_to_cu8, cu8_to_c64, cu8_to_complex64
from ..model import Annotation, IQBlock, RecordingInfo, SensorPosition
from . import check_file, check_rate, iter_blocks
from .base import DEFAULT_BLOCK_SAMPLES, Source

FORMAT_VERSION = 1
IQ_DATASET = "iq"
DATATYPES = ("cf32_le", "cu8")
RETUNE_DTYPE = np.dtype([("sample_index", "<i8"), ("center_freq_hz", "<f8")])
GAP_DTYPE = np.dtype([("sample_index", "<i8"), ("samples_lost", "<i8")])
ANNOTATION_DTYPE = np.dtype([("sample_start", "<i8"), ("sample_count", "<i8"),
                             ("freq_lower_edge_hz", "<f8"), ("freq_upper_edge_hz", "<f8"),
                             ("label", h5py.string_dtype("utf-8")),
                             ("comment", h5py.string_dtype("utf-8"))])
_TABLES = {"retunes": RETUNE_DTYPE, "gaps": GAP_DTYPE, "annotations": ANNOTATION_DTYPE}


def _opt(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


class HDF5Writer:
    """Create a native recording and append to it; ``close()`` marks it complete.

    ``datatype`` "cf32_le" stores complex64 (channels, n); "cu8" stores RTL-SDR
    bytes as uint8 (channels, n, 2).  ``append`` accepts either complex samples or
    cu8 bytes and converts as needed.  Data are flushed on ``flush()`` and close;
    a crash leaves a readable file whose ``rfdetect:complete`` is False.
    """

    def __init__(self, path: str | os.PathLike, sample_rate_hz: float, center_freq_hz: float, *,
                 datatype: str = "cf32_le", num_channels: int = 1, datetime_utc: str | None = None,
                 hardware: str = "", gain_db: float | None = None,
                 sensor: SensorPosition | None = None, array: dict | None = None,
                 chunk_samples: int | None = None, overwrite: bool = False):
        if datatype not in DATATYPES:
            raise ParameterError(f"HDF5 stores only {' or '.join(DATATYPES)}", param="datatype", value=datatype)
        rate = float(sample_rate_hz)
        if not math.isfinite(rate) or rate <= 0:
            raise ParameterError("must be greater than zero", param="sample_rate_hz", value=sample_rate_hz)
        if int(num_channels) < 1:
            raise ParameterError("must be at least 1", param="num_channels", value=num_channels)
        self.path = str(path)
        self.datatype = datatype
        self.num_channels = c = int(num_channels)
        try:
            self._f = h5py.File(self.path, "w" if overwrite else "w-")
        except (OSError, ValueError) as exc:
            reason = "already exists" if Path(self.path).exists() and not overwrite else str(exc)
            raise InputError(f"cannot create HDF5 recording: {reason}", path=self.path) from None
        f = self._f
        a = f.attrs
        a["rfdetect:format_version"] = FORMAT_VERSION
        a["rfdetect:complete"] = False
        a["core:sample_rate"] = rate
        a["core:frequency"] = float(center_freq_hz)
        a["core:datatype"] = datatype
        a["core:num_channels"] = c
        a["core:hw"] = hardware or ""
        if datetime_utc:
            a["core:datetime"] = str(datetime_utc)
        if gain_db is not None:
            a["rfdetect:gain_db"] = float(gain_db)
        s = sensor or SensorPosition()
        for key, v in (("lat", s.lat), ("lon", s.lon), ("alt_m", s.alt_m), ("heading_deg", s.heading_deg)):
            if v is not None:
                a["rfdetect:" + key] = float(v)
        if array is not None:
            a["rfdetect:array"] = json.dumps(array)
        if datatype == "cu8":
            chunk = chunk_samples or (1 << 18)
            self._ds = f.create_dataset(IQ_DATASET, shape=(c, 0, 2), maxshape=(c, None, 2),
                                        dtype=np.uint8, chunks=(1, chunk, 2))
        else:
            chunk = chunk_samples or (1 << 16)
            self._ds = f.create_dataset(IQ_DATASET, shape=(c, 0), maxshape=(c, None),
                                        dtype=np.complex64, chunks=(1, chunk))
        for name, dt in _TABLES.items():
            f.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dt, chunks=(256,))
        self.samples_written = 0

    def append(self, samples: np.ndarray) -> int:
        """Append samples: complex (channels, n) or (n,) for one channel, or cu8
        bytes uint8 (channels, n, 2), (n, 2) or flat (2n,).  Returns the index of
        the first appended sample."""
        self._check_open()
        c = self.num_channels
        x = np.asarray(samples)
        if x.dtype == np.uint8:
            if x.ndim == 1 or (x.ndim == 2 and x.shape[-1] == 2 and c == 1):
                x = x.reshape(1, -1, 2) if c == 1 else x
            if x.ndim != 3 or x.shape[0] != c or x.shape[2] != 2:
                raise ParameterError(f"cu8 bytes must have shape ({c}, n, 2)", param="samples",
                                     value=x.shape)
            data = x if self.datatype == "cu8" else cu8_to_c64(x.reshape(-1), 1).reshape(c, -1)
        elif np.iscomplexobj(x):
            if x.ndim == 1 and c == 1:
                x = x.reshape(1, -1)
            if x.ndim != 2 or x.shape[0] != c:
                raise ParameterError(f"samples must have shape ({c}, n)", param="samples", value=x.shape)
            data = c64_to_cu8(x) if self.datatype == "cu8" else x.astype(np.complex64, copy=False)
        else:
            raise ParameterError("samples must be complex or cu8 bytes (uint8)", param="samples",
                                 value=str(x.dtype))
        n = data.shape[1]
        i0 = self.samples_written
        if n:
            self._ds.resize(i0 + n, axis=1)
            self._ds[:, i0:i0 + n] = data
            self.samples_written = i0 + n
        return i0

    def _append_rows(self, table: str, rows: list[tuple]) -> None:
        """Rows in one resize: adding thousands one by one costs seconds."""
        self._check_open()
        if not rows:
            return
        ds = self._f[table]
        n = ds.shape[0]
        ds.resize(n + len(rows), axis=0)
        ds[n:] = np.array(rows, dtype=_TABLES[table])

    def _append_row(self, table: str, row: tuple) -> None:
        self._append_rows(table, [row])

    def set_attribute(self, name: str, value) -> None:
        """An extra root attribute (``rfdetect:`` namespace), e.g. how a file was made."""
        self._check_open()
        if not name.startswith("rfdetect:"):
            raise ValueError(f"extra attributes live in the rfdetect: namespace, not {name!r}")
        self._f.attrs[name] = value

    def add_retune(self, sample_index: int, center_freq_hz: float) -> None:
        """From ``sample_index`` on, the centre frequency is ``center_freq_hz``."""
        self._append_row("retunes", (int(sample_index), float(center_freq_hz)))

    def add_gap(self, sample_index: int, samples_lost: int) -> None:
        """``samples_lost`` samples were dropped just before stored sample ``sample_index``."""
        self._append_row("gaps", (int(sample_index), int(samples_lost)))

    def add_annotation(self, annotation: Annotation) -> None:
        self.add_annotations([annotation])

    def add_annotations(self, annotations) -> None:
        def row(a: Annotation) -> tuple:
            lo, hi = a.freq_lower_edge_hz, a.freq_upper_edge_hz
            return (int(a.sample_start), int(a.sample_count), math.nan if lo is None else float(lo),
                    math.nan if hi is None else float(hi), a.label or "", a.comment or "")
        self._append_rows("annotations", [row(a) for a in annotations])

    def flush(self) -> None:
        self._check_open()
        self._f.flush()

    def close(self, complete: bool = True) -> None:
        """Close the file; ``complete`` (default) marks it ``rfdetect:complete``. Idempotent."""
        f = getattr(self, "_f", None)
        if f is None:
            return
        self._f = None
        try:
            if complete:
                f.attrs["rfdetect:complete"] = True
            f.flush()
        finally:
            f.close()

    def _check_open(self) -> None:
        if getattr(self, "_f", None) is None:
            raise InputError("writer is closed", path=self.path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.close(complete=exc_type is None)
        return False


def _open_h5(path) -> h5py.File:
    check_file(path)
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        text = str(exc).lower()
        if "lock" in text or "errno = 11" in text or "already open" in text:
            raise InputError("the file is held open for writing by another process (still being "
                             "recorded?): read it again when the recording is closed", path=path) from None
        if "signature" in text:
            raise InputError("not an HDF5 file", path=path) from None
        raise InputError(f"cannot open HDF5 file: {exc}", path=path) from None


def _attr_str(a, key: str, default=None):
    v = a.get(key, default)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v


class HDF5Source(Source):
    """Read a native HDF5 recording lazily; ``complete`` tells whether it was closed cleanly."""

    def __init__(self, path: str | os.PathLike, sample_rate_hz: float | None = None,
                 center_freq_hz: float | None = None, channels: int | None = None):
        self.path = str(path)
        self._f = _open_h5(self.path)
        try:
            self.info = self._read_info(sample_rate_hz, center_freq_hz, channels)
        except Exception:
            self.close()
            raise

    def _read_info(self, rate_arg, freq_arg, channels) -> RecordingInfo:
        f, path = self._f, self.path
        a = f.attrs
        version = a.get("rfdetect:format_version", FORMAT_VERSION)
        try:
            version = int(version)
        except (TypeError, ValueError):
            raise InputError("rfdetect:format_version is not a number", path=path) from None
        if version > FORMAT_VERSION:
            raise InputError(f"format_version {version} is newer than this reader "
                             f"(reads {FORMAT_VERSION}): upgrade rfdetect", path=path)
        ds = f.get(IQ_DATASET)
        if not isinstance(ds, h5py.Dataset):
            raise InputError(f"no '{IQ_DATASET}' dataset: not an rfdetect recording", path=path)
        if ds.dtype == np.complex64 and ds.ndim == 2:
            self._cu8 = False
            datatype = "cf32_le"
        elif ds.dtype == np.uint8 and ds.ndim == 3 and ds.shape[2] == 2:
            self._cu8 = True
            datatype = "cu8"
        else:
            raise InputError(f"dataset '{IQ_DATASET}' has dtype {ds.dtype} and shape {ds.shape}: expected "
                             "complex64 (channels, n) or uint8 (channels, n, 2)", path=path)
        self._ds = ds
        nch = int(ds.shape[0])
        if nch < 1:
            raise InputError(f"dataset '{IQ_DATASET}' has no channels", path=path)
        if channels is not None and channels != nch:
            raise ParameterError(f"the file has {nch} channel(s)", param="channels", value=channels)
        if rate_arg is not None:
            rate = float(rate_arg)
        elif "core:sample_rate" not in a:
            raise InputError("attribute core:sample_rate is missing (pass --sample-rate)", path=path)
        else:
            rate = check_rate(a["core:sample_rate"], path, "core:sample_rate")
        if freq_arg is not None:
            freq = float(freq_arg)
        elif "core:frequency" not in a:
            raise InputError("attribute core:frequency is missing (pass --center-freq)", path=path)
        else:
            freq = float(a["core:frequency"])
        self.complete = bool(a.get("rfdetect:complete", False))
        tables = {}
        for name, dt in _TABLES.items():
            t = f.get(name)
            if t is None:
                tables[name] = np.zeros(0, dt)
                continue
            try:
                tables[name] = t[()]
                for field in dt.names:
                    tables[name][field]
            except (ValueError, KeyError, TypeError, OSError) as exc:
                raise InputError(f"table '{name}' is malformed: {exc}", path=path) from None
        anns = []
        for r in tables["annotations"]:
            label, comment = r["label"], r["comment"]
            anns.append(Annotation(int(r["sample_start"]), int(r["sample_count"]),
                                   _opt(float(r["freq_lower_edge_hz"])), _opt(float(r["freq_upper_edge_hz"])),
                                   label.decode() if isinstance(label, bytes) else str(label),
                                   comment.decode() if isinstance(comment, bytes) else str(comment)))
        arr = _attr_str(a, "rfdetect:array")
        try:
            array = json.loads(arr) if arr else None
        except ValueError:
            raise InputError("attribute rfdetect:array is not valid JSON", path=path) from None
        sensor = SensorPosition(*(_opt(float(a[k])) if k in a else None for k in
                                  ("rfdetect:lat", "rfdetect:lon", "rfdetect:alt_m", "rfdetect:heading_deg")))
        return RecordingInfo(
            path=path, sample_rate_hz=rate, center_freq_hz=freq, num_channels=nch,
            num_samples=int(ds.shape[1]), datatype=datatype,
            datetime_utc=_attr_str(a, "core:datetime") or None,
            hardware=_attr_str(a, "core:hw", "") or "",
            gain_db=_opt(float(a["rfdetect:gain_db"])) if "rfdetect:gain_db" in a else None,
            sensor=sensor,
            retunes=tuple((int(r["sample_index"]), float(r["center_freq_hz"])) for r in tables["retunes"]),
            gaps=tuple((int(r["sample_index"]), int(r["samples_lost"])) for r in tables["gaps"]),
            annotations=tuple(anns), array=array)

    def read_raw(self, a: int, b: int) -> np.ndarray:
        """Stored samples a..b as they are: complex64 (C, k) or uint8 (C, k, 2)."""
        return self._ds[:, a:b]

    def _read(self, a: int, b: int) -> np.ndarray:
        out = np.empty((self.info.num_channels, b - a), np.complex64)
        if b <= a:
            return out
        try:
            if self._cu8 and self.info.num_channels == 1:
                return np.ascontiguousarray(self._ds[0, a:b, :])     # a CU8Block's bytes
            if self._cu8:
                raw = np.ascontiguousarray(self._ds[:, a:b, :])
                cu8_to_complex64(raw.reshape(-1), out.reshape(1, -1))
            else:
                self._ds.read_direct(out, np.s_[:, a:b])
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read samples {a}..{b}: {exc}", path=self.path) from None
        return out

    def blocks(self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start: int = 0,
               stop: int | None = None) -> Iterator[IQBlock]:
        if getattr(self, "_f", None) is None:
            raise InputError("source is closed", path=self.path)
        return iter_blocks(self.info, self._read, block_samples, start, stop, check_finite=not self._cu8)

    def close(self) -> None:
        f = getattr(self, "_f", None)
        self._f = None
        self._ds = None
        if f is not None:
            try:
                f.close()
            except Exception:
                pass
