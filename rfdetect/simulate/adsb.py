"""ADS-B / Mode S extended squitter (ICAO Annex 10 vol IV, RTCA DO-260B).

1090 MHz, pulse-position modulation at 1 Mbit/s: an 8 us preamble with 0.5 us pulses at 0,
1.0, 3.5 and 4.5 us, then 56 (DF11 acquisition squitter) or 112 (DF17 extended squitter) bits,
each 1 us with a 0.5 us pulse in its first half for 1 and in its second half for 0.
Pulses have 0.05-0.1 us rise times, modelled by a short raised-cosine edge.
"""
from __future__ import annotations

import numpy as np

from .ook import pulse_envelope

PREAMBLE_US = (0.0, 1.0, 3.5, 4.5)
BIT_US = 1.0
PULSE_US = 0.5
# Mode S parity: the 24-bit CRC with generator 0x1FFF409 (Annex 10 vol IV, 3.1.2.3.3).
CRC_POLY = 0xFFF409
PARITY_BITS = 24


def modes_crc(bits) -> int:
    """Remainder of ``bits`` (MSB first) by the Mode S generator: the parity of a frame's
    first n-24 bits, or 0 over a whole frame whose parity is right."""
    crc = 0
    for b in bits:
        feedback = ((crc >> 23) & 1) ^ int(b)
        crc = (crc << 1) & 0xFFFFFF
        if feedback:
            crc ^= CRC_POLY
    return crc


def modes_pulses(bits: np.ndarray) -> tuple[np.ndarray, float]:
    starts = list(PREAMBLE_US) + [8.0 + i * BIT_US + (0.0 if b else PULSE_US) for i, b in enumerate(bits)]
    p = np.array([(s, s + PULSE_US) for s in starts]) * 1e-6
    return p, (8.0 + len(bits) * BIT_US) * 1e-6


def modes_frame(sample_rate_hz: float, bits: np.ndarray) -> np.ndarray:
    pulses, dur = modes_pulses(bits)
    return pulse_envelope(sample_rate_hz, pulses, dur, rise_s=0.08e-6).astype(np.complex64)


def random_squitter(rng: np.random.Generator, icao: int, long: bool) -> np.ndarray:
    """A frame a Mode S decoder accepts: DF17 (or DF11), capability 5, the ICAO address, a
    random payload and its parity (for DF11 squitters the interrogator code is 0, so the
    parity is the plain CRC)."""
    n = 112 if long else 56
    df = 17 if long else 11
    head = [(df >> (4 - i)) & 1 for i in range(5)] + [1, 0, 1]
    addr = [(icao >> (23 - i)) & 1 for i in range(24)]
    rest = rng.integers(0, 2, n - 32 - PARITY_BITS).tolist()
    data = head + addr + rest
    parity = modes_crc(data)
    return np.array(data + [(parity >> (PARITY_BITS - 1 - i)) & 1 for i in range(PARITY_BITS)], np.uint8)
