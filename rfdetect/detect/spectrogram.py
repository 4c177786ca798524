"""Spectrogram front-end: picks the FFT back-end and owns its buffers and plans."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .. import imports
from ..errors import ParameterError
from ..kernels.spectrogram import frame_count, shifted_power, spectrogram_rocket, window_frames

BACKENDS = ("fftw", "rocket")


def make_window(name: str, nfft: int) -> np.ndarray:
    """Periodic (DFT-even) window; Hann is built here because importing
    scipy.signal costs about a second of start-up."""
    if name == "hann":
        n = np.arange(nfft)
        return (0.5 - 0.5 * np.cos(2 * np.pi * n / nfft)).astype(np.float32)
    import scipy.signal
    try:
        return scipy.signal.get_window(name, nfft, fftbins=True).astype(np.float32)
    except ValueError as exc:
        raise ParameterError(str(exc), param="window", value=name) from None


class Spectrogram:
    """Computes power frames of a complex64 array, ``batch_frames`` frames at a time.

    One instance per thread: FFTW plans and buffers are not shared.
    """

    def __init__(self, nfft: int, hop: int, window: str = "hann", backend: str = "fftw",
                 batch_frames: int = 256):
        if backend not in BACKENDS:
            raise ParameterError(f"unknown FFT back-end (choose {', '.join(BACKENDS)})",
                                 param="fft_backend", value=backend)
        self.nfft, self.hop, self.batch_frames = nfft, hop, batch_frames
        self.window = make_window(window, nfft)
        self._window2 = np.repeat(self.window, 2)
        s = float(self.window.astype(np.float64).sum())
        self.scale = np.float32(1.0 / (s * s))
        self.backend = backend
        self._batch: np.ndarray | None = None      # ``batches``' own output, made on first use
        if backend == "fftw":
            pyfftw = imports.pyfftw()
            if pyfftw is None:
                self.backend = "rocket"
            else:
                self._in = pyfftw.empty_aligned((batch_frames, nfft), np.complex64)
                self._out = pyfftw.empty_aligned((batch_frames, nfft), np.complex64)
                # FFTW_ESTIMATE, not MEASURE: a measured plan depends on timing, and
                # plans that differ round differently, so reprocessing a recording
                # would not give the same records every time (ESTIMATE costs 5-10 %).
                self._fft = pyfftw.FFTW(self._in, self._out, axes=(1,), flags=("FFTW_ESTIMATE",),
                                        threads=1)

    def n_frames(self, n_samples: int) -> int:
        return frame_count(n_samples, self.nfft, self.hop)

    def compute(self, x: np.ndarray, out: np.ndarray | None = None,
                head: np.ndarray | None = None) -> np.ndarray:
        """Power frames of ``x`` (complex64 (n,), or with FFTW RTL-SDR bytes, uint8 (n, 2)):
        shape (frames, nfft), float32.

        ``head``: samples that come before ``x`` (what the previous block left
        over): frames are cut from ``head`` followed by ``x`` without copying
        ``x`` behind it; only the few frames that straddle the two are assembled.
        """
        if out is None:
            out = np.empty((self.n_frames(self._head(x, head).shape[0] + x.shape[0]), self.nfft), np.float32)
        for _ in self.batches(x, head, out):
            pass
        return out

    @staticmethod
    def _head(x: np.ndarray, head: np.ndarray | None) -> np.ndarray:
        return x[:0] if head is None or head.shape[0] == 0 else head

    def batches(self, x: np.ndarray, head: np.ndarray | None = None,
                out: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """The frames of ``compute``, up to ``batch_frames`` at a time, each batch
        computed when asked for: a consumer that takes each batch at once reads
        it from the cache.  Into ``out`` (all frames) if given, else into a buffer
        of this instance that the next batch overwrites."""
        if self.backend == "rocket":
            head = self._head(x, head)
            n = self.n_frames(head.shape[0] + x.shape[0])
            if n == 0:
                return
            if out is None:
                out = np.empty((n, self.nfft), np.float32)
            spectrogram_rocket(np.concatenate([head, x]) if head.size else x, self.window, self.hop,
                               out, self.batch_frames)
            for f0 in range(0, n, self.batch_frames):
                yield out[f0: f0 + self.batch_frames]
            return
        if out is None and self._batch is None:
            self._batch = np.empty((self.batch_frames, self.nfft), np.float32)
        f0 = 0
        for fft, nb in self.windowed(x, head):
            fft.execute()
            yield self.power_into(fft, nb, self._batch if out is None else out[f0:])
            f0 += nb

    def spectra(self, x: np.ndarray, head: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """The frames' spectra before power (FFTW only), up to ``batch_frames`` at a time:
        (frames, 2*nfft) float32, complex64 viewed as interleaved float32, in FFT order.
        Each batch is the output buffer of this instance's plan, valid until the next."""
        for fft, nb in self.windowed(x, head):
            fft.execute()
            yield fft.output_array.view(np.float32)[:nb]

    def windowed(self, x: np.ndarray, head: np.ndarray | None = None,
                 plans: Iterator | None = None) -> Iterator[tuple[object, int]]:
        """The frames of ``x`` windowed, up to ``batch_frames`` at a time, into the input
        of an FFT plan not run yet: (plan, frames).  The plan is this instance's own, or
        the next of ``plans`` (``more_plans``); a plan that shares this instance's input
        must run before the next batch is windowed."""
        head = self._head(x, head)
        n = self.n_frames(head.shape[0] + x.shape[0])
        if n == 0:
            return
        hop = self.hop
        n_joint = min(n, -(-head.shape[0] // hop))      # frames that start in ``head``
        # Either kind of samples, flat, two values a sample: bytes, or float32 of complex64.
        def flat(v: np.ndarray) -> np.ndarray:
            return v.reshape(-1) if v.dtype == np.uint8 else v.view(np.float32)
        joint = flat(np.concatenate([head, x[: self.nfft]])) if n_joint else None
        xf = flat(x)
        for f0 in range(0, n, self.batch_frames):
            nb = min(self.batch_frames, n - f0)
            nj = max(0, min(n_joint - f0, nb))
            fft = self._fft if plans is None else next(plans)
            inf = fft.input_array.view(np.float32)
            if nj:
                window_frames(joint, self._window2, hop, f0 * hop, nj, inf)
            if nb > nj:
                window_frames(xf, self._window2, hop, (f0 + nj) * hop - head.shape[0], nb - nj, inf[nj:])
            yield fft, nb

    def power_into(self, fft, n_frames: int, out: np.ndarray) -> np.ndarray:
        """``out[:n_frames]``: the power frames of the first ``n_frames`` outputs of ``fft``,
        a plan that has run."""
        shifted_power(fft.output_array.view(np.float32), n_frames, self.scale, out, 0)
        return out[:n_frames]

    def more_plans(self, count: int, own_input: bool = False) -> list:
        """``count`` more FFT plans (for ``windowed``), each into an output buffer of its
        own, from this instance's input buffer or (``own_input``) from one of its own:
        the same transform (FFTW_ESTIMATE plans of the same sizes and alignment), so
        the same values, to the bit."""
        pyfftw = imports.pyfftw()
        return [pyfftw.FFTW(pyfftw.empty_aligned(self._in.shape, np.complex64) if own_input else self._in,
                            pyfftw.empty_aligned(self._in.shape, np.complex64), axes=(1,),
                            flags=("FFTW_ESTIMATE",), threads=1) for _ in range(count)]

    def power_of(self, spectra: np.ndarray) -> np.ndarray:
        """Power frames of a batch of ``spectra``, in a new array: ``shifted_power``'s
        float32 operations in its order, in NumPy (used only while the floor starts,
        where one compiled kernel fewer to load saves more than it would)."""
        z = spectra.view(np.complex64)
        return np.fft.fftshift((z.real * z.real + z.imag * z.imag) * self.scale, axes=1)
