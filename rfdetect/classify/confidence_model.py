"""Coefficients of the confidence model (calibration.py).

Written by bench/fit_confidence.py; rerun it (the command below) rather than edit by hand.

Command: .venv/bin/python bench/fit_confidence.py --trials 3 --snr=-20,-15,-10,-5,0,5,10,15,20 --links all --duration 1 --configs default,integrate
Date: 2026-11-26 03:51 UTC, tree at commit 65e0a83
Training set: 1038 seeded trials of bench/bench_accuracy.py's scenarios (1 s each, seeds from 100000, disjoint from the scored ones): links all, SNR -20,-15,-10,-5,0,5,10,15,20 dB, 3 per point, noise alone at 2 receivers, detector configurations default,integrate
Examples: 2342 detection records naming a library link (first reports and updates), 1477 right
Fit: expected calibration error on the training set 0.019
"""

INTERCEPT = -3.6812
# score, margin, bursts, kernel, provisional
COEFFICIENTS = (0.8671, 0.7148, 0.7753, 0.0, 0.0)
# (evidence score z, confidence), z increasing
TABLE = (
    (-2.1429, 0.226),
    (-1.9037, 0.226),
    (-1.366, 0.226),
    (-0.7547, 0.2961),
    (-0.5542, 0.2961),
    (-0.4644, 0.2961),
    (0.1753, 0.3333),
    (0.6379, 0.6228),
    (0.9398, 0.6228),
    (1.4654, 0.9531),
    (2.3095, 0.9619),
    (2.8959, 0.9972),
    (3.3667, 0.9972),
    (3.6482, 0.9972),
    (4.1832, 0.9972),
    (4.4627, 0.9972),
    (5.5223, 0.9972),
    (7.9198, 1.0),
)
