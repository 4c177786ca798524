"""From track evidence to a confidence: the probability that the named link is right.

Two steps, both data (``confidence_model.py``, fitted by ``bench/fit_confidence.py``
on seeded simulated trials disjoint from those ``bench/bench_accuracy.py`` scores):
a linear evidence score ``z`` of five terms of a named track (see matcher.py): its
score (features + kernel + packet interval), the margin over the runner-up
signature, how many bursts it holds relative to the signature's minimum, whether a
kernel confirmed the modulation, and whether the signature is provisional (the
coefficients of a logistic regression); then a non-decreasing table from ``z`` to the
fraction of reports that were right (isotonic regression), interpolated linearly.
The logistic alone is too stiff: its probabilities were off by up to 0.3 in the
middle.  Both steps keep the confidence monotonic: more score, margin, bursts or
kernel evidence never lowers it; a provisional signature never raises it.

``unknown`` and ``unknown-fhss`` detections do not come from here (matcher.py).
"""
from __future__ import annotations

import bisect
import math

from . import confidence_model as model

MARGIN_CAP = 4.0          # a runner-up this far behind is as good as none
SCORE_CAP = 6.0           # (beyond the largest score a track reaches)
BURSTS_CAP = 6.0          # log2 of bursts over the minimum: 64 times the minimum is plenty
NO_RUNNER_UP = -2.0       # the score matcher.py gives the margin when there is no runner-up
P_MIN, P_MAX = 0.01, 0.99

# Names of the terms, in the order of ``terms`` and of the model's coefficients.
TERMS = ("score", "margin", "bursts", "kernel", "provisional")


def terms(score: float, margin: float, bursts: int, min_bursts: int, kernel_confirmed: bool,
          provisional: bool) -> tuple[float, ...]:
    """The model's inputs, bounded (a logistic extrapolates far outside its data)."""
    growth = math.log2(max(1, bursts) / max(1, min_bursts))
    return (min(score, SCORE_CAP), max(0.0, min(margin, MARGIN_CAP)), max(0.0, min(growth, BURSTS_CAP)),
            1.0 if kernel_confirmed else 0.0, 1.0 if provisional else 0.0)


def probability(x: tuple[float, ...], intercept: float, coefficients: tuple[float, ...],
                table: tuple[tuple[float, float], ...] = ()) -> float:
    """``table``: (z, probability) knots, z increasing; empty: the logistic itself."""
    z = intercept + sum(c * v for c, v in zip(coefficients, x))
    if table:
        i = bisect.bisect_right(table, (z, math.inf))
        if i == 0:
            p = table[0][1]
        elif i == len(table):
            p = table[-1][1]
        else:
            (z0, p0), (z1, p1) = table[i - 1], table[i]
            p = p0 + (p1 - p0) * (z - z0) / (z1 - z0)
    else:
        # (Written so that neither branch overflows.)
        p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return min(P_MAX, max(P_MIN, p))


def confidence_from(score: float, margin: float, bursts: int, min_bursts: int, kernel_confirmed: bool,
                    provisional: bool) -> float:
    x = terms(score, margin, bursts, min_bursts, kernel_confirmed, provisional)
    return probability(x, model.INTERCEPT, model.COEFFICIENTS, model.TABLE)


def terms_of_record(record: dict, min_bursts: int) -> tuple[float, ...] | None:
    """The model's inputs recovered from a named ``detection`` record (its evidence holds
    the score and the runner-up's), or None for ``unknown``/``unknown-fhss``."""
    ev = record.get("evidence", {})
    if "score" not in ev:
        return None
    score = ev["score"]
    runner_up = ev.get("runner_up", {}).get("score", NO_RUNNER_UP)
    kernel = bool(ev.get("kernel", {}).get("confirmed"))
    return terms(score, score - runner_up, record["bursts"], min_bursts, kernel, bool(record.get("provisional")))
