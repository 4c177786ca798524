"""mLRS: open-source LoRa/FSK long-range link (EU868, FCC915; also 2.4 GHz).

Known from the WarDragon detection documentation: frequency-hopping LoRa in the
868/915 MHz bands.  Packet rates (19, 31, 50 Hz), bandwidth and burst durations
below are not confirmed by a source: provisional.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="mlrs",
    name="mLRS",
    drone=True,
    bands=(band("EU868", 863.1e6, 869.9e6, 18, 0.25e6),
           band("FCC915", 903.5e6, 926.9e6, 40, 0.25e6)),
    bandwidth_hz=(90e3, 620e3),
    burst_s=(5e-3, 45e-3),
    modulation="LoRa CSS, frequency hopping",
    min_bursts=3,
    interval_s=(20e-3 * 0.97, 53e-3 * 1.03),
    modes=({"packet_rate": "19Hz", "packet_rate_hz": 19, "interval_s": tol(53e-3, 0.03)},
           {"packet_rate": "31Hz", "packet_rate_hz": 31, "interval_s": tol(32e-3, 0.03)},
           {"packet_rate": "50Hz", "packet_rate_hz": 50, "interval_s": tol(20e-3, 0.03)}),
    sources=("WarDragon detection documentation (mLRS: LoRa FHSS in EU868/FCC915)",),
    provisional=True,
    unverified=("bandwidth_hz", "burst_s", "interval_s", "modes"),
    hopping=True,
    kernel="lora",
    kernel_params={"bw_hz": 500e3, "sf": (5, 8), "direction": "up"},
)
