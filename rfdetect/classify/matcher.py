"""Match bursts to signatures, bind them into emitter tracks, report detections.

Per burst: every signature whose band holds the burst gets a score per feature
(bandwidth, duration: +1 inside the range, falling to -1 at a factor
``SLACK`` outside it); signatures that own a confirmation kernel add the
kernel's verdict (+3 match, -3 mismatch, 0 when the burst is too weak for the
kernel to tell).  Kernels run only for bursts that are candidates of a signature
needing them, and only until a track has confirmed its modulation on
``CONFIRM_BURSTS`` bursts (or, past that many abstentions, on bursts strong
enough for the kernel).

Per track: bursts are bound by timing lattice, bandwidth, duration and
modulation (tracker.py), not frequency, for anything that may hop; known
non-hopping emitters (ADS-B, LoRaWAN, ISM) are kept per channel.  The track's
link is the signature with the best mean score plus the packet-interval term (a track
with no lattice of its own may still sit on the lattice of a link's declared interval,
and the spreading factor with the time on air must fit one of a LoRa link's modes);
a track that fits nothing is ``unknown-fhss`` when it is periodic on three or
more channels, else ``unknown`` (``drone: null`` for both).

A detection is returned when its track ends (idle for ``track_timeout_s``, or
``finish``): one record per emitter.  With ``early_reports=True`` it is also
returned by ``add`` as soon as the track holds the signature's minimum number
of bursts and a positive score (``evidence["report"] == "first"``), again when
the track comes to name another link (``"renamed"``), and the record at the
track's end carries the same ``track_id`` with ``evidence["report"] ==
"update"``: consumers supersede by track id.  "Not my signature" is counted
per signature in ``rejections``, never raised.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..model import Burst
from ..signatures import UNKNOWN, UNKNOWN_FHSS, Band, Signature, get, load_all
from . import evidence as ev_mod
from .assembler import Assembler, piece_gap_s
from .calibration import confidence_from
from .continuous import ContinuousHosts
from .prefix import SteadyPrefixes
from .kernels import MIN_GAP_S, lattice_at, testable_periods
from .tracker import Track, TrackTable, lattice_multiples, on_channel_of, timing_tolerance_s

SLACK = 1.6               # a feature this factor outside its range scores -1
LOG_SLACK = math.log(SLACK)
KERNEL_MATCH = 3.0
KERNEL_MISMATCH = -3.0
CONFIRM_BURSTS = 3        # kernels stop running on a track once this many bursts confirmed it
CLEAR_CHIRP_SCORE = 3.2   # a LoRa kernel score that stands alone: twice its threshold (kernels/evidence_lora.py)
REPORT_SCORE = 1.0        # mean track score a link needs to be named
UNKNOWN_MIN_BURSTS = 3
UNKNOWN_MAX_CONFIDENCE = 0.5
FHSS_MIN_BURSTS = 6
FHSS_MIN_CHANNELS = 3
# A declared packet interval explains a track without a lattice of its own when this share
# of the gaps between at least this many packets are whole multiples of it (as the
# tracker's own lattice: tracker.estimate_period).
LATTICE_MIN_PACKETS = 9
LATTICE_MIN_SHARE = 0.7
# A shorter track passes only when every gap fits: a gap of random length fits with a chance
# of a third at most (kernels.lattice_at), so 6 gaps of 7 packets all fit by chance 0.14 %.
LATTICE_ALL_FIT_PACKETS = 7
LATTICE_MIN_FITS = 2      # gaps that must test and fit a track's own lattice
# Signatures whose bursts are at least this wide: near 0 dB in-band SNR the detector may
# keep one of their bursts as pieces side by side, which the assembler puts together.
WIDEBAND_HZ = 3e6
# A burst reaching this fraction of the window's width from its edge may be wider than
# measured (the detector's edge bins roll off with the front end's filter).
EDGE_MARGIN = 0.01
# A packet the window's edge cuts lasts as long as the track's others, within this ratio (the
# bound ``TrackTable.similar`` puts on durations).
EDGE_DURATION_RATIO = 1.4
# A hopper whose window holds at least this many of its channels spreads over them: a
# track whose separate hops all fell on so few of them that a uniform hop would do so
# with a chance under HOP_SPREAD_CHANCE is no such hopper (5 hops on one of 5 channels:
# 0.16 %; 5 hops on 2 of 20: 0.19 %).
HOPPER_WINDOW_CHANNELS = 3
HOP_SPREAD_CHANCE = 0.005
# Such a hopper's packets in the window: a track holding less than this share of what the
# link would have sent there, once that is at least RATE_MIN_EXPECTED, is not that link (a
# weak link misses packets, but not four in five).
RATE_MIN_EXPECTED = 20.0
RATE_MIN_SHARE = 0.2
RATE_MISMATCH = -5.0      # outweighs a confirmed modulation: this link's timing it is not
# ... unless the track's packets are the chirp detector's, found this far below the noise
# or further (their median in-band SNR): there it finds a few of a link's packets, how many
# depending on the SNR, so their count bounds the link's rate from below only.  The
# shortfall then weighs against the faster link (a slower one explains the count with
# fewer packets missed), without turning it away.
RATE_UNSEEN_SNR_DB = -8.0
RATE_SHORTFALL = -1.0
# The detector's first looks for always-on emitters come 20 ms into a stretch (the floor's
# and the line-rate stage's): an emitter named nothing is not reported early before then
# and the frames' decision delay, as the pieces a video is cut into may be.
FIRST_LOOK_S = 0.03
# A LoRa link sends a fixed payload: its spreading factor sets its time on air, and a track
# whose packets (their median: two packets measured as one are the exception) are longer
# than every mode at the confirmed spreading factor is not that link.
MODE_MISMATCH = -5.0
# The fewest symbols a LoRa packet holds: the preamble windows a confirmation needs (4), the
# sync word and start frame delimiter (4.25), and the header block every SX127x/SX126x
# packet sends (8).  At a confirmed spreading factor and bandwidth, that is the shortest
# packet the emitter can send (``_fits_mode``).
LORA_MIN_PACKET_SYMBOLS = 16.25
# The detector joins strong packets sent back to back on one channel (ExpressLRS hops every
# few packets), where another emitter's packets fill the gaps between them: a burst of up to
# this many packets is still the link's.
MERGED_PACKETS = 4
# A LoRa packet this far above the noise is measured whole: the detector splits weak ones.
WHOLE_SNR_DB = 10.0
# ... and may measure a packet this much longer than its time on air: the chirp detector
# follows a weak packet to a few symbols past its end (4.86 ms for a 4.4 ms ExpressLRS SF6
# packet at -10 dB).
OVERLONG_MARGIN = 1.25
# A reported track's link is looked at again at most this many packets apart.
RECHECK_PACKETS = 32
# A burst starting this soon after a track's last one ends, on its channel, is a piece of the
# same packet: at most CONTINUE_GAP_S, and at most CONTINUE_HOPS of the detector's time steps
# (at 20 MS/s, 0.15 ms: ExpressLRS 2.4 GHz at 500 Hz leaves 0.23 ms between its packets).
CONTINUE_GAP_S = 0.3e-3
CONTINUE_HOPS = 6
# Pulses of one on-off keyed train on one channel follow each other within this gap, the
# longest a train leaves between its repeats: an EV1527 / PT2262 remote's sync gap is 31
# clock units of 300-500 us (9.3-15.5 ms).
PULSE_TRAIN_GAP_S = 15e-3
# ... and their lengths are a few units apart: 1 and 3 (PWM), 1 and 2 (Manchester), with a
# weak pulse measured as short as half its length (a 0.35 ms pulse at 10 dB: 0.19 ms).
PULSE_LENGTHS_RATIO = 6.0
# A burst of this many of the detector's time steps is a pulse whatever the train's lengths
# (a 0.35 ms pulse at 10 dB was also measured 0.16 ms, three steps); one or two steps may be
# a splinter of another emitter's packet.
PULSE_MIN_HOPS = 3
# Two bursts on the air together for longer than this (a few frames of edge measurement)
# on channels apart are two radios.
OVERLAP_S = 0.2e-3
# Two channels of a band plan with a known raster are a whole number of steps apart, within
# this fraction of a step (carrier offsets and centre measurement).
RASTER_TOL = 0.1
# Slices of weak Wi-Fi frames (a few dB in-band) rarely confirm one by one: their prefix
# significance is 2-4 where one slice needs 5 (kernels/evidence_ofdm.py).  A track of them
# stands out on average: the checks of Wi-Fi slice tracks average 2-5, those of every
# 2.4 GHz control link's packets at most 1.5 (-0.3 to 1.0 for most).  A track whose mean
# over at least SLICED_MIN_CHECKS checks reaches SLICED_MEAN, plus SLICED_SPREAD (about a
# check's scatter) over the root of their number, is slices of a host's frames.
SLICED_MIN_CHECKS = 3
SLICED_MEAN = 2.0
SLICED_SPREAD = 1.0
SLICED_MISMATCH = -5.0
# The same checks measure the floor beside each burst (kernels/beside.py): about N(0, 1)
# for a packet in noise, 2-20 for a slice of a wider frame.  Over a track, each burst's
# measure (clipped to +-BESIDE_CLIP, so one burst cannot decide; 0 for a burst standing
# BESIDE_MAX_CONTRAST_DB or more above its neighbours: a strong packet's own skirts) sums,
# over the root of their number, to BESIDE_MIN_SIGMA or more for a track of slices.
# Measured (20 MS/s, --integrate): the tracks of the bench's 2.4 GHz control links at
# 0-40 dB reach at most 2.7, alone, among busy Wi-Fi stations or beside a video downlink;
# the Wi-Fi slice tracks named DSMX in the false-alarm bench, 4.3-8.9 when named.
BESIDE_CLIP = 4.0
BESIDE_MAX_CONTRAST_DB = 6.0
BESIDE_MIN_SIGMA = 4.0


@dataclass
class Detection:
    link: str
    drone: bool | None
    confidence: float
    center_freq_hz: float
    bandwidth_hz: float
    t_start_s: float
    t_end_s: float
    sample_start: int
    sample_end: int
    snr_db: float
    bursts: int
    track_id: int
    evidence: dict = field(default_factory=dict)
    mode: dict | None = None
    provisional: bool = False


def _fit(value: float, rng: tuple[float, float]) -> float:
    """+1 inside the range, falling linearly in log distance to -1 at SLACK outside."""
    lo, hi = rng
    if lo <= value <= hi:
        return 1.0
    if value <= 0:
        return -1.0
    edge = lo if value < lo else hi
    if edge <= 0 or not math.isfinite(edge):
        return -1.0
    d = abs(math.log(value / edge)) / LOG_SLACK
    return max(-1.0, 1.0 - 2.0 * d)


def match_burst(burst: Burst, sig: Signature) -> dict:
    """Feature-by-feature verdicts (bool) of one burst against one signature."""
    dur_ok = sig.burst_s[0] <= burst.duration_s <= sig.burst_s[1]
    return {
        "band": sig.in_band(burst.center_freq_hz),
        "bandwidth": sig.bandwidth_hz[0] <= burst.bandwidth_hz <= sig.bandwidth_hz[1],
        "duration": dur_ok,
    }


def feature_scores(burst: Burst, sig: Signature) -> dict | None:
    """Per-feature scores of a burst against a signature, or None when out of band."""
    return _scores(burst.center_freq_hz, burst.bandwidth_hz, burst.duration_s, sig)


def _scores(f_hz: float, bw: float, dur: float, sig: Signature) -> dict | None:
    for b in sig.bands:
        if b.lo_hz <= f_hz <= b.hi_hz:
            break
    else:
        return None
    (bw_lo, bw_hi), (dur_lo, dur_hi) = sig.bandwidth_hz, sig.burst_s
    # (Inside its range a feature scores 1 without a call.)
    bw_fit = 1.0 if bw_lo <= bw <= bw_hi else _fit(bw, sig.bandwidth_hz)
    dur_fit = 1.0 if dur_lo <= dur <= dur_hi or (sig.continuous and dur >= dur_lo) else _fit(dur, sig.burst_s)
    return {"bandwidth": bw_fit, "duration": dur_fit, "short": dur < dur_lo}


# (kernel name, burst, its samples, candidate signatures) -> the kernel's result (or None)
KernelRunner = Callable[[str, Burst, object, list], "dict | None"]


class Classifier:
    """Streaming: ``add`` each burst as it closes (with its samples when held);
    ``finish`` at the end of the stream.

    ``run_kernel``: what runs a confirmation kernel, called as
    ``run_kernel(kernel, burst, iq, candidates)`` for every kernel the classifier
    asks for (default ``evidence.run_kernel``).  A wrapper can record the results,
    or hand back results computed elsewhere for the same call (a kernel's result
    depends on nothing else)."""

    def __init__(self, signatures: list[Signature] | None = None, track_timeout_s: float = 2.0,
                 run_kernels: bool = True, early_reports: bool = False,
                 run_kernel: KernelRunner | None = None):
        self.signatures = signatures if signatures is not None else load_all()
        self.run_kernel: KernelRunner = run_kernel or ev_mod.run_kernel
        self._registry = {s.id: s for s in load_all(include_fallbacks=True)}
        self.early_reports = early_reports
        self._assembler = Assembler(self._holds)
        self._band_cache: dict[int, tuple[list[Signature], list[Signature]]] = {}
        self.track_timeout_s = track_timeout_s
        self.run_kernels = run_kernels
        self._tracks = TrackTable(track_timeout_s)
        self._keyed: dict[tuple, Track] = {}
        self._next_id = 1
        self.rejections: Counter = Counter()   # signature id -> bursts that did not fit it
        self.kernel_runs: Counter = Counter()  # kernel -> runs
        self.slices: Counter = Counter()       # host signature id -> slices of its frames set aside
        self.edge_packets: Counter = Counter()  # track id -> its packets seen only through the window's edge
        self._continuous = ContinuousHosts()
        self._prefixes = SteadyPrefixes()
        self._window_hz: tuple[float, float] | None = None
        self._window_since_s = 0.0       # start of the stretch this window is seen in
        self._window_channels: dict[str, int | None] = {}
        self._window_shares: dict[str, list[tuple[Band, float]]] = {}
        self._piece_hosts = [s for s in self.signatures if s.extra.get("pieces")]
        self._piece_gap_s = CONTINUE_GAP_S
        self._min_pulse_s = math.inf      # (the detector's time step unknown: lengths alone)

    def set_window(self, center_freq_hz: float, sample_rate_hz: float, frame_hop_s: float | None = None,
                   since_s: float | None = None) -> None:
        """The band the receiver sees (at the start and after each retune): a hopper with
        several channels in it must be seen on more than one.  ``frame_hop_s``: the
        detector's time step, which sets how far apart two pieces of one packet may be.
        ``since_s``: when the detector began this stretch (the stream's start, its last
        retune or gap), from which it looks for always-on emitters anew."""
        if since_s is not None:
            self._window_since_s = since_s
        if frame_hop_s is not None:
            self._piece_gap_s = min(CONTINUE_GAP_S, CONTINUE_HOPS * frame_hop_s)
            self._assembler.set_frame_hop(frame_hop_s)
            self._min_pulse_s = PULSE_MIN_HOPS * frame_hop_s
        lo, hi = center_freq_hz - 0.5 * sample_rate_hz, center_freq_hz + 0.5 * sample_rate_hz
        if (lo, hi) != self._window_hz:
            self._window_hz = (lo, hi)
            self._window_channels = {s.id: s.channels_within(lo, hi) for s in self.signatures if s.hopping}
            self._window_shares = {s.id: window_shares(s, lo, hi) for s in self.signatures if s.hops_all_channels}

    # ---- per burst -------------------------------------------------------------------
    def add(self, burst: Burst, iq=None) -> list[Detection]:
        """``iq``: the burst's samples with a margin (history.IQSnippet), or None when they
        are no longer held."""
        out = []
        for b, snip in self._assembler.push(burst, iq):
            out.extend(self._add(b, snip))
        return out

    def advance(self, horizon_s: float) -> list[Detection]:
        """No burst added from now on starts before ``horizon_s``: the packets the
        assembler holds that are complete by then are matched now."""
        out = []
        for b, snip in self._assembler.advance(horizon_s):
            out.extend(self._add(b, snip))
        return out

    def _in_band(self, f_hz: float) -> list[Signature]:
        """Signatures with a band near ``f_hz`` (cached per 50 kHz; feature_scores
        checks the exact edges)."""
        return self._near(f_hz)[0]

    def _near(self, f_hz: float) -> tuple[list[Signature], list[Signature], list[Signature]]:
        """Signatures with a band near ``f_hz``, those of them with a LoRa kernel, and
        those whose bursts are wideband."""
        key = int(f_hz // 50e3)
        near = self._band_cache.get(key)
        if near is None:
            lo, hi = key * 50e3 - 50e3, key * 50e3 + 100e3
            sigs = [s for s in self.signatures if any(b.lo_hz <= hi and b.hi_hz >= lo for b in s.bands)]
            near = (sigs, [s for s in sigs if s.kernel == "lora"],
                    [s for s in sigs if s.bandwidth_hz[0] >= WIDEBAND_HZ])
            if len(self._band_cache) < 4096:
                self._band_cache[key] = near
        return near

    def _holds(self, burst: Burst) -> str | None:
        """What the assembler may hold a burst for: a piece of a LoRa packet cut in time
        ("train"), a piece of a wideband burst cut in frequency ("beside"), both, or None."""
        f_hz = burst.center_freq_hz
        _, lora, wide = self._near(f_hz)
        train = any(s.in_band(f_hz) and burst.bandwidth_hz <= 1.5 * s.bandwidth_hz[1] for s in lora)
        side = any(s.in_band(f_hz) and burst.bandwidth_hz < s.bandwidth_hz[1] for s in wide)
        return ("both" if side else "train") if train else ("beside" if side else None)

    def _add(self, burst: Burst, iq=None) -> list[Detection]:
        out = self._expire(burst.t_start_s)
        # A splinter of a confirmed track's last packet (a chirp's sweep, a weak packet's
        # strong part) adds to that track and nothing else.
        host = self._tracks.splinter_host(burst)
        if host is not None:
            host.add(burst, fragment=True)
            self._tracks.refresh(host)
            return out
        if self._at_window_edge(burst):
            # A hopper's packet on a channel the window's edge cuts shows as a sliver: its
            # bandwidth is the window's, not the link's, but its start and length are the
            # packet's.  On a confirmed track's lattice, it is that track's packet; counted
            # there, it neither starts an emitter of its own nor sways the track's features.
            host = self._tracks.lattice_host(burst, EDGE_DURATION_RATIO)
            if host is not None:
                self.edge_packets[host.track_id] += 1
                return out
        feats = self._features(burst)
        host, piece = self._slice_host(burst, iq, feats)
        if host is not None:
            # A slice of a host's frame (Wi-Fi): no emitter of its own, and no packet of
            # any other.  The host's whole frames make its tracks.
            self.slices[host.id] += 1
            return out
        if not feats and self._continuous.take(burst) is not None:
            return out      # a piece of an always-on emitter's signal (continuous.py)
        track = self._find_track(burst, feats)
        kernels = self._kernels(burst, iq, feats, track)
        if _modulation(kernels) != ("?",) or (track is not None and not _compatible(kernels, track)):
            # What the kernels measured binds the burst (a fragment of a packet, a burst
            # measured short) to the emitter with the same modulation.
            bad = track if track is not None and not _compatible(kernels, track) else None
            track = self._find_track(burst, feats, exclude=bad, kernels=kernels) or \
                (track if bad is None else None)
        elif track is None or track.modulation == ("?",):
            # (After the kernels: the track found by features decides which of them run.)
            track = self._pulse_train(burst, feats) or track
        if any(sig.continuous and (kernels.get(sig.kernel) or {}).get("confirmed")
               for sig in map(self._sig, feats)):
            track = self._continuous.around(burst) or track
        scores, verdicts, bw_fits = {}, {}, {}
        sigs = {sid: self._sig(sid) for sid in feats}
        # (With no kernel result, every verdict is "none".)
        verdict_of = {sid: ev_mod.verdict(sig, kernels.get(sig.kernel))
                      for sid, sig in sigs.items() if sig.kernel} if kernels else {}
        for sid, f in feats.items():
            sig = sigs[sid]
            v = verdict_of.get(sid, "none")
            if sig.kernel and v == "none" and track is not None:
                # The track confirmed this modulation already: its verdict stands for the burst.
                v = track.verdicts.get(sid, {}).get("inherited", "none")
            if v == "match" and any(verdict_of.get(y) == "match" for y in sig.extra.get("yields_to", ())):
                v = "mismatch"      # a more specific signature's kernel claimed this burst
            if sig.kernel_required and v != "match":
                self.rejections[sid] += 1
                continue
            bw_fits[sid] = _band_fit(sig, v, f["bandwidth"])
            scores[sid] = _score(sig, f, v)
            verdicts[sid] = v
        if burst.features.get("faint"):
            if "match" not in verdicts.values():
                # A span of the floor a fraction of a dB high stands for a link only where a
                # kernel confirms one (detect/steady.py): otherwise a front end's ripple
                # would make emitters.  Its band's sums may confirm one later (prefix.py).
                self._prefixes.hold(burst)
                return out
        modulation = _modulation(kernels)
        if track is None:
            track = self._new_track(burst, scores, modulation)
        elif track.modulation == ("?",) and modulation != ("?",):
            track.modulation = modulation
        # The steady bursts whose summed prefixes confirmed the link with this one are its own.
        for earlier in self._prefixes.release(burst) if "ofdm_cp" in kernels else ():
            ok = {sid: f for sid, f in self._features(earlier).items() if verdicts.get(sid) == "match"}
            self._add_to_track(track, earlier, {sid: _score(sigs[sid], f, "match") for sid, f in ok.items()},
                               dict.fromkeys(ok, "match"), kernels)
        self._add_to_track(track, burst, scores, verdicts, kernels)
        lora = kernels.get("lora")
        if lora and lora.get("confirmed"):
            track.note_chirp_packet(lora["sf"], burst.duration_s, burst.snr_db,
                                    followed=lora.get("source") == "chirp detector")
        if piece is not None:
            track.kernel_results.setdefault("ofdm_piece", []).append(piece)
        for sid, v in verdicts.items():
            if sigs[sid].continuous and v == "match" and bw_fits[sid] == 1.0:
                self._continuous.note(track, burst, sigs[sid].bandwidth_hz[1])
                break
        if self.early_reports and (not track.reported or track.packets >= track.recheck_packets):
            out.extend(self._report(track))
        return out

    def _add_to_track(self, track: Track, burst: Burst, scores: dict, verdicts: dict, kernels: dict) -> None:
        fragment = _continues(burst, track, self._piece_gap_s) or \
            (track.modulation != ("?",) and track.within_packet(burst))
        track.add(burst, fragment=fragment)
        self._tracks.refresh(track)
        for sid, s in (scores.items() if not fragment or not track.scores else ()):
            # A piece of a packet already scored says nothing new about the link.
            track.scores[sid] = track.scores.get(sid, 0.0) + s
            track.candidates[sid] = track.candidates.get(sid, 0) + 1
            vc = track.verdicts.setdefault(sid, {"match": 0, "mismatch": 0, "none": 0})
            vc[verdicts[sid]] += 1
            if vc["match"] >= CONFIRM_BURSTS:
                vc["inherited"] = "match"
            elif vc["match"] + vc["mismatch"] >= CONFIRM_BURSTS:
                vc["inherited"] = "match" if vc["match"] > vc["mismatch"] else "mismatch"
        for name, result in kernels.items():
            track.kernel_results.setdefault(name, []).append(result)

    def _report(self, track: Track) -> list[Detection]:
        """A track's first report, or a later one when it now names another link (a hopper
        whose first packets looked like an OOK remote's is a drone link well before its
        track ends: ``evidence["report"] == "renamed"``).  A reported track is looked at
        again as its packets double, at least every RECHECK_PACKETS."""
        det = self._to_detection(track, early=True)
        track.recheck_packets = track.packets + min(max(track.packets, 1), RECHECK_PACKETS)
        if det is None or (track.reported and (det.link == track.reported_link or det.link in (UNKNOWN, UNKNOWN_FHSS))):
            return []
        if det.link in (UNKNOWN, UNKNOWN_FHSS) and track.last_end_s < self._window_since_s + FIRST_LOOK_S:
            # Maybe pieces of an always-on emitter the detector has not looked for yet: held
            # (its first look confirms a video host, which takes them when they close).
            track.recheck_packets = track.packets
            return []
        if track.reported:
            det.evidence["report"] = "renamed"
        track.reported = True
        track.reported_link = det.link
        return [det]

    def _sig(self, sid: str) -> Signature:
        sig = self._registry.get(sid)
        return sig if sig is not None else get(sid)

    def _features(self, burst: Burst) -> dict:
        """Per-feature scores against each signature the burst may belong to (the
        others count a rejection)."""
        feats = {}
        f_hz, bw, dur = burst.center_freq_hz, burst.bandwidth_hz, burst.duration_s
        clipped = self._at_window_edge(burst)
        # A burst the line-rate stage found (detect/linerate.py) holds its own evidence, and
        # its band is only where that line shows: below 0 dB a picture's sync and blanking
        # levels, and no more than the receiver's window sees of the channel.
        line_rate = "line_rate" in burst.features
        at_least = _length_is_a_lower_bound(burst)
        for sig in self._in_band(f_hz):
            f = _scores(f_hz, bw, dur, sig)
            if at_least and f is not None and f["short"]:
                f["duration"] = 1.0     # a packet at least this long fits a longer link's
            if line_rate and f is not None and sig.kernel == "fm_video":
                feats[sig.id] = f
            elif f is None or not _candidate(f, sig) or (clipped and not _judged_beyond_edge(sig)):
                self.rejections[sig.id] += 1
            else:
                feats[sig.id] = f
        return feats

    def _slice_host(self, burst: Burst, iq, feats: dict) -> tuple[Signature | None, dict | None]:
        """The host link whose frame the burst is a slice of (or None), and the check's
        result: a burst narrower than a host whose frames break into slices (Wi-Fi,
        ``Signature.extra["pieces"]``) and that a drone link could take is checked for the
        host's numerology.  The links it fitted count a rejection.  (A burst the host may
        be, a frame measured a little narrow, is left to the host's own kernel.)  A check
        that did not confirm is kept on the burst's track: weak slices confirm one by one
        rarely, but together (see ``_sliced``)."""
        if not self.run_kernels or iq is None or not any(self._sig(s).drone for s in feats):
            return None, None
        f_hz = burst.center_freq_hz
        checked = None
        for host in self._piece_hosts:
            if host.id in feats or not host.in_band(f_hz) or burst.bandwidth_hz >= host.bandwidth_hz[0]:
                continue
            self.kernel_runs["ofdm_piece"] += 1
            ev = self.run_kernel("ofdm_piece", burst, iq, [host])
            if ev is not None and ev.get("confirmed"):
                for sid in feats:
                    self.rejections[sid] += 1
                return host, ev
            checked = dict(ev, host=host.id) if ev is not None else checked
        return None, checked

    def _at_window_edge(self, burst: Burst) -> bool:
        """Whether the burst reaches the edge of the receiver's window: then its bandwidth
        is only what the window let through (a Wi-Fi channel half outside the window shows
        slices of its frames the size of a 2.4 GHz control-link packet)."""
        if self._window_hz is None:
            return False
        lo, hi = self._window_hz
        margin = EDGE_MARGIN * (hi - lo)
        return burst.f_lo_hz <= lo + margin or burst.f_hi_hz >= hi - margin

    def _kernels(self, burst: Burst, iq, feats: dict, track: Track | None) -> dict:
        # A burst whose samples are no longer held runs no kernel, unless its detector
        # measured the evidence itself (a chirp detector's packet, released after the
        # samples when its searches are long: LoRaWAN's SF12 symbols are 33 ms).
        if not self.run_kernels or (iq is None and not any(f in burst.features
                                                          for f in ev_mod.DETECTOR_EVIDENCE.values())):
            return {}
        need: dict[str, list[Signature]] = {}
        for sid in feats:
            sig = self._sig(sid)
            if sig.kernel is None:
                continue
            vc = track.verdicts.get(sid, {}) if track is not None else {}
            if vc.get("inherited") or vc.get("match", 0) + vc.get("mismatch", 0) >= CONFIRM_BURSTS:
                continue      # the track's verdict on this modulation is settled
            if vc.get("none", 0) >= CONFIRM_BURSTS and not ev_mod.can_tell(sig.kernel, burst):
                continue      # weak bursts told it nothing thrice: only a stronger one may settle it
            need.setdefault(sig.kernel, []).append(sig)
        out = {}
        # A kernel that could only tell two non-drone links apart is not worth its time
        # on every sensor burst: it runs when a drone link (or a required check) needs it.
        # LoRa bursts are long and rare, and their evidence is what keeps a LoRaWAN
        # gateway from being taken for a LoRa drone link: the dechirp always runs.  The FSK
        # check also runs where a link without a kernel competes (an OOK remote against an
        # FSK sensor at 433.92 MHz, where no drone FSK link fits a 100 kHz burst).
        need = {k: v for k, v in need.items()
                if k == "lora" or any(s.drone or s.kernel_required for s in v)
                or (k == "fsk" and any(self._sig(s).kernel is None for s in feats))}
        for name, sigs in need.items():
            self.kernel_runs[name] += 1
            out[name] = self.run_kernel(name, burst, iq, sigs)
        always_on = [s for s in need.get("ofdm_cp", ()) if s.continuous]
        if always_on and burst.features.get("steady") and \
                not any(ev_mod.verdict(s, out["ofdm_cp"]) == "match" for s in always_on):
            # Too weak to confirm alone (a short lag's correlation is the band's own): the
            # band's steady bursts so far, summed (prefix.py).
            self.kernel_runs["ofdm_cp_sums"] += 1
            sums = self.run_kernel("ofdm_cp_sums", burst, iq, always_on)
            out["ofdm_cp"] = self._prefixes.add(burst, sums) or out["ofdm_cp"]
        return out

    # ---- tracks ------------------------------------------------------------------------
    def _key(self, burst: Burst, feats: dict) -> tuple | None:
        """Known non-hopping emitters are kept per channel; anything else hops or may."""
        if not feats or any(self._sig(s).hopping for s in feats):
            return None
        best = max(feats, key=lambda s: feats[s]["bandwidth"] + feats[s]["duration"])
        sig = self._sig(best)
        # One channel: half the widest burst the link makes (centroids of short or
        # weak bursts scatter by about that much).
        quantum = max(25e3, 0.5 * sig.bandwidth_hz[1])
        return (best, round(burst.center_freq_hz / quantum))

    def _find_track(self, burst: Burst, feats: dict, exclude: Track | None = None,
                    kernels: dict | None = None) -> Track | None:
        key = self._key(burst, feats)
        if key is not None:
            t = self._keyed.get(key)
            return None if t is exclude else t
        best, best_res = None, None
        mod = _modulation(kernels) if kernels is not None else ("?",)
        # Duration binds only tracks of another (or no) measured modulation: with none
        # measured here, it binds them all and the table applies it.
        for t in self._tracks.similar(burst.bandwidth_hz, burst.duration_s if mod == ("?",) else None):
            if t is exclude or _elsewhere_meanwhile(burst, t):
                continue
            if kernels is not None and not _compatible(kernels, t):
                continue
            same_mod = mod != ("?",) and mod == t.modulation
            if mod != ("?",) and not same_mod and not _similar(burst, t):
                continue      # (with no modulation measured, the table checked it)
            res = t.timing_residual_s(burst.t_start_s)
            if res is not None and t.period and res > timing_tolerance_s(t.period[0]) \
                    and not (same_mod and (_continues(burst, t, self._piece_gap_s) or t.within_packet(burst))):
                continue      # an established lattice this burst is off: another emitter
            # Among tracks without a lattice yet, a strong burst (measured whole) joins the one
            # whose packets are as long: FrSky R9 and ExpressLRS 200 Hz send the same chirp,
            # 7.8 and 4.4 ms long.  (A weak packet's pieces are any length.)
            r = res if res is not None else 1.0 + (
                abs(math.log(max(burst.duration_s, 1e-6) / t.median("duration_s")))
                if burst.snr_db >= WHOLE_SNR_DB else 0.0)
            if best is None or r < best_res:
                best, best_res = t, r
        return best

    def _pulse_train(self, burst: Burst, feats: dict) -> Track | None:
        """The track whose pulse train ``burst`` continues on its channel (the same on-off
        keyed transmitter, whatever the pulse's length), or None.  (At the window's edge a
        burst's bandwidth is the window's: no channel to bind by.)"""
        if self._at_window_edge(burst) or not any(self._sig(s).pulse_trains for s in feats):
            return None
        return self._tracks.pulse_train_host(burst, PULSE_TRAIN_GAP_S, PULSE_LENGTHS_RATIO, self._min_pulse_s)

    def _new_track(self, burst: Burst, scores: dict, modulation: tuple) -> Track:
        key = self._key(burst, {s: {"bandwidth": v, "duration": 0.0} for s, v in scores.items()}) if scores else None
        hopping = key is None
        t = Track(self._next_id, key, hopping, modulation=modulation)
        self._next_id += 1
        self._tracks.add(t)
        if key is not None:
            self._keyed[key] = t
        return t

    def _expire(self, now_s: float) -> list[Detection]:
        out = []
        for t in self._tracks.expired(now_s):
            out.extend(self._close(t))
        return out

    def _close(self, track: Track) -> list[Detection]:
        self._tracks.remove(track)
        if track.key is not None:
            self._keyed.pop(track.key, None)
        det = self._to_detection(track, early=False)
        sliced = _sliced(track) if det is None else None
        if sliced:
            self.slices[sliced["link"]] += len(track.bursts)
        if det is not None and det.link in (UNKNOWN, UNKNOWN_FHSS) and self._continuous.take_track(track) is not None:
            return []       # pieces of an always-on emitter (continuous.py)
        return [det] if det is not None else []

    def finish(self) -> list[Detection]:
        out = []
        for b, snip in self._assembler.finish():
            out.extend(self._add(b, snip))
        for t in self._tracks:
            out.extend(self._close(t))
        return sorted(out, key=lambda d: (d.t_start_s, d.link))

    # ---- naming ------------------------------------------------------------------------
    def _track_scores(self, track: Track) -> dict[str, tuple[float, dict]]:
        # Scored bursts: the packets (fragments of a packet are not scored again).
        n = max(1, track.packets, max(track.candidates.values(), default=0))
        out = {}
        lattice = track.period is not None and _lattice_supported(track.times, track.period[0])
        # A hopper may show only packets more than four intervals apart, but a lattice that
        # some candidate link's interval explains in at most four is that link's: an mLRS
        # track's 32 ms is no ExpressLRS 250 Hz link seen every eighth packet.
        rare = lattice and not any(_interval_multiple(m["interval_s"], track.period[0])
                                   for sid in track.scores for m in get(sid).modes if "interval_s" in m)
        apart_hz = _simultaneous_spread_hz(track)
        sliced = _sliced(track)
        for sid, total in track.scores.items():
            sig = get(sid)
            seen = track.candidates[sid]
            # Bursts this signature did not fit at all count as a full mismatch.
            mean = (total - 2.0 * (n - seen)) / n
            terms = {"features": round(mean, 3)}
            kres = _kernel_summary(track, sig) if sig.kernel else None
            sf = kres.get("sf") if kres and kres.get("confirmed") else None
            if sig.interval_s and lattice:
                # The packet interval must fit a declared mode (with that mode's spreading
                # factor, where both are known), not just the link's overall range.
                period = track.period[0]
                with_iv = [m for m in sig.modes if "interval_s" in m]
                if with_iv:
                    dur, modulation = track.median("duration_s"), _standing_modulation(track)
                    ks = [_interval_multiple(m["interval_s"], period, rare and sig.hopping) for m in with_iv
                          if _fits_mode(m, sf, dur, modulation)]
                    k = min((k for k in ks if k), default=None)
                else:
                    k = _interval_multiple(sig.interval_s, period)
                # A link that sends several packets on a channel before it hops shows its own
                # interval between them; a lattice of only twice or more that interval is
                # weaker evidence (R9's 20 ms frames are no ExpressLRS 100 Hz Full, SF6 too,
                # seen every other packet), as is a lattice of more than four intervals.
                terms["interval"] = -1.5 if k is None else 1.0 if k == 1 or (k <= 4 and not _dwells(sig)) \
                    else 0.5
            elif sig.interval_s and n >= 2 * max(3, sig.min_bursts):
                # Many bursts and no lattice of their own: a hopper seen on a few of its
                # channels may still be on the lattice of this link's declared interval.
                ok = _on_declared_lattice(track, sig, sf)
                terms["interval"] = 1.0 if ok else -0.5   # else: not this periodic link
            if sig.kernel == "lora" and any("burst_s" in m for m in sig.modes):
                # The time on air (a fixed payload) with the spreading factor (confirmed on
                # several packets, not one) tells a LoRa link's modes, with or without a
                # lattice: a 23 ms packet at SF6 is no ExpressLRS packet (4.4 ms), nor is a
                # 38 ms one at any spreading factor.
                if track.packets >= CONFIRM_BURSTS:
                    settled_sf = sf if sf is not None and kres["confirmed_bursts"] >= CONFIRM_BURSTS else None
                    dur = track.median("duration_s")
                    if not any(_fits_mode(m, settled_sf, dur) for m in sig.modes):
                        terms["mode"] = MODE_MISMATCH
                if _overlong_packets(track, sig):
                    terms["mode"] = MODE_MISMATCH
            if sig.kernel == "lora" and _underlong_packets(track, sig):
                terms["mode"] = MODE_MISMATCH
            if sig.kernel == "lora" and _foreign_sync_word(track, sig):
                terms["sync_word"] = MODE_MISMATCH  # a LoRaWAN network's 0x34 is no ExpressLRS packet
            if not sig.hopping and track.key is None and track.period and n >= 6 \
                    and len(track.channels_hz(max(25e3, 0.5 * track.median("bandwidth_hz")))) >= 3:
                terms["hopping"] = -1.5       # a periodic hopper is not a fixed-channel link
            if sig.hopping and sig.interval_s and _too_narrow_a_spread(track, sig, self._window_channels.get(sid)):
                terms["hopping"] = -1.5       # a hopper would have spread over more channels
            if sig.interval_s and _too_few_packets(track, sig, self._window_shares.get(sid, ()),
                                                   track.period[0] if lattice else None, sf):
                # the link would have sent far more in the window
                terms["rate"] = RATE_SHORTFALL if _count_is_a_lower_bound(track) else RATE_MISMATCH
            if sig.hopping and apart_hz > sig.bandwidth_hz[1]:
                terms["hopping"] = -1.5       # one radio sends on one channel at a time
            if track.modulation[0] == "lora" and not _may_chirp(sig) and _chirps_stand(track):
                terms["modulation"] = MODE_MISMATCH  # the dechirp confirmed a chirp this link does not send
            if sliced:
                terms["slices"] = SLICED_MISMATCH   # pieces of a host's (Wi-Fi's) frames
            if sig.provisional:
                terms["provisional"] = -0.25  # on a tie, the link whose facts are confirmed wins
            out[sid] = (sum(terms.values()), terms)
        return out

    def _to_detection(self, track: Track, early: bool) -> Detection | None:
        bursts = track.bursts
        n = len(bursts)
        if n == 0:
            return None
        ranked = sorted(self._track_scores(track).items(), key=lambda kv: -kv[1][0])
        sig = None
        if ranked and ranked[0][1][0] >= REPORT_SCORE and _namable(track, get(ranked[0][0]), ranked[0][1][1]):
            sig = get(ranked[0][0])
        link, fallback = (sig.id, None) if sig else (None, None)
        quantum = max(25e3, 0.5 * track.median("bandwidth_hz"))
        channels = track.channels_hz(quantum)
        if sig is None:
            if early and track.reported is False and n < FHSS_MIN_BURSTS:
                return None
            if not track.reported and _sliced(track):
                # Slices of a host's frames, together (each alone too weak to tell): set
                # aside as a confirmed slice is, not an emitter of their own.
                return None
            if track.period and len(channels) >= FHSS_MIN_CHANNELS and n >= FHSS_MIN_BURSTS:
                fallback = get(UNKNOWN_FHSS)
            elif n >= UNKNOWN_MIN_BURSTS and not early:
                fallback = get(UNKNOWN)
            else:
                return None
            link = fallback.id
        elif early and n < sig.min_bursts:
            return None
        if early and sig is None and fallback is not None and fallback.id == UNKNOWN:
            return None
        median_dur = track.median("duration_s")
        evidence: dict = {
            "report": "first" if early or not track.reported else "update",
            "median_burst_s": median_dur,
            "median_bandwidth_hz": track.median("bandwidth_hz"),
            "channels": len(channels),
            "channels_hz": [round(f, -3) for f in channels[:64]],
        }
        if track.period:
            evidence["packet_interval_s"] = round(track.period[0], 7)
            evidence["periodic_share"] = round(track.period[1], 3)
        if self._continuous.absorbed[track.track_id]:
            evidence["pieces"] = self._continuous.absorbed[track.track_id]
        if self.edge_packets[track.track_id]:
            evidence["edge_packets"] = self.edge_packets[track.track_id]
        sliced = _sliced(track)
        if sliced:
            evidence["slices_of"] = sliced
        mode = None
        chosen = sig or fallback
        if sig is not None:
            score, terms = ranked[0][1]
            evidence["score"] = round(score, 3)
            evidence["matched"], evidence["not_matched"] = _feature_lists(track, sig, terms)
            evidence["modulation"] = sig.modulation
            kres = _kernel_summary(track, sig)
            if kres:
                evidence["kernel"] = kres
            if len(ranked) > 1:
                evidence["runner_up"] = {"link": ranked[1][0], "score": round(ranked[1][1][0], 3)}
            sf = kres.get("sf") if kres else None
            mode = sig.describe_mode(sig.mode_for(median_dur, track.period[0] if track.period else None, sf))
            margin = score - (ranked[1][1][0] if len(ranked) > 1 else -2.0)
            confidence = confidence_from(score, margin, n, sig.min_bursts, bool(kres and kres.get("confirmed")),
                                         sig.provisional)
        else:
            if ranked:
                evidence["nearest"] = {"link": ranked[0][0], "score": round(ranked[0][1][0], 3)}
            # That an emitter is there, not that it is any link: below every named report
            # a user should act on (the named links' confidence is calibrated; this is not,
            # as no trial can say what an emitter outside the library is).
            confidence = min(UNKNOWN_MAX_CONFIDENCE, 1.0 - 0.5 ** (n / UNKNOWN_MIN_BURSTS))
        snrs = sorted(b.snr_db for b in bursts)
        return Detection(
            link=link,
            drone=chosen.drone,
            confidence=round(confidence, 3),
            center_freq_hz=sorted(b.center_freq_hz for b in bursts)[n // 2],
            bandwidth_hz=evidence["median_bandwidth_hz"],
            t_start_s=bursts[0].t_start_s,
            t_end_s=max(b.t_end_s for b in bursts),
            sample_start=min(b.sample_start for b in bursts),
            sample_end=max(b.sample_end for b in bursts),
            snr_db=snrs[n // 2],
            bursts=n,
            track_id=track.track_id,
            evidence=evidence,
            mode=mode,
            provisional=bool(chosen.provisional),
        )


def _judged_beyond_edge(sig: Signature) -> bool:
    """A link a burst clipped by the window's edge may still be: one whose kernel measures
    the bandwidth itself (a LoRa chirp sweeps it), a wideband one (the clipped part of a
    wideband burst is wide), or one that is no drone (no alarm rests on it)."""
    return sig.kernel == "lora" or sig.bandwidth_hz[0] >= WIDEBAND_HZ or not sig.drone


def _namable(track: Track, sig: Signature, terms: dict) -> bool:
    """Enough of the track to name this link: its fewest packets (the pieces of a packet
    the detector split are one), bursts that fit its features on balance (0.1 ms slices
    of Wi-Fi frames on a chance lattice are no ExpressLRS packets), and for a hopper with a
    packet interval, that interval or a hop (a second channel among its packets, splinters
    aside) while the track is too short to test the interval; once tested, a hop does not
    stand in for an interval that failed.  Pieces of one LoRaWAN packet at SF8 and 500 kHz
    (US915) are the bursts of an ExpressLRS 50 Hz packet in all but their timing and
    channel.  A link whose band plan is a guess (Crossfire) waits for its interval: a hop on
    a guessed raster says nothing, and four weak LoRaWAN pieces on two channels were named
    Crossfire by their hop.  It needs the hop as well, when it hops over its whole band:
    without a source for its modulation, its packets are known by their timing alone, and
    an OOK remote repeating its frame every 13 ms on one channel has that timing.  Known by
    its timing alone, a track too short for the lattice's share test (LATTICE_MIN_PACKETS)
    needs every gap that can test the lattice to fit it: weak OOK pulses whose gaps fit a
    6.5 ms lattice at 1, 7 and 13 periods but not at 2 were named Crossfire
    (crowded-868:777404, and :777305 at 20 ms)."""
    if track.packets < sig.min_bursts or terms.get("features", 0.0) <= 0:
        return False
    if not (sig.hopping and sig.interval_s):
        return True
    if "band plan" in sig.unverified:
        if terms.get("interval", 0.0) <= 0 or (sig.hops_all_channels and not _hopped(track, sig)):
            return False
        timing_alone = "modulation" in sig.unverified and len(track.times) < LATTICE_MIN_PACKETS
        return not timing_alone or track.period is None or _every_gap_fits(track.times, track.period[0])
    return terms.get("interval", 0.0) > 0 or ("interval" not in terms and _hopped(track, sig))


def _sliced(track: Track) -> dict | None:
    """What says the track's bursts are, on average, slices of a host's frames, or None:
    their prefix checks (``Classifier._slice_host``) together (see SLICED_MEAN), or the
    floor beside them (see BESIDE_MIN_SIGMA; then of any wider emission: ``link`` None
    unless the prefixes name the host)."""
    checks = [r for r in track.kernel_results.get("ofdm_piece", ()) if r]
    prefixes = [r["significance"] for r in checks if "significance" in r]
    n = len(prefixes)
    mean = sum(prefixes) / n if n else 0.0
    by_prefix = n >= SLICED_MIN_CHECKS and mean >= SLICED_MEAN + SLICED_SPREAD / math.sqrt(n)
    beside = [0.0 if r["beside_contrast_db"] >= BESIDE_MAX_CONTRAST_DB else
              min(BESIDE_CLIP, max(-BESIDE_CLIP, r["beside_sigma"])) for r in checks if "beside_sigma" in r]
    sigma = sum(beside) / math.sqrt(len(beside)) if len(beside) >= SLICED_MIN_CHECKS else 0.0
    if not by_prefix and sigma < BESIDE_MIN_SIGMA:
        return None
    out = {"link": checks[-1].get("host") if by_prefix else None, "checks": n, "mean_significance": round(mean, 2)}
    if beside:
        out["beside_sigma"] = round(sigma, 1)
    return out


def _hopped(track: Track, sig: Signature) -> bool:
    """Whether the track's packets sit on two of the link's channels: on a band plan with a
    known raster, two packet centres a whole number of steps apart (within RASTER_TOL of a
    step), else two centres more than half a bandwidth apart.  Pieces of a weak LoRa packet
    are measured up to a third of its band off its centre, and LoRaWAN's 200 kHz channels
    are no ExpressLRS hop on its 525 kHz raster."""
    half_bw = 0.5 * track.median("bandwidth_hz")
    band = sig.band_for(track.bursts[-1].center_freq_hz)
    if band is None or not band.raster_hz or "band plan" in sig.unverified:
        return len(track.channels_hz(max(25e3, half_bw), min_bandwidth_hz=half_bw)) > 1
    f = np.array(track.channels_hz(RASTER_TOL / 4 * band.raster_hz, min_bandwidth_hz=half_bw))
    steps = np.abs(f[:, None] - f[None, :]) / band.raster_hz
    return bool(np.any((steps >= 1 - RASTER_TOL) & (np.abs(steps - np.rint(steps)) <= RASTER_TOL)))


def _simultaneous_spread_hz(track: Track, recent: int = 64) -> float:
    """The widest spacing between two of the track's recent bursts that overlap in time:
    pieces of one Wi-Fi frame, seen side by side across its channel, bind into one track
    by their timing, but a hopper's radio is on one channel at a time."""
    bursts = sorted(track.bursts[-recent:], key=lambda b: b.t_start_s)
    widest = 0.0
    for i, b in enumerate(bursts):
        for c in bursts[i + 1:]:
            if c.t_start_s >= b.t_end_s:
                break
            widest = max(widest, abs(c.center_freq_hz - b.center_freq_hz))
    return widest


