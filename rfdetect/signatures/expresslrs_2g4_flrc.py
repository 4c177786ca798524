"""ExpressLRS 2.4 GHz, FLRC on SX1280: 1000/500 Hz, hop every 2 packets.

Nominal (ExpressLRS ``src/src/common.cpp``): FLRC 650 kb/s (GFSK-shaped, modulation
index 0.5, i.e. about 162 kHz deviation), 0.389 ms on air.  Tolerances: +-15 %
duration, +-2 % interval, occupied bandwidth 400-1400 kHz as measured.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="expresslrs-2g4-flrc",
    name="ExpressLRS 2.4 GHz (FLRC, SX1280)",
    drone=True,
    bands=(band("ISM2G4", 2400.4e6, 2479.4e6, 80, 0.6e6),),
    bandwidth_hz=(400e3, 1400e3),
    burst_s=tol(0.389e-3, 0.15),
    modulation="FLRC 650 kb/s (GFSK, h = 0.5)",
    min_bursts=4,
    interval_s=(1e-3 * 0.98, 2e-3 * 1.02),
    modes=({"packet_rate": "1000Hz", "packet_rate_hz": 1000, "hop_every_packets": 2, "interval_s": tol(1e-3, 0.02)},
           {"packet_rate": "500Hz", "packet_rate_hz": 500, "hop_every_packets": 2, "interval_s": tol(2e-3, 0.02)}),
    sources=("ExpressLRS src/src/common.cpp (FLRC rates, 0.389 ms on air)",
             "ExpressLRS src/lib/FHSS/FHSS.cpp (ISM2G4, 80 channels)",
             "Semtech SX1280 data sheet (FLRC: 650 kb/s, h = 0.5)"),
    hopping=True,
    hops_all_channels=True,
    kernel="fsk",
    kernel_params={"deviation_hz": (100e3, 250e3), "symbol_rate_hz": tol(650e3, 0.25)},
)
