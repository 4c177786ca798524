"""Chirp detector: LoRa packets found from the IQ directly, below the noise.

For each (bandwidth, spreading factor) that the LoRa signatures of the
recording's band allow, a search, a confirmation and the packet's extent:

1. Search (``kernels.dechirp``): back-to-back windows of one symbol at the
   recording rate, dechirped, zero-padded to twice their length (a tone between
   two bins of a symbol-long FFT loses up to 3.9 dB, 1.3 dB on average; padded,
   under 1 dB: 40 % more ExpressLRS packets found at -10 dB), FFT, the wrap's two
   bins folded together (so a window off the symbol boundary keeps the symbol's
   energy, split between the two), summed over ``k_windows`` windows (a
   preamble repeats one up-chirp; one more for each symbol a hypothesis's links'
   shortest preamble, ``preamble_symbols`` in their signatures, has beyond 8),
   peak against mean.  A window above
   ``search_threshold`` is a candidate: loose, some tens per second in noise.
   Where the bins within a bandwidth of the peak stand raised (a wideband signal
   the dechirp spreads over its band: Wi-Fi, an OFDM video), the peak must pass
   the threshold against their level.
   Windows half a symbol apart (two phases: the better one splits the symbol
   3:1 or less) cost twice as much; they are kept for SF5 (TWO_PHASE_MAX_SF),
   whose preamble at -10 dB in-band barely reaches the threshold even on the
   boundary.  From SF6 on, one phase found as many packets at -10 to -12 dB.
2. Confirmation (on candidates only): the symbol boundary is searched on a
   grid of 1/8 symbol; on the boundary a preamble symbol is one tone, so the
   windows there (as many as the shortest preamble less one, zero-padded, at the
   tone the candidate predicts) give the full 2^SF gain, with no window holding
   most of it.  The threshold comes from
   the statistic's distribution in noise for ``false_alarms_per_hour``, raised
   by CONFIRM_MARGIN because these windows overlap those the search selected.
   The windows lie a true symbol apart (rounded each: whole samples a symbol
   would drift off a fractional one, 0.4 samples a symbol at SF5 / 500 kHz and
   2.4 MS/s).  Over COHERENCE_MIN_WINDOWS windows or more there is a second way:
   a lower power sum whose tone keeps one phase step from window to window (a
   preamble's phase carries on from chirp to chirp; noise's coherence does not
   depend on the windows' powers, so the two chances multiply), each way with
   half the budget (``confirm_thresholds``).  For a link whose packets are long
   (``Hypothesis.data_symbols``: mLRS's SF5 frames are 206 symbols), a third way, each
   way with a third of the budget: below the noise a data symbol's tone does not stand
   out of its band's bins, but the packet's energy does, summed over its data
   symbols (``band_energy``).  A candidate the first two ways turn away waits until
   that many symbols have arrived and passes if the chirp's band holds more energy
   than the bands beside it, by the F distribution's margin for the budget.  The
   search's windows, a whole
   number of hops apart, drift too: its sum follows the tone (``drift_bins``).
   A strong signal that is no chirp of the hypothesis's rate (a slow LoRa chirp,
   a tone, OOK pulses) is spread by the dechirp over a bandwidth of bins, and its
   ripple passes that test in every window: where the bins around the tone stand
   raised, the tone is tested against their level (``kernels.dechirp.spread_around``);
   less raised, but by LOCAL_Z deviations, it must pass its way's threshold against it.
   A candidate within a bandwidth of a signal so turned away is not tried again
   until the windows tried have passed.
3. Extent: back over the preamble while its tone holds; forward symbol by
   symbol (sync, data: a tone per symbol in the chirp's band, the wrap folded;
   the start frame delimiter's down-chirps a tone at a known bin, after which
   the grid moves on a quarter symbol to the data's) while the mean of the
   last four symbols' peaks stays above noise, or until the preamble's tone
   repeats (the emitter's next packet).  A packet needs
   MIN_DATA_SYMBOLS symbols with a tone after its confirmed windows: noise that
   passed the confirmation rarely goes on like a packet.  (Not over
   COHERENCE_MIN_WINDOWS windows or more, whose confirmation noise passes rarely.)

Every window loses its mean before it is dechirped: an RTL-SDR's DC offset, a tone,
would otherwise pass for a preamble (``kernels.dechirp.dechirp_fft_ac``).

Each packet is a :class:`Burst` whose ``features["dechirp"]`` holds the
bandwidth, spreading factor, direction and score measured; a packet seen by
several hypotheses is returned once, with the one that concentrates it best.
The pipeline merges these bursts with the energy detector's (detect/merge.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.fft import next_fast_len
from scipy.stats import f as f_dist, gamma

from ..kernels.dechirp import (COHERENCE_TRIALS_PER_WINDOW, CONFIRM_OK, CONFIRM_SPREAD, CONFIRM_WEAK,
                              MAX_PREAMBLE_BACK, OFFSETS, RUN_SYMBOLS, ST_COUNT, ST_DONE, ST_GOOD, ST_LAST_GOOD,
                              ST_NEXT, ST_SYMBOLS, confirm_preamble, conj_chirp, fold_power, follow_packet,
                              integrate_peaks, spread_around)
from ..model import Burst, IQBlock

# (The confirmation's boundary grid, the preamble's and the packet end's tests: kernels/dechirp.py.)
PAD = 2                      # zero padding of the search's and the confirmation's FFTs (scalloping
                             # under 1 dB)
MAX_PACKET_S = 4.0
CONFIRM_MARGIN = 1.2
MIN_DATA_SYMBOLS = 4         # symbols with a tone after the confirmed preamble windows
TWO_PHASE_MAX_SF = 5         # search windows half a symbol apart up to this spreading factor
DEFAULT_PREAMBLE = 8         # up-chirps of a link that declares none (LoRaWAN's, the radios' default)
PREAMBLE_SLACK = 1           # the confirmation's run: the preamble less this many symbols (the
                             # boundary grid's 1/8 symbol, a preamble a symbol short)
COHERENCE_SHARE = 0.6        # a preamble's coherence (kernels.dechirp.preamble_coherence) that lets a
                             # power sum under the confirmation's threshold pass: this share of
                             # the windows' count
COHERENCE_MIN_WINDOWS = 10   # and only over this many windows or more: over fewer, noise reaches
                             # that share too often (7 windows, 4.2: one candidate in five) for
                             # the power sum's threshold to come down by much
ENERGY_MIN_WINDOWS = 128     # data symbols the energy way sums at least (fewer: too little gain at
                             # -10 dB; mLRS's SF5 frames hold about 190 after the preamble)
DATA_TAIL = 5                # a frame's symbols that are no data or may be missed: sync, delimiter, the
                             # confirmation's boundary grid
ENERGY_GUARD = 0.1           # bandwidths between the chirp's band and the bands beside it
ENERGY_PARTS = 4             # a frame's energy is tested for evenness in this many parts of its band,
                             # and of its symbols: each must hold ENERGY_EVEN of the whole's excess
ENERGY_EVEN = 0.25           # (a LoRaWAN packet fills a quarter of the band, an OOK or FSK sensor
                             # less, and bursts of theirs only some of the symbols)
ENERGY_CHIRP_SHARE = 0.25    # the share of the band's energy a preamble window's tone must hold, at
                             # least (as a chirp of the hypothesis's rate concentrates it; a 6 dB
                             # allowance for scalloping and timing): a strong signal of another rate
                             # fills the band but the dechirp spreads it
LOCAL_LEVEL_Z = 3.0          # standard deviations above the window's mean bin at which the level
                             # around a search's peak counts as raised (ChirpDetector._under_local_level)


@dataclass(frozen=True)
class Hypothesis:
    bw_hz: float
    sf: int
    links: tuple[str, ...] = ()
    max_burst_s: float = 4.0             # longest packet of those links
    drone: bool = True                   # one of those links is a drone link
    preamble_symbols: int = DEFAULT_PREAMBLE   # shortest preamble of those links (up-chirps)
    data_symbols: int = 0                # symbols after the preamble that every frame of the links
                                         # declaring their time on air here has (0: none declares it)

    @property
    def symbol_s(self) -> float:
        return (1 << self.sf) / self.bw_hz

    @property
    def sweep_rate_hz_per_s(self) -> float:
        return self.bw_hz * self.bw_hz / (1 << self.sf)


def hypotheses_for(sample_rate_hz: float, center_freq_hz: float, signatures=None) -> list[Hypothesis]:
    """(bandwidth, SF) pairs of the LoRa signatures with a band inside the receiver's window."""
    if signatures is None:
        from ..signatures import load_all
        signatures = load_all()
    lo, hi = center_freq_hz - sample_rate_hz / 2, center_freq_hz + sample_rate_hz / 2
    found: dict[tuple[float, int], list] = {}
    for sig in signatures:
        if sig.kernel != "lora" or not any(b.lo_hz <= hi and b.hi_hz >= lo for b in sig.bands):
            continue
        p = sig.kernel_params
        bws = p.get("bw_hz")
        bws = bws if isinstance(bws, tuple) else (bws,)
        sf_lo, sf_hi = p.get("sf", (5, 12))
        if p.get("direction", "up") == "down":
            continue
        for bw in bws:
            if not bw or bw > 0.9 * sample_rate_hz:
                continue
            for sf in range(sf_lo, sf_hi + 1):
                found.setdefault((float(bw), sf), []).append(sig)
    return [Hypothesis(bw, sf, tuple(s.id for s in sigs), max(s.burst_s[1] for s in sigs), any(s.drone for s in sigs),
                       min(preamble_symbols(s, sf) for s in sigs), data_symbols(sigs, bw, sf))
            for (bw, sf), sigs in sorted(found.items())]


