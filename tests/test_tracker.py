"""Tracker internals: the period kernel against its NumPy twin, the track table's
searches against plain loops over the tracks, the running medians against a sort."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rfdetect.classify.kernels import MAX_TIMING_TOLERANCE_S, SHORT_GAP_PERIODS
from rfdetect.classify.matcher import _similar
from rfdetect.classify.tracker import MEDIAN_BURSTS, Track, TrackTable, estimate_period
from rfdetect.model import Burst


def period_twin(times_s, min_share: float = 0.7):
    """Obviously correct: each candidate period in turn, in NumPy."""
    t = np.sort(np.asarray(times_s, np.float64))
    if t.shape[0] < 3:
        return None
    gaps = np.diff(t)
    gaps = gaps[gaps > 0.1e-3]
    if gaps.shape[0] < 2:
        return None
    for g in np.sort(gaps)[:6]:
        tol = min(max(0.2e-3, 0.04 * g), MAX_TIMING_TOLERANCE_S, 0.1 * g)
        k = np.round(gaps / g)
        ok = (k >= 1) & (k <= 64) & (np.abs(gaps - k * g) <= tol * np.maximum(1.0, np.sqrt(k)))
        share = float(ok.mean())
        if share >= min_share and ok.sum() >= 2:
            short = ok & (k <= SHORT_GAP_PERIODS)
            if short.sum() >= 3:
                p = gaps[short].sum() / k[short].sum()
                k = np.round(gaps / p)
                ok = (k >= 1) & (np.abs(gaps - k * p) <= min(max(0.2e-3, 0.04 * p), MAX_TIMING_TOLERANCE_S, 0.1 * p)
                                 * np.sqrt(np.maximum(k, 1)))
            return float(gaps[ok].sum() / k[ok].sum()), share
    return None


def test_a_long_period_is_held_to_the_measurement_not_a_share_of_it():
    # Five 3.2 ms FSK meter bursts from three sensors, 0.255 s apart give or take 7 ms,
    # fitted Crossfire's 4 Hz lattice within 4 % of the period; a packet clock's starts
    # sit within a spectrogram hop or two of it.
    rng = np.random.default_rng(3)
    for _ in range(20):
        clock = np.arange(8) * 0.25 + rng.normal(0, 0.1e-3, 8)
        period, share = estimate_period(clock)
        assert period == pytest.approx(0.25, abs=0.1e-3) and share == 1.0
    sensors = [0.0, 0.2621, 0.5102, 0.7628, 1.0233]
    assert estimate_period(sensors) is None
    assert estimate_period(sensors[:1] + [t + 0.001 for t in sensors[1:]]) is None


def _times(rng, kind: int, n: int) -> list[float]:
    period = rng.uniform(1e-3, 0.1)
    if kind == 0:                                   # no lattice
        t = rng.uniform(0, 1, n)
    elif kind == 1:                                 # missed packets and jitter
        t = np.cumsum(period * rng.integers(1, 4, n) + rng.normal(0, 0.03 * period, n))
    elif kind == 2:                                 # a clean lattice, out of order
        t = rng.permutation(np.arange(n) * period + rng.normal(0, 1e-4, n))
    else:                                           # half a lattice, half noise
        t = np.concatenate([np.arange(n // 2) * period, rng.uniform(0, n * period / 2, n - n // 2)])
    return [float(v) for v in t]


def test_period_kernel_equals_its_numpy_twin_exactly():
    rng = np.random.default_rng(11)
    found = 0
    for trial in range(3000):
        times = _times(rng, trial % 4, int(rng.integers(0, 49)))
        want = period_twin(times)
        assert estimate_period(times) == want, times
        found += want is not None
    assert 1000 < found < 2900                      # both outcomes exercised


def test_long_gaps_do_not_pull_the_period_off():
    """A 1 ms lattice whose shortest gap was measured 0.89 ms: long gaps then fit one period
    too many within their sqrt(k) tolerance, and refined over all gaps the period came out
    4 % short (0.959 ms), outside a crystal-timed link's 2 % (measured on a simulated
    ExpressLRS FSK track at 0 dB)."""
    gaps_ms = [1.976, 0.991, 3.03, 0.996, 2.957, 0.992, 6.065, 0.974, 2.042, 1.994, 0.977, 1.009,
               1.012, 1.97, 0.967, 16.13, 1.001, 0.886, 4.016, 2.015, 1.011, 0.943, 1.051, 0.943,
               15.06, 1.947, 1.032, 1.932, 2.064, 21.022, 0.96, 1.03, 2.977, 2.01, 7.039, 1.946,
               2.023, 2.945, 9.203, 1.824, 3.025, 1.004, 0.93, 16.095, 2.002, 0.952, 0.97]
    times = np.concatenate([[0.0], np.cumsum(gaps_ms) * 1e-3])
    period, share = estimate_period(times)
    assert period == pytest.approx(1e-3, rel=0.01)
    assert share > 0.8


@pytest.mark.parametrize("times", [[], [0.1], [0.1, 0.2], [0.5, 0.5, 0.5, 0.5], [0.0, 0.00005, 0.0001, 0.01],
                                   [0.0, 0.01, 0.02, 0.03], [0.0, 0.01, 0.02, 0.03, math.nan],
                                   [0.0, 0.01, 0.01, 0.02, 0.03]])
def test_period_kernel_edge_cases(times):
    assert estimate_period(times) == period_twin(times)


def _burst(t0: float, dur: float, f: float, bw: float) -> Burst:
    fs = 2.4e6
    return Burst(int(t0 * fs), int((t0 + dur) * fs), t0, t0 + dur, f - bw / 2, f + bw / 2, 10.0, -40.0, f)


def test_running_medians_equal_a_sort_of_the_last_bursts():
    rng = np.random.default_rng(3)
    track = Track(1, None, True)
    for k in range(100):
        # Repeated values too: the window must drop exactly one of equal values.
        track.add(_burst(0.01 * k, float(rng.choice([1e-3, 2e-3, rng.uniform(1e-4, 5e-3)])), 868e6,
                         float(rng.choice([125e3, rng.uniform(10e3, 600e3)]))), fragment=bool(k % 3 == 0))
        for attr in ("bandwidth_hz", "duration_s"):
            vals = sorted(getattr(b, attr) for b in track.bursts[-MEDIAN_BURSTS:])
            assert track.median(attr) == vals[len(vals) // 2]


def test_track_table_searches_equal_loops_over_the_tracks():
    """Random tracks come and go; each search answers as the plain loop over the open tracks."""
    rng = np.random.default_rng(5)
    table = TrackTable(track_timeout_s=0.05)
    tracks: list[Track] = []
    next_id = 1
    now = 0.0
    for step in range(600):
        now += float(rng.uniform(0, 2e-3))
        probe = _burst(now, float(rng.uniform(1e-4, 3e-3)), 868e6 + float(rng.uniform(-1e6, 1e6)),
                       float(rng.uniform(20e3, 600e3)))
        idle = table.expired(now)
        assert idle == [t for t in tracks if now - t.last_end_s > timeout(table, t)]
        if rng.uniform() < 0.8:                     # closed, as the classifier does (mostly)
            for t in idle:
                tracks.remove(t)
                table.remove(t)
        assert table.similar(probe.bandwidth_hz, probe.duration_s) == \
            [t for t in tracks if t.key is None and t.bursts and _similar(probe, t)]
        assert table.similar(probe.bandwidth_hz, None) == \
            [t for t in tracks if t.key is None and t.bursts and _similar(probe, t, ignore_duration=True)]
        assert table.splinter_host(probe) == splinter_host_loop(tracks, probe)
        action = rng.uniform()
        if action < 0.25 or not tracks:
            t = Track(next_id, ("ism-ook", next_id) if rng.uniform() < 0.3 else None, True)
            next_id += 1
            tracks.append(t)
            table.add(t)
        elif action < 0.35:
            t = tracks.pop(int(rng.integers(len(tracks))))
            table.remove(t)
            continue
        t = tracks[int(rng.integers(len(tracks)))]
        if rng.uniform() < 0.05:
            t.modulation = ("lora", 500e3, 7, "up")
        t.add(_burst(now, float(rng.uniform(1e-4, 3e-3)), 868e6 + float(rng.uniform(-1e6, 1e6)),
                     float(rng.uniform(20e3, 600e3))), fragment=bool(rng.uniform() < 0.2))
        table.refresh(t)
    assert len(table) == len(tracks) and list(table) == tracks


def timeout(table: TrackTable, t: Track) -> float:
    return max(table.track_timeout_s, 20 * t.period[0]) if t.period else table.track_timeout_s


def splinter_host_loop(tracks: list[Track], burst: Burst) -> Track | None:
    for t in tracks:
        if t.key is not None or t.modulation == ("?",) or not t.bursts:
            continue
        last = t.bursts[-1]
        if burst.bandwidth_hz > last.bandwidth_hz:
            continue
        slack = max(0.3e-3, 0.1 * last.duration_s)
        if (last.t_start_s - slack <= burst.t_start_s <= last.t_end_s + slack
                and last.f_lo_hz - 0.25 * last.bandwidth_hz <= burst.center_freq_hz
                <= last.f_hi_hz + 0.25 * last.bandwidth_hz):
            return t
    return None


def test_one_stray_packet_time_does_not_move_the_lattice():
    # ExpressLRS 50 Hz (20 ms) with a 0.1 ms splinter of another emitter taken for a packet
    # last: the next packet, 18 periods on, is still on the lattice.
    track = Track(1, None, True)
    for t in (0.625, 0.645, 0.665, 0.685):
        track.add(Burst(sample_start=0, sample_end=1, t_start_s=t, t_end_s=t + 18.45e-3, f_lo_hz=866.75e6,
                        f_hi_hz=867.25e6, snr_db=37.0, peak_power_db=-20.0, center_freq_hz=867.0e6))
    track.period = (0.02, 1.0)
    track.add(Burst(sample_start=0, sample_end=1, t_start_s=0.6931, t_end_s=0.6932, f_lo_hz=867.29e6,
                    f_hi_hz=867.30e6, snr_db=6.0, peak_power_db=-50.0, center_freq_hz=867.296e6))
    track.period = (0.02, 1.0)
    # (From the splinter alone: 351.9 ms is 18 periods 8.1 ms off, 1.9 ms after sqrt(18).)
    assert track.timing_residual_s(1.045) < 1e-6
    assert track.timing_residual_s(0.7001) > 3e-3          # half a period off every anchor


def test_a_sliver_on_a_confirmed_lattice_finds_its_host_whatever_its_bandwidth():
    """A packet the window's edge cuts to a sliver: the confirmed track whose lattice it starts
    on and whose packets last as long is its host; off the lattice, of another length, or as
    wide as the track's packets (``similar`` finds those), it has none."""
    table = TrackTable(track_timeout_s=2.0)
    hopper = Track(1, None, True, modulation=("lora", 500e3, 6, "up"))
    table.add(hopper)
    for k in range(12):
        hopper.add(_burst(k * 5e-3, 4.37e-3, 868e6 + (k % 3) * 300e3, 470e3))
    table.refresh(hopper)
    assert hopper.period is not None and abs(hopper.period[0] - 5e-3) < 1e-6
    on = 12 * 5e-3 + 0.1e-3
    assert table.lattice_host(_burst(on, 4.3e-3, 869.19e6, 20e3), 1.4) is hopper
    assert table.lattice_host(_burst(on + 0.5e-3, 4.3e-3, 869.19e6, 20e3), 1.4) is None   # off the lattice
    assert table.lattice_host(_burst(on, 1.0e-3, 869.19e6, 20e3), 1.4) is None            # another length
    assert table.lattice_host(_burst(on, 4.3e-3, 869.19e6, 400e3), 1.4) is None           # wide: similar's
    # An unconfirmed track hosts nothing: its lattice may be a chance one.
    plain = Track(2, None, True)
    table.add(plain)
    for k in range(12):
        plain.add(_burst(1.0 + k * 7e-3, 2e-3, 868e6, 100e3))
    table.refresh(plain)
    assert table.lattice_host(_burst(1.0 + 12 * 7e-3, 2e-3, 869.19e6, 20e3), 1.4) is None


