"""FlySky AFHDS 2A (A7105): 2.4 GHz GFSK, 16 hop channels, 3.85 ms packets.

DIY-Multiprotocol-TX-Module ``AFHDS2A_a7105.ino``.  Burst duration and occupied
bandwidth are not given by the source: provisional.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="flysky-afhds2a",
    name="FlySky AFHDS 2A (A7105)",
    drone=True,
    bands=(band("ISM2G4", 2405.0e6, 2475.0e6, 16, 0.5e6),),
    bandwidth_hz=(150e3, 1000e3),
    burst_s=(0.3e-3, 2.0e-3),
    modulation="GFSK (A7105)",
    min_bursts=4,
    interval_s=tol(3.85e-3, 0.03),
    modes=({"packet_rate_hz": 260, "interval_s": tol(3.85e-3, 0.03)},),
    sources=("DIY-Multiprotocol-TX-Module AFHDS2A_a7105.ino (16 hop channels, 3.85 ms packets)",),
    provisional=True,
    unverified=("bandwidth_hz", "burst_s", "channel raster"),
    hopping=True,
    kernel="fsk",
    kernel_params={"deviation_hz": (50e3, 300e3), "symbol_rate_hz": (100e3, 600e3)},
)
