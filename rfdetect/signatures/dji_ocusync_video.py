"""DJI OcuSync video downlink: wide OFDM frames from the drone.

RUB-SysSec/DroneSecurity, tmbinc OcuSync notes: OFDM 10 or 20 MHz wide (601 or
1201 subcarriers at 15 kHz; FFT 1024 at 15.36 MS/s or 2048 at 30.72 MS/s), about
1 ms frames.  15 kHz spacing means 66.7 us useful symbols, which is what the
cyclic-prefix kernel tells apart from Wi-Fi (3.2 us).  Frame timing and raster
are not confirmed: provisional.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="dji-ocusync-video",
    name="DJI OcuSync video",
    drone=True,
    bands=(band("2G4", 2400.0e6, 2483.5e6), band("5G8", 5725.0e6, 5850.0e6)),
    bandwidth_hz=(8.0e6, 22e6),
    burst_s=(0.3e-3, 5e-3),
    modulation="OFDM 10/20 MHz, 15 kHz subcarrier spacing",
    min_bursts=2,
    # Frames back to back for as long as the drone flies: the floor absorbs the link, whose
    # steady span (detect/steady.py) then stands for many frames at once.
    continuous=True,
    modes=({"bandwidth": "10MHz", "nfft": 1024}, {"bandwidth": "20MHz", "nfft": 2048}),
    sources=("RUB-SysSec/DroneSecurity (OcuSync frame types)", "tmbinc OcuSync notes (10/20 MHz video)"),
    provisional=True,
    unverified=("burst_s", "frame interval", "channel raster"),
    kernel="ofdm_cp",
    kernel_params={"useful_symbol_s": tol(1 / 15e3, 0.05)},
    kernel_required=True,
    # A DroneID burst is OFDM of the same numerology: its Zadoff-Chu match wins.
    extra={"yields_to": ("dji-droneid",)},
)
