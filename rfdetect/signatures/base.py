"""What a signature declares: a link's physical facts as data, each with its unit."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Band:
    name: str
    lo_hz: float
    hi_hz: float


@dataclass(frozen=True)
class Signature:
    """A link, described by the features a burst detector can measure.

    Ranges are (min, max) and already include the tolerance of the measurement.
    """
    id: str                                   # permanent string id (output "link")
    name: str
    drone: bool | None                        # None only for unexplained emitters
    bands: tuple[Band, ...]
    bandwidth_hz: tuple[float, float]         # occupied (99 %) bandwidth of one burst
    burst_s: tuple[float, float]              # duration of one burst on air
    modulation: str
    min_bursts: int = 2                       # bursts needed before a track is reported
    interval_s: tuple[float, float] | None = None   # packet interval, if periodic
    modes: tuple[dict, ...] = ()              # named modes with their burst durations
    sources: tuple[str, ...] = ()
    provisional: bool = False                 # parameters not confirmed by a source
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def in_band(self, f_hz: float) -> bool:
        return any(b.lo_hz <= f_hz <= b.hi_hz for b in self.bands)

    def mode_for(self, duration_s: float) -> dict | None:
        """The mode whose burst duration is nearest, if within its tolerance."""
        best = None
        for mode in self.modes:
            lo, hi = mode["burst_s"]
            if lo <= duration_s <= hi:
                mid = 0.5 * (lo + hi)
                if best is None or abs(duration_s - mid) < abs(duration_s - 0.5 * sum(best["burst_s"])):
                    best = mode
        return best
