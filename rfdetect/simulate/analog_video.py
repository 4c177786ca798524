"""Analog FM video (FPV video transmitters at 1.2/1.3 and 5.8 GHz).

A composite baseband signal with the real line and field structure frequency-modulates the
carrier.  NTSC (SMPTE 170M): 525 lines, line rate 15.734 kHz (63.556 us), 4.7 us horizontal
sync; each field starts with 6 equalising, 6 broad (vertical sync) and 6 equalising
half-line pulses; fields 262.5 lines apart give the interlace.  PAL (ITU-R BT.470): 625
lines, 15.625 kHz (64 us), 4.7 us sync, 5/5/5 pre-equalising, broad and post-equalising
half-line pulses.  Levels in IRE: sync tip -40 (PAL -43), blanking 0, white 100; a colour
burst (3.579545 / 4.43361875 MHz, 9 / 10 cycles) sits on the back porch; the picture is a
colour-bar luminance staircase.  The composite is band-limited to 4.2 / 5 MHz before FM.
Peak-to-peak deviation, sync tip to white: 6.5 MHz by default (LINKS.md: "FM video, about
6-8 MHz wide").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

STANDARDS = {
    #        line_hz,            halflines, eq, broad, sync_ire, burst_hz,     burst_cycles, video_bw
    "ntsc": (15734.264, 1050, 6, 6, -40.0, 3579545.0, 9, 4.2e6),
    "pal": (15625.0, 1250, 5, 5, -43.0, 4433618.75, 10, 5.0e6),
}
HSYNC_S = 4.7e-6
EQ_S = 2.3e-6
BROAD_LOW_S = 27.1e-6
BURST_START_S = 5.6e-6
ACTIVE_START_S = 10.9e-6
FRONT_PORCH_S = 1.5e-6
BLANK_LINES = 20          # lines of vertical blanking after the field start
BARS_IRE = (100.0, 89.0, 70.0, 59.0, 41.0, 30.0, 11.0, 7.5)
DEFAULT_DEVIATION_PP_HZ = 6.5e6


def composite_ire(t_s: np.ndarray, standard: str) -> np.ndarray:
    """Composite video level in IRE at absolute times ``t_s`` (seconds)."""
    line_hz, halflines, n_eq, n_broad, sync_ire, burst_hz, burst_cycles, _ = STANDARDS[standard]
    half_s = 0.5 / line_hz
    hidx_abs = np.floor(t_s / half_s)
    th = t_s - hidx_abs * half_s
    h = np.mod(hidx_abs, halflines).astype(np.int64)
    field_len = halflines // 2
    p = np.where(h < field_len, h, h - field_len)
    vi = 3 * n_eq if standard == "ntsc" else n_eq + n_broad + n_eq
    eq = (p < n_eq) | ((p >= n_eq + n_broad) & (p < vi))
    broad = (p >= n_eq) & (p < n_eq + n_broad)
    normal = p >= vi
    line_start = normal & ((p - vi) % 2 == 0)
    line_second = normal & ((p - vi) % 2 == 1)
    tl = np.where(line_second, th + half_s, th)        # time within the full line
    out = np.zeros_like(t_s)
    out[eq & (th < EQ_S)] = sync_ire
    out[broad & (th < BROAD_LOW_S)] = sync_ire
    hs = (line_start | line_second) & (tl < HSYNC_S)
    out[hs] = sync_ire
    line_no = (p - vi) // 2
    active_line = normal & (line_no >= BLANK_LINES - vi // 2)
    burst = normal & (tl >= BURST_START_S) & (tl < BURST_START_S + burst_cycles / burst_hz)
    out[burst] = 20.0 * np.sin(2 * np.pi * burst_hz * t_s[burst])
    line_s = 1.0 / line_hz
    act = active_line & (tl >= ACTIVE_START_S) & (tl < line_s - FRONT_PORCH_S)
    x = (tl[act] - ACTIVE_START_S) / (line_s - FRONT_PORCH_S - ACTIVE_START_S)
    bars = np.asarray(BARS_IRE)[np.clip((x * 8).astype(np.int64), 0, 7)]
    out[act] = bars
    return out


@dataclass
class FMVideoRenderer:
    """Stateful renderer of a continuous FM video carrier, called block after block in order."""
    standard: str
    sample_rate_hz: float
    deviation_pp_hz: float = DEFAULT_DEVIATION_PP_HZ
    _phase: float = 0.0
    _next_n: int | None = None

    def __post_init__(self):
        bw = STANDARDS[self.standard][7]
        cutoff = min(bw, 0.45 * self.sample_rate_hz)
        self._taps = signal.firwin(63, cutoff, fs=self.sample_rate_hz)

    def render(self, n0: int, n: int) -> np.ndarray:
        """Samples n0..n0+n of the emission (n0 counted from the emission start)."""
        pad = len(self._taps) // 2
        t = (np.arange(n0 - pad, n0 + n + pad) / self.sample_rate_hz)
        ire = composite_ire(t, self.standard)
        video = np.convolve(ire, self._taps, mode="valid")
        sync_ire = STANDARDS[self.standard][4]
        # map sync tip .. white onto -dev/2 .. +dev/2
        mid = (100.0 + sync_ire) / 2
        f = (video - mid) / (100.0 - sync_ire) * self.deviation_pp_hz
        ph = self._phase + np.cumsum(f) * (2 * np.pi / self.sample_rate_hz)
        self._phase = float(np.mod(ph[-1], 2 * np.pi)) if n else self._phase
        self._next_n = n0 + n
        return np.exp(1j * ph).astype(np.complex64)
