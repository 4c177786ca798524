"""Small local signal generators for the classifier and evidence tests (seeded).

Kept independent of the scenario simulator on purpose: the classifier must not
be tuned to one generator.  No tests here.
"""
from __future__ import annotations

import numpy as np

from rfdetect.model import IQBlock, RecordingInfo


def lora(fs: float, sf: int, bw: float, n_symbols: int, rng, *, preamble: int = 8, down: bool = False) -> np.ndarray:
    """LoRa-like frame: preamble up-chirps then random cyclically shifted up-chirps."""
    m = 1 << sf
    ns = int(round(m / bw * fs))
    t = np.arange(ns) / fs
    out = []
    for k in range(preamble + n_symbols):
        v = 0 if k < preamble else int(rng.integers(0, m))
        f = bw * (np.mod(t * bw / m + v / m, 1.0) - 0.5)
        out.append(f)
    freq = np.concatenate(out)
    x = np.exp(2j * np.pi * np.cumsum(freq) / fs)
    return np.conj(x) if down else x


def gfsk(fs: float, symbol_rate: float, deviation: float, n_bits: int, rng, bt: float | None = 0.5,
         p_one: float = 0.5) -> np.ndarray:
    """2-FSK, Gaussian-shaped with ``bt`` (None: plain FSK); ``p_one``: share of ones."""
    sps = fs / symbol_rate
    bits = (rng.integers(0, 2, n_bits) if p_one == 0.5 else (rng.random(n_bits) < p_one).astype(int)) * 2 - 1
    n = int(n_bits * sps)
    m = bits[np.minimum((np.arange(n) / sps).astype(int), n_bits - 1)].astype(float)
    if bt:
        half = 2 * int(np.ceil(sps))
        tt = np.arange(-half, half + 1) / sps
        g = np.exp(-2 * np.pi ** 2 * bt ** 2 * tt ** 2 / np.log(2))
        m = np.convolve(m, g / g.sum(), "same")
    return np.exp(2j * np.pi * np.cumsum(deviation * m) / fs)


def ofdm(nfft: int, cp: int, n_used: int, n_symbols: int, rng) -> np.ndarray:
    """OFDM with QPSK on the centre ``n_used`` subcarriers, at the native rate (nfft per symbol)."""
    bins = np.mod(np.arange(n_used) - n_used // 2, nfft)
    parts = []
    for _ in range(n_symbols):
        X = np.zeros(nfft, complex)
        X[bins] = np.exp(1j * (np.pi / 4 + np.pi / 2 * rng.integers(0, 4, n_used)))
        x = np.fft.ifft(X)
        parts += [x[-cp:], x]
    y = np.concatenate(parts)
    return y / np.sqrt(np.mean(np.abs(y) ** 2))


def droneid_native(rng) -> np.ndarray:
    """A DroneID-like burst at 15.36 MS/s: 9 symbols, ZC roots 600 and 147 at symbols 3 and 5."""
    cps = (80, 72, 72, 72, 72, 72, 72, 72, 80)
    bins = np.mod(np.arange(601) - 300, 1024)
    parts = []
    for k, cp in enumerate(cps):
        X = np.zeros(1024, complex)
        if k in (3, 5):
            u = 600 if k == 3 else 147
            n = np.arange(601)
            z = np.exp(-1j * np.pi * u * n * (n + 1) / 601)
            z[300] = 0
            X[bins] = z
        else:
            X[bins] = np.exp(1j * (np.pi / 4 + np.pi / 2 * rng.integers(0, 4, 601)))
            X[0] = 0
        x = np.fft.ifft(X)
        parts += [x[-cp:], x]
    y = np.concatenate(parts)
    return y / np.sqrt(np.mean(np.abs(y) ** 2))


def fm_video(fs: float, line_rate: float, duration_s: float, rng, deviation: float = 3e6) -> np.ndarray:
    t = np.arange(int(fs * duration_s)) / fs
    phase = (t * line_rate) % 1.0
    luma = 0.3 + 0.6 * (0.5 + 0.5 * np.sin(2 * np.pi * (3 * phase + rng.uniform())))
    video = np.where(phase < 4.7e-6 * line_rate, -0.3, luma)
    return np.exp(2j * np.pi * np.cumsum(deviation * video) / fs)


def noise(n: int, rng, power: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(power / 2)


def add_noise(x: np.ndarray, snr_db: float, fs: float, bw: float, rng) -> np.ndarray:
    """Unit-power signal plus white noise at ``snr_db`` in the signal's bandwidth ``bw``."""
    x = x / np.sqrt(np.mean(np.abs(x) ** 2))
    return x + noise(x.size, rng, 10 ** (-snr_db / 10) * fs / bw)


class Scene:
    """A baseband recording built by placing bursts on a noise floor (noise power 1 per fs)."""

    def __init__(self, fs: float, center_freq_hz: float, duration_s: float, rng):
        self.fs, self.fc, self.rng = fs, center_freq_hz, rng
        self.x = noise(int(fs * duration_s), rng).astype(np.complex64)

    def place(self, burst: np.ndarray, t_s: float, freq_hz: float, snr_db: float, bw_hz: float) -> None:
        a = int(t_s * self.fs)
        b = min(self.x.size, a + burst.size)
        if b <= a:
            return
        y = burst[: b - a] / np.sqrt(np.mean(np.abs(burst) ** 2))
        amp = np.sqrt(10 ** (snr_db / 10) * bw_hz / self.fs)
        n = np.arange(a, b)
        self.x[a:b] += (amp * y * np.exp(2j * np.pi * (freq_hz - self.fc) / self.fs * n)).astype(np.complex64)

    def info(self) -> RecordingInfo:
        return RecordingInfo(path="synthetic", sample_rate_hz=self.fs, center_freq_hz=self.fc, num_samples=self.x.size)

    def blocks(self, block: int = 1 << 16):
        for i in range(0, self.x.size, block):
            yield IQBlock(self.x[None, i:i + block], i, self.fc, self.fs)


def run_pipeline(scene: Scene, config=None, **classifier_kw) -> list[dict]:
    """``config``: the detector's (a DetectorConfig; None: the default)."""
    from rfdetect.classify import Classifier
    from rfdetect.pipeline import Pipeline
    recs: list[dict] = []
    p = Pipeline(scene.info(), recs.append, config=config, classifier=Classifier(**classifier_kw))
    for blk in scene.blocks():
        p.feed(blk)
    p.finish()
    return recs
