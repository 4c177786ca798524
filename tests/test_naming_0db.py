"""Naming links at 0 dB in-band SNR, where the evidence is thin: the spreading factor
with the time on air (mLRS against ExpressLRS, both LoRa SF6 at 500 kHz), a hopper's
declared packet interval when the tracker sees too few of its channels for a lattice of
its own (FlySky AFHDS 2A against FrSky D16), and the dechirp of a 125 kHz LoRaWAN packet
the detector measures much wider.  Seeded trials through the whole engine
(bench/bench_accuracy.py), plus the lattice test against its NumPy twin."""
from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rfdetect.classify import evidence
from rfdetect.classify.evidence import lora_bandwidths, run_kernel
from rfdetect.classify.kernels import MAX_TIMING_TOLERANCE_S, MIN_GAP_S, lattice_at
from rfdetect.classify.matcher import _on_declared_lattice
from rfdetect.classify.tracker import Track
from rfdetect.model import Burst
from rfdetect.signatures import get

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import bench_accuracy as ba  # noqa: E402


def lattice_at_twin(times_s, period_s):
    """Slow, obvious twin of kernels.lattice_at."""
    t = np.sort(np.asarray(times_s, float))
    if len(t) < 3:
        return period_s, 0, 0, 0, 0
    p, hits = period_s, 0
    for _ in range(3):
        tol = min(max(0.2e-3, 0.04 * p), MAX_TIMING_TOLERANCE_S, 0.1 * p)
        k_max = min(64.0, math.floor((p / (6.0 * tol)) ** 2))
        # Packet starts: the first start, then each start a period (less the tolerance)
        # or more after the last one; the starts between are pieces.
        starts, pieces = [t[0]], 0
        for x in t[1:]:
            if x - starts[-1] <= MIN_GAP_S:
                continue
            if x - starts[-1] < p - tol:
                pieces += 1
            else:
                starts.append(x)
        gaps = np.diff(starts)
        fits = [(d, round(d / p)) for d in gaps
                if round(d / p) <= k_max and abs(d - round(d / p) * p) <= tol * math.sqrt(round(d / p))]
        hits = len(fits)
        if not fits:
            return p, 0, len(gaps), 0, pieces
        g = math.gcd(*(k for _, k in fits))
        p = sum(d for d, _ in fits) / sum(k for _, k in fits)
    return p, hits, len(gaps), g, pieces


def test_lattice_at_finds_a_period_no_gap_shows():
    # 16 channels, 4 in the window: the packets seen are 2, 3, 4 and 7 periods apart.
    gaps = [2, 3, 4, 7] * 6
    t = np.cumsum([0.0] + [k * 3.85e-3 for k in gaps])
    period, hits, m, k_gcd, pieces = lattice_at(t, 3.85e-3 * 1.02)
    assert m == len(gaps) and hits == m and k_gcd == 1 and pieces == 0
    assert period == pytest.approx(3.85e-3, rel=1e-9)
    # D16's 9 ms is not this lattice.
    _, hits, m, _, _ = lattice_at(t, 9e-3)
    assert hits < 0.7 * m


def test_a_longer_period_seen_through_the_window_is_not_this_one():
    # D16 (9 ms) seen every third packet: every gap is 27 ms, 7 periods of 3.857 ms.
    t = np.arange(12) * 27e-3
    period, hits, m, k_gcd, _ = lattice_at(t, 3.85e-3)
    assert hits == m and period == pytest.approx(27e-3 / 7)
    assert k_gcd == 7
    track = Track(1, None, True)
    for k, t_s in enumerate(t):
        track.add(Burst(sample_start=k, sample_end=k + 1, t_start_s=float(t_s), t_end_s=float(t_s) + 1e-3,
                        f_lo_hz=2440e6, f_hi_hz=2441e6, snr_db=0.0, peak_power_db=-40.0,
                        center_freq_hz=2440.5e6))
    assert not _on_declared_lattice(track, get("flysky-afhds2a"), None)


def _track(times_s, f_hz: float = 2440.5e6) -> Track:
    track = Track(1, None, True)
    for k, t_s in enumerate(times_s):
        track.add(Burst(sample_start=k, sample_end=k + 1, t_start_s=float(t_s), t_end_s=float(t_s) + 1e-3,
                        f_lo_hz=f_hz - 0.5e6, f_hi_hz=f_hz + 0.5e6, snr_db=0.0, peak_power_db=-40.0,
                        center_freq_hz=f_hz))
    return track


