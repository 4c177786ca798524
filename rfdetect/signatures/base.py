"""What a signature declares: a link's physical facts as data, each with its unit.

Ranges are ``(min, max)`` and already include the tolerance of the link and of
our measurement (the nominal value and the tolerance are in the module's
comments and in ``modes``).  A signature names the confirmation kernel that can
prove its modulation (``kernel``) and the values that kernel must find
(``kernel_params``); simple links need no kernel, only data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Confirmation kernels a signature may ask for (rfdetect/classify/evidence.py runs them).
KERNELS = ("lora", "fsk", "ofdm_cp", "droneid_zc", "fm_video")


@dataclass(frozen=True)
class Band:
    name: str
    lo_hz: float
    hi_hz: float
    channels: int | None = None        # hop channels in this band plan, if known
    raster_hz: float | None = None     # channel spacing, if known

    def channels_within(self, lo_hz: float, hi_hz: float) -> int | None:
        """How many of the plan's channel centres lie in [lo_hz, hi_hz]; None without a
        known plan."""
        if not self.channels or not self.raster_hz:
            return None
        # (A band plan is widened symmetrically around its channels: its middle is theirs.)
        first_hz = 0.5 * (self.lo_hz + self.hi_hz) - 0.5 * (self.channels - 1) * self.raster_hz
        return sum(lo_hz <= first_hz + k * self.raster_hz <= hi_hz for k in range(self.channels))


@dataclass(frozen=True)
class Signature:
    """A link, described by the features a burst detector and the kernels can measure."""
    id: str                                   # permanent string id (output "link")
    name: str
    drone: bool | None                        # None only for unexplained emitters
    bands: tuple[Band, ...]
    bandwidth_hz: tuple[float, float]         # occupied (99 %) bandwidth of one burst
    burst_s: tuple[float, float]              # duration of one burst on air
    modulation: str
    min_bursts: int = 2                       # bursts needed before a track is reported
    interval_s: tuple[float, float] | None = None   # packet interval, if periodic
    modes: tuple[dict, ...] = ()              # named modes: burst_s, interval_s, sf, ...
    sources: tuple[str, ...] = ()
    provisional: bool = False                 # parameters not confirmed by a source
    unverified: tuple[str, ...] = ()          # which parameters lack a source
    hopping: bool = False                     # frequency hopping: bind bursts by timing
    continuous: bool = False                  # always on (analog video): no packet timing
    pulse_trains: bool = False                # sends trains of pulses of a few lengths on one channel
    hops_all_channels: bool = False           # hops over every channel of its band plan
    kernel: str | None = None                 # confirmation kernel (one of KERNELS)
    kernel_params: dict = field(default_factory=dict)
    kernel_required: bool = False             # the kernel must confirm before a report
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kernel is not None and self.kernel not in KERNELS:
            raise ValueError(f"signature {self.id}: unknown kernel {self.kernel!r}")
        if self.unverified and not self.provisional:
            raise ValueError(f"signature {self.id}: unverified parameters {self.unverified} "
                             "but not marked provisional")

    def in_band(self, f_hz: float) -> bool:
        return any(b.lo_hz <= f_hz <= b.hi_hz for b in self.bands)

    def channels_within(self, lo_hz: float, hi_hz: float) -> int | None:
        """How many of the link's channel centres lie in [lo_hz, hi_hz]; None when a band
        there has no known channel plan."""
        count = 0
        for b in self.bands:
            if b.hi_hz < lo_hz or b.lo_hz > hi_hz:
                continue
            n = b.channels_within(lo_hz, hi_hz)
            if n is None:
                return None
            count += n
        return count

    def band_for(self, f_hz: float) -> Band | None:
        for b in self.bands:
            if b.lo_hz <= f_hz <= b.hi_hz:
                return b
        return None

    def mode_for(self, duration_s: float, interval_s: float | None = None,
                 sf: int | None = None) -> dict | None:
        """The mode that best fits the measured burst duration, packet interval and
        spreading factor (each where known and declared); None if none fits any."""
        best, best_cost = None, None
        for mode in self.modes:
            cost, known = 0.0, 0
            if "burst_s" in mode:
                lo, hi = mode["burst_s"]
                # Durations are measured short when the detector splits a packet.
                cost += 0.0 if lo <= duration_s <= hi else 1.0
                known += 1
            if interval_s is not None and "interval_s" in mode:
                lo, hi = mode["interval_s"]
                # A hopper seen through a narrow window misses packets: whole multiples fit.
                k = max(1, round(interval_s / (0.5 * (lo + hi))))
                cost += 0.0 if lo * k <= interval_s <= hi * k else 1.5
                known += 1
            if sf is not None and "sf" in mode:
                cost += 0.0 if mode["sf"] == sf else 2.0
                known += 1
            if known == 0 or cost >= 1.0 * known:
                continue
            if best_cost is None or cost < best_cost:
                best, best_cost = mode, cost
        return best

    def describe_mode(self, mode: dict | None) -> dict | None:
        """A mode as reported: its name and parameters, without the matching ranges."""
        if mode is None:
            return None
        return {k: v for k, v in mode.items() if k not in ("burst_s", "interval_s")}


def tol(nominal: float, rel: float) -> tuple[float, float]:
    """``nominal`` +- ``rel`` (relative): a range with its tolerance."""
    return (nominal * (1.0 - rel), nominal * (1.0 + rel))


def band(name: str, first_hz: float, last_hz: float, channels: int | None = None,
         half_width_hz: float = 0.0, raster_hz: float | None = None) -> Band:
    """A band plan from its first and last channel centre, widened by half a channel."""
    if raster_hz is None and channels and channels > 1:
        raster_hz = (last_hz - first_hz) / (channels - 1)
    return Band(name, first_hz - half_width_hz, last_hz + half_width_hz, channels, raster_hz)


# ExpressLRS 900 MHz FHSS domains (src/lib/FHSS/FHSS.cpp): first and last channel
# centre and channel count, each widened by half a 500 kHz channel.  Shared by the
# LoRa and GFSK modes, which hop over the same plans.
EXPRESSLRS_900_BANDS = {
    "FCC915": band("FCC915", 903.5e6, 926.9e6, 40, 0.25e6),
    "EU868": band("EU868", 863.275e6, 869.575e6, 13, 0.25e6),
    "AU915": band("AU915", 915.5e6, 926.9e6, 20, 0.25e6),
    "IN866": band("IN866", 865.375e6, 866.95e6, 4, 0.25e6),
    "EU433": band("EU433", 433.1e6, 434.45e6, 3, 0.25e6),
    "US433": band("US433", 433.25e6, 438.0e6, 8, 0.25e6),
    "US433W": band("US433W", 423.5e6, 438.0e6, 20, 0.25e6),
}
