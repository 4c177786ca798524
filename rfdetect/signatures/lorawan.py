"""LoRaWAN uplinks: sensors, sporadic, no fast hopping: not drones."""
from .base import Band, Signature

SIGNATURE = Signature(
    id="lorawan",
    name="LoRaWAN",
    drone=False,
    bands=(Band("EU868", 863e6, 870e6), Band("US915", 902e6, 928e6), Band("AU915", 915e6, 928e6)),
    bandwidth_hz=(90e3, 290e3),
    burst_s=(20e-3, 3.0),
    modulation="LoRa CSS, BW 125/250 kHz, SF7-SF12",
    min_bursts=1,
    sources=("LoRa Alliance RP002 regional parameters",),
)
