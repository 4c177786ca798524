"""Run confirmation kernels on one burst's samples, once per kernel, on a bounded snippet.

Which kernels run is decided by the signatures a burst is a candidate for: a
burst that fits no signature needing a kernel costs nothing here.  Each result
is a plain dict (the kernel's measurements plus ``confirmed``) that the matcher
turns into per-signature verdicts with :func:`verdict`; the FSK result also carries the
burst's SNR (``burst_snr_db``), which sets how far the verdict can trust it, and below the
discriminator's threshold the deviation and symbol rate of the burst's tone pair where it
shows one (``tone_*``, see ``kernels.evidence_fsk.tone_evidence``).
"""
from __future__ import annotations

import math

import numpy as np

from ..kernels.evidence_droneid import MAX_CFO_HZ, MIN_CORRELATION, droneid_confirmed, droneid_zc
from ..kernels.evidence_fmvideo import fm_video_evidence
from ..kernels.evidence_fsk import fsk_evidence, tone_evidence
from ..kernels.evidence_lora import dechirp_result, lora_evidence
from ..kernels.lora_sync import MIN_CONFIRMED_SF, lora_sync_word
from ..kernels.beside import floor_beside
from ..kernels.evidence_ofdm import ofdm_evidence, prefix_piece_evidence
from ..kernels.resample import shift_to_zero
from ..model import Burst
from ..signatures import Signature
from .prefix import steady_prefix_sums

# Longest stretch of a burst each kernel looks at (seconds) and at most this many
# input samples: enough for its statistic, bounded so a long burst costs no more.
MAX_SPAN_S = {"lora": 0.012, "fsk": 0.002, "fsk_tones": 0.02, "ofdm_cp": 0.0015, "ofdm_piece": 0.0015,
              "droneid_zc": 0.0009, "fm_video": 0.012}
MAX_SAMPLES = 400_000
# Symbols of a LoRa burst the dechirp needs: four half-overlapping windows of one symbol.
LORA_MIN_WINDOWS_SPAN = 2.5
# An always-on emitter's steady burst (detect/steady.py) is weak but long: its kernels look
# at more of it (at 0 dB an OFDM prefix correlates at a few per cent, and its noise falls
# as the square root of the samples).
STEADY_SPAN_S = 0.006

# The discriminator works above its threshold: below about this in-band SNR noise clicks
# swamp a burst's levels, so an FSK burst there often fails to confirm and a failure says
# nothing against FSK.  Above it, the measured deviation and symbol rate scatter by about
# ``fsk_spread(snr)`` (relative), which widens the signature's ranges.
FSK_THRESHOLD_DB = 8.0
# Below it, the tone pair's deviation (measured to about a spectral bin, and pulled in by
# shaping) and symbol rate (the lattice of a whole burst's symbols: a fraction of a per cent
# at 0 dB) count within these relative margins of a signature's ranges.
TONE_DEVIATION_SPREAD = 0.15
TONE_RATE_SPREAD = 0.1


def burst_samples(burst: Burst, iq, kernel: str, min_span_s: float = 0.0) -> np.ndarray | None:
    """Channel 0 of the snippet restricted to the burst (plus a little margin), bounded
    (to at least ``min_span_s`` where the burst and the snippet hold that much)."""
    if iq is None:
        return None
    x = iq.samples[0] if iq.samples.ndim == 2 else iq.samples
    fs = iq.sample_rate_hz
    margin = int(20e-6 * fs) if kernel == "droneid_zc" else 0
    a = max(0, burst.sample_start - iq.sample_index0 - margin)
    b = min(x.shape[0], burst.sample_end - iq.sample_index0 + margin)
    span_s = max(MAX_SPAN_S[kernel], STEADY_SPAN_S) if burst.features.get("steady") else MAX_SPAN_S[kernel]
    # (``min_span_s`` rounded up: a span of exactly four windows must hold four.)
    span = min(max(int(span_s * fs), math.ceil(min_span_s * fs)) + 2 * margin, MAX_SAMPLES)
    if b - a > span:
        # LoRa and FSK: the middle of the burst (no ramp); OFDM: its start (preamble, ZC).
        if kernel in ("lora", "fsk", "fsk_tones", "fm_video"):
            a += (b - a - span) // 2
        b = a + span
    if b - a < 16:
        return None
    return x[a:b]