def data_symbols(sigs, bw_hz: float, sf: int) -> int:
    """Symbols after the preamble in every frame of the links that declare their time on air
    at ``sf`` (``extra["air_s_by_sf"]``: shortest, longest), less DATA_TAIL; 0 if none does."""
    counts = [int(s.extra["air_s_by_sf"][sf][0] * bw_hz / (1 << sf)) - preamble_symbols(s, sf) - DATA_TAIL
              for s in sigs if sf in s.extra.get("air_s_by_sf", {})]
    return max(min(counts), 0) if counts else 0


def preamble_symbols(sig, sf: int) -> int:
    """Up-chirps of the signature's preamble at ``sf`` (``kernel_params["preamble_symbols"]``:
    one count, or one per spreading factor)."""
    p = sig.kernel_params.get("preamble_symbols", DEFAULT_PREAMBLE)
    return int(p.get(sf, DEFAULT_PREAMBLE) if isinstance(p, dict) else p)


def search_threshold(k_windows: int, p_bin: float) -> float:
    """Peak/mean of the folded sum (2*k_windows exponential bins) exceeded by one bin of
    noise with probability ``p_bin``."""
    return float(gamma.isf(p_bin, 2 * k_windows) / (2 * k_windows))


def confirm_threshold(k_windows: int, p_test: float) -> float:
    """Peak/mean of one bin summed over k_windows aligned windows, exceeded in noise with
    probability ``p_test``."""
    return float(gamma.isf(p_test, k_windows) / k_windows)


