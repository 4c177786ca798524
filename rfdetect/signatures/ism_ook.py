"""ISM remotes and sensors with on-off keying (the devices rtl_433 decodes).

Licence-free allocations at 315, 433.92, 868 and 915 MHz (ETSI EN 300 220, FCC
Part 15.231); pulse widths of 100 us to a few ms, packets repeated a few times.
Each pulse or each packet can appear as a burst; narrow (a few kHz to a few
hundred kHz depending on pulse edges).
"""
from .base import Signature, band

SIGNATURE = Signature(
    id="ism-ook",
    name="ISM OOK remotes and sensors",
    drone=False,
    bands=(band("315", 314e6, 316e6), band("433", 433.05e6, 434.79e6),
           band("868", 863e6, 870e6), band("915", 902e6, 928e6)),
    bandwidth_hz=(1e3, 400e3),
    burst_s=(50e-6, 2.0),
    modulation="OOK / ASK",
    min_bursts=3,
    pulse_trains=True,
    sources=("rtl_433 device decoders (src/devices/)", "ETSI EN 300 220", "FCC 47 CFR 15.231"),
)