def can_tell(kernel: str, burst: Burst) -> bool:
    """Whether a kernel's failure to confirm on this burst would mean anything."""
    return kernel != "fsk" or burst.snr_db >= FSK_THRESHOLD_DB


# Near 0 dB in-band SNR the detector's edges of a long, weak LoRa packet take in the noise
# cells beside it, a few spectrogram bins each side: at 2.4 MS/s (9.4 kHz bins) a 125 kHz
# LoRaWAN packet is measured 150-230 kHz wide.  That widening is about this much in
# absolute terms, which matters for the narrow LoRa bandwidths only.
LORA_EXTENT_HZ = 100e3


def lora_bandwidths(burst: Burst, candidates: list[Signature]) -> set[float]:
    """The candidates' LoRa bandwidths the burst's measured bandwidth may be: down to 0.6
    of it when part of the channel lies outside the receiver's window, up to 1.4 times it
    or LORA_EXTENT_HZ wider.  Trying one more bandwidth costs a dechirp, not a false
    match: the dechirp itself must confirm (with the spreading factors the burst's
    duration allows at that bandwidth, see run_kernel)."""
    bws = set()
    for s in candidates:
        bw = s.kernel_params.get("bw_hz")
        for v in (bw if isinstance(bw, tuple) else (bw,)):
            if v and 0.6 * v <= burst.bandwidth_hz <= max(1.4 * v, v + LORA_EXTENT_HZ):
                bws.add(float(v))
    return bws


def longest_symbol_s(sfs: dict, candidates: list[Signature]) -> float:
    """The longest LoRa symbol among the spreading factors ``sfs`` (bandwidth -> list)
    that a candidate declares at that bandwidth (``kernel_params`` ``bw_hz``, ``sf``)."""
    longest = 0.0
    for s in candidates:
        bw, sf = s.kernel_params.get("bw_hz"), s.kernel_params.get("sf")
        if sf is None:
            continue
        for v in (bw if isinstance(bw, tuple) else (bw,)):
            allowed = [k for k in sfs.get(float(v or 0.0), ()) if k <= sf[1]]
            if allowed:
                longest = max(longest, (1 << max(allowed)) / v)
    return longest


def lora_on_span(burst: Burst, iq, sfs: dict, min_span_s: float = 0.0) -> dict | None:
    """``lora_evidence`` on the burst's samples (``burst_samples``), at the spreading factors
    of ``sfs`` (bandwidth -> list) of which they hold four half-overlapping windows."""
    x = burst_samples(burst, iq, "lora", min_span_s)
    if x is None:
        return None
    fs = iq.sample_rate_hz
    dur = x.shape[0] / fs
    sfs = {bw: [sf for sf in v if (1 << sf) / bw * LORA_MIN_WINDOWS_SPAN <= dur] for bw, v in sorted(sfs.items())}
    sfs = {bw: v for bw, v in sfs.items() if v}
    if not sfs:
        return None
    return lora_evidence(x, fs, burst.center_freq_hz - iq.center_freq_hz, bandwidths_hz=tuple(sfs), sfs=sfs)


# The sync word is read from a packet's start: up to this many symbols before the burst's
# start (its edge on a weak packet) and, after it, as many as the longest preamble, the sync
# symbols and the delimiter take.
SYNC_LEAD_SYMBOLS = 2
SYNC_SPAN_SYMBOLS = 24


def _judged_by_sync_word(sig: Signature, ev: dict) -> bool:
    """Whether the sync word may tell against a drone link that declares its own, at the
    chirps the dechirp confirmed (the read costs a dechirp per eighth of a symbol over the
    packet's start: not spent on a LoRaWAN packet at SF12 that no drone link sends)."""
    return bool(sig.drone and sig.kernel_params.get("sync_words")) and _lora_chirps_fit(sig, ev)


def _lora_chirps_fit(sig: Signature, ev: dict) -> bool:
    """Whether the spreading factor and bandwidth the dechirp measured are the signature's."""
    p = sig.kernel_params
    bw = p.get("bw_hz")
    return _inside(ev["sf"], p.get("sf", (5, 12))) and \
        any(abs(ev["bw_hz"] - b) < 0.05 * b for b in (bw if isinstance(bw, tuple) else (bw,)))


