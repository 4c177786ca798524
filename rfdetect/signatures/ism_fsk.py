"""ISM sensors and meters with FSK (weather stations, meters, alarms).

Allocations at 315, 433.92, 868 and 915 MHz; 2-FSK at 1-100 kBd with 5-100 kHz
deviation (rtl_433 FSK decoders, wM-Bus EN 13757-4); packets of a few ms to
hundreds of ms, sporadic, on fixed channels.
"""
from .base import Signature, band

SIGNATURE = Signature(
    id="ism-fsk",
    name="ISM FSK sensors and meters",
    drone=False,
    bands=(band("315", 314e6, 316e6), band("433", 433.05e6, 434.79e6),
           band("868", 863e6, 870e6), band("915", 902e6, 928e6)),
    bandwidth_hz=(10e3, 400e3),
    burst_s=(1e-3, 0.5),
    modulation="2-FSK / GFSK, 1-100 kBd",
    min_bursts=1,
    sources=("rtl_433 FSK device decoders", "EN 13757-4 (wM-Bus)"),
    kernel="fsk",
    kernel_params={"deviation_hz": (3e3, 120e3), "symbol_rate_hz": (1e3, 150e3)},
)
