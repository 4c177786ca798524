"""Small synthetic signals for detector tests: noise plus band-limited bursts
at a known in-band SNR (burst power over noise power within the burst's band)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrueBurst:
    start: int
    length: int
    offset_hz: float      # centre, relative to the tuned frequency
    bandwidth_hz: float
    snr_db: float


def noise(n: int, rng: np.random.Generator, power: float = 1e-3) -> np.ndarray:
    scale = np.sqrt(power / 2)
    return (rng.standard_normal(n) * scale + 1j * rng.standard_normal(n) * scale).astype(np.complex64)


def band_limited(length: int, offset_hz: float, bandwidth_hz: float, fs: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise occupying exactly [offset - bw/2, offset + bw/2] (circularly)."""
    spec = np.zeros(length, np.complex128)
    freqs = np.fft.fftfreq(length, 1 / fs)
    band = np.abs(freqs - offset_hz) <= bandwidth_hz / 2
    spec[band] = rng.standard_normal(band.sum()) + 1j * rng.standard_normal(band.sum())
    x = np.fft.ifft(spec)
    return x / np.sqrt(np.mean(np.abs(x) ** 2))


def add_bursts(x: np.ndarray, bursts: list[TrueBurst], fs: float, rng: np.random.Generator,
               noise_power: float = 1e-3) -> np.ndarray:
    for b in bursts:
        in_band_noise = noise_power * b.bandwidth_hz / fs
        amp = np.sqrt(in_band_noise * 10 ** (b.snr_db / 10))
        x[b.start: b.start + b.length] += (amp * band_limited(b.length, b.offset_hz, b.bandwidth_hz, fs, rng)
                                           ).astype(np.complex64)
    return x


def scene(fs: float, n: int, bursts: list[TrueBurst], seed: int = 0, noise_power: float = 1e-3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return add_bursts(noise(n, rng, noise_power), bursts, fs, rng, noise_power)


def feed_blocks(stage, x: np.ndarray, center_freq_hz: float, sample_rate_hz: float, block: int = 1 << 16) -> list:
    """A detector stage (``feed``/``finish``) fed ``x`` (channels, n) block by block: every
    burst it returns."""
    from rfdetect.model import IQBlock
    out = []
    for i in range(0, x.shape[-1], block):
        out += stage.feed(IQBlock(x[..., i:i + block], i, center_freq_hz, sample_rate_hz))
    return out + stage.finish()


def pipeline_records(x: np.ndarray, sample_rate_hz: float, center_freq_hz: float, config=None) -> list[dict]:
    """The records of the whole pipeline (early reports on) over ``x`` (channels, n)."""
    from rfdetect.classify import Classifier
    from rfdetect.model import IQBlock, RecordingInfo
    from rfdetect.pipeline import Pipeline
    info = RecordingInfo("test", sample_rate_hz, center_freq_hz, num_channels=x.shape[0], num_samples=x.shape[1])
    recs: list[dict] = []
    p = Pipeline(info, recs.append, config=config, classifier=Classifier(early_reports=True))
    for i in range(0, x.shape[1], 1 << 16):
        p.feed(IQBlock(x[:, i:i + (1 << 16)], i, center_freq_hz, sample_rate_hz))
    p.finish()
    return recs
