"""Windowed power spectrogram kernels.

Frame ``t`` of a stream covers samples ``[t*hop, t*hop + nfft)``; its power is
written fft-shifted (bin 0 = -fs/2) as linear float32, scaled so that a
full-scale complex tone centred on a bin reads 1.0.  Two FFT back-ends share the
window and power kernels: FFTW through pyFFTW (measured fastest here, see
bench/README.md) and rocket-fft, which makes ``np.fft`` callable inside Numba.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .. import imports
from .convert import cu8_value

rocket_fft = imports.rocket_fft()     # registers np.fft with Numba


@njit(cache=True, nogil=True)
def window_frames(xf, window2, hop, first_sample, n_frames, buff):
    """buff[i] = x[first_sample + i*hop : +nfft] * window, on flat I, Q values.

    ``xf``: the complex64 samples viewed as interleaved float32, or RTL-SDR bytes
    (uint8), windowed as ``cu8_to_complex64`` would convert them (``cu8_value``), so
    the frames are those of the converted samples, without writing those.  ``buff``
    the complex64 output viewed as float32, ``window2`` the window with each value
    repeated for I and Q: with plain row slices the loop vectorises (about 4x faster
    than complex indexing).
    """
    m = window2.size
    for i in range(n_frames):
        s = 2 * (first_sample + i * hop)
        src = xf[s:s + m]
        dst = buff[i]
        for k in range(m):
            dst[k] = cu8_value(src[k]) * window2[k]


@njit(cache=True, nogil=True)
def shifted_power(spectraf, n_frames, scale, out, out_row0):
    """out[out_row0+i] = fftshift(|spectra[i]|^2) * scale, for i < n_frames
    (``spectraf``: the complex64 spectra viewed as interleaved float32)."""
    half = spectraf.shape[1] // 4
    for i in range(n_frames):
        src = spectraf[i]
        dst = out[out_row0 + i]
        lo = src[: 2 * half]
        hi = src[2 * half:]
        for k in range(half):
            dst[k + half] = (lo[2 * k] * lo[2 * k] + lo[2 * k + 1] * lo[2 * k + 1]) * scale
        for k in range(half):
            dst[k] = (hi[2 * k] * hi[2 * k] + hi[2 * k + 1] * hi[2 * k + 1]) * scale


@njit(cache=True, nogil=True)
def spectrogram_rocket(x, window, hop, out, batch_frames):
    """Spectrogram with the FFT inside Numba (rocket-fft); fills ``out`` (frames, nfft)."""
    nfft = window.size
    n_frames = out.shape[0]
    buf = np.empty((batch_frames, nfft), np.complex64)
    buff = buf.view(np.float32)
    xf = x.view(np.float32)
    window2 = np.repeat(window, 2)
    s = window.astype(np.float64).sum()
    scale = np.float32(1.0 / (s * s))
    for f0 in range(0, n_frames, batch_frames):
        nb = min(batch_frames, n_frames - f0)
        window_frames(xf, window2, hop, f0 * hop, nb, buff)
        spectra = np.fft.fft(buf[:nb])
        shifted_power(spectra.view(np.float32), nb, scale, out, f0)


def frame_count(n_samples: int, nfft: int, hop: int) -> int:
    return 0 if n_samples < nfft else (n_samples - nfft) // hop + 1
