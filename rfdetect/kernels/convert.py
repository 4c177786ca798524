"""Sample-format conversion kernels (Numba) and their thin Python wrappers.

Kernels take a flat input array and a preallocated complex64 output of shape
(channels, n); the input holds ``n`` samples of ``channels`` interleaved
channels, I before Q (SigMF order: sample 0 of every channel, then sample 1 ...).
For one channel this is simply the interleaved I/Q stream.  Kernels never raise
and never allocate; the wrappers check shapes, allocate and call them.

Scaling (to full scale = 1.0):
  cu8  (RTL-SDR)  (x - 127.5) / 127.5
  cs8             x / 128
  cs16            x / 32768
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

CU8_SCALE = np.float32(1.0 / 127.5)
CS8_SCALE = np.float32(1.0 / 128.0)
CS16_SCALE = np.float32(1.0 / 32768.0)

_F32 = np.float32


def cu8_value(v):
    """The float32 value of one I or Q value: an RTL-SDR byte scaled to full scale 1.0,
    a float32 as it is (so one kernel serves both, compiled for each)."""
    return _F32(v) * CU8_SCALE - _F32(1.0) if isinstance(v, (int, np.integer)) else v


@overload(cu8_value, jit_options={"nogil": True})
def _cu8_value(v):
    if isinstance(v, types.Integer):
        return lambda v: _F32(v) * CU8_SCALE - _F32(1.0)
    return lambda v: v


@njit(cache=True, nogil=True)
def _cu8_1ch(src, dst):
    # dst: float32 view of the complex64 output, len(dst) == len(src)
    for i in range(dst.shape[0]):
        dst[i] = cu8_value(src[i])


@njit(cache=True, nogil=True)
def _cs8_1ch(src, dst):
    for i in range(dst.shape[0]):
        dst[i] = _F32(src[i]) * CS8_SCALE


@njit(cache=True, nogil=True)
def _cs16_1ch(src, dst):
    for i in range(dst.shape[0]):
        dst[i] = _F32(src[i]) * CS16_SCALE


@njit(cache=True, nogil=True)
def cu8_to_complex64(src, out):
    """uint8 interleaved (n, channels, 2) flat -> complex64 out (channels, n)."""
    channels, n = out.shape
    if channels == 1:
        _cu8_1ch(src[:2 * n], out.reshape(n).view(np.float32))
        return
    for c in range(channels):
        row = out[c].view(np.float32)
        for t in range(n):
            k = 2 * (t * channels + c)
            row[2 * t] = _F32(src[k]) * CU8_SCALE - _F32(1.0)
            row[2 * t + 1] = _F32(src[k + 1]) * CU8_SCALE - _F32(1.0)


@njit(cache=True, nogil=True)
def cs8_to_complex64(src, out):
    """int8 interleaved (n, channels, 2) flat -> complex64 out (channels, n)."""
    channels, n = out.shape
    if channels == 1:
        _cs8_1ch(src[:2 * n], out.reshape(n).view(np.float32))
        return
    for c in range(channels):
        row = out[c].view(np.float32)
        for t in range(n):
            k = 2 * (t * channels + c)
            row[2 * t] = _F32(src[k]) * CS8_SCALE
            row[2 * t + 1] = _F32(src[k + 1]) * CS8_SCALE


@njit(cache=True, nogil=True)
def cs16_to_complex64(src, out):
    """int16 (native order) interleaved (n, channels, 2) flat -> complex64 out (channels, n)."""
    channels, n = out.shape
    if channels == 1:
        _cs16_1ch(src[:2 * n], out.reshape(n).view(np.float32))
        return
    for c in range(channels):
        row = out[c].view(np.float32)
        for t in range(n):
            k = 2 * (t * channels + c)
            row[2 * t] = _F32(src[k]) * CS16_SCALE
            row[2 * t + 1] = _F32(src[k + 1]) * CS16_SCALE


@njit(cache=True, nogil=True)
def count_nonfinite(x):
    """Number of values of a flat complex64 array whose real or imaginary part is NaN or Inf."""
    f = x.view(np.float32)
    count = 0
    for i in range(0, f.shape[0], 2):
        # v - v is 0 for every finite v and NaN for NaN and +-Inf
        count += ((f[i] - f[i]) != 0) | ((f[i + 1] - f[i + 1]) != 0)
    return count


@njit(cache=True, nogil=True)
def first_nonfinite(x):
    """Index of the first NaN/Inf value of a flat complex64 array, or -1 if all are finite.

    Scans runs of 4096 samples with a branch-free test and searches a run
    element by element only when it is dirty.
    """
    f = x.view(np.float32)
    n = f.shape[0]
    step = 8192
    for a in range(0, n, step):
        b = min(a + step, n)
        bad = 0
        for i in range(a, b):
            bad |= (f[i] - f[i]) != 0
        if bad:
            for i in range(a, b, 2):
                if (f[i] - f[i]) != 0 or (f[i + 1] - f[i + 1]) != 0:
                    return i // 2
    return -1


# ---------------------------------------------------------------- wrappers

_KERNELS = {"cu8": (cu8_to_complex64, np.dtype(np.uint8)),
            "cs8": (cs8_to_complex64, np.dtype(np.int8)),
            "cs16": (cs16_to_complex64, np.dtype(np.int16))}


def _convert(name: str, src: np.ndarray, channels: int, out: np.ndarray | None) -> np.ndarray:
    kernel, native = _KERNELS[name]
    flat = np.asarray(src).reshape(-1)
    if flat.dtype.kind != native.kind or flat.dtype.itemsize != native.itemsize:
        raise ValueError(f"{name} input must be {native} (any byte order), not {flat.dtype}")
    if flat.dtype != native or not flat.flags.c_contiguous:
        flat = np.ascontiguousarray(flat, dtype=native)      # byte swap or copy
    if channels < 1 or flat.size % (2 * channels):
        raise ValueError(f"{flat.size} values are not whole I/Q pairs of {channels} channel(s)")
    n = flat.size // (2 * channels)
    if out is None:
        out = np.empty((channels, n), np.complex64)
    elif out.shape != (channels, n) or out.dtype != np.complex64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous complex64 of shape {(channels, n)}")
    if n:
        kernel(flat, out)
    return out


def cu8_to_c64(src: np.ndarray, channels: int = 1, out: np.ndarray | None = None) -> np.ndarray:
    """RTL-SDR bytes (I, Q, I, Q ...) -> complex64 (channels, n)."""
    return _convert("cu8", src, channels, out)


def cs8_to_c64(src: np.ndarray, channels: int = 1, out: np.ndarray | None = None) -> np.ndarray:
    """Signed 8-bit pairs (HackRF) -> complex64 (channels, n)."""
    return _convert("cs8", src, channels, out)


def cs16_to_c64(src: np.ndarray, channels: int = 1, out: np.ndarray | None = None) -> np.ndarray:
    """Signed 16-bit pairs (any byte order dtype) -> complex64 (channels, n)."""
    return _convert("cs16", src, channels, out)


def c64_to_cu8(samples: np.ndarray) -> np.ndarray:
    """Quantise complex samples to RTL-SDR bytes: shape (..., n) -> uint8 (..., n, 2).

    x -> round(x * 127.5 + 127.5) clipped to 0..255, the inverse of cu8_to_c64
    within half a step.
    """
    s = np.asarray(samples)
    pairs = np.stack([s.real, s.imag], axis=-1).astype(np.float32)
    return np.clip(np.rint(pairs * np.float32(127.5) + np.float32(127.5)), 0, 255).astype(np.uint8)


def find_nonfinite(samples: np.ndarray) -> int:
    """First flat index of a NaN/Inf in a complex64 array (any shape, C order), or -1."""
    flat = np.ascontiguousarray(samples, dtype=np.complex64).reshape(-1)
    return int(first_nonfinite(flat)) if flat.size else -1
