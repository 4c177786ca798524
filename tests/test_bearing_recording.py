"""End to end on a multi-channel HDF5 recording: detector bursts -> burst-gated bearings."""
from __future__ import annotations

import numpy as np

from rfdetect.bearing import array_for_recording, bearing_for_burst, uca
from rfdetect.detect import BurstDetector, DetectorConfig
from rfdetect.model import SensorPosition
from rfdetect.sources.hdf5 import HDF5Source, HDF5Writer
from test_bearing_signals import C, Emitter, synth

FS, FC = 2.4e6, 868e6


def test_bearings_for_detected_bursts_of_a_multichannel_recording(tmp_path):
    arr = uca(5, 0.35 * C / FC)
    rng = np.random.default_rng(61)
    n = 240_000
    truth = {-500e3: 75.0, 400e3: 95.0}       # two hopping emitters 20 deg apart
    ems = [Emitter(truth[f], f, 200e3, t0, 2e-3, 12.0)
           for t0, f in ((0.02, -500e3), (0.035, 400e3), (0.05, -500e3), (0.065, 400e3), (0.07, -500e3))]
    x, _ = synth(arr.positions_m, FS, FC, ems, n, rng)
    path = tmp_path / "kraken.h5"
    geo = {"name": arr.name, "elements_m": [list(e) for e in arr.elements_m], "heading_deg": 0.0}
    with HDF5Writer(path, FS, FC, num_channels=5, sensor=SensorPosition(52.0, 4.0, 10.0, 0.0), array=geo) as w:
        w.append(x)
    with HDF5Source(path) as src:
        info = src.info
        array = array_for_recording(info)
        det = BurstDetector(DetectorConfig(), info.sample_rate_hz, info.center_freq_hz)
        bursts = []
        for block in src.blocks():
            bursts += det.feed(block)
        bursts += det.finish()
        recs = []
        for b in bursts:
            if b.sample_end - b.sample_start < 1000:
                continue
            iq = src.read_raw(b.sample_start, b.sample_end)
            rec = bearing_for_burst(iq, info.sample_rate_hz, info.center_freq_hz, b, array,
                                    sample_index0=b.sample_start)
            recs.append((b, rec))
    assert len(recs) == 5
    for b, rec in recs:
        want = truth[min(truth, key=lambda f: abs(FC + f - b.center_freq_hz))]
        assert rec["usable"], rec
        assert abs((rec["bearing_deg"] - want + 180) % 360 - 180) < 2.0
        assert rec["sensor"]["lat"] == 52.0
