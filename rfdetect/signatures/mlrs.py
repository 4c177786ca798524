"""mLRS: open-source LoRa/FSK long-range link (EU868, FCC915; also 2.4 GHz).

Known from the WarDragon detection documentation: frequency-hopping LoRa in the
868/915 MHz bands.  The LoRa frames, from the mLRS source: 91 bytes
(``FRAME_TX_RX_LEN``, ``Common/common_conf.h``) at BW 500 kHz, CR 4/5, 12 preamble
symbols, implicit header, SF5 (time on air 13.2 ms) or SF6 (22.3-22.56 ms on SX127x /
SX126x) (``Common/sx-drivers/sx126x_driver.h``, ``sx127x_driver.h``): about five times
as long as an ExpressLRS packet at the same spreading factor (4.4 ms at SF6), which is
what tells the two apart before a packet lattice is seen.  The modes at 868/915 MHz
(``Common/setup.h``, ``configure_mode``): 19 Hz (53 ms) at SF6 on SX126x and SX127x,
31 Hz (32 ms) at SF5 on SX126x.  The 50 Hz mode there is FSK (100 kb/s, 50 kHz
deviation, 7.6 ms), which this signature does not describe; 50 Hz LoRa (SF5) is sent
at 2.4 GHz only, outside its bands.  The chirp check accepts SF5 and SF6 only: an
ExpressLRS 50 Hz packet (SF8, 18.6 ms, as long as an mLRS SF6 packet) is then not taken
for mLRS.  Occupied bandwidth and the burst duration range are not confirmed by a
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
    interval_s=(32e-3 * 0.97, 53e-3 * 1.03),
    modes=({"packet_rate": "19Hz", "packet_rate_hz": 19, "sf": 6, "interval_s": tol(53e-3, 0.03)},
           {"packet_rate": "31Hz", "packet_rate_hz": 31, "sf": 5, "interval_s": tol(32e-3, 0.03)}),
    sources=("WarDragon detection documentation (mLRS: LoRa FHSS in EU868/FCC915)",
             "mLRS Common/common_conf.h (91-byte frames), Common/sx-drivers/sx126x_driver.h and "
             "sx127x_driver.h (SF5/SF6 at BW 500 kHz, time on air)",
             "mLRS Common/setup.h configure_mode (frame interval and LoRa configuration per mode)"),
    provisional=True,
    unverified=("bandwidth_hz", "burst_s"),
    hopping=True,
    kernel="lora",
    kernel_params={"bw_hz": 500e3, "sf": (5, 6), "direction": "up", "preamble_symbols": 12},
    # Time on air of a 91-byte frame at each spreading factor.
    extra={"air_s_by_sf": {5: (13.2e-3, 13.2e-3), 6: (22.3e-3, 22.56e-3)}},
)
