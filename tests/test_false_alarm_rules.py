"""The classifier's rules against the false drone alarms bench_false_alarms.py found: a
lattice must rest on gaps that can test it, a burst clipped by the window's edge names no
narrowband drone link, a hopper must show its interval (or, while too short to test it, a
hop on its raster) before it is named, a link that hops over its whole band plan must spread
over the channels its window holds and send its share of packets there, a LoRa link's
packets must last its time on air, any link's packets must end before its next ones
start, and a track of weak Wi-Fi slices is no link."""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.classify.matcher import (MODE_MISMATCH, SLICED_MISMATCH, Classifier, _continues, _elsewhere_meanwhile,
                                       _fits_mode, _hopped, _interval_multiple,
                                       _judged_beyond_edge, _lattice_supported, _namable, _overlong_packets, _sliced,
                                       _too_few_packets, _underlong_packets, _too_narrow_a_spread, window_shares)
from rfdetect.classify.tracker import Track
from rfdetect.model import Burst
from rfdetect.signatures import get


def _burst(t_s: float, f_hz: float, bw_hz: float = 500e3, dur_s: float = 4e-3) -> Burst:
    return Burst(sample_start=int(t_s * 1e6), sample_end=int((t_s + dur_s) * 1e6), t_start_s=t_s,
                 t_end_s=t_s + dur_s, f_lo_hz=f_hz - bw_hz / 2, f_hi_hz=f_hz + bw_hz / 2, snr_db=5.0,
                 peak_power_db=-40.0, center_freq_hz=f_hz)


def _track(times_s, freqs_hz, bw_hz: float = 500e3, dur_s: float = 4e-3) -> Track:
    track = Track(1, None, True)
    for t, f in zip(times_s, freqs_hz):
        track.add(_burst(float(t), float(f), bw_hz, dur_s))
    return track


def _terms(track: Track, sid: str, score: float, seen: int) -> dict:
    """The terms the classifier, receiving 2.4 MHz at 868 MHz, gives ``track`` for link
    ``sid``, its bursts scoring ``score`` in all over ``seen`` of them."""
    track.scores, track.candidates = {sid: score}, {sid: seen}
    clf = Classifier()
    clf.set_window(868e6, 2.4e6)
    return clf._track_scores(track)[sid][1]


def test_a_lattice_of_long_gaps_is_no_lattice():
    # Five OOK sensor bursts at 868.37 MHz: 6.5, 316, 290 and 1151 ms apart fit a 6.6 ms
    # lattice at 1, 48, 44 and 175 periods, each within its sqrt(k)-grown tolerance.
    t = np.cumsum([0.0, 6.555e-3, 315.546e-3, 289.485e-3, 1150.833e-3])
    assert not _lattice_supported(t, 6.576e-3)
    # A hopper seen on a few of its channels: gaps of 1-9 periods test the lattice.
    rng = np.random.default_rng(2)
    t = np.cumsum(rng.integers(1, 10, 12) * 11e-3 + rng.normal(0, 50e-6, 12))
    assert _lattice_supported(t, 11e-3)
    # ... and random timing does not, with few exceptions.
    passed = sum(_lattice_supported(np.cumsum(rng.uniform(5e-3, 0.2, 8)), 11e-3) for _ in range(1000))
    assert passed < 50


def test_a_burst_at_the_window_edge_names_no_narrowband_drone_link():
    clf = Classifier()
    clf.set_window(2440.6e6, 20e6)                   # 2430.6-2450.6 MHz
    # A slice of a Wi-Fi frame on a channel half outside the window: 1.9 MHz up to its edge.
    edge = _burst(0.1, 2449.65e6, 1.9e6, 0.3e-3)
    inside = _burst(0.1, 2440.0e6, 1.0e6, 0.3e-3)
    assert clf._at_window_edge(edge) and not clf._at_window_edge(inside)
    assert "spektrum-dsmx" in clf._features(inside)
    assert not {s for s in clf._features(edge) if get(s).drone and not _judged_beyond_edge(get(s))}
    assert "spektrum-dsmx" not in clf._features(edge)
    assert _judged_beyond_edge(get("expresslrs-2g4-lora"))    # its chirp tells the bandwidth
    assert _judged_beyond_edge(get("wifi")) and _judged_beyond_edge(get("adsb"))


