"""The LoRa sync word measured from simulated frames in noise (rfdetect.kernels.lora_sync),
nothing confirmed in noise alone, and the window kernel against its NumPy twin."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rfdetect.kernels.dechirp import conj_chirp
from rfdetect.kernels.evidence_lora import band_to_rate
from rfdetect.kernels.lora_sync import (GUARD_BINS, MARGIN_THRESHOLD, PAD, lora_sync_word, window_peaks,
                                        window_peaks_numpy)
from rfdetect.simulate.lora import lora_frame

FS = 2.4e6
OFFSET_HZ = -310e3           # the burst's centre in the recording
CARRIER_HZ = 3.7e3           # the transmitter's carrier error
CASES = [(sf, bw, word) for sf in (7, 8) for bw in (125e3, 500e3) for word in (0x34, 0x12)]


def _symbols(word: int) -> list[int]:
    return [(word >> 4) << 3, (word & 0xF) << 3]


def _packet(sf: int, bw_hz: float, word: int, snr_db: float, seed: int, n_preamble: int = 8,
            symbols_kept: float | None = None, mute_sync: bool = False) -> tuple[np.ndarray, int]:
    """A frame after 1-4 symbols of noise (at any sample: a fractional symbol timing), in
    unit noise, at ``snr_db`` in its band; cut ``symbols_kept`` symbols after the frame's
    start; ``mute_sync``: without its sync symbols.  Returns (samples, the frame's first sample)."""
    rng = np.random.default_rng(seed)
    frame = lora_frame(FS, sf, bw_hz, n_preamble, word, rng.integers(0, 1 << sf, 12))
    symbol = (1 << sf) / bw_hz * FS
    if mute_sync:
        frame[int(n_preamble * symbol):int((n_preamble + 2) * symbol)] = 0
    at = int(rng.uniform(1.0, 4.0) * symbol)
    n = at + frame.size if symbols_kept is None else at + int(symbols_kept * symbol)
    x = (rng.normal(size=n) + 1j * rng.normal(size=n)) * math.sqrt(0.5)
    amp = math.sqrt(10 ** (snr_db / 10) * bw_hz / FS)
    tone = np.exp(2j * np.pi * (OFFSET_HZ + CARRIER_HZ) / FS * np.arange(n - at) + 1j * rng.uniform(0, 2 * np.pi))
    x[at:] += amp * frame[:n - at] * tone
    return x.astype(np.complex64), at


@pytest.mark.parametrize("sf,bw_hz,word", CASES)
def test_sync_word_at_10_db(sf, bw_hz, word):
    for seed in range(4):
        x, _ = _packet(sf, bw_hz, word, 10.0, seed)
        r = lora_sync_word(x, FS, OFFSET_HZ, bw_hz, sf)
        assert r is not None
        assert (r["sync_word"], r["sync_symbols"], r["preamble_symbols"]) == (word, _symbols(word), 8)
        assert r["confirmed"] and r["margin"] >= 2 * MARGIN_THRESHOLD


@pytest.mark.parametrize("sf,bw_hz,word", CASES)
def test_sync_word_at_0_db(sf, bw_hz, word):
    results = [lora_sync_word(_packet(sf, bw_hz, word, 0.0, seed)[0], FS, OFFSET_HZ, bw_hz, sf)
               for seed in range(10, 18)]
    assert all(r is not None for r in results)
    confirmed = [r for r in results if r["confirmed"]]
    assert len(confirmed) >= 6                 # 240 of 240 packets (30 seeds a case) were
    for r in confirmed:
        assert r["sync_word"] == word
        assert np.abs(np.array(r["sync_symbols"]) - _symbols(word)).max() <= 2


@pytest.mark.parametrize("word", [0x05, 0x00, 0x50])
def test_a_sync_symbol_on_the_preambles_tone(word):
    # A sync value 0 repeats the preamble's tone: the SFD after the sync places it.
    x, _ = _packet(7, 250e3, word, 5.0, seed=3)
    r = lora_sync_word(x, FS, OFFSET_HZ, 250e3, 7)
    assert (r["sync_word"], r["sync_symbols"], r["preamble_symbols"], r["confirmed"]) == \
        (word, _symbols(word), 8, True)


def test_partial_packets():
    # Up to the end of the preamble's 7th symbol: no sync symbols.
    x, _ = _packet(7, 125e3, 0x34, 10.0, seed=5, symbols_kept=7.0)
    assert lora_sync_word(x, FS, OFFSET_HZ, 125e3, 7) is None
    # Up to the end of the sync symbols: measured, but without the SFD after them not confirmed.
    x, _ = _packet(7, 125e3, 0x34, 10.0, seed=5, symbols_kept=10.0)
    r = lora_sync_word(x, FS, OFFSET_HZ, 125e3, 7)
    assert r["sync_word"] == 0x34 and not r["confirmed"]
    # From just before the preamble's 4th symbol: its last 5 symbols.
    x, at = _packet(7, 125e3, 0x34, 10.0, seed=5)
    r = lora_sync_word(x[at + int(2.98 * 128 / 125e3 * FS):], FS, OFFSET_HZ, 125e3, 7)
    assert (r["sync_word"], r["preamble_symbols"], r["confirmed"]) == (0x34, 5, True)


@pytest.mark.parametrize("sf,bw_hz", [(7, 125e3), (7, 500e3), (8, 500e3)])
def test_noise_alone_is_not_confirmed(sf, bw_hz):
    rng = np.random.default_rng(sf)
    n = 30 * int((1 << sf) / bw_hz * FS)
    for _ in range(20):
        x = ((rng.normal(size=n) + 1j * rng.normal(size=n)) * math.sqrt(0.5)).astype(np.complex64)
        r = lora_sync_word(x, FS, OFFSET_HZ, bw_hz, sf)
        assert r is None or not r["confirmed"]


def test_sync_lost_in_noise_is_not_confirmed():
    # Preamble and SFD in place, the sync windows noise: their margins stay below the threshold
    # (with a threshold of 0 all 20 are confirmed).
    results = [lora_sync_word(_packet(7, 500e3, 0x34, 10.0, seed, mute_sync=True)[0], FS, OFFSET_HZ, 500e3, 7)
               for seed in range(20)]
    assert all(r is not None for r in results)
    assert not any(r["confirmed"] for r in results)
    assert max(r["margin"] for r in results) < MARGIN_THRESHOLD


def test_too_short_or_too_slow():
    x, at = _packet(7, 500e3, 0x34, 10.0, seed=1)
    assert lora_sync_word(x[:at + 3 * 614], FS, OFFSET_HZ, 500e3, 7) is None      # 614 samples a symbol
    assert lora_sync_word(x, 400e3, 0.0, 500e3, 7) is None          # a rate below the bandwidth


@pytest.mark.parametrize("signal", [True, False])
def test_window_kernel_equals_its_twin(signal):
    sf, bw_hz = 8, 125e3
    m = 1 << sf
    if signal:
        # A packet at 0 dB at twice its bandwidth, as lora_sync_word takes its windows.
        s, _ = _packet(sf, bw_hz, 0x34, 0.0, seed=2)
        x = band_to_rate(s[:s.size - s.size % 48], FS, OFFSET_HZ, 2 * bw_hz)
    else:
        rng = np.random.default_rng(8)
        x = rng.normal(size=40 * m) + 1j * rng.normal(size=40 * m)
    x = np.ascontiguousarray(x, np.complex128)
    ref = conj_chirp(2 * m, bw_hz * bw_hz / m, 2 * bw_hz)
    starts = np.arange(0, x.size - 2 * m, 2 * m // 8, dtype=np.int64)
    for r in (ref, np.conj(ref)):                  # up- and down-chirps
        got = (np.empty(starts.size, np.int64), np.empty(starts.size), np.empty(starts.size))
        want = (np.empty(starts.size, np.int64), np.empty(starts.size), np.empty(starts.size))
        window_peaks(x, r, starts, PAD * m, GUARD_BINS * PAD, *got)
        window_peaks_numpy(x, r, starts, PAD * m, GUARD_BINS * PAD, *want)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1:], want[1:], rtol=1e-9)
        # Windows on a chirp hold one clear tone; noise's stand barely above the rest.
        assert (got[2].max() > 4 * MARGIN_THRESHOLD) == signal


