"""Coefficients of the confidence model (calibration.py).

Written by bench/fit_confidence.py; rerun it (the command below) rather than edit by hand.

Command: .venv/bin/python bench/fit_confidence.py --trials 3 --snr=-20,-15,-10,-5,0,5,10,15,20 --links all --duration 1 --configs default,integrate
Date: 2026-11-26; examples simulated 00:23-00:56 UTC on the tree at commit 6eadc1a with uncommitted
changes (saved with --save, fitted at 01:01 UTC with --examples)
Training set: 1038 seeded trials of bench/bench_accuracy.py's scenarios (1 s each, seeds from 100000, disjoint from the scored ones): links all, SNR -20,-15,-10,-5,0,5,10,15,20 dB, 3 per point, noise alone at 2 receivers, detector configurations default,integrate
Examples: 2241 detection records naming a library link (first reports and updates), 1332 right
Fit: expected calibration error on the training set 0.014
"""

INTERCEPT = -3.6669
# score, margin, bursts, kernel, provisional
COEFFICIENTS = (0.8371, 0.7237, 0.7293, 0.0, 0.0)
# (evidence score z, confidence), z increasing
TABLE = (
    (-2.1825, 0.2232),
    (-1.9535, 0.2232),
    (-1.5351, 0.2232),
    (-1.0069, 0.2804),
    (-0.6704, 0.2804),
    (-0.4474, 0.2804),
    (0.2881, 0.4091),
    (0.6872, 0.4091),
    (0.9716, 0.8584),
    (1.4072, 0.9391),
    (2.2525, 0.9691),
    (2.8157, 0.9965),
    (3.4284, 0.9965),
    (3.8176, 0.9965),
    (4.1524, 0.9965),
    (5.1484, 0.9965),
    (7.5552, 1.0),
)
