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

try:  # rocket-fft registers np.fft with Numba on import
    import rocket_fft  # noqa: F401
except ImportError:  # pragma: no cover - a core dependency
    rocket_fft = None


@njit(cache=True, nogil=True)
def window_frames(x, window, hop, first_frame, n_frames, buf):
    """buf[i] = x[(first_frame+i)*hop : +nfft] * window, for i < n_frames."""
    nfft = window.size
    for i in range(n_frames):
        s = (first_frame + i) * hop
        for k in range(nfft):
            buf[i, k] = x[s + k] * window[k]


@njit(cache=True, nogil=True)
def shifted_power(spectra, n_frames, scale, out, out_row0):
    """out[out_row0+i] = fftshift(|spectra[i]|^2) * scale, for i < n_frames."""
    nfft = spectra.shape[1]
    half = nfft // 2
    for i in range(n_frames):
        row = out_row0 + i
        for k in range(half):
            v = spectra[i, k]
            out[row, k + half] = (v.real * v.real + v.imag * v.imag) * scale
            v = spectra[i, k + half]
            out[row, k] = (v.real * v.real + v.imag * v.imag) * scale


@njit(cache=True, nogil=True)
def spectrogram_rocket(x, window, hop, out, batch_frames):
    """Spectrogram with the FFT inside Numba (rocket-fft); fills ``out`` (frames, nfft)."""
    nfft = window.size
    n_frames = out.shape[0]
    buf = np.empty((batch_frames, nfft), np.complex64)
    s = window.astype(np.float64).sum()
    scale = np.float32(1.0 / (s * s))
    for f0 in range(0, n_frames, batch_frames):
        nb = min(batch_frames, n_frames - f0)
        window_frames(x, window, hop, f0, nb, buf)
        spectra = np.fft.fft(buf[:nb])
        shifted_power(spectra, nb, scale, out, f0)


def frame_count(n_samples: int, nfft: int, hop: int) -> int:
    return 0 if n_samples < nfft else (n_samples - nfft) // hop + 1
