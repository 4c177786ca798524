"""Channel plans of every simulated link, per band domain.

Each plan is a tuple of channel centre frequencies in Hz.  Sources:

- ExpressLRS 900/433 domains: ExpressLRS ``src/lib/FHSS/FHSS.cpp`` (domain table: first and
  last frequency and channel count, channels evenly spaced), as summarised in LINKS.md
  ("ExpressLRS 900, LoRa (SX127x)" row).  ExpressLRS 2.4: ISM2G4 2400.4-2479.4 MHz, 80
  channels (LINKS.md, "ExpressLRS 2.4 (SX1280)" row).
- FrSky R9: DIY-Multiprotocol-TX-Module ``FrSkyR9_sx1276.ino`` (LINKS.md row "FrSky R9").
- 1.2/1.3 GHz and 5.8 GHz analog video: ArduPilot ``AP_VideoTX_Table.cpp`` (LINKS.md);
  band letters A, B, E, F, R, L, X as in the common RTC6705/RX5808 tables.
- DroneID centres: LINKS.md (seen at 2399.5-2474.5 and 5721.5-5831.5 MHz); the 15 MHz
  raster at 2.4 GHz matches the two centres measured on the Mavic Air 2 recording within
  0.5 MHz; the 10 MHz raster at 5.8 GHz is *provisional*.
- LoRaWAN: LoRa Alliance RP002-1.0.x regional parameters (EU863-870 default and common
  channels, US902-928 uplink sub-bands).
- Wi-Fi: IEEE 802.11 channel numbering (2.4 GHz: 2407 + 5 n MHz, 5 GHz: 5000 + 5 n MHz).
- Plans marked *provisional* (Crossfire, mLRS, FrSky D16, AFHDS 2A, DSMX, OcuSync) follow the
  band and channel count given in LINKS.md with an assumed raster; they are good enough to
  exercise a detector's hop tracking but are not firmware-exact.
"""
from __future__ import annotations

import numpy as np

MHZ = 1e6


def _even(first_mhz: float, last_mhz: float, count: int) -> tuple[float, ...]:
    return tuple(float(f) for f in np.round(np.linspace(first_mhz * MHZ, last_mhz * MHZ, count)))


def _raster(first_mhz: float, step_mhz: float, count: int) -> tuple[float, ...]:
    return tuple(round((first_mhz + i * step_mhz) * MHZ) * 1.0 for i in range(count))


ELRS_900 = {
    "FCC915": _even(903.5, 926.9, 40),
    "EU868": _even(863.275, 869.575, 13),
    "AU915": _even(915.5, 926.9, 20),
    "IN866": _even(865.375, 866.95, 4),
    "EU433": _even(433.1, 434.45, 3),
    "US433": _even(433.25, 438.0, 8),
    "US433W": _even(423.5, 438.0, 20),
}
ELRS_2G4 = {"ISM2G4": _even(2400.4, 2479.4, 80)}

FRSKY_R9 = {"FCC915": _raster(904.0, 0.5, 43), "EU868": _raster(863.25, 0.25, 19)}
# provisional: Crossfire and mLRS hop over the same regulatory bands as ExpressLRS
CROSSFIRE = {"FCC915": _even(903.5, 926.9, 40), "EU868": _even(863.275, 869.575, 13)}
MLRS = {"FCC915": _even(903.5, 926.9, 40), "EU868": _even(863.1, 869.9, 18)}
FRSKY_D16 = {"ISM2G4": _raster(2404.0, 1.5, 47)}          # provisional raster, 47 channels
AFHDS2A = {"ISM2G4": _raster(2405.0, 4.5, 16)}            # provisional raster, 16 channels
DSMX = {"ISM2G4": _raster(2403.0, 1.0, 73)}               # channels 3-75 at 1 MHz; 23 used per model

DRONEID = {"2G4": _raster(2399.5, 15.0, 6), "5G8": _raster(5721.5, 10.0, 12)}
OCUSYNC_C2 = {"2G4": _raster(2401.0, 1.0, 79), "5G8": _raster(5726.0, 1.0, 124)}   # provisional
OCUSYNC_VIDEO = {"2G4": _raster(2409.5, 10.0, 6), "5G8": _raster(5735.5, 10.0, 10)}  # provisional

VIDEO_1G3 = {"1G3": (1080e6, 1120e6, 1160e6, 1200e6, 1240e6, 1258e6, 1280e6, 1320e6, 1360e6)}
VIDEO_5G8 = {
    "A": tuple(f * MHZ for f in (5865, 5845, 5825, 5805, 5785, 5765, 5745, 5725)),
    "B": tuple(f * MHZ for f in (5733, 5752, 5771, 5790, 5809, 5828, 5847, 5866)),
    "E": tuple(f * MHZ for f in (5705, 5685, 5665, 5645, 5885, 5905, 5925, 5945)),
    "F": tuple(f * MHZ for f in (5740, 5760, 5780, 5800, 5820, 5840, 5860, 5880)),
    "R": tuple(f * MHZ for f in (5658, 5695, 5732, 5769, 5806, 5843, 5880, 5917)),
    "L": tuple(f * MHZ for f in (5333, 5373, 5413, 5453, 5493, 5533, 5573, 5613)),
    "X": tuple(f * MHZ for f in (4990, 5020, 5050, 5080, 5110, 5140, 5170, 5200)),
}

LORAWAN = {
    "EU868": tuple(f * MHZ for f in (868.1, 868.3, 868.5, 867.1, 867.3, 867.5, 867.7, 867.9, 869.525)),
    "US915": _raster(902.3, 0.2, 64) + _raster(903.0, 1.6, 8) + _raster(923.3, 0.6, 8),
}
# ISM remotes and sensors are not channelised: any frequency inside these allocations
ISM_RANGES = {
    "433": ((433.05 * MHZ, 434.79 * MHZ),),
    "868": ((863.0 * MHZ, 870.0 * MHZ),),
    "915": ((902.0 * MHZ, 928.0 * MHZ),),
    "315": ((314.0 * MHZ, 316.0 * MHZ),),
}
WIFI = {
    "2G4": tuple((2407 + 5 * n) * MHZ for n in range(1, 14)),
    "5G": tuple((5000 + 5 * n) * MHZ for n in (36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116,
                                               120, 124, 128, 132, 136, 140, 149, 153, 157, 161, 165)),
}
ADSB = {"1090": (1090e6,)}


def channel_index(plan: tuple[float, ...], freq_hz: float, tol_hz: float = 1.0) -> int | None:
    """Index of the channel at ``freq_hz`` in a plan, or None."""
    for i, f in enumerate(plan):
        if abs(f - freq_hz) <= tol_hz:
            return i
    return None
