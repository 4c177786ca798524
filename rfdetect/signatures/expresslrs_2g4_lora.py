"""ExpressLRS 2.4 GHz, LoRa on SX1280.

Nominal (ExpressLRS ``src/src/common.cpp``): BW 812.5 kHz, SF5-SF8; packet rates
500/333/250/150/100/50 Hz; hop every 4 packets (every 2 at 50 Hz); 1.5-10.8 ms on
air; 80 channels over 2400.4-2479.4 MHz (``FHSS.cpp``).  Tolerances: +-10 % on
duration, +-2 % on interval, 600-1000 kHz occupied bandwidth.  Spreading factor per
rate from the SX1280 rate table: 500 Hz SF5, 333 Hz Full SF5 (``RATE_LORA_333HZ_8CH``,
3003 us), 250 Hz SF6, 150 Hz SF7, 100 Hz Full SF7 (``RATE_LORA_100HZ_8CH``), 50 Hz
SF8; the "Full" rates send 13-byte packets.
"""
from .base import Signature, band, tol

# packet rate -> (packet interval s, spreading factor, hop every N packets)
_RATES = {"500Hz": (2e-3, 5, 4), "333HzFull": (3.003e-3, 5, 4), "250Hz": (4e-3, 6, 4),
          "150Hz": (6.666e-3, 7, 4), "100HzFull": (10e-3, 7, 4), "50Hz": (20e-3, 8, 2)}

SIGNATURE = Signature(
    id="expresslrs-2g4-lora",
    name="ExpressLRS 2.4 GHz (LoRa, SX1280)",
    drone=True,
    bands=(band("ISM2G4", 2400.4e6, 2479.4e6, 80, 0.4e6),),
    bandwidth_hz=(600e3, 1000e3),
    burst_s=(1.5e-3 * 0.9, 10.8e-3 * 1.1),
    modulation="LoRa CSS, BW 812.5 kHz, SF5-SF8, up-chirps",
    min_bursts=3,
    interval_s=(2e-3 * 0.98, 20e-3 * 1.02),
    modes=tuple({"packet_rate": rate, "packet_rate_hz": round(1 / iv), "sf": sf, "hop_every_packets": hop,
                 "interval_s": tol(iv, 0.02)} for rate, (iv, sf, hop) in _RATES.items()),
    sources=("ExpressLRS src/src/common.cpp (SX1280 rates, BW 812.5 kHz, time on air)",
             "ExpressLRS src/lib/FHSS/FHSS.cpp (ISM2G4, 80 channels)"),
    hopping=True,
    hops_all_channels=True,
    kernel="lora",
    # Preamble up-chirps per spreading factor (common.cpp: 12, 14 at SF6).
    kernel_params={"bw_hz": 812.5e3, "sf": (5, 8), "direction": "up",
                   "preamble_symbols": {5: 12, 6: 14, 7: 12, 8: 12}},
)
