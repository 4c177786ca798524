"""Classifier end to end on generated scenes (detector + tracker + matcher)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from rfdetect.classify import Classifier, feature_scores, match_burst
from rfdetect.classify.assembler import merge
from rfdetect.classify.tracker import estimate_period
from rfdetect.detect import DetectorConfig
from rfdetect.model import Burst
from rfdetect.signatures import get
from test_classify_signals import Scene, droneid_native, gfsk, lora, run_pipeline

FS, FC = 2.4e6, 868.0e6
EU868 = np.linspace(863.275e6, 869.575e6, 13)


def elrs(scene, t0, interval, sf, snr_db, seed, duration_s, n_symbols=26, hop_every=4):
    """An ExpressLRS-like hopper: LoRa BW 500 kHz packets every ``interval`` on the EU868
    plan, hopping every ``hop_every`` packets; only channels inside the window are placed."""
    seq = np.random.default_rng(seed).permutation(13)
    t, k = t0, 0
    while t < duration_s - 0.04:
        ch = EU868[seq[(k // hop_every) % 13]]
        if abs(ch - scene.fc) < 0.95e6:
            scene.place(lora(scene.fs, sf, 500e3, n_symbols, scene.rng), t, ch, snr_db, 500e3)
        t += interval
        k += 1


def detections(recs):
    return [r for r in recs if r["type"] == "detection"]


def test_expresslrs_hopper_is_named_with_its_mode():
    sc = Scene(FS, FC, 0.6, np.random.default_rng(1))
    elrs(sc, 0.0013, 5e-3, 6, 10.0, seed=1, duration_s=0.6)
    dets = detections(run_pipeline(sc))
    assert [d["link"] for d in dets] == ["expresslrs-lora"], dets
    d = dets[0]
    assert d["drone"] is True and d["confidence"] >= 0.9
    assert d["mode"]["packet_rate"] == "200Hz" and d["mode"]["sf"] == 6
    assert d["evidence"]["packet_interval_s"] == pytest.approx(5e-3, rel=0.01)
    assert d["evidence"]["channels"] >= 2                       # bound across hops
    assert "lora" in d["evidence"]["matched"] and d["evidence"]["kernel"]["sf"] == 6
    assert d["t_start_s"] < 0.1                                 # from its first visible packets


def test_two_pilots_at_the_same_rate_stay_apart():
    sc = Scene(FS, FC, 1.0, np.random.default_rng(2))
    elrs(sc, 0.0013, 5e-3, 6, 10.0, seed=1, duration_s=1.0)
    elrs(sc, 0.0038, 5e-3, 6, 10.0, seed=2, duration_s=1.0)
    dets = [d for d in detections(run_pipeline(sc)) if d["drone"]]
    assert [d["link"] for d in dets] == ["expresslrs-lora"] * 2, dets
    assert len({d["track_id"] for d in dets}) == 2
    phases = sorted(round((d["t_start_s"] - 0.0013) % 5e-3 * 1e3, 1) for d in dets)
    assert phases == pytest.approx([0.0, 2.5], abs=0.3)        # one track per lattice


def test_lorawan_next_to_expresslrs_is_not_a_drone():
    rng = np.random.default_rng(3)
    sc = Scene(FS, FC, 1.0, rng)
    elrs(sc, 0.0013, 5e-3, 6, 10.0, seed=1, duration_s=1.0)
    for t0 in (0.05, 0.35, 0.65):
        sc.place(lora(FS, 9, 125e3, 20, rng), t0, 868.1e6, 10.0, 125e3)
    dets = detections(run_pipeline(sc))
    links = [d["link"] for d in dets]
    assert links.count("expresslrs-lora") == 1 and "lorawan" in links, links
    lw = [d for d in dets if d["link"] == "lorawan"][0]
    assert lw["drone"] is False and lw["evidence"]["kernel"]["sf"] == 9 and lw["evidence"]["kernel"]["bw_hz"] == 125e3
    assert [d for d in dets if d["drone"]] == [d for d in dets if d["link"] == "expresslrs-lora"]


@pytest.mark.parametrize("sf, bw_hz", [(10, 125e3), (12, 125e3), (11, 250e3)])
def test_lorawan_at_the_long_spreading_factors_is_lorawan(sf, bw_hz):
    # SF10-12 at 125 kHz and SF11-12 at 250 kHz: symbols of 8-33 ms, packets of 0.3-2.5 s.
    # The dechirp looked at 12 ms of a burst, too short for four windows of such a symbol:
    # a LoRaWAN node at SF12 was named nothing, its packets fitting no signature.
    rng = np.random.default_rng(sf)
    sc = Scene(FS, FC, 2.5, rng)
    packet = lora(FS, sf, bw_hz, 20, rng)
    sc.place(packet, 0.1, 868.1e6, 12.0, bw_hz)
    sc.place(packet, 0.2 + packet.size / FS, 868.3e6, 12.0, bw_hz)
    dets = detections(run_pipeline(sc))
    assert dets and all(d["link"] == "lorawan" and d["drone"] is False for d in dets), dets
    kernel = dets[0]["evidence"]["kernel"]
    assert kernel["sf"] == sf and kernel["bw_hz"] == bw_hz and kernel["confirmed_bursts"] == 1, kernel


def test_unknown_hopper_is_unknown_fhss_with_null_drone():
    rng = np.random.default_rng(4)
    sc = Scene(20e6, 2440e6, 0.3, rng)
    chans = 2440e6 + np.array([-6, -3, 0, 3, 6]) * 1e6
    for k, t0 in enumerate(np.arange(0.002, 0.29, 3e-3)):
        burst = np.repeat(np.exp(1j * np.pi / 2 * rng.integers(0, 4, 100)), 20)      # 1 MBd, 100 us
        sc.place(burst, t0, chans[(k * 3) % 5], 12.0, 1.5e6)
    dets = detections(run_pipeline(sc))
    assert [d["link"] for d in dets] == ["unknown-fhss"], dets
    d = dets[0]
    assert d["drone"] is None and d["evidence"]["channels"] == 5
    assert d["evidence"]["packet_interval_s"] == pytest.approx(3e-3, rel=0.02)


def test_synthetic_droneid_burst_named_with_zc():
    rng = np.random.default_rng(5)
    fs = 30.72e6
    sc = Scene(fs, 2440e6, 0.004, rng)
    burst = signal.resample_poly(droneid_native(rng), 2, 1)                         # 15.36 -> 30.72 MS/s
    sc.place(burst, 0.001, 2444.5e6 + 23e3, 15.0, 9e6)
    dets = detections(run_pipeline(sc))
    assert [d["link"] for d in dets] == ["dji-droneid"], dets
    assert dets[0]["evidence"]["kernel"]["confirmed"] and dets[0]["evidence"]["kernel"]["zc_lag_diff"] == 2192


def test_noise_alone_gives_nothing():
    dets = detections(run_pipeline(Scene(FS, FC, 0.5, np.random.default_rng(6))))
    assert dets == []


def test_early_reports_then_one_update_per_track():
    sc = Scene(FS, FC, 0.6, np.random.default_rng(1))
    elrs(sc, 0.0013, 5e-3, 6, 10.0, seed=1, duration_s=0.6)
    dets = detections(run_pipeline(sc, early_reports=True))
    assert [d["evidence"]["report"] for d in dets] == ["first", "update"], dets
    assert dets[0]["track_id"] == dets[1]["track_id"] and dets[0]["bursts"] < dets[1]["bursts"]
    assert dets[0]["t_end_s"] < 0.2                       # reported long before the end


def _burst(t0, dur, f, bw, snr=10.0):
    return Burst(int(t0 * FS), int((t0 + dur) * FS), t0, t0 + dur, f - bw / 2, f + bw / 2, snr, -40.0, f)


def test_feature_scores_and_match():
    s = get("expresslrs-lora")
    good = _burst(0.0, 4.4e-3, 868e6, 500e3)
    assert match_burst(good, s) == {"band": True, "bandwidth": True, "duration": True}
    f = feature_scores(good, s)
    assert f["bandwidth"] == 1.0 and f["duration"] == 1.0
    assert feature_scores(_burst(0.0, 4.4e-3, 2440e6, 500e3), s) is None        # out of band
    assert feature_scores(_burst(0.0, 4.4e-3, 868e6, 80e3), s)["bandwidth"] == -1.0


def test_period_estimate_tolerates_missing_packets():
    t = 0.0013 + 5e-3 * np.array([0, 1, 2, 3, 9, 10, 11, 12, 30, 31])
    period, share = estimate_period(t)
    assert period == pytest.approx(5e-3, rel=1e-3) and share == 1.0
    assert estimate_period(np.random.default_rng(0).uniform(0, 1, 20)) is None


def test_assembler_merge_keeps_extent():
    pieces = [_burst(0.01 + 0.001 * k, 0.001, 868e6 + 1e3 * k, 480e3) for k in range(4)]
    m = merge(pieces, splinters=2)
    assert m.sample_start == pieces[0].sample_start and m.sample_end == pieces[-1].sample_end
    assert m.duration_s == pytest.approx(0.004) and m.features["pieces"] == 4 and m.features["splinters"] == 2


def test_classifier_without_samples_still_names_by_features():
    c = Classifier()
    out = []
    for k in range(6):
        out += c.add(_burst(0.001 + 5e-3 * k, 4.4e-3, EU868[6 + (k // 4)], 520e3), None)
    out += c.finish()
    assert [d.link for d in out] == ["expresslrs-lora"]
    assert "lora" not in out[0].evidence["matched"]      # no samples, no kernel claim


def test_kernel_hook_sees_every_call_and_can_hand_back_results():
    from rfdetect.classify.evidence import run_kernel
    sc = Scene(FS, FC, 0.3, np.random.default_rng(1))
    elrs(sc, 0.0013, 5e-3, 6, 10.0, seed=1, duration_s=0.3)
    calls: dict = {}

    def recording(kernel, burst, iq, candidates):
        result = calls[(burst.sample_start, kernel)] = run_kernel(kernel, burst, iq, candidates)
        return result

    def replaying(kernel, burst, iq, candidates):     # runs nothing
        return calls[(burst.sample_start, kernel)]

    def untimed(records):
        return [{k: v for k, v in r.items() if k not in ("wall_s", "throughput_msps", "realtime_factor")}
                for r in records]

    plain = untimed(run_pipeline(sc))
    assert untimed(run_pipeline(sc, run_kernel=recording)) == plain
    assert sum(bool(r and r.get("confirmed")) for r in calls.values()) >= 3
    assert untimed(run_pipeline(sc, run_kernel=replaying)) == plain
    assert [d["link"] for d in detections(plain)] == ["expresslrs-lora"]


# The weak-burst detector (rfdetect analyze --integrate): finds bursts at 0 dB in-band.
INTEGRATE = DetectorConfig(integrate_frames=9)


def fsk_hopper(scene, channels, interval, rate, dev, n_bits, snr_db, seed, hop_every=1):
    """A GFSK hopper: ``n_bits`` packets every ``interval`` over ``channels`` (permuted)."""
    seq = np.random.default_rng(seed).permutation(len(channels))
    t, k = 0.0013, 0
    while t < scene.x.size / scene.fs - interval:
        ch = channels[seq[(k // hop_every) % len(channels)]]
        if abs(ch - scene.fc) < 0.95e6:
            scene.place(gfsk(scene.fs, rate, dev, n_bits, scene.rng), t, ch, snr_db, 2 * (dev + rate / 2))
        t += interval
        k += 1


@pytest.mark.parametrize("link,fc,channels,interval,rate,dev,n_bits,hop", [
    ("tbs-crossfire", FC, EU868, 1 / 150, 85.1e3, 42.5e3, 368, 1),
    ("expresslrs-fsk", 433.775e6, np.linspace(433.1e6, 434.45e6, 3), 1e-3, 300e3, 100e3, 197, 2),
])
def test_fsk_hoppers_named_at_0db(link, fc, channels, interval, rate, dev, n_bits, hop):
    """At 0 dB in-band the discriminator cannot confirm a burst; it abstains, and the
    link is named by its bandwidth, burst duration and packet interval."""
    sc = Scene(FS, fc, 0.6, np.random.default_rng(8))
    fsk_hopper(sc, channels, interval, rate, dev, n_bits, 0.0, seed=3, hop_every=hop)
    dets = [d for d in detections(run_pipeline(sc, config=INTEGRATE)) if d["drone"]]
    assert dets and {d["link"] for d in dets} == {link}, dets
    # (Crossfire, known by its timing alone, names no track of fewer than six packets: here
    # one of five is `unknown`.)
    assert sum(d["bursts"] for d in dets) >= 13
    assert "fsk" not in dets[0]["evidence"]["not_matched"]


def test_weak_lorawan_is_not_an_fsk_drone():
    """LoRaWAN at 0 dB in-band: the FSK signatures in its band get no kernel mismatch now,
    and must still not take it."""
    rng = np.random.default_rng(9)
    sc = Scene(FS, FC, 0.6, rng)
    for t0 in (0.05, 0.25, 0.45):
        sc.place(lora(FS, 9, 125e3, 20, rng), t0, 868.1e6, 0.0, 125e3)
    dets = detections(run_pipeline(sc, config=INTEGRATE))
    assert [d for d in dets if d["drone"]] == [], dets


def test_a_chirp_the_dechirp_confirmed_is_named_no_link_that_sends_none():
    # ExpressLRS 2.4 GHz at -10 dB through the chirp detector: 10 packets of SF6 / 812.5 kHz
    # in 1 s, too few for its 500 Hz lattice.  Their bandwidth, length and hops fit the GFSK
    # links too, whose FSK check cannot tell at -10 dB; before the modulation rule one track
    # was named FlySky AFHDS 2A, then (with FlySky ruled out by kernel alone) Spektrum DSMX.
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_accuracy as acc

    recs, _, _ = acc.run_trial("expresslrs-2g4-lora", -10.0, 1.0, 1002,
                               acc.detector_config(integrate=True, dechirp=True))
    assert recs[-1]["detector"]["dechirp"]["packets"] >= 8
    named = {r["link"] for r in recs if r["type"] == "detection"}
    assert named and all("lora" in get(link).modulation.lower() or link in ("unknown", "unknown-fhss")
                         for link in named), named


def test_a_weak_packet_the_chirp_detector_followed_is_no_shorter_link():
    # FrSky R9 (SF6, 7.8 ms packets every 20 ms) at -10 dB: the chirp detector loses a weak
    # packet's symbols after 1.4-9.5 ms.  Scored as whole packets, those lengths fitted
    # ExpressLRS's 4.4 ms SF6 packets better than R9's own, and ExpressLRS took the track
    # (its 5 ms lattice seen every fourth packet) at 0.97.  Their length is a lower bound.
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_accuracy as acc

    recs, _, _ = acc.run_trial("frsky-r9", -10.0, 1.0, 1002, acc.detector_config(integrate=True, dechirp=True))
    dets = {r["track_id"]: r for r in recs if r["type"] == "detection"}
    biggest = max(dets.values(), key=lambda d: d["bursts"])
    assert biggest["bursts"] >= 12 and biggest["evidence"]["median_burst_s"] < 5e-3
    assert biggest["link"] == "frsky-r9", biggest
    assert biggest["evidence"]["kernel"]["source"] == "chirp detector"
    assert "duration" not in biggest["evidence"]["not_matched"]

    # A burst's own length still counts where the chirp detector measured it whole (strong),
    # or where another detector outlined it.
    c = Classifier()
    weak, strong = _burst(0.0, 2.0e-3, 865e6, 500e3, snr=-10.0), _burst(0.0, 2.0e-3, 865e6, 500e3, snr=12.0)
    weak.features["dechirp"] = strong.features["dechirp"] = {"sf": 6}
    assert c._features(weak)["frsky-r9"]["duration"] == 1.0
    assert c._features(strong)["frsky-r9"]["duration"] < 0
    assert c._features(_burst(0.0, 2.0e-3, 865e6, 500e3))["frsky-r9"]["duration"] < 0


def test_a_count_of_packets_found_below_the_noise_is_a_lower_bound():
    # ExpressLRS 2.4 (500 Hz, SF5) at -12 dB: the chirp detector finds 5 of the packets sent
    # into the window, measured at -10 dB.  Counted as all the link sent, they fell short of
    # 500 Hz and the track was named unknown.  Below the noise the shortfall only weighs
    # against the faster link: a slower one that fits (mLRS, 31 Hz, at 900 MHz against
    # ExpressLRS's 250 Hz SF5 mode) still wins.
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_accuracy as acc

    cfg = acc.detector_config(integrate=True, dechirp=True)
    recs, _, _ = acc.run_trial("expresslrs-2g4-lora", -12.0, 1.0, acc.EVAL_SEED, cfg)
    last = [r for r in recs if r["type"] == "detection"][-1]
    assert last["link"] == "expresslrs-2g4-lora" and last["confidence"] >= 0.9, last
    assert last["evidence"]["kernel"]["source"] == "chirp detector" and last["snr_db"] < -8.0
    assert "packet_rate" in last["evidence"]["not_matched"]

    recs, _, _ = acc.run_trial("mlrs", -10.0, 1.0, acc.EVAL_SEED + 1, cfg)
    last = [r for r in recs if r["type"] == "detection"][-1]
    assert last["link"] == "mlrs" and last["evidence"]["runner_up"]["link"] == "expresslrs-lora", last


def test_one_chirp_among_unconfirmed_runs_does_not_make_a_track_lora():
    # ExpressLRS GFSK (1000 Hz) at +5 dB: the dechirp, run on the track's first bursts because
    # ExpressLRS LoRa's band and bandwidth fit them too, confirmed one of three as SF5 /
    # 250 kHz.  Taken as the track's modulation, it ruled out every link that sends no
    # chirp: its 915 packets were named unknown-fhss.  A chirp needs to stand for the track.
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_accuracy as acc

    recs, _, _ = acc.run_trial("expresslrs-fsk", 5.0, 1.0, 1008, acc.detector_config(integrate=True))
    dets = {r["track_id"]: r for r in recs if r["type"] == "detection"}
    biggest = max(dets.values(), key=lambda d: d["bursts"])
    assert biggest["bursts"] > 800
    assert biggest["link"] == "expresslrs-fsk" and biggest["confidence"] >= 0.9


def test_chirps_stand_on_a_clear_one_a_majority_or_three():
    from rfdetect.classify.matcher import _chirps_stand
    from rfdetect.classify.tracker import Track

    def track(outcomes):
        t = Track.__new__(Track)
        t.kernel_results = {"lora": [None if o is None else
                                     {"confirmed": o[0], "score": o[1], **({"source": o[2]} if len(o) > 2 else {})}
                                     for o in outcomes]}
        return t

    weak_yes, no = (True, 1.62), (False, 1.1)
    assert not _chirps_stand(track([no, weak_yes, no]))
    assert _chirps_stand(track([weak_yes, no]))
    assert _chirps_stand(track([weak_yes, None, None]))
    assert _chirps_stand(track([weak_yes] * 3 + [no] * 4))
    assert not _chirps_stand(track([weak_yes] * 2 + [no] * 3))
    assert _chirps_stand(track([no, (True, 14.1), no]))              # a LoRaWAN packet's strong piece
    assert _chirps_stand(track([no, (True, 1.2, "chirp detector"), no]))


@pytest.mark.parametrize("t0_s", [0.002, 0.1])
def test_an_unknown_hopper_is_reported_early_once_the_detector_has_looked_for_always_on_emitters(t0_s):
    # The pieces of an analog video cut in a stream's first 20 ms look like a hopper named
    # nothing; the detector's first looks for always-on emitters come at 20 ms, so an
    # unnamed emitter is held until 30 ms into the stretch (then reported, or taken by the
    # video it is part of).  One that starts later is reported as soon as it qualifies.
    rng = np.random.default_rng(4)
    sc = Scene(20e6, 2440e6, 0.3, rng)
    chans = 2440e6 + np.array([-6, -3, 0, 3, 6]) * 1e6
    for k, t in enumerate(np.arange(t0_s, 0.29, 3e-3)):
        burst = np.repeat(np.exp(1j * np.pi / 2 * rng.integers(0, 4, 100)), 20)      # 1 MBd, 100 us
        sc.place(burst, t, chans[(k * 3) % 5], 12.0, 1.5e6)
    dets = detections(run_pipeline(sc, early_reports=True))
    first = dets[0]
    assert first["link"] == "unknown-fhss" and first["evidence"]["report"] == "first"
    # Qualified after about 6 packets (18 ms): at 20 ms from the start it waits to 30 ms.
    if t0_s < 0.01:
        assert 0.03 <= first["t_end_s"] < 0.036
    else:
        assert first["t_end_s"] < t0_s + 0.02
