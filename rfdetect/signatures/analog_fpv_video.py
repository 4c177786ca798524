"""Analog FPV video: FM-modulated NTSC/PAL, continuous, 6-8 MHz wide.

Channel tables from ArduPilot ``AP_VideoTX_Table.cpp``: 1.2/1.3 GHz channels 1080,
1120, 1160, 1200, 1240 (or 1258), 1280, 1320, 1360 MHz; 5.8 GHz bands A, B, E, F,
R, L, X, 8 channels each, 4990-5945 MHz.  The video's line rate, NTSC 15.734 kHz,
PAL 15.625 kHz (ITU-R BT.1700), shows in its FM carrier, and below the noise in the
power of narrow sub-bands (kernels/evidence_fmvideo.py).
"""
from .base import Signature, band

SIGNATURE = Signature(
    id="analog-fpv-video",
    name="Analog FPV video (FM)",
    drone=True,
    bands=(band("1G3", 1080e6, 1360e6, 9, 5e6), band("5G8", 4990e6, 5945e6, 56, 5e6)),
    bandwidth_hz=(3e6, 12e6),
    burst_s=(20e-3, float("inf")),
    modulation="FM video (NTSC/PAL)",
    min_bursts=1,
    modes=({"standard": "NTSC", "line_rate_hz": 15734.264}, {"standard": "PAL", "line_rate_hz": 15625.0}),
    sources=("ArduPilot libraries/AP_VideoTX/AP_VideoTX_Table.cpp (channel tables)",
             "ITU-R BT.1700 (NTSC/PAL line rates)"),
    continuous=True,
    kernel="fm_video",
    kernel_params={"line_rates_hz": (15734.264, 15625.0), "line_rate_tol_hz": 60.0},
)
