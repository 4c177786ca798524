"""DJI OcuSync uplink (remote-controller commands, "C2").

RUB-SysSec/DroneSecurity ``src/packetizer.py``: OFDM with 73 subcarriers (about
1.1 MHz), Zadoff-Chu in symbols 0 and 6, 500-520 us bursts, hopping over 2.4 and
5.8 GHz.  The subcarrier spacing (15 kHz, as the other OcuSync frames) and the
channel raster are not confirmed by the source: provisional.
"""
from .base import Signature, band

SIGNATURE = Signature(
    id="dji-ocusync-c2",
    name="DJI OcuSync uplink (C2)",
    drone=True,
    bands=(band("2G4", 2400.0e6, 2483.5e6), band("5G8", 5725.0e6, 5850.0e6)),
    bandwidth_hz=(0.85e6, 1.5e6),
    burst_s=(470e-6, 560e-6),
    modulation="OFDM, 73 subcarriers (about 1.1 MHz); ZC in symbols 0 and 6",
    min_bursts=2,
    sources=("RUB-SysSec/DroneSecurity src/packetizer.py (73 subcarriers, 500-520 us)",),
    provisional=True,
    unverified=("subcarrier spacing", "channel raster", "packet interval"),
    hopping=True,
    # No confirmation kernel: a cyclic-prefix test on 7 symbols of 73 subcarriers has too
    # little signal (about 500 independent samples) to tell OFDM from noise, and the
    # uplink's Zadoff-Chu roots are not published.
)
