"""Coefficients of the confidence model (calibration.py).

Written by bench/fit_confidence.py; rerun it (the command below) rather than edit by hand.

Command: .venv/bin/python bench/fit_confidence.py --trials 3 --snr=-20,-15,-10,-5,0,5,10,15,20 --links all --duration 1 --configs default,integrate
Date: 2026-11-26 01:38 UTC, tree at commit 4881bd5 with uncommitted changes
Training set: 1038 seeded trials of bench/bench_accuracy.py's scenarios (1 s each, seeds from 100000, disjoint from the scored ones): links all, SNR -20,-15,-10,-5,0,5,10,15,20 dB, 3 per point, noise alone at 2 receivers, detector configurations default,integrate
Examples: 2249 detection records naming a library link (first reports and updates), 1362 right
Fit: expected calibration error on the training set 0.015
"""

INTERCEPT = -3.6173
# score, margin, bursts, kernel, provisional
COEFFICIENTS = (0.8219, 0.7292, 0.7423, 0.0, 0.0)
# (evidence score z, confidence), z increasing
TABLE = (
    (-2.1578, 0.2311),
    (-1.9361, 0.2311),
    (-1.4831, 0.2311),
    (-0.9203, 0.2857),
    (-0.6184, 0.2899),
    (-0.5096, 0.2899),
    (-0.0743, 0.3429),
    (0.3818, 0.4353),
    (0.7427, 0.4353),
    (1.0968, 0.8879),
    (1.577, 0.9402),
    (2.4322, 0.997),
    (2.8805, 0.997),
    (3.4529, 0.997),
    (3.8676, 0.997),
    (4.1451, 0.997),
    (5.2166, 0.997),
    (7.6234, 1.0),
)
