"""Wi-Fi (IEEE 802.11a/g/n/ac): OFDM, 64-point FFT at 20 MS/s per 20 MHz.

312.5 kHz subcarrier spacing: 3.2 us useful symbols and 0.8 us cyclic prefix
(IEEE 802.11-2020, clause 17), which the cyclic-prefix kernel measures; 20/40/80
MHz channels at 2.4 and 5 GHz; frames of 20 us to 5.5 ms.

A frame too weak to be seen whole (a few dB of in-band SNR), or with its channel half
outside the receiver's window, reaches the detector as slices 0.2-2 MHz wide: ``pieces``
gives the numerology that tells such a slice (kernels/evidence_ofdm.py,
prefix_piece_evidence), so that the classifier sets it aside rather than take it for a
control-link packet.
"""
from .base import Signature, band, tol

USEFUL_SYMBOL_S = 3.2e-6
PREFIX_S = 0.8e-6

SIGNATURE = Signature(
    id="wifi",
    name="Wi-Fi (802.11 OFDM)",
    drone=False,
    bands=(band("2G4", 2401e6, 2495e6), band("5G", 5150e6, 5895e6)),
    bandwidth_hz=(14e6, 85e6),
    burst_s=(20e-6, 5.5e-3),
    modulation="OFDM, 312.5 kHz spacing, CP 0.8 us",
    min_bursts=1,
    modes=({"channel_mhz": 20}, {"channel_mhz": 40}, {"channel_mhz": 80}),
    sources=("IEEE 802.11-2020 clause 17 (OFDM PHY) and clause 19 (HT)",),
    kernel="ofdm_cp",
    kernel_params={"useful_symbol_s": tol(USEFUL_SYMBOL_S, 0.05)},
    kernel_required=True,
    extra={"pieces": {"useful_symbol_s": USEFUL_SYMBOL_S, "prefix_s": PREFIX_S}},
)
