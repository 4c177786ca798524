"""Match bursts to signatures and group them into tracks, one per link and emitter.

A burst's measured features (centre frequency, occupied bandwidth, duration)
are tested against each signature's ranges; bursts that fit the same signature
form a track, which becomes a detection once it holds the signature's minimum
number of bursts.  Bursts that fit nothing are grouped by frequency into
``unknown`` tracks, so an unexplained emitter is still reported, with
``drone: null``.  "Not my signature" is counted per signature, not raised.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..model import Burst
from ..signatures import UNKNOWN, Signature, load_all

UNKNOWN_MIN_BURSTS = 3


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


def match_burst(burst: Burst, sig: Signature) -> dict:
    """Feature-by-feature verdicts of one burst against one signature."""
    bw = burst.bandwidth_hz
    dur = burst.duration_s
    return {
        "band": sig.in_band(burst.center_freq_hz),
        "bandwidth": sig.bandwidth_hz[0] <= bw <= sig.bandwidth_hz[1],
        "duration": sig.burst_s[0] <= dur <= sig.burst_s[1],
    }


@dataclass
class _Track:
    track_id: int
    key: tuple
    signature: Signature | None
    bursts: list[Burst] = field(default_factory=list)

    @property
    def last_end_s(self) -> float:
        return max(b.t_end_s for b in self.bursts)


class Classifier:
    """Streaming: ``add`` each burst as it closes; tracks idle for ``track_timeout_s``
    are finished and returned as detections (if they hold enough bursts)."""

    def __init__(self, signatures: list[Signature] | None = None, track_timeout_s: float = 2.0):
        self.signatures = signatures if signatures is not None else load_all()
        self.track_timeout_s = track_timeout_s
        self._tracks: dict[tuple, _Track] = {}
        self._next_id = 1
        self.rejections: Counter = Counter()   # signature id -> bursts that did not fit it

    def add(self, burst: Burst, iq=None) -> list[Detection]:
        """``iq``: the burst's samples with a margin (history.IQSnippet), or None when
        they are no longer held; used by confirmation kernels."""
        out = self._expire(burst.t_start_s)
        sig = self._best_signature(burst)
        if sig is not None:
            key = (sig.id,)
        else:
            # Unexplained bursts group by frequency, to the nearest of their own bandwidth.
            step = max(burst.bandwidth_hz, 1.0)
            key = (UNKNOWN, round(burst.center_freq_hz / step), round(burst.bandwidth_hz / step * 4))
        track = self._tracks.get(key)
        if track is None:
            track = _Track(self._next_id, key, sig)
            self._next_id += 1
            self._tracks[key] = track
        track.bursts.append(burst)
        return out

    def finish(self) -> list[Detection]:
        out = [d for t in self._tracks.values() if (d := self._to_detection(t))]
        self._tracks.clear()
        return sorted(out, key=lambda d: (d.t_start_s, d.link))

    def _expire(self, now_s: float) -> list[Detection]:
        out = []
        for key in [k for k, t in self._tracks.items() if now_s - t.last_end_s > self.track_timeout_s]:
            det = self._to_detection(self._tracks.pop(key))
            if det:
                out.append(det)
        return out

    def _best_signature(self, burst: Burst) -> Signature | None:
        best = None
        for sig in self.signatures:
            verdict = match_burst(burst, sig)
            if all(verdict.values()):
                best = best or sig
            else:
                self.rejections[sig.id] += 1
        return best

    def _to_detection(self, track: _Track) -> Detection | None:
        sig = track.signature
        bursts = sorted(track.bursts, key=lambda b: b.sample_start)
        n = len(bursts)
        if n < (sig.min_bursts if sig else UNKNOWN_MIN_BURSTS):
            return None
        durations = sorted(b.duration_s for b in bursts)
        median_dur = durations[n // 2]
        evidence = {
            "median_burst_s": median_dur,
            "median_bandwidth_hz": sorted(b.bandwidth_hz for b in bursts)[n // 2],
        }
        mode = None
        if sig is not None:
            evidence["matched"] = ["band", "bandwidth", "duration"]
            evidence["modulation"] = sig.modulation
            mode = sig.mode_for(median_dur)
            if mode is not None:
                mode = {k: v for k, v in mode.items() if k != "burst_s"}
            if n >= 2:
                gaps = sorted(b2.t_start_s - b1.t_start_s for b1, b2 in zip(bursts, bursts[1:]))
                evidence["median_interval_s"] = gaps[len(gaps) // 2]
            # Heuristic until calibrated: more agreeing bursts, more confidence.
            confidence = min(0.99, 1.0 - 0.5 ** (n / sig.min_bursts + 1))
        else:
            confidence = min(0.9, 1.0 - 0.5 ** (n / UNKNOWN_MIN_BURSTS))
        # A hopping link's detection reports its typical burst; its channels go in evidence.
        channels_hz = sorted({round(b.center_freq_hz, -4) for b in bursts})
        evidence["channels_hz"] = channels_hz[:64]
        snrs = sorted(b.snr_db for b in bursts)
        return Detection(
            link=sig.id if sig else UNKNOWN,
            drone=sig.drone if sig else None,
            confidence=round(confidence, 3),
            center_freq_hz=sorted(b.center_freq_hz for b in bursts)[n // 2],
            bandwidth_hz=evidence["median_bandwidth_hz"],
            t_start_s=bursts[0].t_start_s,
            t_end_s=max(b.t_end_s for b in bursts),
            sample_start=bursts[0].sample_start,
            sample_end=max(b.sample_end for b in bursts),
            snr_db=snrs[n // 2],
            bursts=n,
            track_id=track.track_id,
            evidence=evidence,
            mode=mode,
            provisional=bool(sig and sig.provisional),
        )
