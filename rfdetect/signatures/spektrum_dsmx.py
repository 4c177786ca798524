"""Spektrum DSMX (CYRF6936): 2.4 GHz DSSS/GFSK, 23 of channels 3-75 (1 MHz raster).

DIY-Multiprotocol-TX-Module ``DSM.ino``: 11 or 22 ms frames.  Burst duration and
occupied bandwidth (1 Mchip/s DSSS, about 1-2 MHz) are not given by the source:
provisional.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="spektrum-dsmx",
    name="Spektrum DSMX (CYRF6936)",
    drone=True,
    bands=(band("ISM2G4", 2403.0e6, 2475.0e6, 73, 0.5e6, 1e6),),
    bandwidth_hz=(0.6e6, 2.2e6),
    burst_s=(0.2e-3, 2.0e-3),
    modulation="DSSS / GFSK (CYRF6936)",
    min_bursts=4,
    # Two packets per frame (one per channel of a pair) put bursts at fractions of a frame.
    interval_s=(11e-3 / 2 * 0.97, 22e-3 * 1.03),
    modes=({"frame_s": 0.011, "packet_rate_hz": 91, "interval_s": tol(11e-3, 0.03)},
           {"frame_s": 0.022, "packet_rate_hz": 45, "interval_s": tol(22e-3, 0.03)}),
    sources=("DIY-Multiprotocol-TX-Module DSM.ino (channels 3-75, 23 used, 11/22 ms frames)",),
    provisional=True,
    unverified=("bandwidth_hz", "burst_s"),
    hopping=True,
)
