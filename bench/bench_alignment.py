"""Sample alignment and coherence of a live coherent array (rfdetect.bearing.coherence).

Simulated 5-element UCA at 868 MHz, 2.4 MS/s: bursts from two emitters at different
bearings (and different hop channels), white noise per channel.  Each channel starts at
a random integer lag (up to half the 0.1 s searched) plus a random fractional delay.
Prints, per per-burst in-band SNR:
  1. how often every integer lag is exact, and the RMS error of the fractional residual;
  2. the time one alignment takes (one window per channel, 2^20 samples each);
and, at 10 dB, the coherence measure against a channel's own oscillator offset.

    .venv/bin/python bench/bench_alignment.py [--trials N] [--seed S]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_bearing_signals import C, Emitter, synth  # noqa: E402

from rfdetect.bearing import uca  # noqa: E402
from rfdetect.bearing.coherence import estimate_alignment  # noqa: E402

FS, FC = 2.4e6, 868e6
MAX_LAG = int(0.1 * FS)                 # the source searches 0.25 s with a 2^21 window at this rate
WINDOW = 1 << 20


def scene(rng, snr_db, n):
    arr = uca(5, 0.35 * C / FC)
    ems = [Emitter(60.0, -400e3, 200e3, 0.004 + 0.01 * k, 4e-3, snr_db) for k in range(int(n / FS / 0.01) - 1)]
    ems += [Emitter(200.0, 500e3, 125e3, 0.007 + 0.023 * k, 6e-3, snr_db) for k in range(int(n / FS / 0.023) - 1)]
    x, _ = synth(arr.positions_m, FS, FC, ems, n, rng)
    return x


def delayed(x, frac):
    f = np.fft.fftfreq(x.size)
    return np.fft.ifft(np.fft.fft(x) * np.exp(-2j * np.pi * f * frac)).astype(np.complex64)


def trial(rng, snr_db, lo_offset_hz=0.0):
    lags = np.r_[0, rng.integers(-MAX_LAG // 2, MAX_LAG // 2, 4)]
    fracs = np.r_[0.0, rng.uniform(-0.4, 0.4, 4)]
    x = scene(rng, snr_db, WINDOW + MAX_LAG + 1)
    base = MAX_LAG // 2
    chans = []
    t = np.arange(WINDOW) / FS
    for k in range(5):
        # channel k's sample n + lag is channel 0's sample n, delayed by frac more
        y = delayed(x[k], fracs[k])[base - lags[k]: base - lags[k] + WINDOW]
        if k == 3 and lo_offset_hz:
            y = y * np.exp(2j * np.pi * lo_offset_hz * t).astype(np.complex64)
        chans.append(y)
    t0 = time.perf_counter()
    res = estimate_alignment(chans, FS, MAX_LAG)
    dt = time.perf_counter() - t0
    exact = all(r.lag_samples == lag for r, lag in zip(res, lags))
    resid = [r.residual_samples - f for r, f in zip(res[1:], fracs[1:])]
    return exact, resid, dt, res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.trials} trials per row; window 2^20 samples at "
          f"2.4 MS/s, lags searched +-{MAX_LAG} samples")
    print("\nin-band SNR dB | integer lags exact | residual RMS error (samples) | alignment time s (median)")
    for snr in (0.0, 5.0, 10.0, 20.0):
        ok, errs, times = 0, [], []
        for _ in range(args.trials):
            exact, resid, dt, _ = trial(rng, snr)
            ok += exact
            errs += resid
            times.append(dt)
        print(f"{snr:14.0f} | {ok:>8d}/{args.trials:<9d} | {np.sqrt(np.mean(np.square(errs))):28.3f} | "
              f"{np.median(times):.2f}")
    print("\nchannel 3 off by (Hz) | its coherence (median) | the others' (min) | measured offset Hz (median)")
    for df in (0.0, 20.0, 50.0, 100.0, 150.0, 250.0):
        c3, others, lo = [], [], []
        for _ in range(max(2, args.trials // 2)):
            _, _, _, res = trial(rng, 10.0, df)
            c3.append(res[3].coherence if res[3].coherence is not None else np.nan)
            lo.append(res[3].lo_offset_hz if res[3].lo_offset_hz is not None else np.nan)
            others += [r.coherence for r in res[1:] if r.channel != 3 and r.coherence is not None]
        print(f"{df:21.0f} | {np.nanmedian(c3):22.3f} | {min(others):17.3f} | {np.nanmedian(lo):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
