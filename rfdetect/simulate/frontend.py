"""RTL-SDR (R820T + RTL2832U) receiver model.

What the 8-bit dongle does to the signal, applied in this order: gain (the tuner/IF gain
scales signal and noise together; too much clips at the ADC's full scale), IQ imbalance (gain
and phase mismatch between the I and Q paths, which mirrors every signal across DC), the DC
offset spike (LO leakage and ADC offset: a constant added to I and Q), and 8-bit quantisation
to unsigned bytes (cu8, value v means (v - 127.5) / 127.5).  The crystal error (ppm) moves
both the LO and the sample clock; the scenario engine applies it where the physics happens
(carrier offsets and sample timing).
"""
from __future__ import annotations

import math

import numpy as np

from .kernels import quantise_cu8
from .scenario import FrontEnd


class RtlSdrModel:
    def __init__(self, cfg: FrontEnd, rng: np.random.Generator):
        self.cfg = cfg
        self.gain = np.float32(10.0 ** (cfg.gain_db / 20.0))
        g = 10.0 ** (cfg.iq_gain_imbalance_db / 20.0)
        phi = math.radians(cfg.iq_phase_imbalance_deg)
        # Q' = g (Q cos(phi) - I sin(phi)): a rotated, rescaled quadrature axis
        self.q_from_q = np.float32(g * math.cos(phi))
        self.q_from_i = np.float32(-g * math.sin(phi))
        if cfg.dc_offset_dbfs is None:
            self.dc = np.complex64(0)
        else:
            a = 10.0 ** (cfg.dc_offset_dbfs / 20.0)
            self.dc = np.complex64(a * np.exp(1j * rng.uniform(0, 2 * np.pi)))

    def analog(self, x: np.ndarray) -> np.ndarray:
        """Everything but quantisation: gain, IQ imbalance, DC offset (complex64 in and out)."""
        y = x * self.gain
        i = y.real.copy()
        q = y.imag * self.q_from_q + i * self.q_from_i
        out = np.empty(y.shape, np.complex64)
        out.real = i + self.dc.real
        out.imag = q + self.dc.imag
        return out

    def to_cu8(self, x: np.ndarray) -> np.ndarray:
        """Full model: complex64 (channels, n) -> cu8 bytes (channels, n, 2); clips at full scale."""
        x = np.ascontiguousarray(x, np.complex64).reshape(-1, np.shape(x)[-1])
        out = np.empty(x.shape + (2,), np.uint8)
        quantise_cu8(x, float(self.gain), float(self.q_from_q), float(self.q_from_i),
                     float(self.dc.real), float(self.dc.imag), out)
        return out


_CU8_LEVELS = (np.arange(256, dtype=np.float32) - np.float32(127.5)) / np.float32(127.5)


def cu8_to_float(b: np.ndarray) -> np.ndarray:
    """cu8 bytes (..., n, 2) -> complex64 (..., n), as every reader scales them: (v - 127.5) / 127.5."""
    return _CU8_LEVELS[b].view(np.complex64)[..., 0]
