"""How far the floor beside a burst stood raised while the burst was on.

A weak Wi-Fi frame (a few dB in band), or a wideband video's fluctuation, reaches the
burst detector as slices 0.2-2 MHz wide wherever the frame pokes above the threshold: the
size of a 2.4 GHz control-link packet.  What gives such a slice away, whatever the wider
emission is, is the rest of it: over the slice's time the bins beside it stand above
their noise floor too, by a fraction of the slice's own excess.  A control-link packet
leaves its neighbours at their floor; a strong one spills into them through its spectral
skirts, but stands far above them.

Each bin's power over the burst is taken relative to the detector's own floor for that
bin (``FloorSnapshot``), so an always-on emitter beside the burst (a video downlink, in
the floor) does not count as raised.  That ratio is then taken relative to its low
quantile over the window at the same time, which removes what the floor's estimate leaves
(it excludes the cells above the threshold, so it sits a little under the noise's mean).
"""
from __future__ import annotations

import math

import numpy as np

from ..model import FloorSnapshot

# The neighbours: bins within this distance of the burst's edges, on both sides, from
# GAP_BINS beyond them (the edges are where the burst's power crossed the threshold).
BESIDE_WIDTH_HZ = 3e6
GAP_BINS = 2
# Bins at the window's edges (a receiver's filter rolls off there) are no neighbours, and
# the reference quantile is taken over the central part of the window.
EDGE_SHARE = 1 / 32
REFERENCE_SHARE = 0.8
REFERENCE_QUANTILE = 0.2
REFERENCE_Z = -0.8416212335729143      # the standard normal's 0.2 quantile
# The mean ratio of m neighbour bins over n frames of a Hann window has a variance of
# about VARIANCE_FACTOR / (n m) in noise: adjacent bins share power, and the reference is
# estimated too.  Measured on the bench's 2.4 GHz links' packets (1939 bursts at 0-10 dB
# in-band, 20 MS/s): with 2.4 the statistic's mean is -0.08 and its standard deviation 1.00.
VARIANCE_FACTOR = 2.4


def gamma_mean_quantile(z: float, n: int) -> float:
    """The quantile at standard-normal score ``z`` of the mean of n unit exponentials (a
    noise bin's power averaged over n frames, relative to its mean): Wilson-Hilferty."""
    c = 1.0 / (9.0 * n)
    return max(1.0 - c + z * math.sqrt(c), 1e-3) ** 3


def floor_beside(samples: np.ndarray, sample_rate_hz: float, f_lo_offset_hz: float, f_hi_offset_hz: float,
                 floor: FloorSnapshot) -> dict | None:
    """For ``samples`` spanning a burst between ``f_lo_offset_hz`` and ``f_hi_offset_hz``
    (from the window's centre): ``beside_sigma``, how far the bins beside it stood above
    their floor, in units of that measure's noise (about N(0, 1) for a burst in noise),
    and ``beside_contrast_db``, how far the burst stood above them.  None when the
    samples hold fewer than two frames, or no neighbour lies inside the window."""
    nfft = floor.power.shape[0]
    n = samples.shape[0] // nfft
    if n < 2:
        return None
    frames = samples[:n * nfft].reshape(n, nfft) * floor.window
    spectra = np.fft.fft(frames, axis=1)
    power = np.fft.fftshift((spectra.real ** 2 + spectra.imag ** 2).mean(axis=0)) * floor.scale
    ratio = power / np.maximum(floor.power, np.finfo(np.float32).tiny)
    df = sample_rate_hz / nfft
    f = (np.arange(nfft) - nfft // 2) * df
    inside = (f >= f_lo_offset_hz) & (f <= f_hi_offset_hz)
    beside = (((f >= f_lo_offset_hz - BESIDE_WIDTH_HZ) & (f < f_lo_offset_hz - GAP_BINS * df))
              | ((f > f_hi_offset_hz + GAP_BINS * df) & (f <= f_hi_offset_hz + BESIDE_WIDTH_HZ)))
    edge = max(2, int(nfft * EDGE_SHARE))
    beside[:edge] = False
    beside[nfft - edge:] = False
    m = int(beside.sum())
    if m == 0 or not inside.any():
        return None
    cut = int(nfft * (1 - REFERENCE_SHARE) / 2)
    reference = np.quantile(ratio[cut: nfft - cut], REFERENCE_QUANTILE) / gamma_mean_quantile(REFERENCE_Z, n)
    level = float(ratio[beside].mean())
    excess = level / float(reference) - 1.0
    return {"beside_sigma": round(excess * math.sqrt(n * m / VARIANCE_FACTOR), 1),
            "beside_contrast_db": round(10.0 * math.log10(max(float(ratio[inside].mean()), 1e-30) / level), 1)}
