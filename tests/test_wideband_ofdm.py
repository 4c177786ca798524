"""The cyclic-prefix kernel keeps only the burst's band: a Wi-Fi frame at 0 dB in-band SNR
in a 30.72 MS/s window correlates with itself 3.2 us later at about 0.2 x S / (S + N) in
band (0.1), not the 0.075-0.085 the noise of the whole window left."""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.kernels.evidence_ofdm import ofdm_evidence
from rfdetect.simulate import ofdm as sim_ofdm

FS = 30.72e6
BW = 16.6e6


@pytest.mark.parametrize("seed", range(5))
def test_wifi_prefix_correlation_in_band_at_0db(seed):
    rng = np.random.default_rng(seed)
    w = sim_ofdm.wifi_burst(FS, rng, 800, 24)
    w /= np.sqrt(np.mean(np.abs(w) ** 2))
    p = FS / BW                                            # 0 dB in the 16.6 MHz band
    y = w + (rng.standard_normal(w.size) + 1j * rng.standard_normal(w.size)) * np.sqrt(p / 2)
    ev = ofdm_evidence(y, FS, BW)
    assert ev["useful_symbol_s"] == pytest.approx(3.2e-6, rel=0.02), ev
    assert 0.09 <= ev["cp_correlation"] <= 0.14, ev


def test_band_limit_leaves_a_full_window_signal_alone():
    """A burst as wide as the window (nothing to cut) gives the same result either way."""
    rng = np.random.default_rng(9)
    w = sim_ofdm.wifi_burst(20e6, rng, 400, 24)
    ev = ofdm_evidence(w, 20e6, 20e6)
    assert ev["confirmed"] and ev["useful_symbol_s"] == pytest.approx(3.2e-6, rel=0.02)
    assert ev["cp_correlation"] == pytest.approx(0.2, abs=0.05), ev      # CP share 0.8 / 4 us, plus the preamble