def _too_narrow_a_spread(track: Track, sig: Signature, window_channels: int | None) -> bool:
    """Whether the track's hops fell on too few of the link's channels in the window for a
    uniform hop: with h hops on d of c channels, at most C(c, d) (d / c)^h."""
    c = window_channels or 0
    if not sig.hops_all_channels or c < HOPPER_WINDOW_CHANNELS:
        return False      # (a link that hops over a subset of the plan may show few of them)
    hops = _hops_seen(track, sig)
    band = sig.band_for(track.bursts[-1].center_freq_hz)
    half_bw = 0.5 * track.median("bandwidth_hz")
    # (Channels one raster step apart stay apart: they are merged within half a step.)
    quantum = 0.5 * band.raster_hz if band is not None and band.raster_hz else max(25e3, half_bw)
    d = max(1, len(track.channels_hz(quantum, min_bandwidth_hz=half_bw)))
    return d < c and math.comb(c, d) * (d / c) ** hops < HOP_SPREAD_CHANCE


def window_shares(sig: Signature, lo_hz: float, hi_hz: float) -> list[tuple[Band, float]]:
    """Of each band plan of ``sig`` with known channels, the share of them in [lo_hz, hi_hz]."""
    return [(b, (b.channels_within(lo_hz, hi_hz) or 0) / b.channels) for b in sig.bands if b.channels]


