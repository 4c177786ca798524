"""Continuous-phase FSK / GFSK / MSK, synthesised at any sample rate.

Bits (or chips) become an NRZ frequency pulse train evaluated on the output sample grid,
optionally shaped by a Gaussian filter of bandwidth-time product ``bt`` (GFSK, as CC2500,
A7105, CYRF6936, LR1121 and SX1280 FLRC use), scaled to the peak ``deviation_hz`` and
integrated into phase.  Requires sample_rate_hz >= 2 * (deviation + bitrate/2) to avoid
aliasing; the scenario validation enforces it.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .kernels import gfsk_bits_iq, gfsk_iq


@lru_cache(maxsize=128)
def _gaussian_taps(sample_rate_hz: float, bitrate: float, bt: float) -> np.ndarray:
    sigma_s = np.sqrt(np.log(2.0)) / (2 * np.pi * bt * bitrate)
    half = max(1, int(np.ceil(3 * sigma_s * sample_rate_hz)))
    t = np.arange(-half, half + 1) / sample_rate_hz
    g = np.exp(-0.5 * (t / sigma_s) ** 2)
    return g / g.sum()


def nrz(sample_rate_hz: float, symbols: np.ndarray, symbol_rate: float, pad_symbols: float = 0.0
        ) -> np.ndarray:
    """Symbol values held for one symbol period each, sampled at ``sample_rate_hz``."""
    n = int(round((len(symbols) + pad_symbols) * sample_rate_hz / symbol_rate))
    k = np.floor(np.arange(n) * (symbol_rate / sample_rate_hz)).astype(np.int64)
    np.clip(k, 0, len(symbols) - 1, out=k)
    return np.asarray(symbols, np.float64)[k]


def fsk_frame(sample_rate_hz: float, bits: np.ndarray, bitrate: float, deviation_hz: float, *,
              bt: float | None = 0.5) -> np.ndarray:
    """2-(G)FSK: bit 1 -> +deviation, bit 0 -> -deviation; unit amplitude, centred on 0 Hz.
    The NRZ frequency track is area-sampled (exact timing at non-integer samples per bit),
    Gaussian-filtered for GFSK, and integrated into phase."""
    sym = 2.0 * np.asarray(bits, np.float64) - 1.0
    spp = sample_rate_hz / bitrate
    n = int(round(len(sym) * spp))
    taps = _gaussian_taps(float(sample_rate_hz), float(bitrate), bt) if bt else _NO_TAPS
    out = np.empty(n, np.complex64)
    gfsk_iq(sym, spp, taps, 2 * np.pi * deviation_hz / sample_rate_hz, out)
    return out


_NO_TAPS = np.ones(1)


class FskModulator:
    """:func:`fsk_frame` for one link mode at one sample rate, set up once: a fixed bit header
    (preamble, sync word) and bodies of ``body_bits`` bits.  Bursts of hopping links number in
    thousands per second of recording, so the per-call work is only the kernel's."""

    def __init__(self, sample_rate_hz: float, head: np.ndarray, body_bits: int, bitrate: float,
                 deviation_hz: float, bt: float | None):
        self.head = np.ascontiguousarray(head, np.uint8)
        self.body_bits = body_bits
        self.spp = sample_rate_hz / bitrate
        self.n = int(round((len(head) + body_bits) * self.spp))
        self.taps = _gaussian_taps(float(sample_rate_hz), float(bitrate), bt) if bt else _NO_TAPS
        self.scale = 2 * np.pi * deviation_hz / sample_rate_hz

    def __call__(self, body: np.ndarray) -> np.ndarray:
        out = np.empty(self.n, np.complex64)
        gfsk_bits_iq(self.head, body, self.spp, self.taps, self.scale, out)
        return out


def fsk_frame_numpy(sample_rate_hz: float, bits: np.ndarray, bitrate: float, deviation_hz: float, *,
                    bt: float | None = 0.5, oversample: int = 32) -> np.ndarray:
    """Slow reference twin of :func:`fsk_frame`: the frequency track built on a grid
    ``oversample`` times finer, integrated, and read at the end of each output sample's cell."""
    sym = 2.0 * np.asarray(bits, np.float64) - 1.0
    fs_hi = sample_rate_hz * oversample
    f = nrz(fs_hi, sym, bitrate)
    if bt:
        f = np.convolve(f, _gaussian_taps(fs_hi, bitrate, bt), mode="same")
    phase = np.cumsum(f) * (2 * np.pi * deviation_hz / fs_hi)
    n = int(round(len(sym) * sample_rate_hz / bitrate))
    idx = np.minimum(((np.arange(n) + 0.5) * oversample).astype(np.int64) - 1, len(phase) - 1)
    return np.exp(1j * phase[idx]).astype(np.complex64)


def preamble_bits(n: int) -> np.ndarray:
    return (np.arange(n) % 2 == 0).astype(np.uint8)


def word_bits(value: int, nbits: int) -> np.ndarray:
    return np.array([(value >> (nbits - 1 - i)) & 1 for i in range(nbits)], np.uint8)


def measure_deviation(x: np.ndarray, sample_rate_hz: float) -> tuple[float, np.ndarray]:
    """FM-discriminate ``x``; returns (robust peak deviation in Hz, instantaneous frequency)."""
    inst = np.angle(x[1:] * np.conj(x[:-1])) * sample_rate_hz / (2 * np.pi)
    return float(np.percentile(np.abs(inst), 90)), inst