def test_a_hopper_is_named_only_with_its_interval_or_a_hop():
    elrs = get("expresslrs-lora")
    # Pieces of LoRaWAN SF8 / 500 kHz packets on one channel, no lattice.
    pieces = _track([2.425, 2.445, 2.4455, 8.372, 8.402], [868.3e6] * 5)
    assert not _namable(pieces, elrs, {"features": 5.0})
    assert _namable(pieces, elrs, {"features": 5.0, "interval": 1.0})
    hopping = _track([0.0, 0.02, 0.04, 0.06], [868.3e6, 867.2e6, 868.3e6, 866.9e6])
    assert _namable(hopping, elrs, {"features": 5.0})
    # Where the band plan is a guess, a hop on it names nothing: the interval must.
    crossfire = get("tbs-crossfire")
    six = _track([0.0, 0.02, 0.04, 0.06, 0.08, 0.1], [868.3e6, 867.2e6, 868.3e6, 866.9e6, 867.5e6, 868.0e6])
    assert "band plan" in crossfire.unverified and _hopped(six, crossfire)
    assert not _namable(six, crossfire, {"features": 5.0})
    assert _namable(six, crossfire, {"features": 5.0, "interval": 1.0})
    # Known by its timing alone, it needs six packets: four on a lattice and on two
    # "channels" were pieces of one weak LoRaWAN packet (crowded-868:772115).
    assert not _namable(hopping, crossfire, {"features": 5.0, "interval": 1.0})
    # Known by its timing alone, a short track needs every gap that tests its lattice to fit
    # it: weak OOK pulses 111, 84, 14, 6.5 and 46 ms apart fit 6.5 ms at 17, 13, 1 and 7
    # periods, but not at 2 (crowded-868:777404).
    pulses = _track([19.1262, 19.2375, 19.3214, 19.3354, 19.3419, 19.3874],
                    [868.522e6, 868.45e6, 868.844e6, 868.848e6, 868.825e6, 868.835e6], 110e3, 0.5e-3)
    assert pulses.period[0] == pytest.approx(6.5e-3, abs=0.1e-3) and _hopped(pulses, crossfire)
    assert not _namable(pulses, crossfire, {"features": 1.5, "interval": 1.0})
    assert _namable(pulses, elrs, {"features": 1.5, "interval": 1.0})     # its modulation has a source
    # ... and, its modulation a guess too, the hop as well: an OOK remote's frame repeated
    # every 13 ms on one channel is on the lattice of Crossfire's 150 Hz mode.
    repeats = _track([0.0, 0.0132, 0.0264, 0.0396, 0.0528, 0.066], [868.275e6] * 6)
    assert not _hopped(repeats, crossfire)
    assert not _namable(repeats, crossfire, {"features": 5.0, "interval": 1.0})
    assert _namable(repeats, elrs, {"features": 5.0, "interval": 1.0})
    # Bursts that on balance do not fit the link (0.1 ms slices taken for ExpressLRS 2.4
    # GHz packets) are not named by their timing alone.
    assert not _namable(hopping, elrs, {"features": 0.0, "interval": 1.0})
    # Once the track is long enough to test the interval, a hop does not stand in for it.
    assert not _namable(hopping, elrs, {"features": 5.0, "interval": -0.5})
    # Fewer packets than the link needs: the pieces of one packet count once.
    one_packet = _track([1.0], [868.3e6])
    assert not _namable(one_packet, elrs, {"features": 5.0, "interval": 1.0})


def test_a_hop_lands_on_the_band_plans_raster():
    """ExpressLRS EU868 steps 525 kHz: packets 200 kHz (two LoRaWAN channels) or 452 kHz
    apart are on one of its channels, not two; two steps apart (and 20 kHz off, a carrier
    measured at 0 dB) they are a hop."""
    elrs = get("expresslrs-lora")
    assert elrs.band_for(868.0e6).raster_hz == pytest.approx(525e3)
    t = [0.0, 0.02, 0.04, 0.06]
    for freqs, hop in (([867.9e6, 867.7e6, 867.9e6, 867.7e6], False),
                       ([868.4975e6, 868.2888e6, 868.0451e6, 868.4975e6], False),
                       ([867.475e6, 868.545e6, 867.475e6, 867.475e6], True)):
        assert _hopped(_track(t, freqs), elrs) is hop, freqs


def test_packets_of_a_high_duty_cycle_link_are_not_pieces_of_one():
    """ExpressLRS 2.4 GHz at 500 Hz sends 1.77 ms packets 2 ms apart on a channel: at 20 MS/s
    (the detector's step 25.6 us) the next packet is a packet, while a piece of the same
    packet after a gap of a few steps is still a piece."""
    track = _track([0.0], [2440.4e6], 880e3, 1.77e-3)
    clf = Classifier()
    clf.set_window(2440.6e6, 20e6, frame_hop_s=512 / 20e6)
    assert not _continues(_burst(2.0e-3, 2440.4e6, 880e3, 1.77e-3), track, clf._piece_gap_s)
    assert _continues(_burst(1.85e-3, 2440.4e6, 880e3, 0.5e-3), track, clf._piece_gap_s)
    # Without the detector's step, the classifier keeps its fixed 0.3 ms.
    assert _continues(_burst(2.0e-3, 2440.4e6, 880e3, 1.77e-3), track)


