"""mLRS: open-source LoRa/FSK long-range link (EU868, FCC915; also 2.4 GHz).

Known from the WarDragon detection documentation: frequency-hopping LoRa in the
868/915 MHz bands.  The LoRa frames, from the mLRS source: 91 bytes
(``FRAME_TX_RX_LEN``, ``Common/common_conf.h``) at BW 500 kHz, CR 4/5, 12 preamble
symbols, implicit header, SF5 (time on air 13.2 ms) or SF6 (22.3-22.56 ms on SX127x /
SX126x) (``Common/sx-drivers/sx126x_driver.h``, ``sx127x_driver.h``): about five times
as long as an ExpressLRS packet at the same spreading factor (4.4 ms at SF6), which is
what tells the two apart before a packet lattice is seen.  Which packet rate uses which
spreading factor differs between chips and firmware versions (the 19 Hz mode is SF6 on
SX127x; the 50 Hz mode is FSK at 900 MHz on recent firmware), so the modes below bind
none.  The chirp check accepts SF5 and SF6 only: an ExpressLRS 50 Hz packet (SF8,
18.6 ms, as long as an mLRS SF5 packet) is then not taken for mLRS.  Packet rates (19,
31, 50 Hz), occupied bandwidth and the burst duration range are not confirmed by a
source: provisional.
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
    sources=("WarDragon detection documentation (mLRS: LoRa FHSS in EU868/FCC915)",
             "mLRS Common/common_conf.h (91-byte frames), Common/sx-drivers/sx126x_driver.h and "
             "sx127x_driver.h (SF5/SF6 at BW 500 kHz, time on air)"),
    provisional=True,
    unverified=("bandwidth_hz", "burst_s", "interval_s", "modes"),
    hopping=True,
    kernel="lora",
    kernel_params={"bw_hz": 500e3, "sf": (5, 6), "direction": "up", "preamble_symbols": 12},
    # Time on air of a 91-byte frame at each spreading factor (the modes bind none).
    extra={"air_s_by_sf": {5: (13.2e-3, 13.2e-3), 6: (22.3e-3, 22.56e-3)}},
)
