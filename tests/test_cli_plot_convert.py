"""`rfdetect plot` draws what was found; `rfdetect convert` keeps every sample and label."""
from __future__ import annotations

import json

import numpy as np
import pytest

from iqgen import write_hdf5
from rfdetect.cli import main
from rfdetect.model import Annotation
from rfdetect.sources import open_source
from synth import TrueBurst, scene

FS = 2.4e6


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    x = scene(FS, 240_000, [TrueBurst(50_000, 24_000, 300e3, 400e3, 25)], seed=4)
    return write_hdf5(tmp_path_factory.mktemp("p") / "rec.h5", x, sample_rate_hz=FS, center_freq_hz=868e6,
                      annotations=[Annotation(50_000, 24_000, 868.1e6, 868.5e6, "test-burst")])


def test_plot_writes_a_waterfall_with_the_burst(rec, tmp_path, capsys):
    import matplotlib.image
    out = tmp_path / "w.png"
    assert main(["plot", str(rec), "--out", str(out)]) == 0
    assert "1 bursts" in capsys.readouterr().err
    img = matplotlib.image.imread(out)
    assert img.shape[0] > 500 and img.shape[1] > 800
    # The waterfall shows the burst: the brightest (yellow) pixels form one
    # patch whose rows span about a tenth of the plot height (24 000 of 240 000 samples).
    yellow = (img[..., 0] > 0.7) & (img[..., 1] > 0.7) & (img[..., 2] < 0.4)
    rows = np.flatnonzero(yellow[:, :-250].any(axis=1))
    assert 40 < rows.size < 120 and rows.max() - rows.min() < 130


def test_plot_rejects_unknown_picture_type(rec, tmp_path, capsys):
    assert main(["plot", str(rec), "--out", str(tmp_path / "w.bmp")]) == 2
    assert "--out" in capsys.readouterr().err


def test_convert_round_trip_through_sigmf(rec, tmp_path, capsys):
    meta = tmp_path / "rt.sigmf-meta"
    back = tmp_path / "back.h5"
    assert main(["convert", str(rec), str(meta)]) == 0
    assert main(["convert", str(meta), str(back)]) == 0
    with open_source(rec) as a, open_source(back) as b:
        assert b.info.sample_rate_hz == FS and b.info.center_freq_hz == 868e6
        assert [x.label for x in b.info.annotations] == ["test-burst"]
        xa = np.concatenate([blk.samples for blk in a.blocks()], axis=1)
        xb = np.concatenate([blk.samples for blk in b.blocks()], axis=1)
        np.testing.assert_array_equal(xa, xb)
    assert json.loads(meta.read_text())["annotations"][0]["core:label"] == "test-burst"
