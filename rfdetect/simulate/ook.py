"""On-off keyed pulse trains (ISM remotes and sensors) and pulse envelopes in general.

Pulses are given as (start_s, stop_s) pairs; each output sample holds the fraction of its
sample interval during which the carrier is on (area sampling), so timing is exact at any
rate, and the envelope is then smoothed with a raised-cosine edge of ``rise_s`` as a real
transmitter's PA switching is, which keeps the spectrum compact.

Encodings follow the devices rtl_433 decodes: ``pwm`` remotes (EV1527/PT2262 family:
1 = long pulse short gap, 0 = short pulse long gap, a sync pulse then a long gap, frame repeated)
and ``ppm`` sensors (fixed pulse, gap length carries the bit, e.g. Nexus/Prologue).
"""
from __future__ import annotations

import numpy as np
from scipy import signal


def pulse_envelope(sample_rate_hz: float, pulses: np.ndarray, duration_s: float,
                   rise_s: float = 0.0) -> np.ndarray:
    """Envelope 0..1 sampled at ``sample_rate_hz`` for pulses (k, 2) [start, stop] in seconds.

    Sample i covers [i - 0.5, i + 0.5] samples; it holds the fraction of that cell the carrier
    is on (pulses must not overlap).  Interior samples are filled by slices, edge cells get
    their exact fractions, so the cost is per pulse, not per sample."""
    n = int(round(duration_s * sample_rate_hz))
    env = np.zeros(n, np.float64)
    for a, b in np.asarray(pulses, np.float64).reshape(-1, 2) * sample_rate_hz:
        if b <= a:
            continue
        ia, ib = int(np.floor(a + 0.5)), int(np.floor(b + 0.5))     # cells holding the edges
        if ia == ib:
            if 0 <= ia < n:
                env[ia] += b - a
            continue
        if 0 <= ia < n:
            env[ia] += ia + 0.5 - a
        lo, hi = max(ia + 1, 0), min(ib, n)
        if hi > lo:
            env[lo:hi] += 1.0
        if 0 <= ib < n:
            env[ib] += b - (ib - 0.5)
    if rise_s > 0:
        k = int(round(rise_s * sample_rate_hz))
        if k >= 2:
            w = np.hanning(k + 2)[1:-1]
            env = signal.oaconvolve(env, w / w.sum(), mode="same")
    return np.clip(env, 0.0, 1.0)


def pulse_envelope_reference(sample_rate_hz: float, pulses: np.ndarray, duration_s: float) -> np.ndarray:
    """Slow twin of :func:`pulse_envelope` without smoothing: the on-time integral F(t)
    evaluated at every cell boundary, differenced."""
    n = int(round(duration_s * sample_rate_hz))
    p = np.asarray(pulses, np.float64).reshape(-1, 2)
    tb = (np.arange(n + 1) - 0.5) / sample_rate_hz
    on = np.zeros(n + 1)
    for a, b in p:
        on += np.clip(tb - a, 0.0, b - a)
    return np.clip(np.diff(on) * sample_rate_hz, 0.0, 1.0)


def pwm_pulses(bits: np.ndarray, short_s: float, long_s: float, sync_gap_s: float,
               repeats: int) -> tuple[np.ndarray, float]:
    """PWM remote frame (sync pulse, gap, then per bit a short/long pulse), repeated."""
    period = short_s + long_s
    out = []
    t = 0.0
    for _ in range(repeats):
        for b in bits:
            on = long_s if b else short_s
            out.append((t, t + on))
            t += period
        out.append((t, t + short_s))          # sync pulse closes the frame
        t += short_s + sync_gap_s
    return np.array(out), t - sync_gap_s + short_s


def ppm_pulses(bits: np.ndarray, pulse_s: float, gap0_s: float, gap1_s: float, sync_gap_s: float,
               repeats: int) -> tuple[np.ndarray, float]:
    """PPM sensor frame: fixed pulses, gap length carries the bit, frames separated by a sync gap."""
    out = []
    t = 0.0
    for r in range(repeats):
        for b in bits:
            out.append((t, t + pulse_s))
            t += pulse_s + (gap1_s if b else gap0_s)
        out.append((t, t + pulse_s))
        t += pulse_s + (sync_gap_s if r < repeats - 1 else 0.0)
    return np.array(out), t


def ook_frame(sample_rate_hz: float, pulses: np.ndarray, duration_s: float,
              rise_s: float = 20e-6) -> np.ndarray:
    return pulse_envelope(sample_rate_hz, pulses, duration_s, rise_s).astype(np.complex64)
