"""From track evidence to a confidence.

A logistic of the track score (features + kernel + packet interval, see
matcher.py), the margin over the runner-up signature, and how many bursts the
track holds relative to the signature's minimum.  The coefficients are the
model's prior; ``bench/bench_accuracy.py`` measures the reliability table
(of detections reported at p, how many were right) on simulated trials.
"""
from __future__ import annotations

import math

# Logistic coefficients: intercept, per unit of score, per unit of margin.
A0, A_SCORE, A_MARGIN = -2.0, 0.9, 0.6
KERNEL_BONUS = 1.0
PROVISIONAL_FACTOR = 0.9


def confidence_from(score: float, margin: float, bursts: int, min_bursts: int, kernel_confirmed: bool,
                    provisional: bool) -> float:
    z = A0 + A_SCORE * score + A_MARGIN * min(margin, 4.0) + (KERNEL_BONUS if kernel_confirmed else 0.0)
    p = 1.0 / (1.0 + math.exp(-z))
    # More agreeing bursts than the minimum: more sure; capped below 1.
    p *= 1.0 - 0.5 ** (1 + bursts / max(1, min_bursts))
    if provisional:
        p *= PROVISIONAL_FACTOR
    return min(0.99, max(0.01, p))