def test_a_whole_band_hopper_spreads_over_its_window():
    crossfire = get("tbs-crossfire")
    window = crossfire.channels_within(866.8e6, 869.2e6)       # 5 channels
    assert window == 5
    # Five separate hops (one packet each), all on 868.07 MHz: 5 x (1/5)^5 = 0.16 %.
    t = np.cumsum([0.0, 0.219, 0.081, 0.205, 0.027])
    same = _track(t, [868.07e6] * 5, 235e3)
    assert _too_narrow_a_spread(same, crossfire, window)
    spread = _track(t, [868.07e6, 867.0e6, 868.6e6, 867.5e6, 868.07e6], 235e3)
    assert not _too_narrow_a_spread(spread, crossfire, window)
    # Links that hop over a subset of their band plan (DSMX: 23 of 73 channels) are exempt.
    dsmx = get("spektrum-dsmx")
    assert not dsmx.hops_all_channels
    assert not _too_narrow_a_spread(_track(t, [2440e6] * 5, 1e6), dsmx, 21)


def test_a_hopper_sends_on_one_channel_at_a_time():
    # Pieces of Wi-Fi beacons (every 102.4 ms) across a 20 MHz channel, bound into one track
    # by their timing: several start within 0.15 ms, 13 MHz apart.
    from rfdetect.classify.matcher import _simultaneous_spread_hz
    t = [0.072172, 0.072282, 0.072256, 0.174548, 0.174655, 0.277020, 0.277133]
    f = [2419.06e6, 2414.17e6, 2427.85e6, 2429.51e6, 2428.44e6, 2415.52e6, 2424.15e6]
    pieces = _track(t, f, 400e3)
    pieces.bursts = [_burst(ti, fi, 400e3, 0.3e-3) for ti, fi in zip(t, f)]
    assert _simultaneous_spread_hz(pieces) > get("flysky-afhds2a").bandwidth_hz[1]
    # A hopper's packets follow each other; the two tones of one FSK packet overlap within
    # its own bandwidth.
    hopper = _track([0.0, 0.00385, 0.0077], [2430e6, 2445e6, 2412e6], 400e3)
    hopper.bursts = [_burst(0.0, 2430.0e6, 400e3, 1e-3), _burst(0.0001, 2430.2e6, 200e3, 0.8e-3),
                     _burst(0.00385, 2445e6, 400e3, 1e-3)]
    assert _simultaneous_spread_hz(hopper) == pytest.approx(0.2e6)