def test_a_short_track_is_on_a_declared_lattice_only_when_every_gap_fits():
    # DSMX (11 ms) on 2 of its 23 channels: 8 packets in 1 s, 165 and 88 ms apart
    # (15 and 8 frames), measured on a simulated trial at 0 dB.
    gaps_ms = [165.015, 87.982, 165.002, 87.999, 165.025, 87.99, 164.991]
    t = np.concatenate([[0.0748], 0.0748 + np.cumsum(gaps_ms) * 1e-3])
    assert _on_declared_lattice(_track(t), get("spektrum-dsmx"), None)
    assert not _on_declared_lattice(_track(t), get("flysky-afhds2a"), None)
    # One gap off the lattice, or one packet fewer: too few to tell.
    t_off = t.copy()
    t_off[4:] += 4e-3
    assert not _on_declared_lattice(_track(t_off), get("spektrum-dsmx"), None)
    assert not _on_declared_lattice(_track(t[:6]), get("spektrum-dsmx"), None)


def test_short_tracks_of_random_timing_are_rarely_on_a_declared_lattice():
    rng = np.random.default_rng(5)
    passed = sum(_on_declared_lattice(_track(np.cumsum(rng.uniform(20e-3, 200e-3, 7))),
                                      get("spektrum-dsmx"), None) for _ in range(2000))
    assert passed <= 10          # 0.5 %; (1/3)^6 = 0.14 % expected at most


def _random_trains_passing(seed: int, gaps_s: tuple[float, float], n: int, period_s: float,
                           near: float | None = None) -> int:
    """Of 300 random trains of ``n`` starts (gaps uniform in ``gaps_s``), how many pass
    lattice_at's test at ``period_s`` as the matcher applies it (and, with ``near``, refine
    to within that share of it)."""
    rng = np.random.default_rng(seed)
    passed = 0
    for _ in range(300):
        period, hits, m, _, pieces = lattice_at(np.cumsum(rng.uniform(*gaps_s, n)), period_s)
        passed += hits >= 0.7 * m and pieces <= hits and (near is None or abs(period / period_s - 1) <= near)
    return passed


def test_lattice_at_rejects_random_timing():
    assert _random_trains_passing(3, (5e-3, 40e-3), 12, 3.85e-3, near=0.03) <= 3


def test_pieces_of_packets_do_not_hide_the_lattice():
    # ExpressLRS 100 Hz at 0 dB: the detector splits some 8.8 ms packets, and a piece
    # starts 1.5-6.6 ms into its packet.  Counted as gaps, each piece spoilt two of them.
    rng = np.random.default_rng(11)
    starts = 0.08 + np.arange(40) * 10e-3 + rng.normal(0, 0.05e-3, 40)
    pieces = starts[::3] + rng.uniform(1.5e-3, 6.6e-3, starts[::3].size)
    t = np.concatenate([starts, pieces])
    period, hits, m, k_gcd, skipped = lattice_at(t, 10e-3)
    assert (hits, m, k_gcd, skipped) == (39, 39, 1, pieces.size)
    assert period == pytest.approx(10e-3, rel=1e-3)
    assert lattice_at_twin(t, 10e-3)[1:] == (hits, m, k_gcd, skipped)


def test_dense_bursts_fit_a_lattice_only_through_their_pieces():
    # Bursts every 0.3-3 ms: the first past each period lands in its window, but more
    # starts are skipped as pieces than fit.
    assert _random_trains_passing(12, (0.3e-3, 3e-3), 200, 10e-3) == 0


def test_lattice_at_matches_twin():
    rng = np.random.default_rng(7)
    for i in range(60):
        p0 = rng.uniform(2e-3, 0.3)       # past 50 ms the tolerance is capped
        if i % 2:     # a lattice with missed packets and jitter
            t = np.cumsum(rng.integers(1, 9, 14) * p0 + rng.normal(0, 0.02 * p0, 14))
        else:         # no lattice
            t = np.cumsum(rng.uniform(1e-3, 0.1, 14))
        guess = p0 * rng.uniform(0.97, 1.03)
        got, want = lattice_at(t, guess), lattice_at_twin(t, guess)
        assert got[1:] == want[1:]
        assert got[0] == pytest.approx(want[0], rel=1e-12)


def _final_links(link: str, seed: int) -> list[str]:
    recs, _, _ = ba.run_trial(link, 0.0, 1.0, seed, ba.detector_config(integrate=True))
    return [r["link"] for r in ba.final_reports(ba.report_entries(recs, link))]


