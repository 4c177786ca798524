"""TBS Crossfire: 868/915 MHz control link.

RF modes 4 / 50 / 150 Hz are known from the CRSF telemetry enums in flight
controller code.  The radio is known: a reverse engineering of the receiver (g3gg0,
reported by Hackaday in February 2022) found a PIC32 and a Semtech SX1272, whose
register settings gave the hop sequence.  Which modulation each mode uses is not
confirmed by a source (commonly described as FSK at 150 Hz and LoRa at 50 Hz), so
bandwidth, burst duration and modulation ranges below are guesses, bounded by what the
SX1272 can send (data sheet rev. 2, table 8 and RegModemConfig1/2): FSK at 1.2-300 kb/s
with a deviation of 0.6-200 kHz (deviation + rate / 2 <= 250 kHz, so at most about
500 kHz occupied), LoRa at 125, 250 or 500 kHz, SF6-SF12.  Provisional.  The band plan
is a guess too (ExpressLRS's); that it hops over its whole band is not: an FHSS link
under FCC 15.247 must spread over at least 25-50 channels.
"""
from .base import Signature, band, tol

SIGNATURE = Signature(
    id="tbs-crossfire",
    name="TBS Crossfire",
    drone=True,
    bands=(band("EU868", 863.275e6, 869.575e6, 13, 0.25e6),
           band("FCC915", 903.5e6, 926.9e6, 40, 0.25e6)),
    bandwidth_hz=(50e3, 600e3),
    burst_s=(0.5e-3, 20e-3),
    modulation="FSK (150 Hz) or LoRa (50 Hz), unverified",
    # Known by its timing alone (interval and hop): three gaps of four packets fitted a
    # lattice by chance, and pieces of one weak LoRaWAN packet, 30-70 kHz apart across its
    # sweep, passed for hops (bench_false_alarms.py: crowded-868:772115, 775010,
    # lorawan:726072).  Six packets, five gaps.
    min_bursts=6,
    interval_s=(1 / 150 * 0.97, 0.25 * 1.03),
    modes=({"rf_mode": "150Hz", "packet_rate_hz": 150, "modulation": "FSK", "interval_s": tol(1 / 150, 0.03)},
           {"rf_mode": "50Hz", "packet_rate_hz": 50, "modulation": "LoRa", "interval_s": tol(20e-3, 0.03)},
           {"rf_mode": "4Hz", "packet_rate_hz": 4, "interval_s": tol(0.25, 0.03)}),
    sources=("CRSF telemetry RF mode enums (4/50/150 Hz) in flight-controller code (Betaflight, ArduPilot)",
             "g3gg0's reverse engineering of the Crossfire receiver (PIC32 and SX1272, channel hopping), "
             "Hackaday, 2022-02",
             "Semtech SX1272/73 data sheet rev. 2, table 8 (FSK 1.2-300 kb/s, deviation 0.6-200 kHz, "
             "deviation + rate/2 <= 250 kHz) and RegModemConfig1/2 (LoRa 125/250/500 kHz, SF6-12)"),
    provisional=True,
    unverified=("bandwidth_hz", "burst_s", "modulation", "band plan"),
    hopping=True,
    hops_all_channels=True,
    kernel="fsk",
    # The lower ends are guesses, the upper ends the SX1272's (the verdict widens both by
    # the discriminator's spread at the burst's SNR).
    kernel_params={"deviation_hz": (10e3, 200e3), "symbol_rate_hz": (20e3, 300e3)},
)
