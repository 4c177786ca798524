"""ADS-B / Mode S replies at 1090 MHz: aircraft, not drones."""
from .base import Signature, band

SIGNATURE = Signature(
    id="adsb",
    name="ADS-B / Mode S (1090 MHz)",
    drone=False,
    # Transponders may be 3 MHz off 1090 MHz (ICAO Annex 10 Vol IV, 3.1.2.10.1.1).
    bands=(band("1090", 1087e6, 1093e6),),
    # Half the power of on-off pulses sits in the carrier line, which is what a
    # burst detector measures first: from 30 kHz up to the full 2 MHz main lobe.
    bandwidth_hz=(30e3, 4.0e6),
    # 8 us preamble + 56 or 112 us of 1 Mbit/s PPM; overlapping replies (garbling) and
    # Mode A/C trains merge into bursts of a few ms.
    burst_s=(30e-6, 3.0e-3),
    modulation="PPM 1 Mbit/s",
    min_bursts=3,
    modes=({"format": "short squitter (56 bit)"}, {"format": "extended squitter (112 bit)"}),
    sources=("ICAO Annex 10 Vol IV (Mode S reply format)",),
)
