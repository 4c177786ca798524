"""ExpressLRS 900 MHz, GFSK mode on LR1121: 1000 Hz packets, hop every 2.

Nominal (ExpressLRS ``src/src/common.cpp``): 300 kb/s, deviation 100 kHz, 0.658 ms on
air, 1 ms packet interval.  Tolerances: +-12 % burst duration, +-2 % interval,
+-25 % symbol rate as our discriminator measures it, and 55-130 kHz deviation (the
discriminator reports the median |f|, which Gaussian shaping (BT 0.5) at h = 0.67
pulls to 0.7-0.8 of the peak deviation); occupied bandwidth about Carson's
2 x (100 + 150) kHz, 250-800 kHz as measured.
"""
from .base import EXPRESSLRS_900_BANDS, Signature, tol

SIGNATURE = Signature(
    id="expresslrs-fsk",
    name="ExpressLRS 900 (GFSK, LR1121)",
    drone=True,
    bands=tuple(b for name, b in EXPRESSLRS_900_BANDS.items() if name != "US433"),
    bandwidth_hz=(250e3, 800e3),
    burst_s=tol(0.658e-3, 0.12),
    modulation="GFSK 300 kb/s, deviation 100 kHz",
    min_bursts=4,
    interval_s=tol(1e-3, 0.02),
    modes=({"packet_rate": "1000Hz", "packet_rate_hz": 1000, "hop_every_packets": 2,
            "burst_s": tol(0.658e-3, 0.12), "interval_s": tol(1e-3, 0.02)},),
    sources=("ExpressLRS src/src/common.cpp (FSK rate: 300 kb/s, 100 kHz deviation, 0.658 ms)",
             "ExpressLRS src/lib/FHSS/FHSS.cpp (band plans)"),
    hopping=True,
    hops_all_channels=True,
    kernel="fsk",
    kernel_params={"deviation_hz": (55e3, 130e3), "symbol_rate_hz": tol(300e3, 0.25)},
)