def confirm_thresholds(run: int, p_test: float, ways: int = 2) -> tuple[float, float, float]:
    """The confirmation's thresholds for ``run`` windows and a chance ``p_test`` that noise
    passes a test, a share of it by each of ``ways`` ways (the third: ``energy_threshold``):
    (power sum alone, power sum with a coherent tone, that coherence).  Noise's coherence
    does not depend on the windows' powers, so the two chances multiply on the second way."""
    if run < COHERENCE_MIN_WINDOWS:
        return CONFIRM_MARGIN * confirm_threshold(run, p_test), math.inf, math.inf
    coherence = COHERENCE_SHARE * run
    p_coherent = min(1.0, COHERENCE_TRIALS_PER_WINDOW * run * math.exp(-coherence))
    return (CONFIRM_MARGIN * confirm_threshold(run, p_test / ways),
            CONFIRM_MARGIN * confirm_threshold(run, min(0.5, p_test / ways / p_coherent)), coherence)


def energy_threshold(cells_in: int, cells_beside: int, p_test: float) -> float:
    """The mean power of ``cells_in`` cells over that of ``cells_beside`` (exponential cells:
    an F distribution), less one, exceeded in noise with probability ``p_test``."""
    return float(f_dist.isf(p_test, 2 * cells_in, 2 * cells_beside)) - 1.0


def band_energy(x: np.ndarray, starts: np.ndarray, n: int, sample_rate_hz: float, f_lo_hz: float,
                bw_hz: float) -> tuple[float, int, int, float]:
    """The windows ``x[start:start + n]`` (their means removed, as the dechirp's), FFT'd: the
    mean power of the bins in [f_lo_hz, f_lo_hz + bw_hz) over that of the bins a bandwidth
    wide either side, ENERGY_GUARD bandwidths off (one side, twice as wide, where the other
    would leave the window), less one; the two cells' counts; and the least of that excess
    in each of ENERGY_PARTS parts of the band and of the windows (a chirp's frame fills its
    band evenly, in time and frequency).  (nan, 0, 0, nan) where neither side fits."""
    fs = sample_rate_hz
    f = np.fft.fftfreq(n, 1.0 / fs)
    d = (f - f_lo_hz + fs / 2) % fs - fs / 2                       # from the band's start
    inside = (d >= 0) & (d < bw_hz) & (f != 0)
    g = ENERGY_GUARD * bw_hz
    below = f_lo_hz - g - bw_hz >= -fs / 2
    above = f_lo_hz + bw_hz + g + bw_hz < fs / 2
    if not (below or above):
        return math.nan, 0, 0, math.nan
    lo = -g - (bw_hz if above else 2 * bw_hz) if below else math.inf
    hi = bw_hz + g + (bw_hz if below else 2 * bw_hz) if above else -math.inf
    beside = (((d >= lo) & (d < -g)) | ((d >= bw_hz + g) & (d < hi))) & (f != 0)
    w = x[starts[:, None] + np.arange(n)]
    w = w - w.mean(axis=1, keepdims=True)
    p = np.abs(np.fft.fft(w, axis=1)) ** 2
    m = starts.shape[0]
    e_beside = p[:, beside].mean(dtype=np.float64)
    if not e_beside > 0:
        return math.nan, 0, 0, math.nan
    band = p[:, np.flatnonzero(inside)[np.argsort(d[inside])]]     # the band's bins in frequency order
    parts = [q.mean(dtype=np.float64) for q in np.array_split(band, ENERGY_PARTS, axis=1)]
    parts += [q.mean(dtype=np.float64) for q in np.array_split(band, ENERGY_PARTS, axis=0)]
    return (band.mean(dtype=np.float64) / e_beside - 1.0, m * int(inside.sum()), m * int(beside.sum()),
            min(parts) / e_beside - 1.0)


@dataclass
class _Search:
    """One hypothesis's search state: its window grid and the rows it still needs."""
    hyp: Hypothesis
    n: int                               # window: one symbol at the recording rate
    nfft: int                            # its FFT size (zero-padded to a fast size)
    step: int                            # windows a symbol (hops_per_symbol)
    hop: int
    fold: int
    ref: np.ndarray                      # dechirps up-chirps (and its conjugate, down-chirps)
    ref_down: np.ndarray
    k: int                               # the search's windows summed
    search_thr: float
    run: int                             # the confirmation's windows in a row on the preamble's tone
    confirm_thr: float
    coherent_thr: float                  # the power sum's threshold where the tone is coherent
    coherence_min: float
    next_start: int                      # absolute sample of the next window
    tail: np.ndarray                     # the last (k - 1) * step folded rows
    drift_bins: float = 0.0              # a tone's move from a window to the one a symbol later
    busy_until: int = -1                 # candidates before this sample are inside a packet
    tried: int = -(1 << 62)              # the last candidate confirmation tried
    spread: list = field(default_factory=list)   # (until sample, Hz): a spread signal's candidates
    energy_windows: int = 0              # data symbols of the energy way (0: no energy way)
    energy_p: float = 0.0                # noise's chance to pass it