# (link, seed, a look-alike it must not be named): each case failed before the fix named.
NAMED_NOT_LOOKALIKE = [
    # No lattice within 1 s; a 23.6 ms packet at SF6 is mLRS (22.3-22.6 ms), not
    # ExpressLRS (4.4 ms at SF6).
    ("mlrs", 1002, "expresslrs-lora"),
    ("mlrs", 1003, "expresslrs-lora"),
    ("expresslrs-lora", 1000, "mlrs"),
    # The packets seen are 2, 3, 4 and 7 periods of 3.85 ms apart: no gap is the period.
    ("flysky-afhds2a", 1002, "frsky-d16"),
    ("flysky-afhds2a", 1004, "frsky-d16"),
    # 8 packets on 2 channels, which scored the same for FlySky and DSMX.
    ("spektrum-dsmx", 1010, "flysky-afhds2a"),
]


@pytest.mark.parametrize("link, seed, lookalike", NAMED_NOT_LOOKALIKE)
def test_named_at_0db_and_not_its_lookalike(link, seed, lookalike):
    links = _final_links(link, seed)
    assert link in links and lookalike not in links, links


def test_expresslrs_fsk_at_0db_with_split_tones():
    # Seed 1004: each packet's two tones are split into bursts of their own; the lattice's
    # period came out 0.959 ms, outside the 2 % of ExpressLRS's 1 ms.
    links = _final_links("expresslrs-fsk", 1004)
    assert "expresslrs-fsk" in links, links


def _burst(f_hz: float, bw_hz: float, dur_s: float) -> Burst:
    return Burst(0, int(dur_s * 2.4e6), 0.0, dur_s, f_hz - bw_hz / 2, f_hz + bw_hz / 2, 0.0, -30.0, f_hz)


def test_lora_bandwidths_allow_a_weak_narrow_packet_measured_wide():
    cands = [get("lorawan"), get("expresslrs-lora")]
    # A 125 kHz packet measured 210 kHz wide near 0 dB: 125 kHz is tried (before: 250 kHz only).
    assert lora_bandwidths(_burst(868.1e6, 210e3, 0.05), cands) == {125e3, 250e3}
    # The wide channels keep their relative bounds.
    assert lora_bandwidths(_burst(868.1e6, 600e3, 0.005), cands) == {500e3}
    assert lora_bandwidths(_burst(868.1e6, 380e3, 0.005), cands) == {500e3}


def test_no_spreading_factor_too_long_for_the_burst_at_any_bandwidth(monkeypatch):
    class Snip:   # a burst's samples with their place in the stream
        sample_rate_hz, center_freq_hz, sample_index0 = 2.4e6, 868.1e6, 0
        samples = (np.random.default_rng(1).standard_normal(12_000) * (1 + 1j)).astype(np.complex64)   # 5 ms
    tried = {}

    def spy(x, fs, offset_hz, *, bandwidths_hz, sfs):
        tried.update(sfs)
        return None

    monkeypatch.setattr(evidence, "lora_evidence", spy)
    # 5 ms holds a dozen symbols of SF8 at 500 kHz but only of SF7 at 250 kHz: SF8 at
    # 250 kHz (the chirp slope of SF6 at 125 kHz) must not be tried for 500 kHz's sake.
    run_kernel("lora", _burst(868.1e6, 300e3, 5e-3), Snip(), [get("lorawan"), get("expresslrs-lora")])
    assert {bw: max(v) for bw, v in tried.items()} == {250e3: 7, 500e3: 8}


@pytest.mark.parametrize("seed", [1000, 1006])
def test_lorawan_at_0db_is_lorawan(seed):
    # Its 125 kHz packets are measured 190-250 kHz wide at 0 dB: they were dechirped at
    # 250 kHz only, did not confirm, and the emitter was named ism-ook.
    links = _final_links("lorawan", seed)
    assert "lorawan" in links, links


def test_channels_of_a_link_within_the_window():
    crossfire = get("tbs-crossfire")        # EU868: 13 channels, 863.275-869.575 MHz
    assert crossfire.channels_within(862e6, 871e6) == 13
    assert crossfire.channels_within(866.8e6, 869.2e6) == 5
    assert crossfire.channels_within(2.40e9, 2.48e9) == 0
    assert get("ism-ook").channels_within(866e6, 870e6) is None    # no channel plan


def test_pieces_of_lorawan_packets_on_one_channel_are_no_hopper():
    # Seed 1014: 5 pieces of SF9 packets on 868.1 MHz, 27-219 ms apart, fitted a lattice of
    # four Crossfire packet intervals; the window holds 5 of Crossfire's channels, and a
    # hopper seen on 5 separate hops would not have stayed on one.
    recs, _, _ = ba.run_trial("lorawan", 0.0, 1.0, 1014, ba.detector_config(integrate=True))
    drones = {r["link"] for r in recs if r["type"] == "detection" and r["drone"]}
    assert not drones, drones
    assert any(r["type"] == "detection" and r["link"] == "lorawan" for r in recs)


