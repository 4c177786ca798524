"""ADS-B / Mode S replies at 1090 MHz: aircraft, not drones."""
from .base import Band, Signature

SIGNATURE = Signature(
    id="adsb",
    name="ADS-B / Mode S (1090 MHz)",
    drone=False,
    # Transponders may be 3 MHz off 1090 MHz (ICAO Annex 10 Vol IV, 3.1.2.10.1.1).
    bands=(Band("1090", 1087e6, 1093e6),),
    # Half the power of on-off pulses sits in the carrier line, which is what a
    # burst detector measures first: from 30 kHz up to the full 2 MHz main lobe.
    bandwidth_hz=(30e3, 4.0e6),
    # 8 us preamble + 56 or 112 us of 1 Mbit/s PPM, seen through frames up to 1 ms long.
    burst_s=(30e-6, 1.0e-3),
    modulation="PPM 1 Mbit/s",
    min_bursts=3,
    sources=("ICAO Annex 10 Vol IV (Mode S reply format)",),
)
