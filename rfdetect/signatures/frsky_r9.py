"""FrSky R9 / ACCESS R9 (SX1276): long-range control link.

Band plans and PHY (DIY-Multiprotocol-TX-Module ``FrSkyR9_sx1276.ino``): FCC
904.0-925.0 MHz, 43 channels at 500 kHz; EU 863.25-867.75 MHz, 19 channels at
250 kHz; LoRa BW 500 kHz, SF6, CR 4/5; 20 ms frames.  The time on air is not
confirmed by a source: the 2-8 ms range below is an estimate (a 20-40 byte
packet at SF6/BW500), hence provisional.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="frsky-r9",
    name="FrSky R9 (LoRa)",
    drone=True,
    bands=(band("FCC915", 904.0e6, 925.0e6, 43, 0.25e6, 0.5e6),
           band("EU868", 863.25e6, 867.75e6, 19, 0.25e6, 0.25e6)),
    bandwidth_hz=(380e3, 620e3),
    burst_s=(2e-3, 8e-3),
    modulation="LoRa CSS, BW 500 kHz, SF6, CR 4/5",
    min_bursts=3,
    interval_s=tol(20e-3, 0.03),
    modes=({"frame_rate": "50Hz", "packet_rate_hz": 50, "sf": 6, "interval_s": tol(20e-3, 0.03)},),
    sources=("DIY-Multiprotocol-TX-Module FrSkyR9_sx1276.ino (band plans, SF6, BW 500 kHz, 20 ms frames)",),
    provisional=True,
    unverified=("burst_s",),
    hopping=True,
    kernel="lora",
    kernel_params={"bw_hz": 500e3, "sf": (6, 6), "direction": "up"},
)
