"""DJI DroneID (OcuSync 2/3): the drone's periodic telemetry burst."""
from .base import Band, Signature

SIGNATURE = Signature(
    id="dji-droneid",
    name="DJI DroneID (OcuSync)",
    drone=True,
    bands=(Band("2G4", 2399.5e6 - 5e6, 2474.5e6 + 5e6), Band("5G8", 5721.5e6 - 5e6, 5831.5e6 + 5e6)),
    bandwidth_hz=(8.5e6, 10.5e6),
    burst_s=(540e-6, 700e-6),
    modulation="OFDM, 601 subcarriers at 15 kHz, QPSK; Zadoff-Chu roots 600 and 147",
    min_bursts=1,
    modes=({"variant": "OcuSync 2/3 (9 symbols)", "burst_s": (620e-6, 700e-6)},
           {"variant": "legacy (8 symbols)", "burst_s": (540e-6, 620e-6)}),
    sources=("RUB-SysSec/DroneSecurity src/helpers.py, src/packetizer.py",
             "proto17/dji_droneid README",
             "verified on the Mavic Air 2 recording (shared/recordings)"),
)
