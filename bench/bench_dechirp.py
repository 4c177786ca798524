"""Speed of the chirp detector (``--dechirp``) alone, beside the core's spectrogram.

    .venv/bin/python bench/bench_dechirp.py [--seconds 2] [--repeats 3] [--links drone|all]

Input: noise, and a simulated ExpressLRS 900 LoRa trial at -10 dB in-band SNR, at 2.4 MS/s
around 868 MHz.  Per run: MS/s of the chirp stage (search, confirmations, packet extents)
and of the energy detector's framer (the spectrogram), interleaved, best of ``--repeats``;
and the hypotheses searched.  Timings on a shared machine are noisy: compare the ratio.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.detect.chirp import chirp_detector_for  # noqa: E402
from rfdetect.detect.detector import Framer  # noqa: E402
from rfdetect.detect.config import auto_fft_size  # noqa: E402
from rfdetect.model import IQBlock  # noqa: E402

FS, FC = 2.4e6, 868e6
BLOCK = 1 << 16


def _blocks(x):
    return [IQBlock(x[:, i:i + BLOCK], i, FC, FS) for i in range(0, x.shape[1], BLOCK)]


def time_chirp(x, config) -> tuple[float, int]:
    det = chirp_detector_for(config, FS, FC)
    t0 = time.perf_counter()
    n = 0
    for b in _blocks(x):
        n += len(det.feed(b))
    n += len(det.finish())
    return time.perf_counter() - t0, n


def time_spectrogram(x, config) -> float:
    nfft = auto_fft_size(FS)
    framer = Framer(nfft, nfft // 2, config, FC)
    t0 = time.perf_counter()
    for b in _blocks(x):
        framer.frame(b)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--links", choices=["drone", "all"], default="drone")
    args = ap.parse_args(argv)
    from rfdetect.simulate import generate
    config = DetectorConfig(dechirp=True, dechirp_links=args.links)
    rng = np.random.default_rng(1)
    n = int(args.seconds * FS)
    noise = ((rng.normal(size=n) + 1j * rng.normal(size=n)) * 0.01).astype(np.complex64)[None, :]
    scn = {"scenario": {"duration_s": args.seconds, "seed": 1000}, "receiver": {"sample_rate": FS, "center_freq": FC},
           "emitter": [{"id": "e", "link": "expresslrs-lora", "mode": "200", "domain": "EU868", "snr_db": -10.0}]}
    elrs, _ = generate(scn, seed=1000)
    det = chirp_detector_for(config, FS, FC)
    print(f"hypotheses (BW kHz, SF): {[(h.bw_hz / 1e3, h.sf) for h in det.hypotheses]}")
    time_chirp(noise[:, :BLOCK * 4], config)          # compile / load the kernels
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name, x in (("noise", noise), ("ExpressLRS -10 dB", elrs)):
        chirp, spec, found = [], [], 0
        for _ in range(args.repeats):
            t, found = time_chirp(x, config)
            chirp.append(t)
            spec.append(time_spectrogram(x, config))
        c, s = x.shape[1] / min(chirp) / 1e6, x.shape[1] / min(spec) / 1e6
        print(f"{name:18s} chirp stage {c:6.1f} MS/s ({c / 2.4:4.1f}x real time at 2.4 MS/s), "
              f"spectrogram {s:6.1f} MS/s, ratio {s / c:4.1f}; chirp bursts {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