def _too_few_packets(track: Track, sig: Signature, window_shares, lattice_s: float | None,
                     sf: int | None) -> bool:
    """Whether a link that hops over its whole band plan would have sent far more packets
    into the window over the track's time than the track holds: at its slowest interval
    that fits (of the modes its spreading factor and time on air allow, the slowest that
    the track's supported lattice ``lattice_s`` is a whole multiple of, else any), with a
    share c / N of the plan's channels in the window (``window_shares``: (band plan,
    share) pairs), about span / interval * c / N (of the
    plans holding the track, the one that expects fewest).  A LoRaWAN gateway's SF8 BW500
    downlinks, five in 2.4 s, are no ExpressLRS 50 Hz link, which would show about 46
    there."""
    f_hz = track.bursts[-1].center_freq_hz
    shares = [share for b, share in window_shares if b.lo_hz <= f_hz <= b.hi_hz]
    if not shares or min(shares) <= 0.0:
        return False
    dur = track.median("duration_s")
    modulation = _standing_modulation(track)
    modes = [m["interval_s"] for m in sig.modes if "interval_s" in m and _fits_mode(m, sf, dur, modulation)]
    if lattice_s is not None:
        # The lattice is a whole number of the link's intervals (packets on channels outside
        # the window are missing): the link sends at the slowest mode the lattice is a
        # multiple of, or at the lattice itself when it fits none.
        interval_s = max((rng[1] for rng in modes if _fits_interval(rng, lattice_s)), default=lattice_s)
    else:
        interval_s = max((rng[1] for rng in modes), default=sig.interval_s[1])
    span_s = track.bursts[-1].t_start_s - track.bursts[0].t_start_s
    expected = span_s / interval_s * min(shares)
    return expected >= RATE_MIN_EXPECTED and track.packets < RATE_MIN_SHARE * expected