def test_a_pulse_train_binds_its_pulses_whatever_their_lengths():
    """A PWM remote's 0.35 and 1.05 ms pulses on one channel, 0.35 ms apart: the next pulse
    finds the longest track whose last burst it follows on the channel, whatever its length
    (``similar`` parts lengths 3x apart); a pulse too far on, on another channel, of another
    width, a splinter much shorter than the train's pulses, or after a track of a measured
    modulation, is not the remote's."""
    table = TrackTable(track_timeout_s=2.0)
    remote = Track(1, None, True)
    table.add(remote)
    t = 0.0
    for k in range(9):
        dur = 0.35e-3 if k % 3 else 1.05e-3
        remote.add(_burst(t, dur, 433.92e6, 34e3))
        t += dur + 0.35e-3
    table.refresh(remote)
    odd = Track(2, None, True)                      # an odd burst of the remote, measured wide
    table.add(odd)
    odd.add(_burst(t - 0.5e-3, 0.1e-3, 433.92e6, 40e3))
    table.refresh(odd)
    assert remote not in table.similar(34e3, 1.05e-3)    # its median pulse is a short one
    frame_s = 128 / 2.4e6
    host = table.pulse_train_host
    assert host(_burst(t, 1.05e-3, 433.92e6, 34e3), 15e-3, 6.0, 3 * frame_s) is remote
    assert host(_burst(t, 0.19e-3, 433.92e6, 34e3), 15e-3, 6.0, 3 * frame_s) is remote   # weak, short
    assert host(_burst(t + 20e-3, 1.05e-3, 433.92e6, 34e3), 15e-3, 6.0, 3 * frame_s) is None   # gap
    assert host(_burst(t, 1.05e-3, 434.02e6, 34e3), 15e-3, 6.0, 3 * frame_s) is None    # channel
    assert host(_burst(t, 1.05e-3, 433.92e6, 120e3), 15e-3, 6.0, 3 * frame_s) is None   # width
    # A one-frame splinter is no pulse of the remote's (the odd burst's track, as short, may take it).
    assert host(_burst(t, frame_s, 433.92e6, 34e3), 15e-3, 6.0, 3 * frame_s) is odd
    remote.modulation = ("fsk",)
    table.refresh(remote)
    assert host(_burst(t, 1.05e-3, 433.92e6, 34e3), 15e-3, 6.0, 3 * frame_s) is odd
