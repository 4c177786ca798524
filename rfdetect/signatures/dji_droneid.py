"""DJI DroneID (OcuSync 2/3): the drone's periodic telemetry burst.

LTE-like OFDM (RUB-SysSec/DroneSecurity ``src/helpers.py``, ``src/packetizer.py``;
proto17/dji_droneid README): FFT 1024 at 15.36 MS/s (15 kHz spacing), 601
subcarriers (about 9 MHz), QPSK; 9 symbols with CP [80,72,72,72,72,72,72,72,80];
Zadoff-Chu symbols at index 3 and 5 (roots 600 and 147), 2192 samples apart at
15.36 MS/s (legacy: 8 symbols, ZC at 2 and 4).  About every 600 ms, hopping;
630-665 us on air (legacy 565-600 us).  Checked on the Mavic Air 2 recording:
burst centres 2459.5 and 2445.0 MHz, 8.9-9.9 MHz occupied.  A DroneID report
needs the Zadoff-Chu correlation: an OFDM burst of the right size without it is
some other OcuSync frame.

The Zadoff-Chu check (rfdetect/kernels/evidence_droneid.py): both roots at a
normalised correlation of 0.4 or more (a burst gives about 0.7 at 0 dB in-band
SNR, 0.45 at -6 dB; noise, other OFDM and the recording's other wideband
bursts at most 0.17), 2192 +- 6 samples apart; carrier offset searched
+-300 kHz around the measured centre (the transmitter's offset, up to about
55 kHz on the recording, plus the band-centre error of a weak burst).
"""
from .base import Signature, band

SIGNATURE = Signature(
    id="dji-droneid",
    name="DJI DroneID (OcuSync 2/3)",
    drone=True,
    bands=(band("2G4", 2399.5e6, 2474.5e6, None, 5e6), band("5G8", 5721.5e6, 5831.5e6, None, 5e6)),
    bandwidth_hz=(8.0e6, 10.5e6),
    burst_s=(520e-6, 720e-6),
    modulation="OFDM, 601 subcarriers at 15 kHz, QPSK; Zadoff-Chu roots 600 and 147",
    min_bursts=1,
    interval_s=None,
    modes=({"variant": "OcuSync 2/3 (9 symbols)", "burst_s": (615e-6, 720e-6)},
           {"variant": "legacy (8 symbols)", "burst_s": (520e-6, 615e-6)}),
    sources=("RUB-SysSec/DroneSecurity src/helpers.py, src/packetizer.py",
             "proto17/dji_droneid README",
             "verified on the Mavic Air 2 recording (shared/recordings)"),
    hopping=True,
    kernel="droneid_zc",
    kernel_params={"roots": (600, 147), "nfft": 1024, "rate_hz": 15.36e6, "subcarriers": 601,
                   "zc_lag_samples": 2192, "min_correlation": 0.4, "max_cfo_hz": 300e3,
                   # Channels the whole-stream search (--zadoff-chu) correlates at: every 15 MHz
                   # from 2399.5 MHz (LINKS.md; the channel lists of public DroneID decoders),
                   # and at 5.8 GHz the ends LINKS.md gives and the decoders' four.
                   "search_channels_hz": tuple(2399.5e6 + 15e6 * k for k in range(6))
                   + (5721.5e6, 5756.5e6, 5776.5e6, 5796.5e6, 5816.5e6, 5831.5e6)},
    kernel_required=True,
)