def sync_word_of(burst: Burst, iq, ev: dict) -> dict | None:
    """The sync word of a LoRa packet whose chirps the dechirp confirmed (``ev``), read from
    the start of the burst (kernels.lora_sync), or None where the snippet does not hold it."""
    if iq is None or ev["direction"] != "up" or ev["sf"] < MIN_CONFIRMED_SF:
        return None     # (below MIN_CONFIRMED_SF a word read is never confirmed)
    x = iq.samples[0] if iq.samples.ndim == 2 else iq.samples
    fs, symbol_s = iq.sample_rate_hz, (1 << ev["sf"]) / ev["bw_hz"]
    a = max(0, burst.sample_start - iq.sample_index0 - int(SYNC_LEAD_SYMBOLS * symbol_s * fs))
    b = min(x.shape[0], a + int((SYNC_LEAD_SYMBOLS + SYNC_SPAN_SYMBOLS) * symbol_s * fs), MAX_SAMPLES)
    return lora_sync_word(x[a:b], fs, burst.center_freq_hz - iq.center_freq_hz, ev["bw_hz"], ev["sf"])


# Kernel -> the burst feature in which the detector that found the burst measured that
# kernel's evidence itself, with more gain than a snippet of the burst gives and without
# its samples: the chirp detector's dechirp (detect/chirp.py), the line-rate stage's line
# rate (detect/linerate.py), the Zadoff-Chu search's correlations (detect/zadoffchu.py).
DETECTOR_EVIDENCE = {"lora": "dechirp", "fm_video": "line_rate", "droneid_zc": "zadoff_chu"}


def detector_evidence(kernel: str, burst: Burst) -> dict | None:
    """The kernel's result that the burst's detector measured (``DETECTOR_EVIDENCE``), or None."""
    feature = DETECTOR_EVIDENCE.get(kernel)
    if feature is None or feature not in burst.features:
        return None
    return dechirp_result(burst.features) if kernel == "lora" else dict(burst.features[feature])


def run_kernel(kernel: str, burst: Burst, iq, candidates: list[Signature]) -> dict | None:
    measured = detector_evidence(kernel, burst)
    if measured is not None:
        return measured
    if kernel == "lora":
        # A LoRa packet holds at least a dozen symbols (8 preamble, 4.25 sync, payload):
        # the burst's own duration bounds the spreading factor (one step of slack for a
        # packet measured short).  Most bursts in a busy band are too short for SF5 at
        # any candidate bandwidth, or of no candidate's bandwidth: no samples needed.
        # Per bandwidth: a chirp of bandwidth B at SF s has the slope of one of 2B at
        # SF s+2, which a window too long for the burst would take for it.
        sfs = {bw: [sf for sf in range(5, 13) if (1 << sf) / bw <= burst.duration_s / 5.0]
               for bw in lora_bandwidths(burst, candidates)}
        if not any(sfs.values()):
            return None
        ev = lora_on_span(burst, iq, sfs)
        # Where the burst's middle 12 ms confirmed nothing, four half-overlapping windows of
        # the longest symbol that the burst allows and a candidate sends, if longer: a
        # LoRaWAN packet at SF12 / 125 kHz (32.8 ms symbols, 1-2.5 s on air) needs 82 ms.
        longest_s = longest_symbol_s(sfs, candidates)
        if (ev is None or not ev["confirmed"]) and longest_s * LORA_MIN_WINDOWS_SPAN > MAX_SPAN_S["lora"]:
            ev = lora_on_span(burst, iq, sfs, LORA_MIN_WINDOWS_SPAN * longest_s) or ev
        if ev is not None and ev["confirmed"] and any(_judged_by_sync_word(s, ev) for s in candidates):
            sync = sync_word_of(burst, iq, ev)
            ev["sync_word"] = sync["sync_word"] if sync and sync["confirmed"] else None
        return ev
    if kernel == "ofdm_cp_sums":
        # (A steady burst's samples up to its end, not the burst's own: prefix.py.)
        return steady_prefix_sums(burst, iq, candidates)
    x = burst_samples(burst, iq, kernel)
    if x is None:
        return None
    fs = iq.sample_rate_hz
    offset = burst.center_freq_hz - iq.center_freq_hz
    if kernel == "fsk":
        ev = fsk_evidence(x, fs, offset, burst.bandwidth_hz)
        if ev is not None:
            ev["burst_snr_db"] = round(float(burst.snr_db), 2)
            if not ev["confirmed"] and not can_tell("fsk", burst):
                # The whole burst's tone pair, where the discriminator is past its threshold.
                tones = tone_evidence(burst_samples(burst, iq, "fsk_tones"), fs, offset, burst.bandwidth_hz)
                ev.update(tones or {})
        return ev
    if kernel == "ofdm_cp":
        return ofdm_evidence(shift_to_zero(x, offset, fs), fs, burst.bandwidth_hz)
    if kernel == "ofdm_piece":
        # Is the burst a slice of the host's (Wi-Fi's) frame?  The candidate is the host.
        # Its numerology says so, and so does the floor standing raised beside it (of
        # any wider emission, told over a track: Classifier._sliced).
        p = candidates[0].extra["pieces"]
        ev = prefix_piece_evidence(x, fs, offset, p["useful_symbol_s"], p["prefix_s"])
        floor = getattr(iq, "floor", None)
        beside = None if floor is None else floor_beside(
            x, fs, burst.f_lo_hz - iq.center_freq_hz, burst.f_hi_hz - iq.center_freq_hz, floor)
        if ev is None and beside is None:
            return None
        return {**(ev or {"confirmed": False}), **(beside or {})}
    if kernel == "droneid_zc":
        p = next((s.kernel_params for s in candidates if s.kernel == "droneid_zc"), {})
        ev = droneid_zc(x, fs, offset, max_cfo_hz=p.get("max_cfo_hz", MAX_CFO_HZ))
        if ev is not None:
            ev["confirmed"] = droneid_confirmed(ev, p.get("min_correlation", MIN_CORRELATION))
        return ev
    if kernel == "fm_video":
        return fm_video_evidence(x, fs)
    raise ValueError(f"unknown kernel {kernel!r}")


