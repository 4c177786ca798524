"""SigMF recordings: a reader (metadata through the ``sigmf`` library, samples
through numpy.memmap) and conversion to and from the native HDF5 format."""
from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import InputError, ParameterError
from ..kernels.convert import cs8_to_complex64, cs16_to_c64, cu8_to_complex64
from ..model import Annotation, IQBlock, RecordingInfo, SensorPosition
from . import check_rate, iter_blocks
from .base import DEFAULT_BLOCK_SAMPLES, Source

META_EXT = ".sigmf-meta"
DATA_EXT = ".sigmf-data"
EXTENSION = {"name": "rfdetect", "version": "1.0.0", "optional": True}
_DATATYPE = re.compile(r"^([cr])([fiu])(8|16|32|64)(?:_(le|be))?$")
_CONVERT_CHUNK = 1 << 20


def parse_datatype(datatype) -> dict:
    """SigMF datatype -> {dtype (of one I or Q value), kind, bits, scale, offset}; None if unknown.

    Complex types only: cf32/cf64, ci8/ci16/ci32, cu8/cu16/cu32 (_le/_be; 8-bit
    without suffix).  Integers scale to full scale 1.0: ci by 2^-(bits-1),
    cu as (x - (2^bits - 1)/2) / ((2^bits - 1)/2).
    """
    m = _DATATYPE.match(str(datatype).lower()) if isinstance(datatype, str) else None
    if not m:
        return None
    cr, kind, bits, endian = m.group(1), m.group(2), int(m.group(3)), m.group(4)
    if (kind == "f" and bits not in (32, 64)) or (kind != "f" and bits == 64):
        return None
    if bits > 8 and endian is None:
        return None
    order = ">" if endian == "be" else "<"
    dtype = np.dtype(f"{order}{kind}{bits // 8}")
    half = (2.0 ** bits - 1) / 2
    return {"datatype": str(datatype).lower(), "complex": cr == "c", "kind": kind, "bits": bits,
            "dtype": dtype,
            "scale": 1.0 if kind == "f" else (1.0 / 2 ** (bits - 1) if kind == "i" else 1.0 / half),
            "offset": half if kind == "u" else 0.0}


def sigmf_paths(path) -> tuple[Path, Path | None]:
    """(metadata path, base) for a .sigmf-meta, .sigmf-data or base name."""
    p = Path(path)
    name = p.name
    for ext in (META_EXT, DATA_EXT, ".sigmf"):
        if name.lower().endswith(ext):
            base = p.with_name(name[:-len(ext)])
            return base.with_name(base.name + META_EXT), base
    return p.with_name(name + META_EXT), p


