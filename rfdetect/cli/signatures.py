"""rfdetect signatures: list the signature library and what a receiver can reach."""
from __future__ import annotations

import argparse
import json
import math

from ..errors import ParameterError
from ..signatures import Signature, load_all
from ..units import format_hz

# Tuning range of each receiver class, Hz.  An RTL-SDR (R820T/R820T2) tunes about
# 24-1766 MHz; "wideband" stands for HackRF / USRP B2x0 / bladeRF class radios.
RECEIVERS = {
    "rtlsdr": (24e6, 1766e6),
    "wideband": (1e6, 6000e6),
}

EXAMPLE = """examples:
  rfdetect signatures
  rfdetect signatures --receiver rtlsdr          (which bands an RTL-SDR cannot reach)
  rfdetect signatures --json | jq '.[] | select(.drone) | .id'
"""


def register(sub) -> None:
    p = sub.add_parser("signatures", help="list the signature library",
                       description="List every link the engine can name: id, drone or not, bands, modes, "
                       "sources, whether it is provisional, and whether the receiver can reach each band.",
                       epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--receiver", choices=sorted(RECEIVERS), default="rtlsdr",
                   help="receiver whose tuning range decides band coverage (default: rtlsdr, 24-1766 MHz)")
    p.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    p.set_defaults(func=run)


def reach(lo_hz: float, hi_hz: float, receiver: str) -> str:
    """'yes', 'partial' or 'no': can the receiver tune into [lo_hz, hi_hz]?"""
    if receiver not in RECEIVERS:
        raise ParameterError(f"--receiver: unknown receiver {receiver!r} (known: {', '.join(sorted(RECEIVERS))})")
    r_lo, r_hi = RECEIVERS[receiver]
    if lo_hz >= r_lo and hi_hz <= r_hi:
        return "yes"
    if hi_hz < r_lo or lo_hz > r_hi:
        return "no"
    return "partial"


def _number(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple):
        return [_number(x) for x in v]
    return v


def describe(sig: Signature, receiver: str) -> dict:
    bands = [{"name": b.name, "lo_hz": b.lo_hz, "hi_hz": b.hi_hz, "channels": b.channels,
              "raster_hz": b.raster_hz, "reachable": reach(b.lo_hz, b.hi_hz, receiver)} for b in sig.bands]
    if sig.bands:
        kinds = {b["reachable"] for b in bands}
        reachable = "yes" if kinds == {"yes"} else "no" if kinds == {"no"} else "partial"
    else:
        reachable = "yes"    # fallbacks: anything the receiver sees
    return {
        "id": sig.id, "name": sig.name, "drone": sig.drone, "provisional": sig.provisional,
        "unverified": list(sig.unverified), "modulation": sig.modulation,
        "bands": bands, "reachable": reachable,
        "bandwidth_hz": _number(sig.bandwidth_hz), "burst_s": _number(sig.burst_s),
        "interval_s": _number(sig.interval_s) if sig.interval_s else None,
        "modes": [{k: _number(v) for k, v in m.items()} for m in sig.modes],
        "hopping": sig.hopping, "kernel": sig.kernel, "sources": list(sig.sources),
    }


def _mode_text(mode: dict) -> str:
    for key in ("packet_rate", "rf_mode", "frame_rate", "variant", "protocol", "standard", "bandwidth", "format"):
        if key in mode:
            return str(mode[key])
    return ",".join(f"{k}={v}" for k, v in mode.items() if k not in ("burst_s", "interval_s"))


def _band_text(b: dict) -> str:
    mark = {"yes": "", "partial": " (partly out of reach)", "no": " (OUT OF REACH)"}[b["reachable"]]
    return f"{b['name']} {format_hz(b['lo_hz'])}-{format_hz(b['hi_hz'])}{mark}"


def run(args: argparse.Namespace) -> int:
    rows = [describe(s, args.receiver) for s in load_all(include_fallbacks=True)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    lo, hi = RECEIVERS[args.receiver]
    print(f"receiver: {args.receiver} (tunes {format_hz(lo)} to {format_hz(hi)})\n")
    for r in rows:
        drone = {True: "drone", False: "not a drone", None: "unexplained (drone: null)"}[r["drone"]]
        flags = " PROVISIONAL (unverified: " + ", ".join(r["unverified"]) + ")" if r["provisional"] else ""
        print(f"{r['id']}  [{drone}]{flags}")
        print(f"    {r['name']}: {r['modulation']}")
        if r["bands"]:
            print("    bands: " + "; ".join(_band_text(b) for b in r["bands"]))
            if r["reachable"] == "no":
                print(f"    coverage: NOT REACHABLE with {args.receiver} ({format_hz(lo)}-{format_hz(hi)}); needs a wider receiver or a recording")
        else:
            print("    bands: any (what fits no signature)")
        if r["modes"]:
            print("    modes: " + ", ".join(_mode_text(m) for m in r["modes"]))
        if r["kernel"]:
            print(f"    confirmation kernel: {r['kernel']}")
        print("    sources: " + "; ".join(r["sources"]))
    n_out = sum(r["reachable"] == "no" for r in rows)
    print(f"\n{len(rows)} signatures; {n_out} entirely out of reach of a {args.receiver} receiver")
    return 0