def _inside(value, rng) -> bool:
    if value is None:
        return False
    if isinstance(rng, tuple):
        return rng[0] <= value <= rng[1]
    return abs(value - rng) <= 1e-6 * max(abs(rng), 1.0)


def fsk_spread(snr_db: float | None) -> float:
    """Relative scatter of the discriminator's deviation and symbol rate at an in-band SNR."""
    return 0.0 if snr_db is None else min(0.5, 0.5 * 10.0 ** (-snr_db / 10.0))


def _inside_widened(value, rng: tuple, spread: float) -> bool:
    return value is not None and rng[0] * (1.0 - spread) <= value <= rng[1] * (1.0 + spread)


def verdict(sig: Signature, ev: dict | None) -> str:
    """'match', 'mismatch' or 'none' (no evidence: no samples, a rate too low, or an FSK
    burst too weak for the discriminator to tell and without a tone pair)."""
    if ev is None:
        return "none"
    p = sig.kernel_params
    if not ev.get("confirmed"):
        snr = ev.get("burst_snr_db")
        weak = sig.kernel == "fsk" and snr is not None and snr < FSK_THRESHOLD_DB
        if weak and ev.get("tone_symbol_rate_hz") is not None:
            ok = _inside_widened(ev["tone_deviation_hz"], p["deviation_hz"], TONE_DEVIATION_SPREAD) and \
                _inside_widened(ev["tone_symbol_rate_hz"], p["symbol_rate_hz"], TONE_RATE_SPREAD)
            return "match" if ok else "mismatch"
        return "none" if weak else "mismatch"
    if sig.kernel == "lora":
        dir_ok = p.get("direction", "either") in ("either", ev["direction"])
        return "match" if _lora_chirps_fit(sig, ev) and dir_ok else "mismatch"
    if sig.kernel == "fsk":
        spread = fsk_spread(ev.get("burst_snr_db"))
        ok = _inside_widened(ev["deviation_hz"], p["deviation_hz"], spread) and \
            _inside_widened(ev["symbol_rate_hz"], p["symbol_rate_hz"], spread)
        return "match" if ok else "mismatch"
    if sig.kernel == "ofdm_cp":
        lo, hi = p["useful_symbol_s"]
        # The real DroneID/OcuSync frames correlate best at one whole symbol period
        # (useful symbol plus CP); accept that lag too.
        t = ev["useful_symbol_s"]
        ok = lo <= t <= hi or lo * 1.05 <= t <= hi * 1.12
        return "match" if ok else "mismatch"
    if sig.kernel in ("droneid_zc", "fm_video"):
        return "match"
    return "none"
