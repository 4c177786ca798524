"""Direction finding: coherent arrays, burst-gated DF, calibration, single-dongle DF, fusion.

Per burst of a multi-channel capture::

    from rfdetect.bearing import array_for_recording, bearing_for_burst
    array = array_for_recording(info, args.array)              # once per recording
    record = bearing_for_burst(block.samples, info.sample_rate_hz, block.center_freq_hz,
                               burst, array, method="music", link=detection_link,
                               sample_index0=block.sample_index0)

Fixes from several sensors' bearing records::

    from rfdetect.bearing import fix_from_records
    rec = fix_from_records([bearing_a, bearing_b, ...], link="elrs-868")   # None: no honest fix
    if rec is not None:
        emit(rec)
"""
from .amplitude import AntennaPattern, amplitude_bearing, load_heading_log
from .array import (ArrayGeometry, Calibration, array_for_recording, array_from_dict, load_array, save_array,
                    steering_vectors, uca, ula)
from .calibration import calibrate, calibrate_from_iq, self_test
from .crb import crb_bearing_deg, crb_single_deg
from .doa import DoaConfig, DoaResult, estimate_doa
from .fusion import Fix, SensorBearing, fix_from_records, triangulate
from .gated import GateConfig, bearing_for_burst, combine_bearings, gated_covariance
from .records import bearing_record, fix_record

__all__ = [
    "AntennaPattern", "amplitude_bearing", "load_heading_log",
    "ArrayGeometry", "Calibration", "array_for_recording", "array_from_dict", "load_array", "save_array",
    "steering_vectors", "uca", "ula",
    "calibrate", "calibrate_from_iq", "self_test",
    "crb_bearing_deg", "crb_single_deg",
    "DoaConfig", "DoaResult", "estimate_doa",
    "Fix", "SensorBearing", "fix_from_records", "triangulate",
    "GateConfig", "bearing_for_burst", "combine_bearings", "gated_covariance",
    "bearing_record", "fix_record",
]
