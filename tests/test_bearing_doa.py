"""Direction of arrival: accuracy against the Cramer-Rao bound, source count, coherent multipath."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rfdetect.bearing.array import uca, ula
from rfdetect.bearing.crb import crb_bearing_deg, crb_single_deg
from rfdetect.bearing.doa import (DoaConfig, estimate_doa, estimate_num_sources, forward_backward,
                                  spatial_covariance, spatial_smoothing)
from rfdetect.bearing.gated import bearing_for_burst
from rfdetect.errors import InputError, ParameterError
from test_bearing_signals import C, Emitter, band_noise, element_phases, synth

FS, FC = 2.4e6, 868e6
UCA = uca(5, 0.35 * C / FC)


def _wrap(d):
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


def _trials(method, snr_db, n, seed, **kw):
    rng = np.random.default_rng(seed)
    err, sig = [], []
    for _ in range(n):
        b = rng.uniform(0, 360)
        x, tr = synth(UCA.positions_m, FS, FC, [Emitter(b, 300e3, 200e3, 0.5e-3, 1e-3, snr_db)], 6000, rng, **kw)
        rec = bearing_for_burst(x, FS, FC, tr[0], UCA, method)
        assert rec["usable"], rec
        err.append(_wrap(rec["bearing_deg"] - b))
        sig.append(rec["bearing_sigma_deg"])
    return np.sqrt(np.mean(np.square(err))), np.array(err), np.array(sig)


@pytest.mark.parametrize("method", ["bartlett", "capon", "music"])
def test_single_source_at_10_db_is_near_the_bound(method):
    rms, _, sig = _trials(method, 10.0, 25, 11)
    crb = crb_single_deg(UCA, FC + 300e3, 0.0, 10.0, 200)
    assert rms < 1.0
    assert rms < 2.0 * crb
    assert np.all(sig >= crb * 0.9)         # never claims better than the bound


def test_single_source_at_0_db_meets_3_degrees_and_sigma_is_honest():
    rms, err, sig = _trials("music", 0.0, 40, 12)
    assert rms < 3.0
    # the reported sigma describes the scatter: neither a lie nor uselessly wide
    assert 0.6 < rms / np.mean(sig) < 1.5


def test_crb_general_and_closed_form_agree_for_one_source():
    for b in (0.0, 17.0, 250.0):
        assert crb_bearing_deg(UCA, FC, [b], 3.0, 300)[0] == pytest.approx(crb_single_deg(UCA, FC, b, 3.0, 300), rel=1e-9)
    # ten times the snapshots: a sqrt(10) smaller bound
    assert crb_single_deg(UCA, FC, 0, 10, 100) / crb_single_deg(UCA, FC, 0, 10, 1000) == pytest.approx(math.sqrt(10))


def test_mdl_counts_sources():
    rng = np.random.default_rng(5)
    n = 4000
    for k in (0, 1, 2):
        ems = [Emitter(40 + 70 * i, 0.0, 1e6, 0, n / FS, 10.0) for i in range(k)]
        x, _ = synth(UCA.positions_m, FS, FC, ems, n, rng)
        r, _ = spatial_covariance(x)
        assert estimate_num_sources(np.linalg.eigvalsh(r), n) == k
        assert estimate_num_sources(np.linalg.eigvalsh(r), n, "aic") == k


def test_two_sources_on_one_channel_are_resolved_by_music():
    rng = np.random.default_rng(6)
    n = 4000
    x, _ = synth(UCA.positions_m, FS, FC, [Emitter(100, 0, 1e6, 0, n / FS, 15), Emitter(160, 0, 1e6, 0, n / FS, 15)], n, rng)
    r, t = spatial_covariance(x)
    res = estimate_doa(r, UCA, FC, t, DoaConfig(method="music"))
    assert res.usable and res.num_sources == 2
    assert sorted(np.round(res.bearings_deg)) == pytest.approx([100, 160], abs=2)


def _coherent_pair(u, rng, b1=100.0, b2=140.0):
    s = band_noise(rng, 6000, 200e3, FS) * math.sqrt(100 * 200e3 / FS)
    m = u.num_elements
    noise = (rng.standard_normal((m, 6000)) + 1j * rng.standard_normal((m, 6000))) / math.sqrt(2)
    return noise + np.outer(element_phases(u.positions_m, 0, FC, b1), s) + \
        0.8 * np.outer(element_phases(u.positions_m, 0, FC, b2), s)


def test_coherent_multipath_is_unusable_raw_and_resolved_by_spatial_smoothing():
    u = ula(6, 0.5 * C / FC)
    r, _ = spatial_covariance(_coherent_pair(u, np.random.default_rng(8)))
    raw = estimate_doa(r, u, FC, 500, DoaConfig(num_sources=2))
    assert not raw.usable and "manifold" in raw.reason
    for method in ("music", "root_music"):
        sm = estimate_doa(r, u, FC, 500, DoaConfig(method=method, smoothing_subarray=4))
        assert sm.usable and sm.num_sources == 2 and sm.mirror_ambiguous
        assert sorted(sm.bearings_deg) == pytest.approx([100, 140], abs=1.5)


def test_forward_backward_on_a_centro_symmetric_array():
    u = ula(6, 0.5 * C / FC)
    rng = np.random.default_rng(9)
    x = _coherent_pair(u, rng)
    r, _ = spatial_covariance(x)
    fb = forward_backward(r, u)
    j = np.arange(6)[::-1]
    assert np.allclose(fb, fb.conj()[np.ix_(j, j)])
    with pytest.raises(ParameterError):
        forward_backward(r[:5, :5], uca(5, 0.1))
    with pytest.raises(ParameterError):
        spatial_smoothing(r[:5, :5], UCA, 3)


def test_root_music_on_a_ula_matches_the_truth():
    u = ula(8, 0.5 * C / FC, axis_deg=90.0)
    rng = np.random.default_rng(10)
    x, _ = synth(u.positions_m, FS, FC, [Emitter(130, 0, 1e6, 0, 3000 / FS, 10)], 3000, rng)
    r, t = spatial_covariance(x)
    res = estimate_doa(r, u, FC, t, DoaConfig(method="root_music"))
    assert res.bearings_deg[0] == pytest.approx(130.0, abs=0.5)


def test_covariance_of_wrong_size_is_an_input_error():
    with pytest.raises(InputError):
        estimate_doa(np.eye(4), UCA, FC, 100)


def test_unknown_method_is_a_parameter_error():
    with pytest.raises(ParameterError):
        DoaConfig(method="esprit-ish")


@pytest.mark.parametrize("elevation", [0.0, 30.0, 60.0])
def test_a_drone_above_the_horizon_keeps_an_accurate_honest_bearing(elevation):
    rng = np.random.default_rng(int(elevation) + 70)
    err, sig, els = [], [], []
    for _ in range(12):
        b = rng.uniform(0, 360)
        x, tr = synth(UCA.positions_m, FS, FC, [Emitter(b, 300e3, 200e3, 0.5e-3, 1e-3, 10.0, elevation)], 6000, rng)
        rec = bearing_for_burst(x, FS, FC, tr[0], UCA)
        assert rec["usable"], rec
        err.append(_wrap(rec["bearing_deg"] - b))
        sig.append(rec["bearing_sigma_deg"])
        els.append(rec["elevation_deg"])
    assert np.sqrt(np.mean(np.square(err))) < 1.0
    assert np.mean(sig) < 1.0
    if elevation >= 30:
        assert np.median(els) == pytest.approx(elevation, abs=10)
