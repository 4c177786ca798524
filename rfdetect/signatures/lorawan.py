"""LoRaWAN uplinks and downlinks: sensors, sporadic, no fast hopping: not drones.

LoRa Alliance RP002 regional parameters: EU868 channels 868.1/868.3/868.5 MHz and
more, BW 125/250 kHz (500 kHz in US915 downlinks), SF7-SF12; frames of tens of
ms to seconds.  Tolerances: occupied bandwidth 90-290 kHz for 125/250 kHz.
"""
from .base import Signature, band

SIGNATURE = Signature(
    id="lorawan",
    name="LoRaWAN",
    drone=False,
    bands=(band("EU868", 863e6, 870e6), band("US915", 902e6, 928e6), band("AU915", 915e6, 928e6),
           band("EU433", 433.05e6, 434.79e6)),
    bandwidth_hz=(90e3, 290e3),
    burst_s=(20e-3, 3.0),
    modulation="LoRa CSS, BW 125/250 kHz, SF7-SF12",
    min_bursts=1,
    modes=({"bw_hz": 125e3}, {"bw_hz": 250e3}),
    sources=("LoRa Alliance RP002 regional parameters",),
    kernel="lora",
    # Sync word 0x34 on public networks (reserved for LoRaWAN: Semtech SX1276 datasheet,
    # RegSyncWord), LoRa's default 0x12 on private ones.
    kernel_params={"bw_hz": (125e3, 250e3), "sf": (7, 12), "direction": "either", "preamble_symbols": 8,
                   "sync_words": (0x34, 0x12)},
)
