"""One stream of bursts from several detectors: the energy detector's and the evidence
stages' (the chirp detector's LoRa packets, the Zadoff-Chu search's DroneID bursts).

A burst strong enough for both is measured twice.  Where an energy burst and a stage's
burst share time and frequency, the energy burst stands when it spans half the stage's
burst at about 0 dB or more (``WHOLE_DB``: its edges are measured well, and the
classifier's own kernel confirms it), or covers its band well above the noise
(``WIDE_WHOLE_DB``); otherwise the stage's burst stands (the energy detector only saw
fragments of a weak burst).  A strong energy burst also silences chirp bursts at the
same time elsewhere in the band: its leakage into hypotheses it does not fit; and a narrower
signal well above a chirp burst below the noise, in its band and close in time, silences
it too: its spread (``SHADOW_DB``).  Bursts
are held until no detector can still report one overlapping them, then handed on in
order of their start.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model import Burst

# An energy burst spanning half the stage's burst or more, this far above its floor,
# measured the whole burst: it stands (the classifier's own dechirp confirms a LoRa packet
# from -1 dB, its Zadoff-Chu check a DroneID burst from about -6 dB).
WHOLE_DB = {"dechirp": -1.0, "zadoff_chu": 0.0}
# A shorter region as wide as the stage's burst stands for it only this far above its
# floor.  Near 0 dB a slow chirp (ExpressLRS 50 Hz: SF8, a 500 kHz sweep every 0.51 ms,
# about one frame) comes apart into dozens of regions of 0.1-2.5 ms, many as wide as the
# channel; the threshold keeps the cells the noise lifted, so they measure 1-3 dB.  The
# pieces of a packet at +6 dB measure 5-6 dB.  Weaker, narrower or shorter: fragments.
WIDE_WHOLE_DB = 4.0
LEAK_DB = 6.0               # an energy burst this strong (and this long) silences chirp
LEAK_MIN_S = 1e-3           # bursts at the same time
LEAKY = ("dechirp",)        # the stages whose statistic a strong burst elsewhere raises
# A chirp burst below the noise with a narrower signal in its band this much stronger close
# by (within SHADOW_S: the energy detector cuts a slow LoRa packet into fragments with gaps
# of tens of ms) is that signal's spread: a slow chirp (LoRaWAN at SF12 / 125 kHz),
# dechirped at a fast one's rate, is spread the same way in every window, and its phase
# steps are as steady as a preamble's (lorawan:726705: nine false SF5 packets at -10 dB
# inside an SF12 packet's fragments at -2.6 to +6.8 dB).
SHADOW_DB = 8.0
SHADOW_S = 0.05
SHADOW_MAX_SNR_DB = -5.0


@dataclass
class _Held:
    burst: Burst
    payload: object          # what travels with the burst (its samples)
    stage: str | None        # the evidence stage that found it (None: the energy detector)
    dropped: bool = False


class BurstMerger:
    """``push`` bursts as the detectors close them; ``pop(position, open_from)`` those that
    ended more than ``delay_samples`` before ``position`` (a stage's bursts also before
    ``open_from``, where the energy detector's oldest open region starts, or more than
    ``max_hold_samples`` ago); ``flush`` at the end."""

    def __init__(self, delay_samples: int, max_hold_samples: int | None = None, shadow_samples: int = 0):
        self.delay_samples = int(delay_samples)
        self.max_hold_samples = int(max_hold_samples if max_hold_samples is not None else delay_samples)
        self.shadow_samples = int(shadow_samples)     # SHADOW_S in samples (0: no such rule)
        self._held: list[_Held] = []
        self._recent: list[_Held] = []       # released, still within reach of later bursts
        self.duplicates = 0

    def push(self, burst: Burst, payload, stage: str | None = None) -> None:
        new = _Held(burst, payload, stage)
        for other in self._held + self._recent:
            if other.dropped or (other.stage is None) == (stage is None):
                continue        # (two stages' bursts do not compete: they find different links)
            energy, chirped = (other, new) if stage else (new, other)
            e = energy.burst
            c = chirped.burst
            if not _overlap_in_time(e, c):
                if not (chirped.stage in LEAKY and self._shadowed(c, e)):
                    continue
                loser = chirped     # (its strong neighbour's spread)
            elif chirped.stage in LEAKY and e.snr_db >= LEAK_DB and e.duration_s >= LEAK_MIN_S:
                # A strong burst anywhere in the band leaks into the dechirped spectra of
                # hypotheses it does not fit: what the chirp detector reports beside it is
                # not trusted.  (Short spikes are the fragments of a weak chirp.)
                loser = chirped
            elif e.overlaps(c):
                # A fragment is narrower or shorter than the packet, or as wide but faint;
                # anything else the energy detector measured is a better witness than a
                # dechirp beside it.
                whole_db = WHOLE_DB[chirped.stage]
                whole = e.snr_db >= max(whole_db, WIDE_WHOLE_DB) and e.bandwidth_hz >= 0.6 * c.bandwidth_hz
                longer = e.duration_s >= 0.5 * c.duration_s and e.snr_db >= whole_db
                loser = chirped if whole or longer else energy
            else:
                continue
            loser.dropped = True
            self.duplicates += 1
            if loser is new:
                return
        self._held.append(new)

    def _shadowed(self, chirp: Burst, energy: Burst) -> bool:
        """Whether a chirp burst below the noise lies within ``shadow_samples`` of an energy
        burst beside it in time (not on it), narrower, longer, in its band and SHADOW_DB or
        more stronger: the spread of that signal.  (What the energy detector outlines of the
        chirp burst's own packet lies on it and is shorter.)"""
        return (chirp.snr_db <= SHADOW_MAX_SNR_DB and energy.snr_db >= chirp.snr_db + SHADOW_DB
                and energy.bandwidth_hz < 0.5 * chirp.bandwidth_hz and energy.duration_s > chirp.duration_s
                and energy.f_lo_hz < chirp.f_hi_hz and chirp.f_lo_hz < energy.f_hi_hz
                and energy.sample_start < chirp.sample_end + self.shadow_samples
                and chirp.sample_start < energy.sample_end + self.shadow_samples)

    def pop(self, position: int, open_from: float | None = None) -> list[tuple[Burst, object]]:
        def ready(h: _Held) -> bool:
            end = h.burst.sample_end
            if end + self.delay_samples > position:
                return False
            # A long energy burst still open may turn out to hold this chirp burst.
            return not h.stage or open_from is None or end < open_from or end + self.max_hold_samples <= position
        return self._release([h for h in self._held if ready(h)], position)

    def held_from(self) -> float | None:
        """The earliest start of the bursts held (None: none is)."""
        return min((h.burst.sample_start for h in self._held), default=None)

    def flush(self) -> list[tuple[Burst, object]]:
        return self._release(list(self._held), None)

    def _release(self, ready: list[_Held], position: int | None) -> list[tuple[Burst, object]]:
        if not ready:
            return []
        keep = set(map(id, ready))
        self._held = [h for h in self._held if id(h) not in keep]
        ready.sort(key=lambda h: (h.burst.sample_start, h.burst.sample_end))
        self._recent += ready
        if position is not None:
            # (The chirp detector returns a packet once no packet still open can overlap it:
            # kept this long, an energy burst still meets the chirp bursts of its time.)
            # (And the shadow's reach, so that a chirp burst still meets the signal beside it.)
            keep = 2 * self.delay_samples + self.max_hold_samples + self.shadow_samples
            self._recent = [h for h in self._recent if h.burst.sample_end + keep > position]
        return [(h.burst, h.payload) for h in ready if not h.dropped]


def _overlap_in_time(a: Burst, b: Burst) -> bool:
    return a.sample_start < b.sample_end and b.sample_start < a.sample_end