class SigMFSource(Source):
    """A SigMF recording (``.sigmf-meta`` with its ``.sigmf-data``), read lazily."""

    def __init__(self, path: str | os.PathLike, sample_rate_hz: float | None = None,
                 center_freq_hz: float | None = None, channels: int | None = None):
        self._mm = None
        meta_path, base = sigmf_paths(path)
        self.path = str(meta_path)
        if not meta_path.is_file():
            if Path(path).name.lower().endswith(".sigmf") and Path(path).is_file():
                raise InputError("SigMF archives (.sigmf) are not read directly: extract them with "
                                 "tar -xf and open the .sigmf-meta", path=path)
            raise InputError("no such file" if str(meta_path) == str(path) else
                             f"no such file (looked for the metadata {meta_path.name})", path=meta_path)
        try:
            text = meta_path.read_text(encoding="utf-8")
            raw_meta = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            why = "file is empty" if meta_path.stat().st_size == 0 else f"not valid SigMF JSON ({exc})"
            raise InputError(why, path=meta_path) from None
        glob = raw_meta.get("global") if isinstance(raw_meta, dict) else None
        if not isinstance(glob, dict):
            raise InputError("no \"global\" object: not SigMF metadata", path=meta_path)
        dt = parse_datatype(glob.get("core:datatype"))
        if dt is None:
            raise InputError("unknown or missing core:datatype (expected e.g. cf32_le, ci16_le, cu8, ci8)",
                             path=meta_path, param="core:datatype", value=glob.get("core:datatype"))
        if not dt["complex"]:
            raise InputError("real-valued samples are not supported (need complex I/Q)",
                             path=meta_path, param="core:datatype", value=glob.get("core:datatype"))
        if sample_rate_hz is None and "core:sample_rate" not in glob:
            raise InputError("core:sample_rate is missing (pass --sample-rate)", path=meta_path)
        nch = glob.get("core:num_channels", 1)
        if isinstance(nch, bool) or not isinstance(nch, int) or nch < 1:
            raise InputError("core:num_channels must be a whole number >= 1", path=meta_path,
                             param="core:num_channels", value=nch)
        if channels is not None and channels != nch:
            raise ParameterError(f"{meta_path} has {nch} channel(s)", param="channels", value=channels)
        captures_raw = raw_meta.get("captures") or []
        header = 0
        if isinstance(captures_raw, list):
            header = sum(int(c.get("core:header_bytes", 0)) for c in captures_raw if isinstance(c, dict))
        trailing = int(glob.get("core:trailing_bytes", 0) or 0)
        dataset = glob.get("core:dataset")
        data_path = meta_path.with_name(dataset) if dataset else base.with_name(base.name + DATA_EXT)
        if not data_path.is_file():
            raise InputError(f"the data file {data_path.name} is missing", path=meta_path)
        size = data_path.stat().st_size - header - trailing
        if size <= 0:
            raise InputError("the data file is empty", path=data_path)
        frame = 2 * dt["dtype"].itemsize * nch
        if size % frame:
            raise InputError(f"size {size} bytes is not a whole number of samples: {glob['core:datatype']} "
                             f"with core:num_channels={nch} needs a multiple of {frame} bytes", path=data_path)
        try:
            import sigmf
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sf = sigmf.sigmffile.fromfile(str(meta_path), skip_checksum=True)
            glob = sf.get_global_info()
            captures = sorted(sf.get_captures(), key=lambda c: int(c.get("core:sample_start", 0)))
            annotations = sf.get_annotations()
        except InputError:
            raise
        except Exception as exc:  # the sigmf library raises many kinds
            raise InputError(f"cannot read SigMF metadata: {exc}", path=meta_path) from None
        del sf
        rate = float(sample_rate_hz) if sample_rate_hz is not None else \
            check_rate(glob.get("core:sample_rate"), meta_path, "core:sample_rate")
        f0 = captures[0].get("core:frequency") if captures else None
        if center_freq_hz is not None:
            f0 = center_freq_hz
        if f0 is None:
            raise InputError("the first capture has no core:frequency (pass --center-freq)", path=meta_path)
        retunes, gaps = [], []
        cur = float(f0)
        for prev, cap in zip(captures, captures[1:]):
            start = int(cap.get("core:sample_start", 0))
            f = cap.get("core:frequency")
            if f is not None and float(f) != cur:
                cur = float(f)
                retunes.append((start, cur))
            if "core:global_index" in cap and "core:global_index" in prev:
                lost = (int(cap["core:global_index"]) - int(prev["core:global_index"])) - \
                    (start - int(prev.get("core:sample_start", 0)))
                if lost > 0:
                    gaps.append((start, lost))
        anns = []
        for a in annotations:
            lo, hi = a.get("core:freq_lower_edge"), a.get("core:freq_upper_edge")
            anns.append(Annotation(int(a.get("core:sample_start", 0)), int(a.get("core:sample_count", 0)),
                                   None if lo is None else float(lo), None if hi is None else float(hi),
                                   str(a.get("core:label", "") or ""),
                                   str(a.get("core:comment", a.get("core:description", "")) or "")))
        lat = lon = alt = None
        geo = glob.get("core:geolocation")
        if isinstance(geo, dict) and isinstance(geo.get("coordinates"), (list, tuple)):
            coords = list(geo["coordinates"]) + [None, None, None]
            lon, lat, alt = coords[0], coords[1], coords[2]
        heading = glob.get("rfdetect:heading_deg")
        gain = glob.get("rfdetect:gain_db")
        array = glob.get("rfdetect:array")
        self._dt = dt
        self._data_path = data_path
        try:
            self._mm = np.memmap(data_path, dtype=dt["dtype"], mode="r", offset=header,
                                 shape=(size // dt["dtype"].itemsize,))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot map the data file: {exc}", path=data_path) from None
        self.info = RecordingInfo(
            path=self.path, sample_rate_hz=rate, center_freq_hz=float(f0), num_channels=nch,
            num_samples=size // frame, datatype=dt["datatype"],
            datetime_utc=(captures[0].get("core:datetime") if captures else None),
            hardware=str(glob.get("core:hw", "") or ""),
            gain_db=None if gain is None else float(gain),
            sensor=SensorPosition(*(None if v is None else float(v) for v in (lat, lon, alt, heading))),
            retunes=tuple(retunes), gaps=tuple(gaps), annotations=tuple(anns),
            array=array if isinstance(array, dict) else None)

    def read_raw(self, a: int, b: int) -> np.ndarray:
        """Stored values of samples a..b, flat, in file order (sample-major, channels interleaved)."""
        c = self.info.num_channels
        return self._mm[2 * c * a:2 * c * b]

    def _read(self, a: int, b: int) -> np.ndarray:
        c = self.info.num_channels
        k = b - a
        raw = self.read_raw(a, b)
        dt = self._dt
        name = dt["datatype"]
        if name == "cu8" and c == 1:
            return np.array(raw).reshape(-1, 2)      # a CU8Block's bytes, out of the mapping
        out = np.empty((c, k), np.complex64)
        if name == "cu8":
            cu8_to_complex64(raw, out)
        elif name == "ci8":
            cs8_to_complex64(raw, out)
        elif dt["kind"] == "i" and dt["bits"] == 16:
            cs16_to_c64(raw, c, out)
        elif dt["kind"] == "f":
            out[...] = raw.astype("<f4", copy=False).view("<c8").reshape(k, c).T
        else:
            work = np.float64 if dt["bits"] > 16 else np.float32
            vals = raw.astype(work)
            if dt["offset"]:
                vals -= dt["offset"]
            vals *= dt["scale"]
            out[...] = vals.astype(np.float32).view(np.complex64).reshape(k, c).T
        return out

    def blocks(self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start: int = 0,
               stop: int | None = None) -> Iterator[IQBlock]:
        if self._mm is None:
            raise InputError("source is closed", path=self.path)
        return iter_blocks(self.info, self._read, block_samples, start, stop,
                           check_finite=self._dt["kind"] == "f")

    def close(self) -> None:
        self._mm = None


# ------------------------------------------------------------------ conversion

def hdf5_to_sigmf(src: str | os.PathLike, dst_base: str | os.PathLike, overwrite: bool = False) -> str:
    """Write ``dst_base.sigmf-meta`` + ``.sigmf-data`` from a native HDF5 recording.

    The data keep the stored datatype (cf32_le or cu8); retunes become captures
    with a new core:frequency, gaps become captures whose core:global_index jumps,
    annotations are copied; heading, gain and array go into the ``rfdetect``
    extension namespace.  Returns the metadata path.
    """
    import sigmf
    from .hdf5 import HDF5Source

    meta_path, base = sigmf_paths(dst_base)
    data_path = base.with_name(base.name + DATA_EXT)
    for p in (meta_path, data_path):
        if p.exists() and not overwrite:
            raise InputError("already exists (pass overwrite=True)", path=p)
    with HDF5Source(src) as s:
        info = s.info
        c = info.num_channels
        try:
            with open(data_path, "wb") as fh:
                for a in range(0, info.num_samples, _CONVERT_CHUNK):
                    raw = s.read_raw(a, min(a + _CONVERT_CHUNK, info.num_samples))
                    if info.datatype == "cu8":
                        np.ascontiguousarray(raw.transpose(1, 0, 2)).tofile(fh)
                    else:
                        np.ascontiguousarray(raw.T, dtype="<c8").tofile(fh)
        except OSError as exc:
            raise InputError(f"cannot write: {exc}", path=data_path) from None
        g = {"core:datatype": info.datatype, "core:sample_rate": info.sample_rate_hz,
             "core:num_channels": c, "core:extensions": [dict(EXTENSION)]}
        if info.hardware:
            g["core:hw"] = info.hardware
        sen = info.sensor
        if sen.lat is not None and sen.lon is not None:
            g["core:geolocation"] = {"type": "Point", "coordinates":
                                     [sen.lon, sen.lat] + ([sen.alt_m] if sen.alt_m is not None else [])}
        if sen.heading_deg is not None:
            g["rfdetect:heading_deg"] = sen.heading_deg
        if info.gain_db is not None:
            g["rfdetect:gain_db"] = info.gain_db
        if info.array is not None:
            g["rfdetect:array"] = info.array
        meta = sigmf.SigMFFile(global_info=g)
        first = {"core:frequency": info.center_freq_hz}
        if info.datetime_utc:
            first["core:datetime"] = info.datetime_utc
        gaps = sorted(info.gaps)
        if gaps:
            first["core:global_index"] = 0
        meta.add_capture(0, first)
        retunes = sorted(info.retunes)
        points = sorted({i for i, _ in retunes} | {i for i, _ in gaps})
        for idx in points:
            freq = info.center_freq_hz
            for i, f in retunes:
                if i <= idx:
                    freq = f
            cap = {"core:frequency": freq}
            if gaps:
                cap["core:global_index"] = idx + sum(lost for i, lost in gaps if i <= idx)
            meta.add_capture(idx, cap)
        for a in info.annotations:
            md = {}
            if a.freq_lower_edge_hz is not None:
                md["core:freq_lower_edge"] = a.freq_lower_edge_hz
            if a.freq_upper_edge_hz is not None:
                md["core:freq_upper_edge"] = a.freq_upper_edge_hz
            if a.label:
                md["core:label"] = a.label
            if a.comment:
                md["core:comment"] = a.comment
            meta.add_annotation(a.sample_start, a.sample_count, md)
        try:
            meta.tofile(str(base), overwrite=True)
        except Exception as exc:
            raise InputError(f"cannot write SigMF metadata: {exc}", path=meta_path) from None
    return str(meta_path)


def sigmf_to_hdf5(src: str | os.PathLike, dst_h5: str | os.PathLike, overwrite: bool = False) -> str:
    """Write a native HDF5 recording from a SigMF one.

    cu8 data stay cu8 bytes; every other datatype is stored as complex64
    (cf32_le), scaled as the reader scales it.  Captures map to retunes and
    gaps, annotations are copied.  Returns the HDF5 path.
    """
    from .hdf5 import HDF5Writer

    with SigMFSource(src) as s:
        info = s.info
        c = info.num_channels
        cu8 = info.datatype == "cu8"
        with HDF5Writer(dst_h5, info.sample_rate_hz, info.center_freq_hz, datatype="cu8" if cu8 else "cf32_le",
                        num_channels=c, datetime_utc=info.datetime_utc, hardware=info.hardware,
                        gain_db=info.gain_db, sensor=info.sensor, array=info.array,
                        overwrite=overwrite) as w:
            for a in range(0, info.num_samples, _CONVERT_CHUNK):
                b = min(a + _CONVERT_CHUNK, info.num_samples)
                if cu8:
                    w.append(np.ascontiguousarray(s.read_raw(a, b).reshape(b - a, c, 2).transpose(1, 0, 2)))
                else:
                    w.append(s._read(a, b))
            for i, f in info.retunes:
                w.add_retune(i, f)
            for i, lost in info.gaps:
                w.add_gap(i, lost)
            for ann in info.annotations:
                w.add_annotation(ann)
    return str(dst_h5)
