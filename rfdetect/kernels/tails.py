"""Thresholds from a tail probability: the level a decreasing tail function falls to ``p``."""
from __future__ import annotations


def solve_tail(tail, p: float, lo: float, hi: float, rel_tol: float = 1e-12) -> float:
    """x with tail(x) = p, for a tail decreasing in x, by bisection from [lo, hi] (``hi``
    doubled until the tail there is below ``p``)."""
    while tail(hi) > p:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if tail(mid) > p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= rel_tol * hi:
            break
    return 0.5 * (lo + hi)
