"""Make small temporary recordings in every supported format from a numpy array.

Shared test helper: ``write_hdf5``, ``write_sigmf``, ``write_raw`` take complex
samples of shape (channels, n) (or (n,)) and return the path to open;
``encode``/``decode`` are the plain NumPy twins of the stored formats, so a test
can predict exactly what a reader must return (``quantized``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rfdetect.model import Annotation

RAW_TO_SIGMF = {"cu8": "cu8", "cs8": "ci8", "cs16": "ci16_le", "cf32": "cf32_le"}


def random_iq(n: int, channels: int = 1, seed: int = 0, amplitude: float = 0.6) -> np.ndarray:
    """Seeded complex Gaussian noise, complex64 (channels, n), mostly within +-1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, n, 2)).astype(np.float32) * np.float32(amplitude / 2)
    return np.clip(x, -0.99, 0.99).view(np.complex64)[..., 0]


def _as2d(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=np.complex64)
    return x.reshape(1, -1) if x.ndim == 1 else x


def encode(samples, datatype: str) -> np.ndarray:
    """Complex (channels, n) -> flat array of I/Q values in file order
    (sample by sample, channels interleaved), for a SigMF datatype name."""
    x = _as2d(samples)
    pairs = np.stack([x.real, x.imag], axis=-1).transpose(1, 0, 2).astype(np.float64)   # (n, C, 2)
    dt = datatype.lower()
    if dt.startswith("cf32") or dt.startswith("cf64"):
        order = ">" if dt.endswith("_be") else "<"
        return pairs.astype(f"{order}f{4 if '32' in dt else 8}").reshape(-1)
    if dt == "cu8":
        return np.clip(np.rint(pairs * 127.5 + 127.5), 0, 255).astype(np.uint8).reshape(-1)
    if dt == "ci8":
        return np.clip(np.rint(pairs * 128), -128, 127).astype(np.int8).reshape(-1)
    if dt.startswith("ci16"):
        order = ">" if dt.endswith("_be") else "<"
        return np.clip(np.rint(pairs * 32768), -32768, 32767).astype(f"{order}i2").reshape(-1)
    raise ValueError(datatype)


def decode(values: np.ndarray, datatype: str, channels: int = 1) -> np.ndarray:
    """NumPy twin of the readers: flat file-order values -> complex64 (channels, n)."""
    dt = datatype.lower()
    v = np.asarray(values).astype(np.float64)
    if dt == "cu8":
        v = (v - 127.5) / 127.5
    elif dt == "ci8":
        v = v / 128
    elif dt.startswith("ci16"):
        v = v / 32768
    pairs = v.reshape(-1, channels, 2)
    return (pairs[..., 0] + 1j * pairs[..., 1]).T.astype(np.complex64)


def quantized(samples, datatype: str) -> np.ndarray:
    """What a reader returns for these samples stored as ``datatype``."""
    x = _as2d(samples)
    return decode(encode(x, datatype), datatype, x.shape[0])


def write_raw(path, samples, fmt: str = "cu8") -> Path:
    """Raw interleaved file: fmt is cu8, cs8, cs16 or cf32."""
    path = Path(path)
    encode(samples, RAW_TO_SIGMF[fmt]).tofile(path)
    return path


def write_hdf5(path, samples, datatype: str = "cf32_le", sample_rate_hz: float = 1e6,
               center_freq_hz: float = 100e6, retunes=(), gaps=(), annotations=(), **kw) -> Path:
    """Native HDF5 recording through HDF5Writer (datatype cf32_le or cu8)."""
    from rfdetect.sources.hdf5 import HDF5Writer
    x = _as2d(samples)
    with HDF5Writer(path, sample_rate_hz, center_freq_hz, datatype=datatype,
                    num_channels=x.shape[0], **kw) as w:
        w.append(x)
        for i, f in retunes:
            w.add_retune(i, f)
        for i, lost in gaps:
            w.add_gap(i, lost)
        for a in annotations:
            w.add_annotation(a if isinstance(a, Annotation) else Annotation(*a))
    return Path(path)


def write_sigmf(base, samples, datatype: str = "cf32_le", sample_rate_hz: float | None = 1e6,
                center_freq_hz: float | None = 100e6, captures=None, annotations=(), extra_global=None,
                data: bool = True) -> Path:
    """``base.sigmf-meta`` (+ ``.sigmf-data``) written as plain JSON; returns the meta path.

    ``captures`` replaces the single default capture; ``extra_global`` is merged
    into (and may delete, with value None) the global object.
    """
    base = Path(base)
    x = _as2d(samples)
    g = {"core:datatype": datatype, "core:version": "1.0.0", "core:sample_rate": sample_rate_hz}
    if x.shape[0] > 1:
        g["core:num_channels"] = x.shape[0]
    for k, v in (extra_global or {}).items():
        g[k] = v
    g = {k: v for k, v in g.items() if v is not None}
    caps = captures if captures is not None else [
        {"core:sample_start": 0, **({"core:frequency": center_freq_hz} if center_freq_hz is not None else {})}]
    meta = {"global": g, "captures": caps, "annotations": [
        {"core:sample_start": a[0], "core:sample_count": a[1], "core:label": a[2]} if not isinstance(a, dict)
        else a for a in annotations]}
    meta_path = base.with_name(base.name + ".sigmf-meta")
    meta_path.write_text(json.dumps(meta))
    if data:
        encode(x, datatype).tofile(base.with_name(base.name + ".sigmf-data"))
    return meta_path


@contextmanager
def held_open_for_writing(path):
    """Another process holds ``path`` open as an HDF5Writer (a recording in progress)."""
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from rfdetect.sources.hdf5 import HDF5Writer
        w = HDF5Writer({str(path)!r}, 1e6, 1e8)
        w.append(np.zeros(100, np.complex64)); w.flush()
        print("ready", flush=True)
        sys.stdin.readline()
        w.close()
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