def _hops_seen(track: Track, sig: Signature) -> int:
    """Separate hops among the track's recent packets: packets further apart than the most
    packets the link sends per hop (ExpressLRS: up to 4) are on separate hops."""
    per_hop = max((m.get("hop_every_packets", 1) for m in sig.modes), default=1)
    period_s = track.period[0] if track.period else sig.interval_s[0]
    t = sorted(track.times)
    return 1 + sum(b - a > (per_hop - 0.5) * period_s for a, b in zip(t, t[1:]))


def _lattice_supported(times_s, period_s: float) -> bool:
    """Whether the track's lattice rests on gaps that test it: a gap of k periods fits
    within a tolerance grown as sqrt(k), so only gaps short enough for that window to stay
    under a sixth of the period (a random gap fits them with a chance of a third at most)
    count, and at least LATTICE_MIN_FITS of them must fit.  Five OOK sensor bursts, 6.5,
    290, 316 and 1151 ms apart, fit a 6.6 ms lattice at 1, 44, 48 and 175 periods."""
    fits, testable = _testable_fits(times_s, period_s)
    n_fit = int(np.count_nonzero(fits & testable))
    return n_fit >= LATTICE_MIN_FITS and n_fit >= LATTICE_MIN_SHARE * np.count_nonzero(testable)


