"""Band plans and the sweep scheduler: coverage, dwell from the links' hop cycles,
expected time to detect."""
from __future__ import annotations

import pytest

from rfdetect.errors import ParameterError
from rfdetect.live.bands import BANDS, BandPlan, band, frequency_plan, link_timings, links_in
from rfdetect.live.sweep import USABLE_FRACTION, plan_sweep

RATE = 2.4e6


def test_named_bands_exist_and_are_sane():
    for name in ("ism433", "eu868", "us915", "au915", "fpv-1g3"):
        b = band(name)
        assert 24e6 <= b.lo_hz < b.hi_hz <= 1766e6
    with pytest.raises(ParameterError, match="unknown band"):
        band("2g4")


def _elrs(band_name, links=None):
    links = link_timings() if links is None else links
    return [x for x in links if x.link == "expresslrs-lora" and x.band == band_name][0]


def test_elrs_fcc_hop_cycle_is_0_8_s():
    """From the signature library: 40 FCC915 channels, 200 Hz, hop every 4 packets."""
    lt = _elrs("FCC915")
    assert len(lt.channels_hz) == 40
    assert lt.hop_cycle_s == pytest.approx(0.8)
    assert lt.packets_per_hop == 4


def test_us915_sweep_covers_the_band_with_dwells_of_a_hop_cycle():
    sp = plan_sweep(band("us915"), RATE)
    assert sp.sweeping
    assert len(sp.steps) == 14                     # 26 MHz / (0.8 * 2.4 MHz), rounded up
    assert sp.band_covered_fraction == pytest.approx(1.0)
    assert all(s.dwell_s >= 0.8 for s in sp.steps)       # one ExpressLRS 200 Hz hop cycle at least
    assert sp.cycle_s == pytest.approx(sum(s.dwell_s for s in sp.steps) + 14 * sp.settle_s)
    elrs = _elrs("FCC915", sp.links)
    assert elrs.channels_in_view == 40
    # a dwell sees ~4 of 40 channels: about one sweep cycle on average, never more than two
    assert 0.5 * sp.cycle_s < elrs.expected_detect_s < 2 * sp.cycle_s


def test_narrow_band_is_a_fixed_frequency():
    sp = plan_sweep(band("ism433"), RATE)
    assert not sp.sweeping
    assert sp.steps[0].center_freq_hz == pytest.approx((433.05e6 + 434.79e6) / 2)
    elrs = _elrs("EU433", sp.links)
    assert elrs.channels_in_view == 3 and elrs.expected_detect_s < 0.1


def test_partial_view_reports_fraction_and_longer_detection():
    full = plan_sweep(band("us915"), RATE)
    one = plan_sweep(BandPlan("us915", 902e6, 928e6, "", channels_hz=(915e6,)), RATE, links=links_in(band("us915")))
    cov = _elrs("FCC915", one.links)
    usable = USABLE_FRACTION * RATE
    fcc = _elrs("FCC915")
    assert cov.channels_in_view == sum(1 for f in fcc.channels_hz if abs(f - 915e6) <= usable / 2)
    assert 0 < cov.channels_in_view < 40
    assert one.band_covered_fraction == pytest.approx(usable / 26e6)
    # staying on one channel group: detection within about a hop cycle, not a sweep cycle
    assert cov.expected_detect_s < _elrs("FCC915", full.links).expected_detect_s


def test_band_without_link_channels_in_view_never_detects():
    sp = plan_sweep(BandPlan("x", 900e6, 902e6, "", channels_hz=(901e6,)), RATE,
                    links=links_in(band("us915")))
    assert sp.links and all(c.channels_in_view == 0 and c.expected_detect_s is None for c in sp.links)


def test_fpv_plan_tunes_channel_centres():
    sp = plan_sweep(band("fpv-1g3"), RATE)
    assert [s.center_freq_hz for s in sp.steps] == list(BANDS["fpv-1g3"].channels_hz)
    video = [c for c in sp.links if c.link == "analog-fpv-video"]
    assert video and video[0].channels_in_view >= 1 and video[0].expected_detect_s is not None


def test_frequency_list_and_dwell_override():
    plan = frequency_plan(["868.3M", "869525000"])
    sp = plan_sweep(plan, RATE, dwell_s=0.5)
    assert [s.center_freq_hz for s in sp.steps] == [868.3e6, 869.525e6]
    assert sp.dwell_samples() == [(868.3e6, 1200000), (869.525e6, 1200000)]
    with pytest.raises(ParameterError, match="--freq"):
        frequency_plan(["2.4G"])
    with pytest.raises(ParameterError, match="--dwell"):
        plan_sweep(plan, RATE, dwell_s=0)
