"""LoRa chirp spread spectrum, synthesised at any sample rate.

A LoRa frame (Semtech AN1200.22, SX127x/SX126x/SX1280 data sheets) is: ``n_preamble``
upchirps, two sync-word upchirps shifted by the sync nibbles times 8, 2.25 downchirps, then
data symbols, each an upchirp cyclically shifted by its value s in 0..2^SF-1.  A symbol lasts
2^SF / BW; the instantaneous frequency sweeps -BW/2..+BW/2 once per symbol.  Instantaneous
frequency is evaluated on the output sample grid and integrated, so any sample rate works
(>= BW) without resampling.  Payload symbols are random values: the chirp structure, not
the payload coding, is what a receiver detects and dechirps.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .kernels import chirp_train, lora_burst_iq


def symbol_time_s(sf: int, bw_hz: float) -> float:
    return (1 << sf) / bw_hz


def payload_symbols(sf: int, payload_bytes: int, cr: int, *, implicit_header: bool, crc: bool,
                    low_dr_opt: bool = False) -> int:
    """Number of payload symbols (SX127x data sheet, section 4.1.1.7); cr is 1..4 for 4/5..4/8."""
    de = 1 if low_dr_opt else 0
    ih = 1 if implicit_header else 0
    num = 8 * payload_bytes - 4 * sf + 28 + 16 * int(crc) - 20 * ih
    return 8 + max(math.ceil(num / (4 * (sf - 2 * de))) * (cr + 4), 0)


def frame_duration_s(sf: int, bw_hz: float, n_preamble: int, n_payload_symbols: int) -> float:
    return (n_preamble + 4.25 + n_payload_symbols) * symbol_time_s(sf, bw_hz)


@lru_cache(maxsize=256)
def _frame_layout(sample_rate_hz: float, sf: int, bw_hz: float, n_preamble: int, sync_word: int,
                  n_data: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """What a frame's symbols are, but for the data values: (segment start times, kinds
    0 up / 1 down, values of the symbols before the data as fractions of a symbol, samples)."""
    m = 1 << sf
    ts = m / bw_hz
    # sync symbols: each nibble of the sync word times 8 (as gr-lora_sdr and the SX127x do)
    sync = ((((sync_word >> 4) & 0xF) << 3) % m, ((sync_word & 0xF) << 3) % m)
    kinds = [0] * n_preamble + [0, 0] + [1, 1, 1] + [0] * n_data          # 0 up, 1 down
    head = [0] * n_preamble + list(sync) + [0, 0, 0]
    lengths = [1.0] * (n_preamble + 2) + [1.0, 1.0, 0.25] + [1.0] * n_data
    starts = np.concatenate([[0.0], np.cumsum(lengths)]) * ts
    n = int(round(starts[-1] * sample_rate_hz))
    return starts[:-1].copy(), np.asarray(kinds, np.int8), np.asarray(head, np.float64) / m, n


def frame_samples(sample_rate_hz: float, sf: int, bw_hz: float, n_preamble: int, sync_word: int,
                  n_data: int) -> int:
    """Length in samples of a frame with ``n_data`` data symbols."""
    return _frame_layout(float(sample_rate_hz), sf, float(bw_hz), n_preamble, sync_word, n_data)[3]


def lora_frame(sample_rate_hz: float, sf: int, bw_hz: float, n_preamble: int, sync_word: int,
               data: np.ndarray, *, inverted: bool = False) -> np.ndarray:
    """Complex baseband LoRa frame, unit amplitude, centred on 0 Hz.

    ``data``: symbol values 0..2^SF-1.  ``inverted``: inverted IQ (LoRaWAN downlinks), i.e.
    the complex conjugate of the frame.
    """
    m = 1 << sf
    starts, kinds, head, n = _frame_layout(float(sample_rate_hz), sf, float(bw_hz), n_preamble, sync_word,
                                           len(data))
    values = np.concatenate([head, (np.asarray(data, np.int64) % m) / m])
    x = np.empty(n, np.complex64)
    chirp_train(starts, kinds, values, float(sample_rate_hz), float(bw_hz), float(m / bw_hz), x)
    return np.conj(x) if inverted else x


def lora_burst(sample_rate_hz: float, sf: int, bw_hz: float, n_preamble: int, sync_word: int, n_data: int,
               seed: int, index: int, ramp: np.ndarray, *, inverted: bool = False) -> np.ndarray:
    """:func:`lora_frame` of ``burst_rng(seed, index).integers(0, 2**sf, n_data)``, with the
    transmitter's ramp (:func:`kernels.ramp_edges`), in one kernel call."""
    starts, kinds, head, n = _frame_layout(float(sample_rate_hz), sf, float(bw_hz), n_preamble, sync_word,
                                           n_data)
    x = np.empty(n, np.complex64)
    lora_burst_iq(seed, index, sf, starts, kinds, head, float(sample_rate_hz), float(bw_hz),
                  float((1 << sf) / bw_hz), ramp, x)
    return np.conj(x) if inverted else x


def lora_frame_numpy(sample_rate_hz: float, sf: int, bw_hz: float, n_preamble: int, sync_word: int,
                     data: np.ndarray, *, inverted: bool = False) -> np.ndarray:
    """Slow reference twin of :func:`lora_frame` (same frequency track, NumPy cumsum)."""
    m = 1 << sf
    ts = m / bw_hz
    sync = ((((sync_word >> 4) & 0xF) << 3) % m, ((sync_word & 0xF) << 3) % m)
    kinds = [0] * n_preamble + [0, 0] + [1, 1, 1] + [0] * len(data)
    values = [0] * n_preamble + list(sync) + [0, 0, 0] + [int(v) % m for v in data]
    lengths = [1.0] * (n_preamble + 2) + [1.0, 1.0, 0.25] + [1.0] * len(data)
    starts = np.concatenate([[0.0], np.cumsum(lengths)]) * ts
    n = int(round(starts[-1] * sample_rate_hz))
    t = np.arange(n, dtype=np.float64) / sample_rate_hz
    idx = np.searchsorted(starts, t, side="right") - 1
    np.clip(idx, 0, len(lengths) - 1, out=idx)
    tau = (t - starts[idx]) / ts
    kind = np.asarray(kinds, np.int8)[idx]
    val = np.asarray(values, np.float64)[idx] / m
    freq = np.where(kind == 0, bw_hz * (np.mod(tau + val, 1.0) - 0.5), bw_hz * (0.5 - tau))
    x = np.exp(1j * np.cumsum(freq) * (2 * np.pi / sample_rate_hz)).astype(np.complex64)
    return np.conj(x) if inverted else x


def dechirp_peaks(x: np.ndarray, sample_rate_hz: float, sf: int, bw_hz: float, start: int,
                  count: int) -> np.ndarray:
    """Demodulate ``count`` symbols starting at sample ``start``: multiply each by a
    reference downchirp and take the FFT peak.  Returns symbol values (0..2^SF-1)."""
    m = 1 << sf
    ts = m / bw_hz
    ns = int(round(ts * sample_rate_hz))
    t = np.arange(ns) / sample_rate_hz
    ref = np.exp(-1j * 2 * np.pi * (-bw_hz / 2 * t + bw_hz / (2 * ts) * t * t))
    out = np.empty(count, np.int64)
    for k in range(count):
        a = start + int(round(k * ts * sample_rate_hz))
        seg = x[a:a + ns] * ref
        spec = np.abs(np.fft.fft(seg, ns))
        f = np.fft.fftfreq(ns, 1 / sample_rate_hz)
        out[k] = int(round(f[int(np.argmax(spec))] / bw_hz * m)) % m
    return out
