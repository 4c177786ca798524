"""Speed of the chirp detector (``--dechirp``) alone, beside the core's spectrogram.

    .venv/bin/python bench/bench_dechirp.py [--seconds 2] [--repeats 3] [--links drone|all]
        [--band 868|2g4] [--baseline DIR]

Input: noise, and a simulated ExpressLRS LoRa trial at -10 dB in-band SNR: ExpressLRS 900
(200 Hz) at 2.4 MS/s around 868 MHz, or with ``--band 2g4`` ExpressLRS 2.4 (500 Hz) at
20 MS/s around 2440 MHz.  Per input: MS/s of the chirp stage (search, confirmations,
packet extents) and of the energy detector's framer (the spectrogram), run in turn, best
of ``--repeats`` in process time; and the hypotheses searched.  ``--baseline DIR`` also
times the chirp stage of another copy of the package (DIR/rfdetect, e.g. made with
``git archive REV rfdetect | tar -x -C DIR``), in turn with the others: compare ratios
measured in one run, the machine's load changes between runs.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.detect.chirp import chirp_detector_for  # noqa: E402
from rfdetect.detect.config import auto_fft_size  # noqa: E402
from rfdetect.detect.detector import Framer  # noqa: E402
from rfdetect.model import IQBlock  # noqa: E402

BLOCK = 1 << 16
# band -> (sample rate, centre frequency, the ExpressLRS LoRa emitter of the signal input)
BANDS = {"868": (2.4e6, 868e6, {"link": "expresslrs-lora", "mode": "200", "domain": "EU868"}),
         "2g4": (20e6, 2440e6, {"link": "expresslrs-2g4-lora", "mode": "500", "domain": "ISM2G4"})}


def load_baseline(directory: str):
    """``chirp_detector_for`` of the package copy DIR/rfdetect, imported as ``rfdetect_base``."""
    root = Path(directory) / "rfdetect"
    if not (root / "__init__.py").is_file():
        raise SystemExit(f"--baseline {directory}: no rfdetect/__init__.py there")
    spec = importlib.util.spec_from_file_location("rfdetect_base", root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["rfdetect_base"] = module
    spec.loader.exec_module(module)
    from importlib import import_module
    return import_module("rfdetect_base.detect.chirp").chirp_detector_for


def _blocks(x, fs, fc):
    return [IQBlock(x[:, i:i + BLOCK], i, fc, fs) for i in range(0, x.shape[1], BLOCK)]


def time_chirp(make, x, config, fs, fc) -> tuple[float, object, int]:
    det = make(config, fs, fc)
    blocks = _blocks(x, fs, fc)
    t0 = time.process_time()
    n = 0
    for b in blocks:
        n += len(det.feed(b))
    n += len(det.finish())
    return time.process_time() - t0, det, n


def time_spectrogram(x, config, fs, fc) -> float:
    nfft = auto_fft_size(fs)
    framer = Framer(nfft, nfft // 2, config, fc)
    blocks = _blocks(x, fs, fc)
    t0 = time.process_time()
    for b in blocks:
        framer.frame(b)
    return time.process_time() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--links", choices=["drone", "all"], default="drone")
    ap.add_argument("--band", choices=sorted(BANDS), default="868")
    ap.add_argument("--baseline", metavar="DIR", help="also time the chirp stage of DIR/rfdetect")
    args = ap.parse_args(argv)
    from rfdetect.simulate import generate
    fs, fc, emitter = BANDS[args.band]
    config = DetectorConfig(dechirp=True, dechirp_links=args.links)
    stages = {"chirp stage": chirp_detector_for}
    if args.baseline:
        stages["baseline"] = load_baseline(args.baseline)
    rng = np.random.default_rng(1)
    n = int(args.seconds * fs)
    noise = ((rng.normal(size=n) + 1j * rng.normal(size=n)) * 0.01).astype(np.complex64)[None, :]
    scn = {"scenario": {"duration_s": args.seconds, "seed": 1000}, "receiver": {"sample_rate": fs, "center_freq": fc},
           "emitter": [dict(emitter, id="e", snr_db=-10.0)]}
    signal, _ = generate(scn, seed=1000)
    det = chirp_detector_for(config, fs, fc)
    print(f"{fs / 1e6:g} MS/s at {fc / 1e6:g} MHz; hypotheses (BW kHz, SF): "
          f"{[(h.bw_hz / 1e3, h.sf) for h in det.hypotheses]}")
    for make in stages.values():          # compile / load the kernels
        time_chirp(make, noise[:, :BLOCK * 4], config, fs, fc)
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name, x in (("noise", noise), (f"{emitter['link']} -10 dB", signal)):
        times = {k: [] for k in stages}
        spec = []
        for _ in range(args.repeats):
            for stage, make in stages.items():
                t, det, found = time_chirp(make, x, config, fs, fc)
                times[stage].append((t, det, found))
            spec.append(time_spectrogram(x, config, fs, fc))
        s = x.shape[1] / min(spec) / 1e6
        print(f"{name}: spectrogram {s:6.1f} MS/s")
        for stage, runs in times.items():
            t, det, found = min(runs, key=lambda r: r[0])
            c = x.shape[1] / t / 1e6
            print(f"  {stage:12s} {c:6.1f} MS/s ({c * 1e6 / fs:5.2f}x real time), spectrogram / it "
                  f"{s / c:5.1f}; candidates {det.candidates}, confirmed {det.confirmed}, packets {found}")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
