"""Wideband bursts the detector cut into pieces side by side in frequency (a Wi-Fi frame or
a DJI OFDM burst near 0 dB in-band SNR) are put together again before matching, so that a
piece is never taken for a narrowband link of its own size (Wi-Fi named Spektrum DSMX)."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rfdetect.classify import Classifier
from rfdetect.classify.assembler import OPEN_PIECE_MAX_S, PIECE_GAP_HOPS, Assembler
from rfdetect.detect import DetectorConfig
from rfdetect.model import Burst, IQBlock, RecordingInfo
from rfdetect.pipeline import Pipeline

FS = 30.72e6


def piece(t0_s: float, dur_s: float, f_lo_mhz: float, f_hi_mhz: float, snr_db: float = 0.5) -> Burst:
    s0 = int(round(t0_s * FS))
    s1 = int(round((t0_s + dur_s) * FS))
    return Burst(s0, s1, s0 / FS, s1 / FS, f_lo_mhz * 1e6, f_hi_mhz * 1e6, snr_db, -60.0,
                 0.5 * (f_lo_mhz + f_hi_mhz) * 1e6, {"frames": 12})


def run(bursts, hold="beside"):
    asm = Assembler(lambda b: hold)
    out = []
    for b in bursts:
        out += asm.push(b, None)
    return out + asm.finish()


def test_pieces_side_by_side_make_one_burst():
    """A 16.6 MHz frame seen as five pieces (out of frequency order, edges scattered by a
    frame or two) is one burst over the union of their bands."""
    pieces = [piece(0.0100, 400e-6, 2428.7, 2431.8), piece(0.01002, 390e-6, 2440.0, 2445.3),
              piece(0.00999, 405e-6, 2434.6, 2436.9), piece(0.01001, 398e-6, 2431.7, 2434.4),
              piece(0.01000, 402e-6, 2437.2, 2440.1)]
    out = run(pieces + [piece(0.012, 300e-6, 2430.0, 2432.0)])
    assert len(out) == 2
    b, _ = out[0]
    assert (b.f_lo_hz, b.f_hi_hz) == (2428.7e6, 2445.3e6)
    assert b.bandwidth_hz == pytest.approx(16.6e6)
    assert b.duration_s == pytest.approx(400e-6, abs=10e-6)
    assert b.features["pieces"] == 5 and b.features["side_by_side"]
    assert out[1][0].bandwidth_hz == pytest.approx(2e6)


def test_bursts_with_their_own_timing_or_band_stay_apart():
    a = piece(0.0100, 400e-6, 2430.0, 2432.0)
    late = piece(0.0102, 400e-6, 2432.1, 2434.0)          # starts 200 us later: another emitter
    far = piece(0.0100, 400e-6, 2436.0, 2438.0)           # 4 MHz away from a 2 MHz burst
    out = run([a, late, far])
    assert len(out) == 3
    assert all("side_by_side" not in b.features for b, _ in out)


def test_trains_in_time_are_not_taken_side_by_side():
    """LoRa pieces one after another on a channel still join as a train, and a train does
    not take a piece beside it."""
    train = [piece(0.0100, 1.0e-3, 2440.0, 2440.8), piece(0.0110, 1.0e-3, 2440.0, 2440.8)]
    out = run(train, hold="both")
    assert len(out) == 1 and out[0][0].duration_s == pytest.approx(2e-3, abs=1e-5)
    assert "side_by_side" not in out[0][0].features
    out = run(train, hold="beside")          # not held for a train: two bursts
    assert len(out) == 2


def test_a_piece_still_open_when_a_later_burst_closes_joins_its_packet():
    """Bursts arrive in end order: a short burst on another channel that starts after a
    packet's first piece, and closes while the packet's next piece is still open, does not
    release the packet early (its detector's horizon says a piece may still come), so the
    packet stays one burst.  Without the horizon it would be cut in two."""
    first = piece(0.0000, 10e-3, 867.45, 867.95)
    second = piece(0.0101, 10e-3, 867.45, 867.95)
    other = piece(0.0140, 0.1e-3, 868.80, 868.83)
    for horizon_s, packets in ((second.t_start_s, 1), (None, 2)):
        out = run([first, replace(other, horizon_s=horizon_s), second], hold="train")
        assert sorted(b.features.get("pieces", 1) for b, _ in out if b.f_lo_hz < 868e6) == \
            ([2] if packets == 1 else [1, 1])
    # A region open for longer than OPEN_PIECE_MAX_S (a continuous emitter) is not waited for.
    late = piece(0.0150 + OPEN_PIECE_MAX_S, 0.1e-3, 868.80, 868.83)
    out = run([first, replace(late, horizon_s=0.0), second], hold="train")
    assert len([b for b, _ in out if b.f_lo_hz < 868e6]) == 2


def test_bursts_leave_the_assembler_in_start_order_behind_a_held_packet():
    """A burst that passes straight through but starts after a packet still held waits for
    it: the tracker sees the packets of an emitter in the order they were sent."""
    packet = piece(0.0000, 10e-3, 867.45, 867.95)
    beside_it = piece(0.0050, 1e-3, 868.80, 868.83)
    before_it = piece(-0.0010, 12e-3, 866.80, 866.83)
    asm = Assembler(lambda b: "train" if b.f_lo_hz > 867e6 and b.f_hi_hz < 868e6 else None)
    assert asm.push(packet, None) == []
    assert asm.push(beside_it, None) == []                  # waits behind the packet
    assert [b for b, _ in asm.push(before_it, None)] == [before_it]
    assert [b for b, _ in asm.finish()] == [packet, beside_it]


def test_only_bands_with_wideband_links_hold_pieces_side_by_side():
    clf = Classifier()

    def at(f_mhz, bw_mhz):
        return piece(0.01, 400e-6, f_mhz - bw_mhz / 2, f_mhz + bw_mhz / 2)
    assert clf._holds(at(433.925, 0.05)) == "train"        # ExpressLRS 433 LoRa: trains only
    assert clf._holds(at(1090.0, 1.0)) == "beside"         # inside the 1.3 GHz video band plan
    assert clf._holds(at(1500.0, 1.0)) is None             # no wideband link: straight through
    assert clf._holds(at(2431.0, 2.0)) in ("beside", "both")
    assert clf._holds(at(1280.0, 1.0)) == "beside"         # 1.3 GHz FM video band
    assert clf._holds(at(2437.0, 90.0)) is None            # wider than any wideband link


def _bench_case(link: str, snr_db: float, seed: int):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_accuracy import CASES, scenario

    from rfdetect.simulate import generate
    _, _, fs, fc, _ = CASES[link]
    x, _ = generate(scenario(link, snr_db, 1.0, seed), seed=seed)
    recs = []
    info = RecordingInfo("t", fs, fc, num_channels=1, num_samples=x.shape[1])
    p = Pipeline(info, recs.append, config=DetectorConfig(integrate_frames=9),
                 classifier=Classifier(early_reports=True))
    for i in range(0, x.shape[1], 1 << 16):
        p.feed(IQBlock(x[:, i:i + (1 << 16)], i, fc, fs))
    p.finish()
    return [r for r in recs if r["type"] == "detection"]


def test_wifi_at_0db_is_wifi_and_no_drone():
    """The bench trial that named Spektrum DSMX: eight 1.4-3 MHz pieces of one frame made a
    four-burst 'hopping' track of DSMX's bandwidth and duration."""
    dets = _bench_case("wifi", 0.0, 1002)
    assert not [d for d in dets if d["drone"]], [(d["link"], d["bursts"]) for d in dets]
    wifi = [d for d in dets if d["link"] == "wifi"]
    assert wifi and all(d["bandwidth_hz"] > 14e6 for d in wifi)


def test_droneid_at_0db_with_a_centre_off_by_100_khz():
    """The bench trial whose burst centre was measured 105 kHz from the carrier (outside the
    old +-60 kHz search) and whose Zadoff-Chu peaks were 0.6 (under the old 0.7)."""
    dets = _bench_case("dji-droneid", 0.0, 1000)
    d = [d for d in dets if d["link"] == "dji-droneid"]
    assert d, [(x["link"], x["bursts"]) for x in dets]
    k = d[-1]["evidence"]["kernel"]
    assert k["confirmed"] and k["zc_lag_diff"] == 2192 and min(k["zc600"], k["zc147"]) >= 0.6
    assert abs(k["cfo_hz"]) > 60e3


@pytest.mark.parametrize("hold", ["beside", "train"])
def test_advance_releases_a_held_burst_without_waiting_for_the_next(hold):
    """In a quiet band no next burst comes to release what the assembler holds: the
    detector's horizon (no later burst starts before it) does, and only once no piece can
    still join."""
    asm = Assembler(lambda b: hold)
    lone = piece(0.0100, 640e-6, 2440.0, 2449.0)
    assert asm.push(lone, None) == []
    assert asm.advance(lone.t_end_s + 20e-6) == []           # a piece could still come
    released = asm.advance(lone.t_end_s + 0.01)
    assert [b for b, _ in released] == [lone]
    assert asm.finish() == []


def test_pipeline_reports_droneid_before_the_stream_ends():
    """A low-latency (live) pipeline hands the detector's horizon to the classifier after
    every block: the
    DroneID bursts the assembler holds (pieces side by side may follow) are matched then,
    not only when another burst or the end of the stream comes."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_accuracy import CASES, scenario

    from rfdetect.simulate import generate
    _, _, fs, fc, _ = CASES["dji-droneid"]
    x, _ = generate(scenario("dji-droneid", 10.0, 1.0, 1000), seed=1000)
    recs = []
    info = RecordingInfo("t", fs, fc, num_channels=1, num_samples=x.shape[1])
    clf = Classifier(early_reports=True)
    released = []
    advance = clf._assembler.advance

    def watched(horizon_s):
        out = advance(horizon_s)
        released.extend(out)
        return out

    clf._assembler.advance = watched
    p = Pipeline(info, recs.append, classifier=clf, low_latency=True)
    for i in range(0, x.shape[1], 1 << 16):
        p.feed(IQBlock(x[:, i:i + (1 << 16)], i, fc, fs))
    before_end = [r for r in recs if r["type"] == "detection" and r["link"] == "dji-droneid"]
    p.finish()
    assert released, "the horizon released nothing"
    assert before_end, [(r["link"], r["bursts"]) for r in recs if r["type"] == "detection"]


def _train(bursts, min_gap_s: float | None = None):
    asm = Assembler(lambda b: "train") if min_gap_s is None else Assembler(lambda b: "train", min_gap_s)
    out = []
    for b in bursts:
        out += asm.push(b, None)
    return [b for b, _ in out + asm.finish()]


def test_a_strong_packet_cut_at_every_symbol_is_one_packet():
    """A strong chirp comes apart at its symbols' wraps: ExpressLRS 25 Hz at +10 dB (SF9,
    1.02 ms symbols) as pieces of 0.8 ms, 0.22 ms apart.  Whole packets, OOK pulses and
    ExpressLRS FSK packets, with their gaps, stay apart."""
    pieces = [piece(0.1109 + k * 1.024e-3, 0.8e-3, 866.79, 867.21, 11.0) for k in range(29)]
    (packet,) = _train(pieces)
    assert packet.features["pieces"] == 29
    assert packet.duration_s == pytest.approx(28 * 1.024e-3 + 0.8e-3, abs=1e-5)
    elrs_200hz = [piece(0.01 + k * 5e-3, 4.38e-3, 866.79, 867.21, 20.0) for k in range(4)]
    elrs_2g4_500hz = [piece(0.01 + k * 2e-3, 1.78e-3, 2440.0, 2440.8, 20.0) for k in range(4)]
    ook = [piece(0.01 + k * 1.4e-3, 1.05e-3, 433.913, 433.927, 25.0) for k in range(6)]
    elrs_fsk = [piece(0.01 + k * 1e-3, 0.658e-3, 433.61, 433.94, 20.0) for k in range(2)]
    for bursts in (elrs_200hz, elrs_2g4_500hz, ook, elrs_fsk):
        assert len(_train(bursts)) == len(bursts)


def test_pieces_join_within_a_few_of_the_detectors_time_steps():
    """Past the assembler's own 60 us, pieces 0.15 ms apart join within PIECE_GAP_HOPS of
    the detector's time steps (53 us at 2.4 MS/s), which the classifier sets."""
    step_s = 128 / 2.4e6
    pieces = [piece(0.01 + k * 1.15e-3, 1.0e-3, 866.98, 867.03, 15.0) for k in range(6)]
    assert len(_train(pieces)) == 6
    (packet,) = _train(pieces, PIECE_GAP_HOPS * step_s)
    assert packet.features["pieces"] == 6
    clf = Classifier()
    clf.set_window(868e6, 2.4e6, step_s)
    assert clf._assembler.min_gap_s == pytest.approx(PIECE_GAP_HOPS * step_s)


def test_pieces_of_a_packet_that_overlap_in_time_are_one_packet():
    """Near 0 dB a slow chirp's regions overlap in time and close out of order; one that
    starts within the packet's span, inside its band, is a piece of it, and a piece that
    bridges two runs of pieces makes them one.  A packet on the next channel is not."""
    # A piece inside the first run, two runs 0.6 ms apart, and a piece that meets both.
    runs = [piece(0.0010, 0.5e-3, 866.95, 867.10), piece(0.0000, 2.5e-3, 866.80, 867.20),
            piece(0.0031, 2.5e-3, 866.85, 867.15), piece(0.0020, 2.5e-3, 866.82, 867.18)]
    assert len(_train(runs[:3])) == 2
    (packet,) = _train(runs)
    assert packet.features["pieces"] == 4
    assert packet.duration_s == pytest.approx(5.6e-3, abs=1e-5)
    beside = [piece(0.0000, 2.0e-3, 866.80, 867.20), piece(0.0010, 2.0e-3, 867.30, 867.70)]
    assert len(_train(beside)) == 2
