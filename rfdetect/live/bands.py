"""Named band plans for ``rfdetect scan --band`` and explicit frequency lists.

A plan is either a contiguous range (swept in steps as wide as the usable part
of the sample rate) or a list of channel centres (tuned one by one).  The
links that live in each band, with their hop timing, come from the signature
library (``link_timings``); the sweep scheduler uses them to choose dwell
times.  The 1.2/1.3 GHz video channels are ArduPilot's AP_VideoTX_Table.cpp.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..errors import ParameterError
from ..units import parse_si


@dataclass(frozen=True)
class BandPlan:
    name: str
    lo_hz: float
    hi_hz: float
    description: str
    channels_hz: tuple[float, ...] = ()     # tune to these centres instead of stepping the range

    @property
    def width_hz(self) -> float:
        return self.hi_hz - self.lo_hz


@dataclass(frozen=True)
class LinkTiming:
    """How a hopping (or continuous) link occupies a band, for dwell planning."""
    link: str                  # signature id (the output's "link")
    band: str                  # band plan name
    channels_hz: tuple[float, ...]
    hop_interval_s: float      # time on one channel (0: continuous, no hopping)
    packet_interval_s: float
    min_bursts: int            # bursts needed to report it
    mode: str = ""
    bandwidth_hz: float = 0.0  # occupied bandwidth: a wide continuous emitter is seen off-centre too

    @property
    def hop_cycle_s(self) -> float:
        """Time to visit every channel once."""
        return self.hop_interval_s * len(self.channels_hz)

    @property
    def packets_per_hop(self) -> int:
        if self.hop_interval_s <= 0:
            return 10 ** 9
        return max(1, int(round(self.hop_interval_s / self.packet_interval_s)))


def _raster(first_hz: float, last_hz: float, n: int) -> tuple[float, ...]:
    step = (last_hz - first_hz) / (n - 1) if n > 1 else 0.0
    return tuple(first_hz + i * step for i in range(n))


_FPV_1G3 = (1080e6, 1120e6, 1160e6, 1200e6, 1240e6, 1280e6, 1320e6, 1360e6)

BANDS: dict[str, BandPlan] = {
    "ism433": BandPlan("ism433", 433.05e6, 434.79e6, "433 MHz ISM/LPD433: ExpressLRS EU433, remotes, sensors"),
    "eu868": BandPlan("eu868", 863.0e6, 870.0e6, "EU 868 MHz SRD: ExpressLRS/FrSky R9/Crossfire EU, LoRaWAN"),
    "us915": BandPlan("us915", 902.0e6, 928.0e6, "US 915 MHz ISM: ExpressLRS/FrSky R9/Crossfire FCC, LoRaWAN"),
    "au915": BandPlan("au915", 915.0e6, 928.0e6, "AU 915 MHz: ExpressLRS AU915, LoRaWAN AU915"),
    "fpv-1g3": BandPlan("fpv-1g3", 1076e6, 1364e6, "1.2/1.3 GHz analog FPV video channels",
                        channels_hz=_FPV_1G3),
}

# The mode a sweep is planned for, where a link has several: the packet rate
# most used in the field (ExpressLRS 900: 200 Hz, a 0.8 s hop cycle on FCC915).
# Links not listed are planned for their fastest mode; links whose hop spacing
# is not in the library are assumed to hop every packet.
PLANNING_MODES = {"expresslrs-lora": "200Hz", "expresslrs-fsk": "1000Hz"}


def _planning_mode(sig) -> dict | None:
    modes = [m for m in sig.modes if m.get("interval_s")]
    if not modes:
        return None
    named = [m for m in modes if m.get("packet_rate") == PLANNING_MODES.get(sig.id)]
    if named:
        return named[0]
    return min(modes, key=lambda m: sum(m["interval_s"]))


@functools.lru_cache(maxsize=1)
def link_timings() -> tuple[LinkTiming, ...]:
    """Hop timing of every link in the signature library whose band plan lists its
    channels (band edges, channel count and raster, modes with packet interval and
    hop spacing)."""
    from ..signatures import load_all
    out = []
    for sig in load_all():
        mode = _planning_mode(sig) if sig.hopping else None
        for b in sig.bands:
            if not b.channels or not b.raster_hz:
                continue
            half = 0.5 * ((b.hi_hz - b.lo_hz) - b.raster_hz * (b.channels - 1))
            channels = _raster(b.lo_hz + half, b.hi_hz - half, b.channels)
            if sig.hopping:
                if mode is None:
                    continue
                interval = 0.5 * sum(mode["interval_s"])
                hop = interval * int(mode.get("hop_every_packets") or 1)
                out.append(LinkTiming(sig.id, b.name, channels, hop, interval, sig.min_bursts,
                                      str(mode.get("packet_rate", ""))))
            else:
                out.append(LinkTiming(sig.id, b.name, channels, 0.0, 0.0, sig.min_bursts,
                                      bandwidth_hz=float(sig.bandwidth_hz[0])))
    return tuple(out)


def band(name: str) -> BandPlan:
    try:
        return BANDS[name.lower()]
    except KeyError:
        raise ParameterError(f"unknown band (known: {', '.join(BANDS)}; or use --freq)",
                             param="--band", value=name) from None


def links_in(plan: BandPlan) -> list[LinkTiming]:
    """Links with at least one channel inside the plan's range."""
    return [lt for lt in link_timings() if any(plan.lo_hz <= f <= plan.hi_hz for f in lt.channels_hz)]


def share_in(lt: LinkTiming, plan: BandPlan) -> float:
    """Fraction of a link's channels inside the plan's range."""
    return sum(1 for f in lt.channels_hz if plan.lo_hz <= f <= plan.hi_hz) / len(lt.channels_hz)


def frequency_plan(freqs: list[str | float], direct_sampling: bool = False) -> BandPlan:
    """An explicit list of centre frequencies as a plan (``--freq 868.3M 915M``).

    The R820T tunes 24-1766 MHz; direct sampling reaches HF (about 0.5-28.8 MHz)."""
    values = tuple(parse_si(f, "--freq") for f in freqs)
    lo, hi, what = (0.5e6, 28.8e6, "direct sampling covers about 0.5-28.8 MHz") if direct_sampling \
        else (24e6, 1766e6, "the RTL-SDR tunes 24-1766 MHz; use --direct-sampling for HF")
    for f, text in zip(values, freqs):
        if not lo <= f <= hi:
            raise ParameterError(f"out of range ({what})", param="--freq", value=text)
    return BandPlan("custom", min(values), max(values), "explicit frequency list", channels_hz=values)
