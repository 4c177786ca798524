"""ExpressLRS 900 MHz, LoRa on SX127x: control link of FPV drones."""
from .base import Band, Signature

# Time on air per packet rate (ExpressLRS src/src/common.cpp, LoRa SX127x table),
# with +-8 % for our edge measurement.
_AIR_S = {"200Hz": 4.38e-3, "100Hz": 8.77e-3, "50Hz": 18.56e-3, "25Hz": 29.95e-3}

SIGNATURE = Signature(
    id="expresslrs-lora",
    name="ExpressLRS 900 (LoRa)",
    drone=True,
    bands=(
        Band("FCC915", 903.5e6 - 0.25e6, 926.9e6 + 0.25e6),
        Band("EU868", 863.275e6 - 0.25e6, 869.575e6 + 0.25e6),
        Band("AU915", 915.5e6 - 0.25e6, 926.9e6 + 0.25e6),
        Band("IN866", 865.375e6 - 0.25e6, 866.95e6 + 0.25e6),
        Band("EU433", 433.1e6 - 0.25e6, 434.45e6 + 0.25e6),
        Band("US433W", 423.5e6 - 0.25e6, 438.0e6 + 0.25e6),
    ),
    bandwidth_hz=(380e3, 620e3),
    burst_s=(4.38e-3 * 0.92, 29.95e-3 * 1.08),
    modulation="LoRa CSS, BW 500 kHz, SF6-SF9",
    min_bursts=3,
    interval_s=(5e-3 * 0.98, 40e-3 * 1.02),
    modes=tuple({"packet_rate": rate, "burst_s": (t * 0.92, t * 1.08)} for rate, t in _AIR_S.items()),
    sources=("ExpressLRS src/lib/FHSS/FHSS.cpp (band plans)",
             "ExpressLRS src/src/common.cpp (packet rates, time on air)"),
)
