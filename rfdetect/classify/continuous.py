"""Always-on emitters as hosts: what the burst detector cuts out of them belongs to them.

An analog FM video transmitter's spectrum moves with the picture: the burst
detector sees it as a stream of short, narrow pieces (sync pulses, luminance
levels) that fit no signature and, left alone, would each start an emitter of
their own: dozens of ``unknown`` tracks a second.  Once a track of an always-on
link (``Signature.continuous``) is confirmed by its kernel (the line rate, the
OFDM symbol), the bursts that lie inside its band while it lasts, and fit no
signature, are pieces of it: counted on it, not tracked apart.  So are the
tracks of such pieces that started before the host was confirmed, when they
close.  A burst that fits a signature (a control link hopping through a video
channel) is never taken this way.
"""
from __future__ import annotations

from collections import Counter

from ..model import Burst
from .tracker import Track

# A host lasts this long after its last confirmed burst: the detector reports an always-on
# emitter every 0.2 s (DetectorConfig.steady_check_s), its own wide bursts more often.
HOLD_S = 1.0


class ContinuousHosts:
    def __init__(self):
        self._bands: dict[int, tuple[Track, float, float, float]] = {}   # id -> track, band, last end
        self._first: dict[int, float] = {}       # host id -> start of its first confirmed burst
        self.absorbed: Counter = Counter()       # host id -> pieces taken

    def note(self, track: Track, burst: Burst, max_bandwidth_hz: float) -> None:
        """``burst`` is of a confirmed always-on track, whose signal is at most
        ``max_bandwidth_hz`` wide: the host's band is that much around the burst's centre
        (an FM video's sync tip stands apart from the rest of its spectrum, further than
        the measured band reaches)."""
        half = 0.5 * max(max_bandwidth_hz, burst.bandwidth_hz)
        f_hz = burst.center_freq_hz
        self._bands[track.track_id] = (track, f_hz - half, f_hz + half, burst.t_end_s)
        self._first.setdefault(track.track_id, burst.t_start_s)

    def take(self, burst: Burst) -> Track | None:
        """The host whose band holds ``burst`` now, which counts it; None if there is none."""
        for tid, (track, f_lo, f_hi, t_end) in list(self._bands.items()):
            if burst.t_start_s > t_end + HOLD_S:
                del self._bands[tid]
            elif f_lo <= burst.f_lo_hz and burst.f_hi_hz <= f_hi:
                self.absorbed[tid] += 1
                return track
        return None

    def around(self, burst: Burst) -> Track | None:
        """The host whose band holds ``burst``'s centre now: where a burst that its kernel
        confirms as an always-on link belongs (two such emitters do not share a channel; a
        weak one's measured band moves from check to check)."""
        for track, f_lo, f_hi, t_end in self._bands.values():
            if burst.t_start_s <= t_end + HOLD_S and f_lo <= burst.center_freq_hz <= f_hi:
                return track
        return None

    def take_track(self, track: Track) -> Track | None:
        """The host whose band held every burst of ``track`` (a track named no link), which
        ended at most HOLD_S before the host's first confirmed burst: pieces of the host,
        most of them cut before it was confirmed.  The host counts them."""
        for tid, (host, f_lo, f_hi, _) in self._bands.items():
            if host is track or track.last_end_s < self._first[tid] - HOLD_S:
                continue
            if all(f_lo <= b.f_lo_hz and b.f_hi_hz <= f_hi for b in track.bursts):
                self.absorbed[tid] += len(track.bursts)
                return host
        return None