@pytest.mark.parametrize("duration_s", [2.0, 8.0])
def test_crowded_868_names_both_pilots_expresslrs(tmp_path, duration_s):
    # recordings/scenarios/crowded_868.toml: pilot B flies ExpressLRS 50 Hz (SF8, 18.6 ms
    # packets, the next on the same channel 1.5 ms after one ends: no piece of it); with its
    # packets merged with pilot A's on a shared channel, only the spreading factor tells it
    # from mLRS (SF5/SF6).  Over 8 s, pilot A's packets near the receiver's centre, measured
    # wide and two at a time, make a track of their own: mLRS's packets at SF6 last 22 ms.
    from rfdetect.pipeline import analyze_source
    from rfdetect.simulate import simulate
    from rfdetect.sources import open_source

    with open(REPO / "recordings" / "scenarios" / "crowded_868.toml", "rb") as f:
        scenario = tomllib.load(f)
    scenario["scenario"]["duration_s"] = duration_s
    path = tmp_path / "crowded.h5"
    simulate(scenario, path, seed=1)
    recs: list[dict] = []
    with open_source(path) as src:
        analyze_source(src, recs.append)
    drones = {(r["track_id"], r["link"]) for r in recs if r["type"] == "detection" and r["drone"]}
    assert {link for _, link in drones} == {"expresslrs-lora"}, drones
    modes = {r["mode"]["packet_rate"] for r in recs if r["type"] == "detection" and r["drone"]}
    assert modes == {"200Hz", "50Hz"}, modes


def test_the_fcc_band_names_its_links_apart(tmp_path):
    # recordings/scenarios/sub_ghz_915.toml, 1 s seen at 28 MS/s: ExpressLRS LoRa and FSK,
    # FrSky R9, Crossfire and mLRS hop over 902-928 MHz together.  R9 and ExpressLRS 200 Hz
    # send the same chirp (SF6, 500 kHz) and their packets overlap in time: bound into one
    # track, neither was named.  (mLRS at 19 Hz, SF6 and 22.3 ms, may be named too.)
    from rfdetect.pipeline import analyze_source
    from rfdetect.simulate import simulate
    from rfdetect.sources import open_source

    with open(REPO / "recordings" / "scenarios" / "sub_ghz_915.toml", "rb") as f:
        scenario = tomllib.load(f)
    scenario["scenario"]["duration_s"] = 1.0
    path = tmp_path / "fcc.h5"
    simulate(scenario, path, seed=1)
    recs: list[dict] = []
    with open_source(path) as src:
        analyze_source(src, recs.append)
    named = {r["link"] for r in recs if r["type"] == "detection" and r["drone"]}
    truth = {e["link"] for e in scenario["emitter"]}
    assert {"expresslrs-lora", "frsky-r9", "expresslrs-fsk", "tbs-crossfire"} <= named <= truth, named


def test_a_track_first_reported_as_another_link_is_renamed_as_soon_as_it_is_named():
    # Crossfire at 0 dB: its first three packets fit an OOK sensor (reported ism-ook at
    # 0.12 s); named Crossfire three packets later, it was reported so only when its track
    # ended (0.99 s).  A live scan would have raised the alarm after the drone had gone.
    recs, _, _ = ba.run_trial("tbs-crossfire", 0.0, 1.0, 1000, ba.detector_config(integrate=True))
    dets = [r for r in recs if r["type"] == "detection"]
    first = {}
    for r in dets:
        first.setdefault(r["track_id"], r)
    renamed = [r for r in dets if r["evidence"]["report"] == "renamed"]
    assert renamed and all(first[r["track_id"]]["link"] != r["link"] for r in renamed)
    assert min(r["t_end_s"] for r in dets if r["link"] == "tbs-crossfire") < 0.3


def test_the_harness_scores_a_track_by_its_first_and_its_last_record():
    entries = [{"track_id": 4, "report": r, "link": link, "confidence": c, "right": link == "tbs-crossfire",
                "named": True} for r, link, c in (("first", "ism-ook", 0.23), ("renamed", "tbs-crossfire", 0.31),
                                                   ("update", "tbs-crossfire", 0.99))]
    (final,) = ba.final_reports(entries)
    assert (final["confidence"], final["right"]) == (0.99, True)
    assert (final["first_confidence"], final["first_right"]) == (0.23, False)