def _testable_fits(times_s, period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """For each gap between the start times: whether it fits the lattice, and whether it is
    short enough to test it (its sqrt(k)-grown window under a sixth of the period)."""
    gaps = np.diff(np.sort(np.asarray(times_s, np.float64)))
    k, fits = lattice_multiples(gaps[gaps > MIN_GAP_S], period_s)
    return fits, (k >= 1) & (k <= max(1, testable_periods(period_s)))


def _every_gap_fits(times_s, period_s: float) -> bool:
    """Whether every gap between the start times that can test the lattice (see
    ``_lattice_supported``) fits it."""
    fits, testable = _testable_fits(times_s, period_s)
    return bool(np.all(fits[testable]))


def _fits_interval(rng: tuple[float, float], period_s: float) -> bool:
    """A hopper seen through a narrow window misses packets: small whole multiples fit."""
    return _interval_multiple(rng, period_s) is not None


def _interval_multiple(rng: tuple[float, float], period_s: float, hopper: bool = False) -> int | None:
    """The fewest intervals (1 to 4) of range ``rng`` that ``period_s`` spans, or None.

    ``hopper``: a link hopping over many more channels than the window holds may show
    only packets many intervals apart (mLRS: 18 channels at 868 MHz, about five in an
    RTL-SDR's window); a lattice of more intervals, up to those a gap may span and still
    test a lattice (``kernels.testable_periods``), then fits where it lies within the
    lattice tolerance grown as sqrt(k) of k intervals (as ``lattice_at`` fits a gap), not
    within k times the range's width."""
    k = next((k for k in (1, 2, 3, 4) if rng[0] * k <= period_s <= rng[1] * k), None)
    if k is not None or not hopper:
        return k
    interval_s = 0.5 * (rng[0] + rng[1])
    k, fits = lattice_multiples(np.array([period_s]), interval_s)
    return int(k[0]) if fits[0] and 4 < k[0] <= testable_periods(interval_s) else None


def _dwells(sig: Signature) -> bool:
    """Whether the link sends several packets on a channel before it hops (ExpressLRS: 2-4)."""
    return any(m.get("hop_every_packets", 1) >= 2 for m in sig.modes)


def _on_declared_lattice(track: Track, sig: Signature, sf: int | None) -> bool:
    """Whether the track's packet times sit on the lattice of one of the link's declared
    packet intervals (of a mode that fits the spreading factor and time on air)."""
    if len(track.times) < LATTICE_ALL_FIT_PACKETS:
        return False
    share = LATTICE_MIN_SHARE if len(track.times) >= LATTICE_MIN_PACKETS else 1.0
    dur = track.median("duration_s")
    modulation = _standing_modulation(track)
    ranges = [m["interval_s"] for m in sig.modes if "interval_s" in m and _fits_mode(m, sf, dur, modulation)] \
        or ([sig.interval_s] if not any("interval_s" in m for m in sig.modes) else [])
    times = np.asarray(track.times, np.float64)
    for lo, hi in ranges:
        period, hits, m, k_gcd, pieces = lattice_at(times, 0.5 * (lo + hi))
        # (With a common divisor, a longer period explains the gaps as well: not this one.
        # More pieces than packets: dense bursts, whose first past a period fits.)
        if lo <= period <= hi and hits >= share * m and k_gcd == 1 and pieces <= hits:
            return True
    return False


def _standing_modulation(track: Track) -> tuple:
    """``Track.modulation``, but a LoRa chirp's bandwidth and spreading factor only where the
    chirps stand for the track (``_chirps_stand``): one weak confirmation among runs that did
    not confirm tells no symbol time."""
    m = track.modulation
    return m if m[0] != "lora" or _chirps_stand(track) else m[:1]


def _fits_mode(mode: dict, sf: int | None, duration_s: float, modulation: tuple = ("?",)) -> bool:
    """A mode's modulation and spreading factor (where both sides are known) and time on
    air fit; packets the detector split are measured shorter, never longer.  Where the
    time on air is not known, a packet still ends before the mode's next one starts.
    ``modulation``: what the kernels confirmed on the track (``Track.modulation``): FSK
    packets 40 ms apart are not Crossfire's 50 Hz mode, which is LoRa, and neither are
    chirps too slow for a packet to end within the mode's interval."""
    if sf is not None and mode.get("sf", sf) != sf:
        return False
    if modulation[0] in ("lora", "fsk") and mode.get("modulation", modulation[0]).lower() != modulation[0]:
        return False
    if len(modulation) == 4 and modulation[0] == "lora" and "interval_s" in mode and \
            LORA_MIN_PACKET_SYMBOLS * (1 << modulation[2]) / modulation[1] > mode["interval_s"][1]:
        # Chirps this slow make packets longer than the mode's interval: a LoRaWAN
        # packet at SF9 and 125 kHz (at least 67 ms) is no 50 Hz link's.
        return False
    if "burst_s" in mode:
        return duration_s <= mode["burst_s"][1]
    return "interval_s" not in mode or duration_s < mode["interval_s"][1]


def _sends(mode: dict, duration_s: float, followed: bool = False, whole: bool = False) -> bool:
    """Whether one burst of ``duration_s`` can be this mode's: one packet (a weak one
    measured up to OVERLONG_MARGIN long; one the energy detector measured ``whole``,
    WHOLE_SNR_DB or more above the noise, within the mode's tolerance: an 11.6 ms packet
    at SF7 and +10 dB is no ExpressLRS 100 Hz packet, 8.8 ms), or up to MERGED_PACKETS of
    them back to back on one channel.  Packets the energy detector joined are strong ones,
    measured to their time on air: k intervals and one packet, within the mode's
    tolerances (ExpressLRS 50 Hz: 38.5 ms for two; a LoRaWAN packet of 41.3 ms at SF8 and
    500 kHz is not two of them).  A weak packet the chirp detector ``followed`` into the
    next may run past the last one's end as a single packet does."""
    (b_lo, b_hi), (iv_lo, iv_hi) = mode["burst_s"], mode["interval_s"]
    single = b_hi if whole else b_hi * OVERLONG_MARGIN
    last = single if followed else b_hi
    return duration_s <= single or any(k * iv_lo + b_lo <= duration_s <= k * iv_hi + last
                                       for k in range(1, MERGED_PACKETS))


def _overlong_packets(track: Track, sig: Signature) -> bool:
    """Whether most of the track's packets that the dechirp confirmed, pieces aside, last
    longer than the link can send at their spreading factor (see ``_sends``): a 30.7 ms
    packet at SF8 and 500 kHz is a LoRaWAN packet, not ExpressLRS 50 Hz (18.6 ms, or
    38-40 ms for two back to back), even when the track's other bursts are pieces of weak
    packets, short enough for any mode.  Packets measured shorter than the link's shortest
    at their spreading factor say nothing."""
    counted = overlong = 0
    for sf, duration_s, snr_db, followed in track.chirp_packets:
        modes = [m for m in sig.modes if "burst_s" in m and "interval_s" in m and m.get("sf", sf) == sf]
        if not modes or duration_s < min(m["burst_s"][0] for m in modes):
            continue
        counted += 1
        whole = not followed and snr_db is not None and snr_db >= WHOLE_SNR_DB
        overlong += not any(_sends(m, duration_s, followed, whole) for m in modes)
    return overlong > 0 and 2 * overlong >= counted


def _underlong_packets(track: Track, sig: Signature) -> bool:
    """Whether most of the track's strong packets that the dechirp confirmed (WHOLE_SNR_DB
    or more: the detector splits weak packets, not these) last less than half the link's
    time on air at their spreading factor (``Signature.extra["air_s_by_sf"]``: a link
    whose payload is fixed and whose modes do not bind a spreading factor).  ExpressLRS
    200 Hz packets (4.4 ms at SF6, two back to back 9.4 ms) are no mLRS packets (22.3 ms
    at SF6)."""
    air = sig.extra.get("air_s_by_sf")
    if not air:
        return False
    strong = [(d, air[sf][0]) for sf, d, snr, _ in track.chirp_packets
              if sf in air and snr is not None and snr >= WHOLE_SNR_DB]
    short = sum(d < 0.5 * shortest for d, shortest in strong)
    return len(strong) >= CONFIRM_BURSTS and 2 * short > len(strong)


def _foreign_sync_word(track: Track, sig: Signature) -> bool:
    """Whether most sync words read on the track's packets (kernels.lora_sync) are none the
    link declares (``kernel_params["sync_words"]``; a link that declares none is not judged)."""
    declared = sig.kernel_params.get("sync_words")
    words = [r["sync_word"] for r in track.kernel_results.get("lora", ()) if r and r.get("sync_word") is not None]
    return bool(declared) and bool(words) and 2 * sum(w not in declared for w in words) > len(words)


def _candidate(f: dict, sig: Signature) -> bool:
    """Bandwidth must roughly fit; a burst shorter than the link's may be a fragment of
    one (the detector splits weak or chirped packets) when a kernel can confirm it."""
    if f["bandwidth"] <= -0.5 and sig.kernel != "lora":
        # (A LoRa link's chirp bandwidth is the dechirp's to judge: a channel at the edge
        # of the receiver's window is measured narrow.)
        return False
    return f["duration"] > -0.5 or (sig.kernel is not None and f.get("short", False))


def _similar(burst: Burst, track: Track, ignore_duration: bool = False) -> bool:
    bw, dur = track.median("bandwidth_hz"), track.median("duration_s")
    if not (bw / 1.45 <= burst.bandwidth_hz <= bw * 1.45):
        return False
    return ignore_duration or dur / 1.4 <= burst.duration_s <= dur * 1.4


def _elsewhere_meanwhile(burst: Burst, track: Track) -> bool:
    """Whether the track's last burst was on the air on another channel while this one
    started: a radio sends on one channel at a time, so the two are two emitters (FrSky R9
    and ExpressLRS 200 Hz send the same chirp, SF6 at 500 kHz, over one band).  At least a
    channel (the track's bandwidth) lies between them: pieces of one burst side by side in
    frequency touch, and pieces of a weak chirp sit within its channel.  Edges are measured
    to about a frame."""
    if not track.bursts:
        return False
    last = track.bursts[-1]
    if last.duration_s > OVERLONG_MARGIN * track.median("duration_s"):
        return False      # (a packet measured together with another emitter's says nothing)
    overlap_s = min(burst.t_end_s, last.t_end_s) - max(burst.t_start_s, last.t_start_s)
    gap_hz = abs(burst.center_freq_hz - last.center_freq_hz) - 0.5 * (burst.bandwidth_hz + last.bandwidth_hz)
    return overlap_s > OVERLAP_S and gap_hz > track.median("bandwidth_hz")


def _continues(burst: Burst, track: Track, gap_s: float = CONTINUE_GAP_S) -> bool:
    """A fragment of the track's last packet: same channel, starting where it ended (within
    ``gap_s`` or the gap the assembler allows inside a packet after a piece that long: the
    next packet of ExpressLRS 50 Hz follows an 18.5 ms packet by 1.5 ms on its channel)."""
    if not track.bursts:
        return False
    last = track.bursts[-1]
    gap = burst.t_start_s - last.t_end_s
    return on_channel_of(burst, last) and gap < max(gap_s, piece_gap_s(last.duration_s))


def _compatible(kernels: dict, track: Track) -> bool:
    """False when a kernel confirmed on one side and ran without confirming on the other,
    or both confirmed different modulations."""
    for name, r in kernels.items():
        if r is None or name not in ("droneid_zc", "lora"):
            continue      # the other kernels' negatives are too weak to split a track
        past = [x for x in track.kernel_results.get(name, []) if x is not None]
        if not past:
            continue
        track_yes = any(x.get("confirmed") for x in past)
        if name == "droneid_zc" and bool(r.get("confirmed")) != track_yes:
            return False
        if name == "lora" and r.get("confirmed") and track_yes:
            last = [x for x in past if x.get("confirmed")][-1]
            if (last["sf"], last["bw_hz"], last["direction"]) != (r["sf"], r["bw_hz"], r["direction"]):
                return False
    return True


def _chirps_stand(track: Track) -> bool:
    """Whether the dechirp's confirmations stand for the track: one that is clear (the chirp
    detector's, set for one false packet an hour, or a burst's score CLEAR_CHIRP_SCORE above
    noise), CONFIRM_BURSTS of them, or at least as many as the runs that did not confirm.
    One just past the threshold among more that did not is a chance: an ExpressLRS GFSK
    burst at 4 dB scored 1.62 as SF5 / 250 kHz among the track's unconfirmed runs, and its
    900 packets were named nothing (a LoRaWAN packet's pieces at 2 dB fail where its 10 dB
    piece scores 14)."""
    results = [r for r in track.kernel_results.get("lora", []) if r]
    confirmed = [r for r in results if r.get("confirmed")]
    return len(confirmed) >= CONFIRM_BURSTS or 2 * len(confirmed) >= len(results) or \
        any(r.get("source") == "chirp detector" or r["score"] >= CLEAR_CHIRP_SCORE for r in confirmed)


def _may_chirp(sig: Signature) -> bool:
    """Whether a link may send LoRa chirps, by its declared modulation: LoRa, one of its
    modes (Crossfire at 50 Hz), or any (``unknown``)."""
    return "lora" in sig.modulation.lower() or sig.modulation == "any"


def _band_fit(sig: Signature, verdict: str, measured_fit: float) -> float:
    """The bandwidth feature's fit, unless the kernel that matched is the better witness of
    the band: the dechirp measures a LoRa chirp's bandwidth itself (the edges of a channel
    half outside the window measure less), and a video's line rate outweighs its measured
    band, which below 0 dB holds only the levels its picture visits most (sync, blanking)."""
    if verdict == "match" and sig.kernel in ("lora", "fm_video"):
        return 1.0
    return measured_fit


def _count_is_a_lower_bound(track: Track) -> bool:
    """Whether a track's packet count says only how many packets the link sent at least: all
    its confirmed packets are the chirp detector's, found below the noise (their median
    in-band SNR under RATE_UNSEEN_SNR_DB)."""
    weak = [snr for _, _, snr, followed in track.chirp_packets if followed and snr is not None]
    return bool(weak) and len(weak) == len(track.chirp_packets) and sorted(weak)[len(weak) // 2] < RATE_UNSEEN_SNR_DB


def _length_is_a_lower_bound(burst: Burst) -> bool:
    """Whether a burst's length says only how long its packet is at least: a weak packet the
    chirp detector followed ends where its symbols no longer stood out of the noise, often
    well before the packet's end (at -10 dB, 1.4-9.5 ms of FrSky R9's 7.8 ms packets)."""
    return "dechirp" in burst.features and burst.snr_db < WHOLE_SNR_DB


def _score(sig: Signature, feats: dict, verdict: str) -> float:
    """A burst's score for a signature: its band and duration fits, and its kernel's verdict."""
    k = KERNEL_MATCH if verdict == "match" else KERNEL_MISMATCH if verdict == "mismatch" else 0.0
    return _band_fit(sig, verdict, feats["bandwidth"]) + feats["duration"] + k


def _modulation(kernels: dict) -> tuple:
    for name, r in kernels.items():
        if r and r.get("confirmed"):
            if name == "lora":
                return ("lora", r["bw_hz"], r["sf"], r["direction"])
            return (name,)
    return ("?",)


def _feature_lists(track: Track, sig: Signature, terms: dict) -> tuple[list, list]:
    matched, not_matched = ["band"], []
    inside = sum(sig.bandwidth_hz[0] <= b.bandwidth_hz <= sig.bandwidth_hz[1] for b in track.bursts)
    (matched if inside * 2 >= len(track.bursts) else not_matched).append("bandwidth")
    # (A packet shorter than the link's whose length is only a lower bound is not judged.)
    lo, hi = sig.burst_s
    judged = [b.duration_s for b in track.bursts if b.duration_s >= lo or not _length_is_a_lower_bound(b)]
    if judged:
        inside = sum(d <= hi for d in judged if d >= lo)
        (matched if inside * 2 >= len(judged) else not_matched).append("duration")
    if "interval" in terms:
        (matched if terms["interval"] > 0 else not_matched).append("packet_interval")
    if "rate" in terms:
        not_matched.append("packet_rate")   # fewer packets than the link would send
    if sig.kernel:
        vc = track.verdicts.get(sig.id, {})
        if vc.get("match", 0) > 0 and vc.get("match", 0) >= vc.get("mismatch", 0):
            matched.append(sig.kernel)
        elif vc.get("mismatch", 0) > 0:
            not_matched.append(sig.kernel)
    if terms.get("hopping", 0.0) < 0:
        not_matched.append("hopping")
    elif sig.hopping and len(track.channels_hz(max(25e3, 0.5 * track.median("bandwidth_hz")))) > 1:
        matched.append("hopping")
    return matched, not_matched


def _kernel_summary(track: Track, sig: Signature) -> dict | None:
    if not sig.kernel:
        return None
    results = [r for r in track.kernel_results.get(sig.kernel, []) if r]
    if not results:
        return None
    confirmed = [r for r in results if r.get("confirmed")]
    best = confirmed[-1] if confirmed else results[-1]
    out = {"name": sig.kernel, "runs": len(results), "confirmed_bursts": len(confirmed)}
    for k, v in best.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = round(v, 9) if isinstance(v, float) else v
    out["confirmed"] = bool(confirmed)
    return out
