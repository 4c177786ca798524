"""ExpressLRS 900 MHz (and 433 MHz), LoRa on SX127x / LR1121: control link of FPV drones.

Nominal values (ExpressLRS ``src/src/common.cpp``, SX127x rate table): BW 500 kHz;
per packet rate the spreading factor and the time on air (each about 34 LoRa
symbols; 52 in "100 Hz Full", ``RATE_LORA_100HZ_8CH``, whose 13-byte packets carry
all channels at full resolution, at SF6 and CR 4/8).  Tolerances: +-8 % on burst duration for our edge measurement, +-2 %
on the packet interval (crystal and our timing), 380-620 kHz occupied bandwidth.
Hop every 4 packets (every 2 at 25 Hz), channels spread over the whole domain
(``src/lib/FHSS/FHSS.cpp``).
"""
from .base import EXPRESSLRS_900_BANDS, Signature, tol

# packet rate -> (packet interval s, time on air s, spreading factor, hop every N packets)
_RATES = {
    "250Hz": (4e-3, 3.216e-3, 5, 4),      # LR1121 only
    "200Hz": (5e-3, 4.38e-3, 6, 4),
    "100Hz": (10e-3, 8.77e-3, 7, 4),
    "100HzFull": (10e-3, 6.69e-3, 6, 4),
    "50Hz": (20e-3, 18.56e-3, 8, 4),
    "25Hz": (40e-3, 29.95e-3, 9, 2),
}

SIGNATURE = Signature(
    id="expresslrs-lora",
    name="ExpressLRS 900 (LoRa)",
    drone=True,
    bands=tuple(EXPRESSLRS_900_BANDS.values()),
    bandwidth_hz=(380e3, 620e3),
    burst_s=(3.216e-3 * 0.92, 29.95e-3 * 1.08),
    modulation="LoRa CSS, BW 500 kHz, SF5-SF9, up-chirps",
    min_bursts=3,
    interval_s=(4e-3 * 0.98, 40e-3 * 1.02),
    modes=tuple({"packet_rate": rate, "packet_rate_hz": round(1 / iv), "sf": sf, "hop_every_packets": hop,
                 "burst_s": tol(air, 0.08), "interval_s": tol(iv, 0.02)}
                for rate, (iv, air, sf, hop) in _RATES.items()),
    sources=("ExpressLRS src/lib/FHSS/FHSS.cpp (band plans)",
             "ExpressLRS src/src/common.cpp (packet rates, spreading factors, time on air; "
             "RATE_LORA_100HZ_8CH: SF6, CR 4/8, 10 ms, preamble 8, OTA8 packet of 13 bytes)"),
    hopping=True,
    hops_all_channels=True,
    kernel="lora",
    # Preamble up-chirps per spreading factor (common.cpp: 8 at 200/100 Hz and 100 Hz Full, 10 at 50/25 Hz,
    # 12 at the LR1121's 250 Hz).
    # Sync word: LoRa's default 0x12 (src/lib/SX127xDriver/SX127xRegs.h, SX127X_SYNC_WORD).
    kernel_params={"bw_hz": 500e3, "sf": (5, 9), "direction": "up",
                   "preamble_symbols": {5: 12, 6: 8, 7: 8, 8: 10, 9: 10}, "sync_words": (0x12,)},
)
