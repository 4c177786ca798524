"""An always-on OFDM link below the noise: faint steady spans, and prefix correlation summed
over them (rfdetect/detect/steady.py, rfdetect/classify/prefix.py,
rfdetect/kernels/evidence_ofdm.py ``prefix_lag_sums``)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from rfdetect.classify.prefix import MAX_HELD, MIN_POWER_RATIO, SteadyPrefixes, steady_prefix_sums
from rfdetect.detect import BurstDetector, DetectorConfig
from rfdetect.kernels.evidence_ofdm import band_taper, prefix_lag_sums
from rfdetect.history import IQSnippet
from rfdetect.model import Burst, IQBlock
from rfdetect.signatures import get

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_accuracy as acc  # noqa: E402


def _lag_sums_numpy(x, fs, offset_hz, bandwidth_hz, lags):
    """Twin of ``prefix_lag_sums``: the band kept the same way, then each cyclic lag sum
    taken directly."""
    n = x.shape[0]
    bins, w = band_taper(n, fs, offset_hz, bandwidth_hz)
    weights = np.zeros(n)
    weights[bins] = w
    y = np.fft.ifft(np.fft.fft(x.astype(np.complex128)) * weights)
    return np.array([np.vdot(y, np.roll(y, -lag)) for lag in lags]), float(np.sum(np.abs(y) ** 2))


def test_lag_sums_match_their_numpy_twin():
    rng = np.random.default_rng(3)
    fs, n = 10e6, 6000          # (6000 = 2^4 3 5^3: no padding)
    x = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    got, energy = prefix_lag_sums(x, fs, 1.2e6, 3e6, 400, 460)
    want, want_energy = _lag_sums_numpy(x, fs, 1.2e6, 3e6, range(400, 461))
    assert np.allclose(got, want, rtol=1e-3, atol=1e-3 * want_energy / n ** 0.5)
    assert energy == pytest.approx(want_energy, rel=1e-4)


def test_band_taper_keeps_the_band_and_falls_smoothly():
    fs, n = 10e6, 1000
    bins, kept = band_taper(n, fs, 2e6, 2e6)
    w = np.zeros(n)
    w[bins] = kept
    f = np.fft.fftfreq(n, 1 / fs)
    assert np.all(w[np.abs(f - 2e6) <= 1e6] == 1.0)
    assert np.all(w[np.abs(f - 2e6) >= 1.3e6] == 0.0)
    side = np.abs(f - 2e6)
    order = np.argsort(side)
    assert np.all(np.diff(w[order]) <= 1e-7)       # never rises away from the centre


def _noise_burst(rng, fs, n, t0_s):
    x = ((rng.normal(size=n) + 1j * rng.normal(size=n)) / math.sqrt(2)).astype(np.complex64)
    i0 = int(round(t0_s * fs))
    burst = Burst(i0, i0 + n, t0_s, t0_s + n / fs, 2435e6, 2445e6, 0.2, -60.0, 2440e6,
                  features={"steady": True, "faint": True})
    return burst, IQSnippet(x[None, :], i0, fs, 2440e6)


def test_summed_noise_stays_under_the_threshold_as_the_exponential_model_says():
    """In noise each lag's summed power is exponential about the mean: the best of L lags
    stands near ln(L) + 0.58 times the mean, and above MIN_POWER_RATIO with probability
    L exp(-MIN_POWER_RATIO).  200 bands, each summed over 3 stretches."""
    rng = np.random.default_rng(11)
    fs, n = 15.36e6, 150_000
    video = [get("dji-ocusync-video")]
    best = []
    for trial in range(200):
        prefixes = SteadyPrefixes()
        for k in range(3):
            burst, iq = _noise_burst(rng, fs, n, 0.2 * k + 10.0 * trial)
            ev = prefixes.add(burst, steady_prefix_sums(burst, iq, video))
        best.append(ev["power_ratio"])
        assert ev["summed_bursts"] == 3 and ev["summed_s"] == pytest.approx(3 * n / fs, abs=1e-3)
    lags = int(video[0].kernel_params["useful_symbol_s"][1] * 1.12 * fs) - \
        math.ceil(video[0].kernel_params["useful_symbol_s"][0] * fs) + 1
    assert max(best) < MIN_POWER_RATIO
    # (Neighbouring lags of a band-limited signal are correlated: fewer independent ones.)
    assert math.log(lags) - 0.5 < np.mean(best) < math.log(lags) + 1.5


def test_a_new_band_after_hold_and_another_band_sum_apart():
    rng = np.random.default_rng(5)
    fs, n = 15.36e6, 40_000
    prefixes = SteadyPrefixes()
    video = [get("dji-ocusync-video")]
    a, iq = _noise_burst(rng, fs, n, 0.0)
    assert prefixes.add(a, steady_prefix_sums(a, iq, video))["summed_bursts"] == 1
    b, iq = _noise_burst(rng, fs, n, 0.2)
    assert prefixes.add(b, steady_prefix_sums(b, iq, video))["summed_bursts"] == 2
    far, iq = _noise_burst(rng, fs, n, 5.0)          # past HOLD_S: the sums start again
    assert prefixes.add(far, steady_prefix_sums(far, iq, video))["summed_bursts"] == 1
    other, iq = _noise_burst(rng, fs, n, 5.2)
    other = Burst(other.sample_start, other.sample_end, other.t_start_s, other.t_end_s, 2455e6, 2465e6,
                  0.2, -60.0, 2460e6, features=other.features)
    assert prefixes.add(other, steady_prefix_sums(other, iq, video))["summed_bursts"] == 1


def test_faint_spans_only_where_an_ofdm_video_band_is_in_the_window():
    """A band raised by 0.25 dB with steep sides: reported as a faint steady burst in a
    2.4 GHz window, and not in an 868 MHz window (no link there it could be), nor with
    the faint threshold at the plain one."""
    rng = np.random.default_rng(1)
    found = {}
    for name, fs, fc, faint_db in (("2G4", 30.72e6, 2439.5e6, 0.15), ("868", 2.4e6, 868e6, 0.15),
                                   ("off", 30.72e6, 2439.5e6, 1.5)):
        det = BurstDetector(DetectorConfig(steady_faint_threshold_db=faint_db), fs, fc)
        n = 1 << 20
        x = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
        X = np.fft.fft(x)
        X[np.abs(np.fft.fftfreq(n, 1 / fs)) < 0.15 * fs] *= math.sqrt(10 ** 0.025)
        x = np.fft.ifft(X).astype(np.complex64)
        bursts = []
        for k in range(8):           # 8 x 34 ms at 30.72 MS/s: past the first periodic check
            bursts += det.feed(IQBlock(x[None, :], k * n, fc, fs))
        found[name] = [b for b in bursts if b.features.get("steady")]
    assert found["2G4"] and all(b.features.get("faint") for b in found["2G4"])
    assert abs(found["2G4"][0].bandwidth_hz - 0.3 * 30.72e6) < 1e6
    assert found["868"] == [] and found["off"] == []


@pytest.mark.parametrize("seed", [1000, 1003])
def test_ocusync_video_at_minus_12_db_is_named_from_its_summed_prefixes(seed):
    """At -12 dB in-band SNR one steady burst's prefix correlation is noise; summed over the
    faint bursts of 1 s the link is named.  With the faint spans off it is not (the test
    can fail)."""
    recs, _, _ = acc.run_trial("dji-ocusync-video", -12.0, 1.0, seed, acc.detector_config(integrate=True))
    named = [r for r in recs if r["type"] == "detection"]
    assert named and {r["link"] for r in named} == {"dji-ocusync-video"}
    assert named[-1]["drone"] is True and "ofdm_cp" in named[-1]["evidence"]["matched"]
    # The faint spans are counted apart from the bursts (none of which is written for them).
    summary = recs[-1]
    assert summary["type"] == "summary" and summary["detector"]["faint_spans"] >= 4
    assert named[-1]["bursts"] >= 4
    config = acc.detector_config(integrate=True)
    config = type(config)(**{**config.__dict__, "steady_faint_threshold_db": config.steady_threshold_db})
    recs, _, _ = acc.run_trial("dji-ocusync-video", -12.0, 1.0, seed, config)
    assert not [r for r in recs if r["type"] == "detection"]
    assert "faint_spans" not in recs[-1]["detector"]


def test_noise_at_2g4_gives_no_detection_from_faint_spans():
    for seed in (0, 1):
        recs, _, _ = acc.run_trial(None, 0.0, 1.0, seed, acc.detector_config(integrate=True),
                                   receiver=(30.72e6, 2439.5e6))
        assert not [r for r in recs if r["type"] == "detection"]


def test_a_band_holds_its_last_faint_bursts_and_releases_them_once():
    rng = np.random.default_rng(9)
    fs, n = 15.36e6, 20_000
    prefixes = SteadyPrefixes()
    video = [get("dji-ocusync-video")]
    held = []
    for k in range(MAX_HELD + 10):
        burst, iq = _noise_burst(rng, fs, n, 0.2 * k)
        prefixes.add(burst, steady_prefix_sums(burst, iq, video))
        prefixes.hold(burst)
        held.append(burst)
    last, iq = _noise_burst(rng, fs, n, 0.2 * (MAX_HELD + 10))
    prefixes.add(last, steady_prefix_sums(last, iq, video))
    assert prefixes.release(last) == held[-MAX_HELD:]
    assert prefixes.release(last) == []