@dataclass
class _Pending:
    """A candidate whose preamble the power ways turned away, waiting for the data symbols
    of the energy way (``ChirpDetector._settle``): confirm_preamble's ``out``, positions
    absolute."""
    search: _Search
    out: np.ndarray
    ready: int                           # absolute sample by which its data symbols have arrived


@dataclass
class _Packet:
    """A confirmed packet whose end is still being looked for (kernels.dechirp.follow_packet)."""
    search: _Search
    start: int                           # absolute sample of its first symbol: the symbol grid's origin
    f0_hz: float                         # offset of the chirp's start frequency
    score: float
    snr_bin: float
    noise: float
    amplitude2: float
    k0: int                              # the chirp's band: ``width`` bins from ``k0``
    width: int
    run_thr: float                       # a symbol's peak over noise that holds a tone
    limit: int                           # absolute sample past which the packet is cut
    st: np.ndarray                       # follow_packet's state (ST_*)
    peaks: np.ndarray = field(default_factory=lambda: np.zeros(RUN_SYMBOLS + 1))
    way: str = "power"                   # the confirmation's way: "power", "coherence" or "energy"

    @property
    def next_symbol(self) -> int:
        return int(self.st[ST_NEXT])

    @property
    def last_good(self) -> int:
        return int(self.st[ST_LAST_GOOD])