@pytest.mark.parametrize("signal", ["packet", "noise"])
def test_the_delimiter_is_the_first_down_chirp_of_all_the_windows(signal):
    """_first_down_chirp dechirps the windows a few at a time from the preamble's end: its
    answer is the first window, of all of them dechirped at once, where a down-chirp stands
    out more than the up-chirp (a packet: the delimiter; noise: none)."""
    from rfdetect.kernels.lora_sync import _first_down_chirp

    sf, bw_hz = 7, 125e3
    if signal == "packet":
        x, _ = _packet(sf, bw_hz, 0x34, 5.0, seed=2)
    else:
        rng = np.random.default_rng(2)
        x = ((rng.normal(size=60_000) + 1j * rng.normal(size=60_000)) * math.sqrt(0.5)).astype(np.complex64)
    y = np.ascontiguousarray(band_to_rate(x[: x.size - x.size % 96], FS, OFFSET_HZ, 2 * bw_hz), np.complex128)
    m = 1 << sf
    n, nb = 2 * m, PAD * m
    ref = conj_chirp(n, bw_hz * bw_hz / m, 2 * bw_hz)
    starts = np.arange(0, y.size - n, n, dtype=np.int64)
    up = (np.empty(starts.size, np.int64), np.empty(starts.size), np.empty(starts.size))
    down = (np.empty(starts.size, np.int64), np.empty(starts.size), np.empty(starts.size))
    window_peaks(y, ref, starts, nb, GUARD_BINS * PAD, *up)
    window_peaks(y, np.conj(ref), starts, nb, GUARD_BINS * PAD, *down)
    is_down = (down[2] >= MARGIN_THRESHOLD) & (down[2] > up[2])
    for j0 in (0, 3, 6):
        expected = [j for j in range(j0, starts.size) if is_down[j]][:1]
        assert _first_down_chirp(y, np.conj(ref), starts, j0, up[2], nb) == expected
    assert (signal == "packet") == bool(is_down.any())
