"""Sweep scheduling: cover a band wider than the sample rate by retuning.

Steps are as wide as the usable part of the sample rate (the edges roll off
and the centre has the DC spike).  Each dwell lasts long enough to see a whole
hop cycle of the fastest-cycling link that lives in the band, so that a hopper
visits the window at least once per dwell whatever its phase; the samples
received while the tuner settles are dropped (and counted) by the source.

``plan_sweep`` returns the steps with the fraction of the band they cover and,
for each link, the fraction of its channels in view and the expected time to
detect it under this plan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ParameterError
from .bands import BandPlan, LinkTiming, links_in, share_in

USABLE_FRACTION = 0.8          # of the sample rate: the rest is filter roll-off
MIN_DWELL_S = 0.1              # enough for the noise floor to settle after a retune
MAX_DWELL_S = 3.0              # a slower hopper is caught over several passes instead
DEFAULT_SETTLE_S = 0.01


@dataclass(frozen=True)
class SweepStep:
    center_freq_hz: float
    dwell_s: float


@dataclass(frozen=True)
class LinkCoverage:
    link: str
    band: str
    mode: str
    channels: int
    channels_in_view: int
    hop_cycle_s: float
    expected_detect_s: float | None     # None: never, under this plan

    def as_dict(self) -> dict:
        return {"link": self.link, "band": self.band, "mode": self.mode, "channels": self.channels,
                "channels_in_view": self.channels_in_view, "hop_cycle_s": round(self.hop_cycle_s, 4),
                "expected_detect_s": None if self.expected_detect_s is None
                else round(self.expected_detect_s, 3)}


@dataclass(frozen=True)
class SweepPlan:
    band: BandPlan
    sample_rate_hz: float
    settle_s: float
    steps: tuple[SweepStep, ...]
    band_covered_fraction: float        # of the band's width seen by at least one step
    links: tuple[LinkCoverage, ...] = field(default=())

    @property
    def cycle_s(self) -> float:
        return sum(s.dwell_s + self.settle_s for s in self.steps)

    @property
    def sweeping(self) -> bool:
        return len(self.steps) > 1

    def dwell_samples(self) -> list[tuple[float, int]]:
        return [(s.center_freq_hz, max(1, int(round(s.dwell_s * self.sample_rate_hz)))) for s in self.steps]

    def as_dict(self) -> dict:
        return {"type": "sweep_plan", "schema": 1, "band": self.band.name,
                "band_lo_hz": self.band.lo_hz, "band_hi_hz": self.band.hi_hz,
                "sample_rate_hz": self.sample_rate_hz, "settle_s": self.settle_s,
                "steps": [{"center_freq_hz": s.center_freq_hz, "dwell_s": round(s.dwell_s, 4)}
                          for s in self.steps],
                "cycle_s": round(self.cycle_s, 4),
                "band_covered_fraction": round(self.band_covered_fraction, 4),
                "links": [c.as_dict() for c in self.links]}


def step_centers(plan: BandPlan, usable_hz: float) -> list[float]:
    if plan.channels_hz:
        return list(plan.channels_hz)
    if plan.width_hz <= usable_hz:
        return [0.5 * (plan.lo_hz + plan.hi_hz)]
    n = math.ceil(plan.width_hz / usable_hz)
    first = plan.lo_hz + usable_hz / 2
    last = plan.hi_hz - usable_hz / 2
    return [first + i * (last - first) / (n - 1) for i in range(n)]


def _covered(plan: BandPlan, centers: list[float], usable_hz: float) -> float:
    if plan.width_hz <= 0:
        return 1.0
    spans = sorted((max(plan.lo_hz, c - usable_hz / 2), min(plan.hi_hz, c + usable_hz / 2)) for c in centers)
    total, cur_lo, cur_hi = 0.0, None, None
    for lo, hi in spans:
        if hi <= lo:
            continue
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return min(1.0, total / plan.width_hz)


def plan_sweep(plan: BandPlan, sample_rate_hz: float, *, dwell_s: float | None = None,
               settle_s: float = DEFAULT_SETTLE_S, links: list[LinkTiming] | None = None) -> SweepPlan:
    """Steps across ``plan`` and what they can catch.

    ``dwell_s``: fixed dwell per step (default: the longest hop cycle of the
    band's links, at least MIN_DWELL_S).
    """
    if sample_rate_hz <= 0:
        raise ParameterError("must be > 0", param="--sample-rate", value=sample_rate_hz)
    if dwell_s is not None and dwell_s <= 0:
        raise ParameterError("must be > 0", param="--dwell", value=dwell_s)
    usable = USABLE_FRACTION * sample_rate_hz
    centers = step_centers(plan, usable)
    links = links_in(plan) if links is None else links
    if dwell_s is None:
        # links mostly inside the band set the dwell: a whole hop cycle plus a report's bursts
        dwell_s = max([MIN_DWELL_S] + [lt.hop_cycle_s + lt.packet_interval_s * lt.min_bursts
                                       for lt in links if lt.hop_interval_s > 0 and share_in(lt, plan) >= 0.5])
        dwell_s = min(dwell_s, MAX_DWELL_S)
    if len(centers) == 1:
        steps = (SweepStep(centers[0], dwell_s),)
    else:
        steps = tuple(SweepStep(c, dwell_s) for c in centers)
    sp = SweepPlan(plan, float(sample_rate_hz), float(settle_s), steps, _covered(plan, centers, usable))
    coverage = tuple(link_coverage(lt, sp) for lt in links)
    return SweepPlan(sp.band, sp.sample_rate_hz, sp.settle_s, sp.steps, sp.band_covered_fraction, coverage)


def link_coverage(lt: LinkTiming, sp: SweepPlan) -> LinkCoverage:
    """Expected time to the first report of ``lt`` under the sweep.

    Within a dwell on a step that sees k of the link's C channels, the hopper
    lands in view on average every C/k hops; once in view, it sends
    ``packets_per_hop`` packets there.  A step whose dwell is shorter than the
    wait is weighted by the chance that the link shows up during it.  Without a
    sweep the first in-view hop is expected after C/(2k) hops.  With a sweep, the
    scan reaches a useful step after half a cycle on average.
    """
    usable = USABLE_FRACTION * sp.sample_rate_hz
    c = len(lt.channels_hz)
    seen = set()
    per_step = []
    reach = usable / 2 + (lt.bandwidth_hz / 2 if lt.hop_interval_s <= 0 else 0.0)
    for s in sp.steps:
        k = sum(1 for f in lt.channels_hz if abs(f - s.center_freq_hz) <= reach)
        seen.update(i for i, f in enumerate(lt.channels_hz) if abs(f - s.center_freq_hz) <= reach)
        per_step.append((s, k))
    needed_packets = max(0, lt.min_bursts - 1) * lt.packet_interval_s
    if lt.hop_interval_s <= 0:               # continuous emitter: seen as soon as a step covers it
        useful = [s for s, k in per_step if k]
        if not useful:
            expected = None
        else:
            expected = 0.5 * (sp.cycle_s if sp.sweeping else 0.0) + 0.05
        return LinkCoverage(lt.link, lt.band, lt.mode, c, len(seen), 0.0, expected)
    if lt.packets_per_hop * lt.min_bursts == 0 or not any(k for _, k in per_step):
        return LinkCoverage(lt.link, lt.band, lt.mode, c, len(seen), lt.hop_cycle_s, None)
    # probability of a detection during one pass of the sweep, and the time spent
    p_pass_miss = 1.0
    t_in_dwell = []
    for s, k in per_step:
        if not k:
            continue
        # in-view hops are a fraction k/C of hops; a report needs min_bursts packets,
        # possibly over several in-view hops
        hops_needed = math.ceil(lt.min_bursts / lt.packets_per_hop)
        wait_s = hops_needed * (c / k) * lt.hop_interval_s + needed_packets
        if sp.sweeping:
            p = min(1.0, s.dwell_s / wait_s) if wait_s > 0 else 1.0
        else:
            p = 1.0
        p_pass_miss *= (1.0 - p)
        t_in_dwell.append(min(wait_s / 2 + needed_packets, s.dwell_s) if sp.sweeping else wait_s / 2)
    if not sp.sweeping:
        return LinkCoverage(lt.link, lt.band, lt.mode, c, len(seen), lt.hop_cycle_s, t_in_dwell[0])
    p_pass = 1.0 - p_pass_miss
    if p_pass <= 0:
        return LinkCoverage(lt.link, lt.band, lt.mode, c, len(seen), lt.hop_cycle_s, None)
    # geometric number of passes; half a cycle to reach the first useful step
    expected = sp.cycle_s * (0.5 + (1.0 - p_pass) / p_pass) + min(t_in_dwell)
    return LinkCoverage(lt.link, lt.band, lt.mode, c, len(seen), lt.hop_cycle_s, expected)