def test_a_whole_band_hopper_sends_its_share_of_packets_into_the_window():
    elrs = get("expresslrs-lora")
    window = (866.8e6, 869.2e6)          # an RTL-SDR at 868 MHz: 5 of the 13 EU868 channels
    plan = elrs.band_for(868e6)
    assert plan.channels_within(*window) == 5
    shares = window_shares(elrs, *window)

    def too_few(track):
        # As the classifier asks it: with the track's lattice where one is supported.
        lattice_s = track.period[0] if track.period and _lattice_supported(track.times, track.period[0]) else None
        return _too_few_packets(track, elrs, shares, lattice_s, sf=8)

    # A LoRaWAN gateway's SF8 BW500 downlinks: five in 2.4 s on three channels.
    t = [0.0, 0.6, 1.1, 1.9, 2.4]
    gateway = _track(t, [868.1e6, 868.3e6, 868.5e6, 868.1e6, 868.3e6], dur_s=19e-3)
    assert too_few(gateway)
    # Too soon to tell: 2 of them 0.6 s apart (the link would show about 9 there).
    assert not too_few(_track(t[:2], [868.1e6, 868.3e6], dur_s=19e-3))
    # ExpressLRS 50 Hz itself, hopping every 4 packets over all 13 channels: the packets
    # that fall in the window, and a weak link's half of them.
    rng = np.random.default_rng(3)
    first_hz = 0.5 * (plan.lo_hz + plan.hi_hz) - 6 * plan.raster_hz
    hops = rng.permutation(np.tile(np.arange(13), 4))
    sent = [(k * 20e-3, first_hz + hops[k // 4] * plan.raster_hz) for k in range(4 * 52)]
    seen = [(t, f) for t, f in sent if window[0] <= f <= window[1]]
    for kept in (seen, seen[::2]):
        link = _track(*zip(*kept), dur_s=18.5e-3)
        assert not too_few(link), len(kept)


def test_a_lattice_of_whole_intervals_counts_the_packets_at_the_interval():
    """A lattice that is a whole multiple of a mode's interval says the link sends at that
    interval: Crossfire at 150 Hz would put about 40 packets into a window holding 5 of its
    13 channels over 0.73 s, whatever lattice its packets there fall on.  Six pieces of a
    weak LoRaWAN packet 27 ms apart (4 x 6.7 ms) are not it; the link's own packets,
    hopping every packet, are."""
    crossfire = get("tbs-crossfire")
    window = (866.8e6, 869.2e6)
    shares = window_shares(crossfire, *window)
    pieces = _track([0.0, 0.0272, 0.0544, 0.0816, 0.6208, 0.7296], [868.53e6, 868.53e6, 868.53e6, 868.53e6,
                                                                    867.92e6, 867.92e6], 100e3, 3e-3)
    assert _too_few_packets(pieces, crossfire, shares, 0.0272, sf=None)
    plan = crossfire.band_for(868e6)
    first_hz = 0.5 * (plan.lo_hz + plan.hi_hz) - 6 * plan.raster_hz
    rng = np.random.default_rng(5)
    sent = [(k / 150, first_hz + rng.integers(13) * plan.raster_hz) for k in range(110)]
    link = _track(*zip(*[(t, f) for t, f in sent if window[0] <= f <= window[1]]), 230e3, 3e-3)
    assert not _too_few_packets(link, crossfire, shares, 4 / 150, sf=None)


def test_a_hopper_seen_rarely_is_on_its_lattice_many_intervals_over():
    """mLRS hops over 18 channels at 868 MHz, of which an RTL-SDR's window holds about
    five: three packets 192 and 384 ms apart (6 and 12 of its 32 ms frames, mlrs at -10 dB,
    trial 6 of the harness) are on its lattice, as a weaker term than a lattice of at most
    four frames; a link whose interval fits a lattice in four or fewer owns it."""
    freqs = [867.108e6, 868.667e6, 867.108e6]
    rare = _track([0.2582, 0.4502, 0.8344], freqs, 500e3, 13.2e-3)
    assert rare.period[0] == pytest.approx(0.192, abs=1e-3)
    assert _terms(rare, "mlrs", 6.0, 3)["interval"] == 0.5
    frame = get("mlrs").modes[1]["interval_s"]
    assert _interval_multiple(frame, 0.192, hopper=True) == 6
    assert _interval_multiple(frame, 0.384, hopper=True) == 12
    assert _interval_multiple(frame, 0.192) is None                 # not a hopper: 1-4 only
    assert _interval_multiple(frame, 0.200, hopper=True) is None    # 8 ms off the lattice
    assert _interval_multiple(frame, 0.608, hopper=True) is None    # 19 frames: untestable
    # Short bursts (a weak packet's chirps) at mLRS's own 32 ms: ExpressLRS's 250 Hz mode
    # (4 ms) would fit eight times over, but the lattice is mLRS's.
    t = [0.1 + 0.032 * k for k in (0, 1, 3, 4, 6)]
    own = _track(t, [867.108e6, 868.667e6, 867.108e6, 868.2e6, 867.6e6], 500e3, 1e-3)
    own.scores, own.candidates = {"mlrs": 10.0, "expresslrs-lora": 10.0}, {"mlrs": 5, "expresslrs-lora": 5}
    clf = Classifier()
    clf.set_window(868e6, 2.4e6)
    terms = {sid: v[1].get("interval") for sid, v in clf._track_scores(own).items()}
    assert terms == {"mlrs": 1.0, "expresslrs-lora": -1.5}


def test_fsk_sensor_at_433_is_named_ism_fsk():
    # At 433.92 MHz no drone FSK link fits a sensor's 100 kHz burst, so the FSK check ran
    # for none: sensors were named ism-ook even at +10 dB.
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_accuracy as ba
    from rfdetect.simulate import generate

    scn = {"scenario": {"duration_s": 1.0, "seed": 1000},
           "receiver": {"sample_rate": 2.4e6, "center_freq": 433.92e6},
           "emitter": [{"id": "e", "link": "ism-fsk", "mode": "sensor", "domain": "433", "snr_db": 10.0,
                        "freq": 433.92e6, "interval_s": 0.1}]}
    x, _ = generate(scn, seed=1000)
    recs, _ = ba.run_samples(x, 2.4e6, 433.92e6, ba.detector_config(integrate=True))
    assert ba.score_trial(recs, "ism-fsk")["named"] == "ism-fsk"


@pytest.mark.parametrize("dur_s, mismatch", [(18.5e-3, False), (30.8e-3, True), (38.5e-3, True)])
def test_a_lora_link_sends_its_time_on_air(dur_s, mismatch):
    """ExpressLRS sends a fixed payload: at SF8 (50 Hz) its packets last 18.56 ms. Three
    confirmed SF8 packets of 31 or 38 ms (LoRaWAN) are not its packets, with or without a
    lattice; 18.5 ms ones are."""
    track = _track([0.0, 0.7, 1.5], [868.0e6, 867.475e6, 868.525e6], 520e3, dur_s)
    track.kernel_results["lora"] = [{"confirmed": True, "sf": 8, "bw_hz": 500e3, "direction": "up"}] * 3
    terms = _terms(track, "expresslrs-lora", 15.0, 3)
    assert (terms.get("mode") == MODE_MISMATCH) is mismatch, terms


def _piece_checks(track: Track, significances) -> Track:
    track.kernel_results["ofdm_piece"] = [{"significance": z, "confirmed": False, "host": "wifi"} for z in significances]
    return track


def test_a_track_of_weak_wifi_slices_is_named_no_link():
    """Slices of weak Wi-Fi frames fail the prefix check one by one (2-4 where a slice needs
    5) but not together; a control link's packets average at most 1.5."""
    freqs = [2438.16e6, 2440.06e6, 2439.79e6, 2437.96e6, 2439.69e6, 2438.4e6]
    slices = _track([0.2216, 0.3045, 0.3948, 0.4545, 0.7969, 0.81], freqs, 550e3, 0.25e-3)
    slices.scores, slices.candidates = {"spektrum-dsmx": 12.0}, {"spektrum-dsmx": 6}
    clf = Classifier()
    clf.set_window(2440.6e6, 20e6)
    _piece_checks(slices, [4.1, 2.2, 3.5, 1.7, 2.9, 3.1])     # a track the old rules named DSMX
    assert _sliced(slices) == {"link": "wifi", "checks": 6, "mean_significance": 2.92}
    assert clf._track_scores(slices)["spektrum-dsmx"][1]["slices"] == SLICED_MISMATCH
    # A control link's packets, and too few checks to tell.
    assert not _sliced(_piece_checks(slices, [1.2, 0.4, 2.1, -0.3, 1.6, 0.9]))
    assert "slices" not in clf._track_scores(slices)["spektrum-dsmx"][1]
    assert not _sliced(_piece_checks(slices, [4.0, 4.0]))
    # Few checks must stand further out: a mean of 2.5 over 3 is not enough, over 9 it is.
    assert not _sliced(_piece_checks(slices, [2.5] * 3)) and _sliced(_piece_checks(slices, [2.5] * 9))


def _beside_checks(track: Track, sigmas, contrast_db: float = 2.0) -> Track:
    track.kernel_results["ofdm_piece"] = [{"significance": 1.0, "confirmed": False, "host": "wifi",
                                           "beside_sigma": z, "beside_contrast_db": contrast_db} for z in sigmas]
    return track


def test_a_track_whose_floor_stood_raised_beside_it_is_named_no_link():
    """The floor beside each burst (kernels/beside.py), over the track: slices of a wider
    emission sum to 4 or more; a packet in noise measures about N(0, 1)."""
    freqs = [2438.3e6, 2438.85e6, 2439.9e6, 2438.5e6]
    track = _track([0.43, 0.47, 0.93, 1.10], freqs, 600e3, 0.28e-3)
    track.scores, track.candidates = {"spektrum-dsmx": 8.0}, {"spektrum-dsmx": 4}
    clf = Classifier()
    clf.set_window(2447.7e6, 20e6)
    sliced = _sliced(_beside_checks(track, [2.5, 1.9, 2.6, 1.6]))     # 8.6 / 2 = 4.3
    assert sliced == {"link": None, "checks": 4, "mean_significance": 1.0, "beside_sigma": 4.3}
    assert clf._track_scores(track)["spektrum-dsmx"][1]["slices"] == SLICED_MISMATCH
    assert not _sliced(_beside_checks(track, [1.5, 1.9, 2.6, 1.6]))    # 3.8
    # One burst cannot decide (each counts at most 4), nor can two.
    assert not _sliced(_beside_checks(track, [40.0, 0.5, -0.5, 1.0]))
    assert not _sliced(_beside_checks(track, [9.0, 9.0]))
    # A burst far above its neighbours spills into them: its measure does not count.
    assert not _sliced(_beside_checks(track, [9.0, 9.0, 9.0, 9.0], contrast_db=8.0))
    assert "slices" not in clf._track_scores(track)["spektrum-dsmx"][1]


def test_weak_wifi_frames_raise_no_drone_alarm():
    """A held-out negative of bench_false_alarms.py: Wi-Fi frames at about +4 dB, whose
    slices the rules before the slice-track test named Spektrum DSMX at 0.8 s."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_false_alarms as fa

    recs, _, _ = fa.run_scenario(fa.make_scenario("wifi", fa.family_seed("wifi", 1024), duration_s=1.0))
    assert fa.false_alarms(recs) == []
    # The slices' tracks confirm Wi-Fi's prefix together and are set aside, as a slice that
    # confirms it alone is (before, 14 of the 21 records were such tracks, reported
    # `unknown` or `unknown-fhss` with `slices_of`).
    dets = [r for r in recs if r["type"] == "detection"]
    assert {d["link"] for d in dets} <= {"unknown", "unknown-fhss", "wifi"}
    assert not any("slices_of" in d["evidence"] for d in dets) and len(dets) <= 8, dets


@pytest.mark.parametrize("dur_s, interval", [(23e-3, -1.5), (5e-3, 1.0)])
def test_a_packet_ends_before_the_next_one_starts(dur_s, interval):
    """Pieces of weak LoRaWAN SF9 packets, 19-30 ms long, on a chance 20.5 ms lattice
    (Crossfire 50 Hz's interval): a link sending every 20 ms sends no 23 ms packets,
    whatever its time on air (not known for Crossfire)."""
    times = 1.0 + 0.0205 * np.array([0, 4, 5, 6, 8, 9])
    track = _track(times, [868.093e6, 867.1e6, 868.093e6, 867.35e6, 868.6e6, 867.1e6], 137.5e3, dur_s)
    assert _terms(track, "tbs-crossfire", 12.0, 6)["interval"] == interval
    assert _fits_mode({"interval_s": (19.4e-3, 20.6e-3)}, None, 20.0e-3)
    assert not _fits_mode({"interval_s": (19.4e-3, 20.6e-3)}, None, 20.6e-3)


def test_a_lora_packet_longer_than_the_link_sends_is_not_its():
    """A LoRaWAN SF8 / 500 kHz packet of 30.7 ms and the pieces of a weaker one (4.2 and 3.2
    ms, short enough for any mode) named ExpressLRS 50 Hz at 0.99: its packets last 18.6 ms,
    or 38-40 ms when the detector joins two sent back to back on one channel."""
    elrs = get("expresslrs-lora")
    track = _track([7.2574, 7.4033, 7.4149], [868.317e6, 867.272e6, 867.257e6])
    for sf, dur_s in ((8, 30.7e-3), (8, 4.2e-3), (8, 3.2e-3)):
        track.note_chirp_packet(sf, dur_s)
    assert _overlong_packets(track, elrs)
    joined = _track([0.0, 0.1, 0.2], [868.0e6] * 3)
    for dur_s in (18.5e-3, 38.5e-3, 18.4e-3):       # a strong pilot: one pair joined
        joined.note_chirp_packet(8, dur_s)
    assert not _overlong_packets(joined, elrs)
    collided = _track([0.0, 0.1, 0.2], [868.0e6] * 3)
    for dur_s in (18.5e-3, 29.0e-3, 18.4e-3):       # one packet lengthened by another emitter's
        collided.note_chirp_packet(8, dur_s)
    assert not _overlong_packets(collided, elrs)
    collided.note_chirp_packet(8, 30.0e-3)           # ... but not half of them
    assert _overlong_packets(collided, elrs)
    # The chirp detector follows a weak packet a few symbols past its end: 4.86 ms for a
    # 4.4 ms SF6 packet (200 Hz) is that packet.
    followed = _track([0.0, 0.1], [868.0e6] * 2)
    followed.note_chirp_packet(6, 4.86e-3)
    followed.note_chirp_packet(6, 4.74e-3)
    assert not _overlong_packets(followed, elrs)
    assert _terms(track, "expresslrs-lora", 15.0, 3)["mode"] == MODE_MISMATCH



def test_packets_joined_back_to_back_span_whole_intervals():
    """A LoRaWAN SF8 / 500 kHz packet of 41.3 ms and two pieces of weaker ones, 0.8 s later,
    named ExpressLRS 50 Hz at 0.99 (bench_false_alarms.py, crowded-868:772324): 41.3 ms
    passed for two of its 18.6 ms packets joined back to back.  Joined packets are strong,
    measured to their time on air: two span an interval and a packet, 38.5 ms
    (recordings/scenarios/crowded_868.toml's pilot B at 37 dB: 38.45-38.56 ms)."""
    elrs = get("expresslrs-lora")
    track = _track([5.4507, 6.2766, 6.2850], [867.623e6, 867.119e6, 867.137e6])
    for dur_s in (41.28e-3, 4.5e-3, 2.69e-3):
        track.note_chirp_packet(8, dur_s)
    assert _overlong_packets(track, elrs)
    joined = _track([0.0, 0.1, 0.2, 0.3], [868.0e6] * 4)
    for dur_s in (18.45e-3, 38.55e-3, 38.56e-3, 38.45e-3):
        joined.note_chirp_packet(8, dur_s)
    assert not _overlong_packets(joined, elrs)
    three = _track([9.5456], [868.119e6])
    three.note_chirp_packet(8, 61.88e-3)                        # crowded-868:772368
    assert _overlong_packets(three, elrs)
    three.note_chirp_packet(8, 58.5e-3)                         # three joined: 2 x 20 + 18.5 ms
    three.note_chirp_packet(8, 58.6e-3)
    assert not _overlong_packets(three, elrs)
    # A weak packet the chirp detector followed into the next may run past its end.
    followed = _track([0.0], [868.0e6])
    followed.note_chirp_packet(8, 41.28e-3, 2.0, followed=True)
    assert not _overlong_packets(followed, elrs)


def test_a_strong_packet_is_measured_to_its_time_on_air():
    """TBS Crossfire's 50 Hz mode as simulated (LoRa SF7, 500 kHz, 11.6 ms every 20 ms) at
    +10 dB was named ExpressLRS 100 Hz (SF7, 8.8 ms every 10 ms) at 0.99: 11.58 ms passed
    for a weak 100 Hz packet measured long.  The energy detector measures a packet 10 dB
    above the noise to its time on air."""
    elrs = get("expresslrs-lora")

    def packets(dur_s: float, snr_db: float, followed: bool = False) -> Track:
        track = _track([0.0, 0.02, 0.04], [868.0e6] * 3)
        for _ in range(3):
            track.note_chirp_packet(7, dur_s, snr_db, followed=followed)
        return track

    assert _overlong_packets(packets(11.58e-3, 10.0), elrs)
    assert not _overlong_packets(packets(8.77e-3, 10.0), elrs)
    # Weak, or followed by the chirp detector: measured up to a quarter long.
    assert not _overlong_packets(packets(10.9e-3, 2.0), elrs)
    assert not _overlong_packets(packets(10.9e-3, 12.0, followed=True), elrs)


def test_a_strong_lora_packet_far_shorter_than_the_link_sends_is_not_its():
    """ExpressLRS 200 Hz packets near the receiver's centre, measured 630 kHz wide and two at
    a time (4.4 and 9.4 ms at SF6, 13 dB), made a track of their own that was named mLRS at
    0.99: mLRS sends 91-byte frames, 22.3 ms at SF6.  Weak packets are split by the detector
    and say nothing."""
    mlrs, elrs = get("mlrs"), get("expresslrs-lora")
    strong = _track([4.3731, 5.5431, 5.5481, 6.4631], [868.05e6] * 4)
    for dur_s in (9.37e-3, 4.38e-3, 9.36e-3, 9.38e-3):
        strong.note_chirp_packet(6, dur_s, 13.3)
    assert _underlong_packets(strong, mlrs)
    assert not _underlong_packets(strong, elrs)          # (its modes bind the time on air)
    weak = _track([0.0, 0.032, 0.064], [868.05e6] * 3)
    for dur_s in (4.4e-3, 9.4e-3, 6.0e-3):
        weak.note_chirp_packet(6, dur_s, 4.0)
    assert not _underlong_packets(weak, mlrs)
    whole = _track([0.0, 0.032, 0.064], [868.05e6] * 3)
    for dur_s in (22.4e-3, 22.5e-3, 13.2e-3):
        whole.note_chirp_packet(6 if dur_s > 20e-3 else 5, dur_s, 25.0)
    assert not _underlong_packets(whole, mlrs)
    assert _terms(strong, "mlrs", 12.0, 4)["mode"] == MODE_MISMATCH


def test_the_next_packet_on_a_channel_is_no_piece_of_the_last():
    """ExpressLRS 50 Hz sends its next packet on a channel 1.5 ms after an 18.5 ms one ends:
    counted as a piece of it (a tenth of its length), three of every four packets went
    missing from the track's timing, and the pilot went unnamed for too few packets."""
    track = _track([0.625], [867.0e6], dur_s=18.45e-3)
    assert not _continues(_burst(0.645, 867.0e6, dur_s=18.45e-3), track)
    assert _continues(_burst(0.625 + 18.45e-3 + 0.5e-3, 867.0e6, dur_s=6e-3), track)


def test_a_mode_is_fitted_with_its_own_modulation():
    """Four wM-Bus T-mode bursts (FSK, 3.2 ms) from two meters fitted a 40.6 ms lattice: two
    periods of Crossfire's 50 Hz mode, which is LoRa, and were named Crossfire at 0.96."""
    fifty = {"rf_mode": "50Hz", "modulation": "LoRa", "interval_s": (19.4e-3, 20.6e-3)}
    assert _fits_mode(fifty, None, 3.2e-3)                        # nothing measured
    assert _fits_mode(fifty, None, 3.2e-3, ("lora", 500e3, 7, "up"))
    assert not _fits_mode(fifty, None, 3.2e-3, ("fsk",))
    track = _track([0.0, 0.0406, 0.4870, 0.8929], [868.501e6, 869.022e6, 868.501e6, 869.022e6], 214e3, 3.2e-3)
    track.modulation = ("fsk",)
    track.period = (0.04058, 1.0)
    assert _terms(track, "tbs-crossfire", 20.0, 4)["interval"] < 0


def test_chirps_too_slow_for_the_interval_fit_no_mode():
    """A LoRaWAN downlink (SF9, 125 kHz: 4.1 ms a symbol, a packet of at least 67 ms) and
    weak pieces of other nodes' packets 19.6 ms apart made a track named Crossfire at 0.62
    (bench_false_alarms.py, crowded-868:772104): its 50 Hz mode, LoRa, cannot send such
    chirps every 20 ms."""
    fifty = {"rf_mode": "50Hz", "modulation": "LoRa", "interval_s": (19.4e-3, 20.6e-3)}
    four = {"rf_mode": "4Hz", "interval_s": (0.2425, 0.2575)}
    assert _fits_mode(fifty, None, 13.7e-3, ("lora", 500e3, 7, "up"))     # 8.3 ms at the least
    assert _fits_mode(fifty, None, 13.7e-3, ("lora", 500e3, 9, "up"))     # 16.6 ms
    assert not _fits_mode(fifty, None, 13.7e-3, ("lora", 500e3, 10, "up"))
    assert not _fits_mode(fifty, None, 13.7e-3, ("lora", 125e3, 9, "down"))
    assert _fits_mode(four, None, 13.7e-3, ("lora", 125e3, 9, "down"))
    track = _track([0.0, 0.0196, 0.0392, 0.0588, 0.0784, 0.098], [868.261e6, 868.492e6] * 3, 139e3, 13.7e-3)
    track.modulation = ("lora", 125e3, 9, "down")
    track.period = (0.0196, 1.0)
    assert _terms(track, "tbs-crossfire", 15.0, 6)["interval"] < 0
    track.modulation = ("lora", 500e3, 7, "up")
    assert _terms(track, "tbs-crossfire", 15.0, 6)["interval"] > 0


def test_two_bursts_on_the_air_together_on_two_channels_are_two_radios():
    """FrSky R9 and ExpressLRS 200 Hz send the same chirp (SF6, 500 kHz) over the FCC band:
    an ExpressLRS packet inside an R9 packet's time, 8.5 MHz away, is not the R9's."""
    r9 = _track([0.0026], [924.0e6], 555e3, 7.83e-3)
    assert _elsewhere_meanwhile(_burst(0.0043, 915.5e6, 575e3, 4.37e-3), r9)
    assert not _elsewhere_meanwhile(_burst(0.0110, 915.5e6, 575e3, 4.37e-3), r9)     # after it
    # A piece of the same burst beside it in frequency (a Wi-Fi frame cut in two) touches it.
    assert not _elsewhere_meanwhile(_burst(0.0026, 924.55e6, 555e3, 7.83e-3), r9)
    # Pieces of a weak LoRaWAN chirp at the top and bottom of its channel at once are one
    # packet: within the track's bandwidth of each other.
    # A packet measured together with another emitter's (3.8 ms for a 0.64 ms ExpressLRS
    # FSK packet) says nothing of where the radio was.
    fsk = _track([0.1904, 0.1914, 0.1924], [913.1e6] * 3, 360e3, 0.64e-3)
    fsk.add(_burst(0.1934, 913.1e6, 360e3, 3.8e-3))
    assert not _elsewhere_meanwhile(_burst(0.1947, 922.1e6, 364e3, 0.64e-3), fsk)
    chirp = _track([0.100], [868.10e6], 190e3, 3e-3)
    chirp.add(_burst(0.104, 868.16e6, 30e3, 2e-3))
    assert not _elsewhere_meanwhile(_burst(0.1045, 868.04e6, 30e3, 2e-3), chirp)



def test_a_sync_word_the_link_does_not_send_names_no_link():
    """ExpressLRS sends LoRa's default sync word 0x12; a LoRaWAN network's packets carry
    0x34.  A track whose packets read 0x34 (most of them) is no ExpressLRS link; one that
    reads nothing, or 0x12, is not judged by it."""
    from rfdetect.classify.matcher import _foreign_sync_word
    elrs, lorawan = get("expresslrs-lora"), get("lorawan")
    track = _track([0.0, 0.02, 0.04], [867.5e6] * 3)
    track.kernel_results["lora"] = [{"sf": 8, "confirmed": True, "sync_word": 0x34}, None,
                                    {"sf": 8, "confirmed": True, "sync_word": None}]
    assert _foreign_sync_word(track, elrs) and not _foreign_sync_word(track, lorawan)
    track.kernel_results["lora"].append({"sf": 8, "confirmed": True, "sync_word": 0x12})
    assert not _foreign_sync_word(track, elrs)          # one of each: not most
    track.kernel_results["lora"] = [{"sf": 8, "confirmed": True, "sync_word": None}]
    assert not _foreign_sync_word(track, elrs)


def test_a_lorawan_node_at_500_khz_is_no_expresslrs_alarm():
    """bench_false_alarms.py's crowded-868:773517: a LoRaWAN node sending SF8 / 500 kHz
    (a US915 mode) at +10.9 dB, its fast chirps cut into pieces by the burst detector, was
    named ExpressLRS at 0.99.  Its packets read sync word 0x34 (the sync-word rule has its own
    test); the assembler now also joins their pieces, which overlap in time and follow
    each other within a few of the detector's time steps, into packets too long for
    ExpressLRS."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_false_alarms as fa
    from rfdetect.detect import DetectorConfig

    recs, _, _ = fa.run_scenario(fa.make_scenario("crowded-868", 773517), DetectorConfig())
    assert [r["link"] for r in recs if r["type"] == "detection" and r["drone"] is True] == []