class ChirpDetector:
    """Feed contiguous IQ blocks; get back the LoRa packets found, as bursts.

    ``k_windows``: search windows summed (one symbol apart) for a preamble of
    DEFAULT_PREAMBLE symbols, and as many more as a hypothesis's preamble is longer;
    ``confirm_windows``: aligned windows of the confirmation (None: each hypothesis's
    preamble less PREAMBLE_SLACK); ``search_p_bin``: a noise bin's chance to
    pass the search; ``false_alarms_per_hour``: the confirmation's target in noise,
    the drone links' hypotheses together, and as many for the others' (LoRaWAN);
    ``hops_per_symbol`` and ``search_pad``: the search's windows a symbol (1 or 2; None:
    2 up to TWO_PHASE_MAX_SF, else 1) and zero padding (1: none)."""

    def __init__(self, sample_rate_hz: float, center_freq_hz: float, hypotheses: list[Hypothesis], *,
                 k_windows: int = 6, confirm_windows: int | None = None, search_p_bin: float = 3e-6,
                 false_alarms_per_hour: float = 1.0, hops_per_symbol: int | None = None, search_pad: int = PAD,
                 sample_index0: int = 0):
        self.sample_rate_hz = float(sample_rate_hz)
        self.center_freq_hz = float(center_freq_hz)
        self.hypotheses = list(hypotheses)
        self.k_windows = k_windows
        self.confirm_windows = confirm_windows
        self.hops_per_symbol = hops_per_symbol
        self.search_pad = search_pad
        # Confirmation tests per hour: candidates (search false alarms) times the tests each.
        # The hypotheses of drone links and those of the others (LoRaWAN) have a budget of
        # false packets each: a false LoRaWAN packet is no drone alarm, and searching for
        # LoRaWAN too (``dechirp_links="all"``) leaves the drone links' threshold as it was.
        fs = self.sample_rate_hz
        tests = {True: 0.0, False: 0.0}
        for h in self.hypotheses:
            n = int(round(h.symbol_s * fs))
            windows_per_h = 3600.0 * fs / (n // self._step(h))
            tests[h.drone] += windows_per_h * min(1.0, search_pad * n * search_p_bin) * OFFSETS * 6
        # The confirmation re-reads much of the data the search selected: in noise its
        # statistic runs higher than for fresh windows; CONFIRM_MARGIN (measured on
        # candidates in noise, bench/bench_dechirp.py) puts it back near the target rate.
        p_test = {drone: false_alarms_per_hour / max(t, 1.0) for drone, t in tests.items()}
        # Per hypothesis: windows summed and their thresholds, once (a gap or retune resets
        # the searches, not these).
        self._sums = {h: (self._k(h), search_threshold(self._k(h), search_p_bin), self._run(h),
                          *confirm_thresholds(self._run(h), p_test[h.drone], 3 if self._energy_windows(h) else 2))
                      for h in self.hypotheses}
        # (The energy way is one test a candidate, not one for each of the power ways' boundaries
        # and bins.)
        self._energy = {h: {"energy_windows": self._energy_windows(h), "energy_p": p_test[h.drone] * OFFSETS * 6 / 3}
                        for h in self.hypotheses}
        self._confirm_out = np.zeros(8)
        self._samples_lost = 0
        self.candidates = 0
        self.confirmed = 0
        self.rejected = 0
        self.packets = 0
        self._reset(int(sample_index0))

    def _step(self, h: Hypothesis) -> int:
        if self.hops_per_symbol is not None:
            return self.hops_per_symbol
        return 2 if h.sf <= TWO_PHASE_MAX_SF else 1

    def _k(self, h: Hypothesis) -> int:
        # (A longer preamble's extra symbols all go to the search: of ExpressLRS 2.4's packets
        # at -10 dB, 95 of 544 found with 10 windows summed at SF5, 58 with 6.)
        return max(2, self.k_windows + h.preamble_symbols - DEFAULT_PREAMBLE)

    def _run(self, h: Hypothesis) -> int:
        if self.confirm_windows is not None:
            return self.confirm_windows
        return max(2, h.preamble_symbols - PREAMBLE_SLACK)

    def _energy_windows(self, h: Hypothesis) -> int:
        """Data symbols of the energy way: only for links whose frames hold ENERGY_MIN_WINDOWS
        or more, and a preamble long enough for the coherent way (the two lower power sums
        share the candidates' strongest noise, each way's budget a third)."""
        if h.data_symbols < ENERGY_MIN_WINDOWS or self._run(h) < COHERENCE_MIN_WINDOWS:
            return 0
        return h.data_symbols

    # -- stream ---------------------------------------------------------------------------
    def _reset(self, origin: int) -> None:
        fs = self.sample_rate_hz
        self._x = np.zeros(0, np.complex64)
        self._x0 = origin
        self._searches = []
        for h in self.hypotheses:
            n = int(round(h.symbol_s * fs))
            nfft = next_fast_len(self.search_pad * n)
            fold = int(round(h.bw_hz * nfft / fs)) % nfft
            ref = conj_chirp(n, h.sweep_rate_hz_per_s, fs)
            step = self._step(h)
            # Windows ``step`` hops apart start ``gap`` samples later in the chirp than a symbol
            # on: the tone moves by the sweep over those samples.
            gap = step * (n // step) - h.symbol_s * fs
            self._searches.append(_Search(h, n, nfft, step, n // step, fold, ref, np.conj(ref), *self._sums[h],
                                          origin, np.zeros((0, nfft), np.float32),
                                          gap * h.sweep_rate_hz_per_s / fs / fs * nfft, **self._energy[h]))
        self._packets: list[_Packet] = []
        self._pending: list[_Pending] = []
        self._recent: list[_Packet] = []     # ended within the searches' reach
        self._closed: list[Burst] = []       # held until no packet still open can overlap them
        self._released: list[Burst] = []
        self._expected = origin

    @property
    def latency_samples(self) -> int:
        """How long after a packet's end it is returned, at most (one the energy way confirms:
        once its data symbols have arrived)."""
        return max(((RUN_SYMBOLS + s.k + 3 + (s.energy_windows + 2 if s.energy_windows else 0)) * s.n
                    for s in self._searches), default=0)

    @property
    def settle_samples(self) -> int:
        """Samples after which a detector started mid-stream (``resume``) is in the state
        of one that ran from the stream's start: a packet open at the resume point has
        ended (at most ``MAX_PACKET_S``, or 1.5 of its links' longest burst), one that
        the late start confirmed on a packet's symbols instead has ended too, and both
        are out of the searches' reach."""
        if not self._searches:
            return 0
        fs = self.sample_rate_hz
        longest = max(min(MAX_PACKET_S, 1.5 * s.hyp.max_burst_s) for s in self._searches)
        return 2 * int(math.ceil(longest * fs)) + self._reach_samples + self.latency_samples

    @property
    def _reach_samples(self) -> int:
        """How far before a search's next window a packet it confirms may start."""
        return max(((s.k + s.run + MAX_PREAMBLE_BACK + 4) * s.n for s in self._searches), default=0)

    def resume(self, position: int, origin: int, center_freq_hz: float, samples_lost: int = 0) -> None:
        """Continue, from ``position``, a stream whose window grid began at ``origin``
        (the stream's start, or its last gap or retune): the searches' windows fall where
        they would in a detector fed from ``origin``; ``samples_lost`` samples were lost
        in gaps before ``position``.  The search sums and packets start empty: they are
        those of the longer run once ``settle_samples`` have been fed."""
        self.center_freq_hz = float(center_freq_hz)
        self._samples_lost = int(samples_lost)
        self._reset(int(position))
        for s in self._searches:
            s.next_start = origin + -(-(position - origin) // s.hop) * s.hop

    def pending_from(self) -> float:
        """No burst this detector returns later starts before this sample."""
        starts = [p.start for p in self._packets] + [b.sample_start for b in self._closed]
        starts += [int(c.out[6]) for c in self._pending]
        starts += [s.next_start - self._reach_samples for s in self._searches]
        return min(starts, default=math.inf)

    def feed(self, block: IQBlock) -> list[Burst]:
        x = block.samples[0] if block.samples.ndim == 2 else block.samples
        out: list[Burst] = []
        if block.sample_index0 != self._expected or block.samples_lost_before \
                or block.center_freq_hz != self.center_freq_hz:
            out += self.finish()
            self._samples_lost += int(block.samples_lost_before)
            self.center_freq_hz = float(block.center_freq_hz)
            self._reset(int(block.sample_index0))
        self._x = np.concatenate([self._x, np.asarray(x, np.complex64)])
        self._expected = block.sample_index0 + x.shape[0]
        for s in self._searches:
            self._search(s)
        self._settle(final=False)
        self._closed += self._extend(final=False)
        out += self._release(final=False)
        self._trim()
        return out

    def finish(self) -> list[Burst]:
        self._settle(final=True)
        self._closed += self._extend(final=True)
        return self._release(final=True)

    def _release(self, final: bool) -> list[Burst]:
        """Closed packets no open one can overlap any more, less the duplicates: one packet
        seen by several hypotheses (a strong one, or sweep rates alike) is kept once, with
        the hypothesis that concentrates it best (highest SNR)."""
        lag = max(((s.k + 2) * s.n for s in self._searches), default=0)
        horizon = min([p.start for p in self._packets] + [self._expected - lag])
        out, held = [], []
        for b in sorted(self._closed, key=lambda b: b.sample_start):
            if not final and b.sample_end >= horizon:
                held.append(b)
                continue
            rivals = [r for r in self._closed + self._released if r is not b and r.overlaps(b)]
            if any(r.snr_db > b.snr_db or (r.snr_db == b.snr_db and r.sample_start < b.sample_start)
                   for r in rivals):
                continue
            out.append(b)
        self._closed = held
        self._released = (self._released + out)[-64:]
        return out

    def _trim(self) -> None:
        keep = self._expected
        for s in self._searches:
            keep = min(keep, s.next_start - (s.run + MAX_PREAMBLE_BACK + 2) * s.n)
        for p in self._packets:
            keep = min(keep, p.next_symbol)
        for c in self._pending:
            keep = min(keep, int(c.out[1]))
        cut = keep - self._x0
        if cut > 0:
            self._x = self._x[cut:]
            self._x0 += cut

    # -- search -----------------------------------------------------------------------------
    def _search(self, s: _Search) -> None:
        end = self._x0 + self._x.shape[0]
        windows = (end - s.n - s.next_start) // s.hop + 1 if end - s.next_start >= s.n else 0
        if windows <= 0:
            return
        a = s.next_start - self._x0
        q = np.empty((windows, s.nfft), np.float32)
        fold_power(self._x[a: a + (windows - 1) * s.hop + s.n], s.ref, s.hop, s.fold, q)
        rows = np.concatenate([s.tail, q]) if s.tail.shape[0] else q
        first = (s.k - 1) * s.step
        m = rows.shape[0] - first
        if m > 0:
            best = np.empty(m, np.int64)
            ratio = np.empty(m, np.float64)
            integrate_peaks(rows, s.k, s.step, best, ratio, s.drift_bins,
                            (s.next_start - s.tail.shape[0] * s.hop) // s.hop)
            # The window each row of ``ratio`` ends with.
            w0 = s.next_start + (windows - m) * s.hop
            for i in np.flatnonzero(ratio > s.search_thr):
                start = w0 + int(i) * s.hop
                if start < s.busy_until or start - s.tried < s.n or self._inside_packet(s, start, int(best[i])) \
                        or self._in_spread(s, start, int(best[i])) \
                        or self._under_local_level(s, rows, int(i) + first, int(best[i])):
                    continue        # inside a packet, the same windows as the last try, or no tone
                s.tried = start
                self.candidates += 1
                packet = self._confirm(s, start, int(best[i]))
                if packet is not None:
                    self.confirmed += 1
                    self._packets.append(packet)
                    # Later windows of the same preamble (and its sync symbols) are this packet.
                    s.busy_until = packet.next_symbol + 2 * s.n
        s.tail = rows[-first:].copy() if first else rows[:0]
        s.next_start += windows * s.hop

    def _inside_packet(self, s: _Search, start: int, best: int) -> bool:
        """The candidate lies in the band of a packet of this search still going on at
        ``start`` (its data symbols light up the search): the packet's end is looked for
        up to there first."""
        f_top, fs = self._bin_hz(best, s.nfft), self.sample_rate_hz
        first = start - (s.k - 1) * s.n      # the search's first window
        for p in self._packets + self._recent:
            # (A packet strong enough lights up the other hypotheses' searches too.)
            if p.search is s or 2 * p.snr_bin >= (1 << p.search.hyp.sf):
                bw = max(s.hyp.bw_hz, p.search.hyp.bw_hz)
                d = (f_top - p.f0_hz - p.search.hyp.bw_hz / 2 + fs / 2) % fs - fs / 2
                if abs(d) > 1.5 * bw:
                    continue
                # Windows summed over the packet's last symbols are its own, not a new preamble.
                if not self._advance(p, start + s.n) or first < p.last_good:
                    return True
        return False

    def _in_spread(self, s: _Search, start: int, best: int) -> bool:
        """The candidate lies within a bandwidth of a spread signal this search's
        confirmation turned away less than ``run`` symbols ago."""
        s.spread = [(until, f) for until, f in s.spread if until > start]
        fs = self.sample_rate_hz
        f_top = self._bin_hz(best, s.nfft)
        return any(abs((f_top - f + fs / 2) % fs - fs / 2) <= s.hyp.bw_hz for _, f in s.spread)

    def _under_local_level(self, s: _Search, rows: np.ndarray, w: int, best: int) -> bool:
        """Whether the search's sum ending at row ``w`` stands raised within a bandwidth of its
        peak (bin ``best``; the peak's main lobe left out), and the peak under the search's
        threshold against that level.  A wideband signal (Wi-Fi, an OFDM video) is spread by
        the dechirp over its whole band: against the window's mean bin its bins pass the
        search everywhere in that band, thousands of candidates a second, each a confirmation
        (at 30.72 MS/s, an OcuSync video at 0 dB cost 200 s of CPU a second of signal).  In
        noise the level around the peak is the window's mean, and nothing changes."""
        windows = rows[w - s.step * np.arange(s.k)]
        nfft = windows.shape[1]
        half = min(int(round(s.hyp.bw_hz / self.sample_rate_hz * nfft)), (nfft - 1) // 2)
        lobe = int(round(nfft / s.n))
        d = np.arange(-half, half + 1)
        level = float(windows[:, (best + d[np.abs(d) > lobe]) % nfft].mean(dtype=np.float64))
        # (The sum of k folded windows: 2k exponential bins each; padded bins are correlated,
        # so a mean of them varies as one of count * n / nfft independent ones.)
        sigma = 1.0 / math.sqrt(2 * s.k * 2 * (half - lobe) * s.n / nfft)
        raised = level > float(windows.mean(dtype=np.float64)) * (1.0 + LOCAL_LEVEL_Z * sigma)
        return raised and float(windows[:, best].sum(dtype=np.float64)) < s.search_thr * s.k * level

    def _bin_hz(self, k: float, n: int) -> float:
        f = k * self.sample_rate_hz / n
        return (f + self.sample_rate_hz / 2) % self.sample_rate_hz - self.sample_rate_hz / 2

    def _confirm(self, s: _Search, start: int, best: int) -> _Packet | None:
        """The candidate window ``start`` (last of the search's sum) with its peak bin:
        a preamble if, on the right symbol boundary, one tone holds over the windows
        (kernels.dechirp.confirm_preamble).  A signal the dechirp spread is noted on the
        search (``_in_spread``).  A weak one may wait for its data (``_wait_for_data``)."""
        out = self._confirm_out
        self._confirm_preamble(s, start, best, out, s.confirm_thr, s.coherent_thr, s.coherence_min)
        if out[0] == CONFIRM_WEAK and s.energy_windows:
            self._wait_for_data(s, start, best)
            return None
        if out[0] == CONFIRM_SPREAD:
            self._note_spread(s, start, best)
            return None
        if out[0] != CONFIRM_OK:
            return None
        return self._packet(s, out, self._x0)

    def _confirm_preamble(self, s: _Search, start: int, best: int, out: np.ndarray, threshold: float,
                          coherent_threshold: float, coherence_min: float) -> None:
        """kernels.dechirp.confirm_preamble on the candidate window ``start`` and its peak bin,
        with these thresholds, into ``out`` (positions in ``self._x``)."""
        fs, nb = self.sample_rate_hz, PAD * s.nfft
        confirm_preamble(self._x, start - self._x0, s.ref, nb, s.run, self._bin_hz(best, s.nfft) / fs * nb,
                         s.hyp.bw_hz / fs * nb, threshold, out, coherent_threshold, coherence_min,
                         s.hyp.symbol_s * fs, s.hyp.sweep_rate_hz_per_s / fs / fs)

    def _note_spread(self, s: _Search, start: int, best: int) -> None:
        # A strong spread signal lights up every window: until the windows just tried
        # have passed, its candidates (and those within a bandwidth of it, which its
        # level raises too) are not tried again.
        s.spread.append((start + s.run * s.n, self._bin_hz(best, s.nfft)))

    def _wait_for_data(self, s: _Search, start: int, best: int) -> None:
        """The energy way: the candidate's preamble on its best boundary and bin, whatever its
        power sum (but not one window's symbol, nor a spread signal, as on the other ways),
        held until its data symbols have arrived."""
        fs, nb = self.sample_rate_hz, PAD * s.nfft
        out = np.zeros(8)
        self._confirm_preamble(s, start, best, out, 0.0, math.inf, math.inf)
        if out[0] != CONFIRM_OK:
            return
        if spread_around(self._x, s.ref, int(out[1]), s.run, nb, int(out[2]), s.hyp.bw_hz / fs * nb, out[3],
                         out[4], s.confirm_thr, np.zeros(nb, np.complex64), s.hyp.symbol_s * fs):
            self._note_spread(s, start, best)
            return
        out[1] += self._x0
        out[6] += self._x0
        ready = int(out[1]) + int(round((s.energy_windows + 1) * s.hyp.symbol_s * fs)) + s.n
        self._pending.append(_Pending(s, out, ready))

    def _settle(self, final: bool) -> None:
        """Pending candidates whose data symbols have arrived (all of them when ``final``): a
        packet where the chirp's band holds more energy over them than the bands beside it,
        by the margin for the way's budget, evenly over the band and the symbols (ENERGY_EVEN),
        the preamble's tone holds its share of that energy (ENERGY_CHIRP_SHARE), and no
        packet of the search holds it already."""
        end = self._x0 + self._x.shape[0]
        fs = self.sample_rate_hz
        waiting = []
        for c in self._pending:
            if c.ready > end and not final:
                waiting.append(c)
                continue
            s, u = c.search, int(c.out[1])
            if c.ready > end or any(p.search is s and p.start <= u and u <= max(p.last_good, p.next_symbol)
                                    for p in self._packets + self._recent):
                continue
            starts = u + np.round(np.arange(1, s.energy_windows + 1) * s.hyp.symbol_s * fs).astype(np.int64)
            f0 = self._bin_hz(int(c.out[2]), PAD * s.nfft)
            excess, cells_in, cells_beside, least = band_energy(self._x, starts - self._x0, s.n, fs, f0,
                                                                s.hyp.bw_hz)
            # On its preamble's tone, a chirp of this rate gathers the band's energy of a symbol.
            gathered = ENERGY_CHIRP_SHARE * excess * s.n * s.hyp.bw_hz / fs
            if cells_in and excess >= energy_threshold(cells_in, cells_beside, s.energy_p) \
                    and least >= ENERGY_EVEN * excess and c.out[5] - 1.0 >= gathered:
                self.confirmed += 1
                self._packets.append(self._packet(s, c.out, 0, "energy"))
        self._pending = waiting

    def _packet(self, s: _Search, out: np.ndarray, x0: int, way: str | None = None) -> _Packet:
        """A confirmed preamble (confirm_preamble's ``out``, positions from ``x0``) as a packet
        whose symbols are followed from there; ``way`` None: the power sum's, or its coherence's
        where that was measured (out[7])."""
        fs, n, nb = self.sample_rate_hz, s.n, PAD * s.nfft
        u, k, noise, peak, score = int(out[1]) + x0, int(out[2]), out[3], out[4], out[5]
        first = int(out[6]) + x0
        f0 = self._bin_hz(k, nb)
        amplitude2 = max(peak / s.run - noise, 0.0)
        st = np.zeros(ST_COUNT, np.int64)
        st[ST_NEXT], st[ST_SYMBOLS], st[ST_LAST_GOOD] = u + n, (u + n - first) // n, u + n
        return _Packet(s, first, f0, score, amplitude2 / noise, noise, amplitude2 / n,
                       k0=int(round(f0 / fs * nb)), width=int(round(s.hyp.bw_hz / fs * nb)),
                       # Noise alone: the peak of 2^SF folded pairs (less one) averages about ln(2^SF) + 1.
                       run_thr=math.log(1 << s.hyp.sf) + 0.58 + 1.5,
                       limit=first + int(min(MAX_PACKET_S, 1.5 * s.hyp.max_burst_s) * fs), st=st,
                       way=way or ("coherence" if out[7] > 0 else "power"))

    # -- extent ---------------------------------------------------------------------------
    def _extend(self, final: bool) -> list[Burst]:
        out, still = [], []
        end = self._x0 + self._x.shape[0]
        for p in self._packets:
            if self._advance(p, end) or final:
                # Noise that passed the confirmation (which sees much of the search's data)
                # rarely goes on as a packet does: the symbols after it must hold tones.
                # Over COHERENCE_MIN_WINDOWS windows or more, noise passes the confirmation
                # rarely enough alone (none in 2798 candidates of 120 s of noise): there the
                # weakest packets, whose symbols hold no tone that stands out (SF5 at -10 dB,
                # a third of mLRS's confirmed packets), are kept.
                if p.st[ST_GOOD] >= MIN_DATA_SYMBOLS or p.search.run >= COHERENCE_MIN_WINDOWS:
                    out.append(self._to_burst(p))
                    self.packets += 1
                else:
                    self.rejected += 1
                self._recent.append(p)
            else:
                still.append(p)
        self._packets = still
        horizon = end - max(((s.k + 1) * s.n for s in self._searches), default=0)
        self._recent = [p for p in self._recent if p.last_good >= horizon]
        return out

    def _advance(self, p: _Packet, until: int) -> bool:
        """Follow the packet's symbols ending before ``until``; True once it has ended."""
        if not p.st[ST_DONE]:
            s = p.search
            follow_packet(self._x, self._x0, s.ref, s.ref_down, PAD * s.nfft, p.k0, p.width, p.noise, p.run_thr,
                          p.start, s.hyp.symbol_s * self.sample_rate_hz, p.limit, until, p.st, p.peaks)
        return bool(p.st[ST_DONE])

    def _to_burst(self, p: _Packet) -> Burst:
        fs, h = self.sample_rate_hz, p.search.hyp
        s0, s1 = p.start, max(p.last_good, p.start + p.search.n)
        fc = self.center_freq_hz + ((p.f0_hz + h.bw_hz / 2 + fs / 2) % fs - fs / 2)
        lost = self._samples_lost
        snr_inband = p.snr_bin / (1 << h.sf)
        return Burst(
            sample_start=s0, sample_end=s1, t_start_s=(s0 + lost) / fs, t_end_s=(s1 + lost) / fs,
            f_lo_hz=fc - h.bw_hz / 2, f_hi_hz=fc + h.bw_hz / 2,
            snr_db=10 * math.log10(snr_inband) if snr_inband > 0 else -99.0,
            peak_power_db=10 * math.log10(max(p.amplitude2, 1e-30)),
            center_freq_hz=fc,
            features={"dechirp": {"bw_hz": h.bw_hz, "sf": h.sf, "direction": "up",
                                  "score": round(float(p.score) / p.search.confirm_thr, 3),
                                  "symbols": (s1 - s0) // p.search.n, "confirmed_by": p.way}},
        )


def chirp_detector_for(config, sample_rate_hz: float, center_freq_hz: float,
                       sample_index0: int = 0) -> ChirpDetector:
    """The chirp detector a :class:`DetectorConfig` asks for (``config.dechirp``)."""
    from ..signatures import load_all
    sigs = load_all()
    if config.dechirp_links == "drone":
        sigs = [s for s in sigs if s.drone]
    return ChirpDetector(sample_rate_hz, center_freq_hz, hypotheses_for(sample_rate_hz, center_freq_hz, sigs),
                         k_windows=config.dechirp_windows,
                         false_alarms_per_hour=config.dechirp_false_alarms_per_hour,
                         sample_index0=sample_index0)
