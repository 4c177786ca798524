"""Emitters that are always on, found in the noise floor where the burst test cannot see them.

The burst detector compares every cell with a per-bin floor that learns what is
there from the stream's first 20 ms, and follows a lasting rise at 1 dB/s: a
video transmitter already on when the stream starts becomes part of that floor,
and none of its cells ever stands above it.  What stays visible is the floor
itself.  Across the band it is flat where there is only noise (a front end's
roll-off bends it gently towards the edges), and it stands raised, with steep
sides, where a continuous emitter sits.  ``raised_spans`` finds such spans; the
detector looks every ``DetectorConfig.steady_check_s`` and reports each span as
a burst marked ``steady`` (see detector.py).  Where an OFDM video link's band is in
the window, spans a fraction of a dB high are reported too, marked ``faint``: at
-12 dB in-band SNR such a link raises the floor by 0.2 dB, and its prefix
correlation, summed over its faint bursts, names it (classify/prefix.py).

Called a few times a second on one floor vector: NumPy, not a kernel.
"""
from __future__ import annotations

import functools

import numpy as np

# The band's noise level: this quantile of the floor over its central bins (most
# bins hold noise alone; a span wider than that cannot be told from noise).
NOISE_QUANTILE = 0.25
# Bins at each edge left out of the noise level (a front end's roll-off).
EDGE_FRACTION = 0.05


@functools.lru_cache(maxsize=64)
def faint_spans_wanted(sample_rate_hz: float, center_freq_hz: float) -> bool:
    """Whether a faint span could be a link here: an always-on link confirmed by its OFDM
    prefix (the one kernel that sums a faint span's bursts, classify/prefix.py) has a band
    in the receiver's window."""
    from ..signatures import load_all
    lo, hi = center_freq_hz - sample_rate_hz / 2, center_freq_hz + sample_rate_hz / 2
    return any(sig.continuous and sig.kernel == "ofdm_cp" and any(b.lo_hz <= hi and b.hi_hz >= lo for b in sig.bands)
               for sig in load_all())


def raised_spans(floor: np.ndarray, *, threshold_db: float, min_bins: int,
                 shoulder_bins: int) -> list[tuple[int, int, float]]:
    """Spans of ``floor`` (power per bin, linear) standing on average at least
    ``threshold_db`` above the band's noise level and above the ``shoulder_bins`` on each
    side of them, at least ``min_bins`` wide: ``(first bin, last bin, span mean / noise
    level)`` each."""
    n = floor.shape[0]
    edge = int(n * EDGE_FRACTION)
    centre = floor[edge: n - edge] if n - 2 * edge >= 8 else floor
    noise = float(np.quantile(centre, NOISE_QUANTILE))
    if not noise > 0:
        return []
    ratio = 10 ** (threshold_db / 10)
    # A span is outlined at half the threshold (in dB), over bins averaged across an eighth
    # of the narrowest span, bridging dips up to a quarter of it: an FM video spectrum at
    # 0 dB stands 3-4 dB high at its sync and luminance levels and near the noise between.
    width = max(1, min_bins // 8)
    padded = np.pad(floor, (width // 2, width - 1 - width // 2), mode="edge")
    smoothed = np.convolve(padded, np.full(width, 1.0 / width), mode="valid")
    spans = []
    outline = np.sqrt(ratio) * noise
    for lo, hi in _runs(smoothed > outline, max(1, min_bins // 4)):
        # The edges are those of the bins themselves (the average smears them).
        inside = np.flatnonzero(floor[lo: hi + 1] > outline)
        if inside.size == 0:
            continue
        lo, hi = lo + int(inside[0]), lo + int(inside[-1])
        if hi - lo + 1 < min_bins:
            continue
        level = float(floor[lo: hi + 1].mean())
        # Both sides must fall away steeply; a side at the band's edge cannot be seen.
        sides = [floor[max(0, lo - shoulder_bins): lo], floor[hi + 1: hi + 1 + shoulder_bins]]
        sides = [x for x in sides if x.shape[0] >= max(1, shoulder_bins // 2)]
        if level < ratio * noise or not sides or any(level < ratio * float(x.mean()) for x in sides):
            continue
        spans.append((lo, hi, level / noise))
    return spans


def _runs(mask: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """(first, last) index of each run of True, bridging up to ``max_gap`` False between."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return list(zip(starts.tolist(), ends.tolist()))
