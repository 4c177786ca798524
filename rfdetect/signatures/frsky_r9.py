"""FrSky R9 / ACCESS R9 (SX1276): long-range control link.

Band plans and PHY (DIY-Multiprotocol-TX-Module ``FrSkyR9_sx1276.ino``): FCC
904.0-925.0 MHz, 43 channels at 500 kHz; EU 863.25-867.75 MHz, 19 channels at
250 kHz; LoRa BW 500 kHz, SF6, CR 4/5, implicit header, payload CRC off,
preamble length 9; one packet every 20 ms: 26 bytes (FCC and the 868/915
"flex" plans), 14 bytes in the EU (LBT) plan; the receiver's telemetry reply
is 13 bytes.  Time on air by the SX1276 data sheet's formula (section
4.1.1.7; symbol 2^6 / 500 kHz = 128 us, preamble 9 + 4.25 symbols):
26 bytes -> 48 payload symbols, 7.84 ms; 13 or 14 bytes -> 28, 5.28 ms.
``burst_s`` is 5.28-7.84 ms +-8 % (our edge measurement, as for ExpressLRS).
These settings come from a reimplementation of the protocol, not from FrSky,
and LINKS.md lists the burst as unverified: provisional.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="frsky-r9",
    name="FrSky R9 (LoRa)",
    drone=True,
    bands=(band("FCC915", 904.0e6, 925.0e6, 43, 0.25e6, 0.5e6),
           band("EU868", 863.25e6, 867.75e6, 19, 0.25e6, 0.25e6)),
    bandwidth_hz=(380e3, 620e3),
    burst_s=(5.28e-3 * 0.92, 7.84e-3 * 1.08),
    modulation="LoRa CSS, BW 500 kHz, SF6, CR 4/5",
    min_bursts=3,
    interval_s=tol(20e-3, 0.03),
    modes=({"frame_rate": "50Hz", "packet_rate_hz": 50, "sf": 6, "interval_s": tol(20e-3, 0.03)},),
    sources=("DIY-Multiprotocol-TX-Module FrSkyR9_sx1276.ino (band plans, SF6, BW 500 kHz, CR 4/5, "
             "implicit header, no CRC, preamble 9, 26/14/13-byte packets, 20 ms frames)",
             "Semtech SX1276 data sheet, section 4.1.1.7 (LoRa time on air)"),
    provisional=True,
    unverified=("burst_s",),
    hopping=True,
    hops_all_channels=True,
    kernel="lora",
    kernel_params={"bw_hz": 500e3, "sf": (6, 6), "direction": "up", "preamble_symbols": 9},
)
