"""Waterfall pictures with the bursts and detections found drawn on them."""
from __future__ import annotations

import numpy as np

from .detect import DetectorConfig
from .detect.config import auto_fft_size
from .detect.spectrogram import Spectrogram
from .pipeline import analyze_source
from .sources.base import Source

MAX_ROWS = 1500


def waterfall(source: Source, nfft: int, max_rows: int = MAX_ROWS) -> tuple[np.ndarray, float]:
    """Mean power per row (dB), rows of equal duration; returns (image, row_s)."""
    info = source.info
    sp = Spectrogram(nfft, nfft // 2)
    total = info.num_samples or 0
    frames_total = max(sp.n_frames(total), 1)
    per_row = max(1, -(-frames_total // max_rows))
    rows, acc, count, tail = [], np.zeros(nfft), 0, np.zeros(0, np.complex64)
    for block in source.blocks(1 << 20):
        x = np.concatenate((tail, block.samples[0]))
        p = sp.compute(x)
        tail = x[p.shape[0] * sp.hop:]
        for frame in p:
            acc += frame
            count += 1
            if count == per_row:
                rows.append(acc / count)
                acc, count = np.zeros(nfft), 0
    if count:
        rows.append(acc / count)
    image = 10 * np.log10(np.maximum(np.array(rows), 1e-20))
    return image, per_row * sp.hop / info.sample_rate_hz


def plot_recording(open_fn, out_path: str, config: DetectorConfig | None = None, title: str | None = None) -> dict:
    """Draw ``open_fn()``'s recording (opened twice: once to detect, once to draw)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    records: list[dict] = []
    with open_fn() as source:
        summary = analyze_source(source, records.append, config=config, all_bursts=True)
    with open_fn() as source:
        info = source.info
        nfft = (config.fft_size if config and config.fft_size else auto_fft_size(info.sample_rate_hz))
        image, row_s = waterfall(source, nfft)
    f0 = (info.center_freq_hz - info.sample_rate_hz / 2) / 1e6
    f1 = (info.center_freq_hz + info.sample_rate_hz / 2) / 1e6
    duration_s = image.shape[0] * row_s
    fig, ax = plt.subplots(figsize=(10, 7), dpi=110)
    lo, hi = np.percentile(image, [5, 99.9])
    im = ax.imshow(image, aspect="auto", origin="upper", extent=(f0, f1, duration_s, 0), cmap="viridis",
                   vmin=lo, vmax=hi, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="power (dB full scale per bin)")
    for r in records:
        if r["type"] == "burst":
            ax.add_patch(Rectangle((r["f_lo_hz"] / 1e6, r["t_start_s"]), (r["f_hi_hz"] - r["f_lo_hz"]) / 1e6,
                                   r["t_end_s"] - r["t_start_s"], fill=False, edgecolor="white", linewidth=1.0))
    for r in records:
        if r["type"] == "detection":
            colour = {True: "red", False: "deepskyblue", None: "orange"}[r["drone"]]
            x = min(max(r["center_freq_hz"] / 1e6, f0), f1)
            ax.annotate(f"{r['link']} ({r['confidence']:.2f})", xy=(x, r["t_start_s"]),
                        ha="right" if x > f0 + 0.7 * (f1 - f0) else "left",
                        color=colour, fontsize=8, weight="bold",
                        bbox=dict(boxstyle="round,pad=0.2", fc="black", alpha=0.6, ec=colour))
    ax.set_xlabel("frequency (MHz)")
    ax.set_ylabel("time (s)")
    ax.set_title(title or info.path)
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return summary
