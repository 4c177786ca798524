"""FrSky D8/D16 (ACCST, CC2500): 2.4 GHz GFSK, 47 hop channels.

DIY-Multiprotocol-TX-Module ``FrSkyX_cc2500.ino``: 47 hop channels, GFSK, 9 ms
packets (D16: 18 ms for 16 channels).  The burst duration and occupied bandwidth
are not given by the source (0.4-6 ms covers a 30-byte packet from 250 kBd down to
about 40 kBd): provisional.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="frsky-d16",
    name="FrSky D8/D16 (ACCST, CC2500)",
    drone=True,
    bands=(band("ISM2G4", 2404.0e6, 2473.0e6, 47, 0.5e6),),
    bandwidth_hz=(150e3, 900e3),
    burst_s=(0.4e-3, 6e-3),
    modulation="GFSK (CC2500)",
    min_bursts=4,
    interval_s=(9e-3 * 0.97, 18e-3 * 1.03),
    modes=({"protocol": "D8", "packet_rate_hz": 111, "interval_s": tol(9e-3, 0.03)},
           {"protocol": "D16", "packet_rate_hz": 56, "interval_s": tol(18e-3, 0.03)}),
    sources=("DIY-Multiprotocol-TX-Module FrSkyX_cc2500.ino (47 hop channels, GFSK, 9/18 ms)",),
    provisional=True,
    unverified=("bandwidth_hz", "burst_s", "channel raster"),
    hopping=True,
    kernel="fsk",
    kernel_params={"deviation_hz": (10e3, 200e3), "symbol_rate_hz": (10e3, 300e3)},
)
