"""The chirp detector's confirmation and packet-following kernels against their NumPy twins,
on a LoRa frame in noise and on noise alone, and resumed block by block."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rfdetect.kernels.dechirp import (CONFIRM_OK, CONFIRM_OUT_OF_RANGE, CONFIRM_SPREAD, CONFIRM_WEAK, DATA_GRID_SHIFT,
                                      OFFSETS, RUN_SYMBOLS, ST_COUNT, ST_DONE, ST_GOOD, ST_LAST_GOOD, ST_NEXT, ST_SHIFT,
                                      ST_SYMBOLS, confirm_preamble, confirm_preamble_numpy, conj_chirp,
                                      follow_packet, follow_packet_numpy, preamble_coherence,
                                      preamble_coherence_numpy)
from rfdetect.simulate.lora import lora_frame

FS, BW, SF = 2.4e6, 500e3, 6
N = int(round((1 << SF) / BW * FS))          # 307 samples a symbol
NFFT = 320
NB = 2 * NFFT
REF = conj_chirp(N, BW * BW / (1 << SF), FS)
REF_DOWN = np.conj(REF)


def _frame_in_noise(snr_db: float, at: int, carrier_hz: float, seed: int, n_data: int = 20):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 1 << SF, n_data)
    frame = lora_frame(FS, SF, BW, 8, 0x12, data)
    amp = math.sqrt(10 ** (snr_db / 10) * BW / FS)           # in-band SNR against unit noise
    total = at + frame.size + 20 * N
    x = (rng.normal(size=total) + 1j * rng.normal(size=total)) * math.sqrt(0.5)
    x[at:at + frame.size] += amp * frame * np.exp(2j * np.pi * carrier_hz / FS * np.arange(frame.size))
    return x.astype(np.complex64)


def _both_confirm(x, a, k_top, threshold=5.0, k_win=7):
    out, twin = np.empty(8), np.empty(8)
    k_bw = BW / FS * NB
    confirm_preamble(x, a, REF, NB, k_win, k_top, k_bw, threshold, out)
    confirm_preamble_numpy(x, a, REF, NB, k_win, k_top, k_bw, threshold, twin)
    return out, twin


def test_confirmation_equals_its_twin_on_a_preamble():
    carrier = -310e3
    at = 5000
    x = _frame_in_noise(-3.0, at, carrier, seed=4)
    # The search's view: the candidate's last window a quarter symbol into the preamble's 8th
    # symbol (two steps of the boundary grid), its peak the chirp's frequency there.
    boundary = at + int(round(7 * (1 << SF) / BW * FS))
    a = boundary + int(round(2 * N / OFFSETS))
    f_top = carrier - BW / 2 + BW * (a - boundary) / N
    out, twin = _both_confirm(x, a, f_top / FS * NB)
    assert out[0] == twin[0] == CONFIRM_OK
    np.testing.assert_array_equal(out[[1, 2, 6]], twin[[1, 2, 6]])       # boundary, bin, first symbol
    np.testing.assert_allclose(out[[3, 4, 5]], twin[[3, 4, 5]], rtol=1e-4)
    # It found the frame: its first symbol within a sample or two, its start tone at the carrier.
    assert abs(out[6] - at) <= 2
    k = int(out[2])
    f0 = ((k * FS / NB) + FS / 2) % FS - FS / 2
    assert abs(f0 - (carrier - BW / 2)) < 2 * FS / NB
    assert out[5] > 20.0            # the full gain of 7 aligned windows: far above threshold


def test_confirmation_equals_its_twin_in_noise_and_at_the_edges():
    rng = np.random.default_rng(9)
    x = ((rng.normal(size=20 * N) + 1j * rng.normal(size=20 * N)) * 0.01).astype(np.complex64)
    for k_top in (3.2, 200.7, -150.4):
        out, twin = _both_confirm(x, 12 * N, k_top)
        assert out[0] == twin[0] == CONFIRM_WEAK
        np.testing.assert_allclose(out[5], twin[5], rtol=1e-4)
        assert 1.0 < out[5] < 5.0
    # The windows would reach before the buffer's start, or past its end.
    for a in (6 * N, x.size - N + 1):
        out, twin = _both_confirm(x, a, 3.2)
        assert out[0] == twin[0] == CONFIRM_OUT_OF_RANGE


SYM = (1 << SF) / BW * FS                    # 307.2 samples
RATE = BW * BW / (1 << SF) / FS / FS         # the sweep, in cycles per sample^2


def test_a_preamble_is_coherent_and_noise_is_not():
    """The tone of a preamble's windows keeps its phase step from window to window; noise's
    does not, whatever the windows' powers.  Kernel and twin agree."""
    carrier, at = -310e3, 5000
    for snr_db, low, high in ((10.0, 6.0, 7.0), (-10.0, 3.0, 7.0)):
        x = _frame_in_noise(snr_db, at, carrier, seed=2)
        u = at + int(round(7 * SYM))                      # the 8th up-chirp, on its boundary
        k = int(round((carrier - BW / 2) / FS * NB)) % NB
        c = preamble_coherence(x, u, N, k, NB, 7, SYM, RATE)
        assert c == pytest.approx(preamble_coherence_numpy(x, u, N, k, NB, 7, SYM, RATE), rel=1e-6)
        assert low < c <= high
    rng = np.random.default_rng(5)
    x = ((rng.normal(size=40 * N) + 1j * rng.normal(size=40 * N)) * 0.01).astype(np.complex64)
    noise = [preamble_coherence(x, 12 * N + 37 * i, N, 100 + 3 * i, NB, 11, SYM, RATE) for i in range(60)]
    assert np.median(noise) < 5.5 and max(noise) < 8.5      # (the best of 320 phase steps and tones)


def test_noises_coherence_tail_is_under_the_confirmations_model():
    """The chance that noise's coherence over k_win windows reaches c, which sets the power
    sum's threshold on the coherent way, is modelled as COHERENCE_TRIALS_PER_WINDOW * k_win *
    exp(-c): in the tail, where that threshold sits (0.6 * k_win), the model must not
    understate it.  (It is a tail's model: at 4-5, under half the windows' count, noise
    reaches it more often than it says.)"""
    from rfdetect.kernels.dechirp import COHERENCE_TRIALS_PER_WINDOW
    rng = np.random.default_rng(8)
    k_win = 11
    x = (rng.normal(size=400 * N) + 1j * rng.normal(size=400 * N)).astype(np.complex64)
    step = (x.size - 13 * N) // 1500
    c = np.array([preamble_coherence(x, 12 * N + step * i, N, int(rng.integers(NB)), NB, k_win, SYM, RATE)
                  for i in range(1500)])
    for level in (6.0, 0.6 * k_win, 7.0):
        assert 0.0 < (c >= level).mean() <= COHERENCE_TRIALS_PER_WINDOW * k_win * math.exp(-level)


def test_the_coherent_way_equals_its_twin_and_passes_a_weak_preamble():
    """Under the power sum's threshold, a coherent tone passes on the second way; the twin
    takes the same decisions."""
    carrier, at = 120e3, 5000
    passed = 0
    for seed in range(6):
        x = _frame_in_noise(-10.0, at, carrier, seed=seed, n_data=30)
        boundary = at + int(round(7 * SYM))
        a = boundary + int(round(2 * N / OFFSETS))
        f_top = carrier - BW / 2 + BW * (a - boundary) / N
        k_bw = BW / FS * NB
        out, twin = np.empty(8), np.empty(8)
        args = (x, a, REF, NB, 7, f_top / FS * NB, k_bw, 1e9)
        confirm_preamble(*args, out, 2.0, 4.0, SYM, RATE)
        confirm_preamble_numpy(*args, twin, 2.0, 4.0, SYM, RATE)
        assert out[0] == twin[0]
        np.testing.assert_allclose(out[7], twin[7], rtol=1e-5)
        passed += out[0] == CONFIRM_OK
        assert out[0] == CONFIRM_OK or out[7] < 4.0 or out[5] < 2.0
    assert passed >= 4


def _search_peak(x, a):
    """The bin of the dechirped window x[a:a+N] at which the search would see its peak."""
    return float(np.argmax(np.abs(np.fft.fft((x[a:a + N] - x[a:a + N].mean()) * REF, n=NB)) ** 2))


@pytest.mark.parametrize("kind", ["lorawan-sf12", "tone", "ook-pulses"])
def test_a_strong_signal_the_dechirp_spreads_is_no_preamble(kind):
    """Dechirped at SF6 / 500 kHz, a strong slow LoRa chirp (SF12 / 125 kHz), a tone or OOK
    pulses spread over a bandwidth of bins with a ripple that repeats in every window: its
    peak passes the preamble test, and the spread test turns it away."""
    rng = np.random.default_rng(3)
    total = 40 * N
    x = (rng.normal(size=total) + 1j * rng.normal(size=total)) * math.sqrt(0.5)
    t = np.arange(total) / FS
    amp = math.sqrt(10 ** (26.0 / 10) * 125e3 / FS)
    if kind == "lorawan-sf12":
        sig = lora_frame(FS, 12, 125e3, 8, 0x34, [7])[:total] * np.exp(2j * np.pi * 300e3 * t)
    elif kind == "tone":
        sig = np.exp(2j * np.pi * (-420e3 * t + 0.3))
    else:       # 400 us on, 600 us off
        sig = np.exp(2j * np.pi * 180e3 * t) * ((t % 1e-3) < 4e-4)
    x = (x + amp * sig).astype(np.complex64)
    a = 20 * N
    out, twin = _both_confirm(x, a, _search_peak(x, a))
    assert out[0] == twin[0] == CONFIRM_SPREAD
    assert out[5] > 5.0             # its ripple passed the preamble test


@pytest.mark.parametrize("seed", [2, 3])
def test_a_tone_under_its_threshold_against_a_raised_level_around_it_is_weak(seed):
    """A weak tone 150 kHz from a preamble at -9 dB in-band (the splatter of an OOK remote's
    keying is such a signal) raises the bins around the preamble's tone by 2-3 deviations of
    their mean: too little for the spread test, but against that level a tone just over the
    threshold is not over it.  Without the tone the same preamble is confirmed."""
    carrier, at = -310e3, 5000
    x0 = _frame_in_noise(-9.0, at, carrier, seed=seed)
    boundary = at + int(round(7 * (1 << SF) / BW * FS))
    a = boundary + int(round(2 * N / OFFSETS))
    k_top = (carrier - BW / 2 + BW * (a - boundary) / N) / FS * NB
    clean, _ = _both_confirm(x0, a, k_top, threshold=1.0)
    threshold = 0.9 * clean[5]
    out, twin = _both_confirm(x0, a, k_top, threshold=threshold)
    assert out[0] == twin[0] == CONFIRM_OK
    t = np.arange(x0.size) / FS
    x = (x0 + 10 ** (-11 / 20) * np.exp(2j * np.pi * (carrier + 150e3) * t)).astype(np.complex64)
    out, twin = _both_confirm(x, a, k_top, threshold=threshold)
    assert out[5] >= threshold and twin[5] >= threshold          # over it against the whole band's mean
    assert out[0] == twin[0] == CONFIRM_WEAK


@pytest.mark.parametrize("snr_db", [-12.0, 0.0, 20.0])
def test_a_preamble_is_not_spread(snr_db):
    """A preamble's tone keeps its energy in its main lobe: from below the noise to 20 dB,
    it is confirmed."""
    carrier, at = -310e3, 5000
    hits = 0
    for seed in range(6):
        x = _frame_in_noise(snr_db, at, carrier, seed=seed)
        boundary = at + int(round(7 * (1 << SF) / BW * FS))
        a = boundary + int(round(2 * N / OFFSETS))
        f_top = carrier - BW / 2 + BW * (a - boundary) / N
        out, twin = _both_confirm(x, a, f_top / FS * NB, threshold=4.0 if snr_db < 0 else 5.0)
        assert out[0] == twin[0] and out[0] != CONFIRM_SPREAD
        hits += out[0] == CONFIRM_OK
    assert hits >= (4 if snr_db < 0 else 6)


def _packet_state(anchor: int, symbols: int, sym: float, confirmed_end: int) -> np.ndarray:
    st = np.zeros(ST_COUNT, np.int64)
    st[ST_NEXT], st[ST_SYMBOLS], st[ST_LAST_GOOD] = anchor + int(round(symbols * sym)), symbols, confirmed_end
    return st


@pytest.mark.parametrize("blocks", [1, 7])
def test_following_equals_its_twin_and_ends_with_the_frame(blocks):
    carrier, at, n_data = 250e3, 3000, 24
    x = _frame_in_noise(-3.0, at, carrier, seed=4, n_data=n_data)
    x0 = 1000                                   # the buffer's first absolute sample
    noise = float(np.mean(np.abs(x[:at]) ** 2))     # one window's mean bin (|ref| = 1)
    k0 = int(round((carrier - BW / 2) / FS * NB))
    width = int(round(BW / FS * NB))
    run_thr = math.log(1 << SF) + 0.58 + 1.5
    first = x0 + at
    sym = (1 << SF) / BW * FS
    results = []
    for kernel in (follow_packet, follow_packet_numpy):
        # As after a confirmation of the first 6 preamble symbols.
        st, peaks = _packet_state(first, 6, sym, first + 6 * N), np.zeros(RUN_SYMBOLS + 1)
        ends = np.linspace(first + 8 * N, x0 + x.size, blocks + 1)[1:]
        for until in ends:                     # as blocks arrive
            kernel(x, x0, REF, REF_DOWN, NB, k0 % NB, width, noise, run_thr, first, sym, first + 10 ** 6, int(until),
                   st, peaks)
        results.append((st.copy(), peaks.copy()))
    (st, peaks), (st2, peaks2) = results
    np.testing.assert_array_equal(st, st2)
    np.testing.assert_allclose(peaks, peaks2, rtol=1e-4)
    assert st[ST_DONE] == 1
    # 2 preamble symbols, 2 sync, 2 down-chirps and the data each hold a tone (the data on
    # their grid, a quarter symbol on), and the packet ends within a symbol of the frame's end.
    assert st[ST_SHIFT] == int(round(DATA_GRID_SHIFT * sym))
    frame_end = first + int(round((8 + 4.25 + n_data) * sym))
    assert st[ST_GOOD] >= n_data + 5
    assert abs(st[ST_LAST_GOOD] - frame_end) <= N


def test_following_stops_at_the_data_it_has():
    rng = np.random.default_rng(2)
    x = ((rng.normal(size=40 * N) + 1j * rng.normal(size=40 * N)) * math.sqrt(0.5)).astype(np.complex64)
    st, peaks = _packet_state(0, 8, N + 0.2, 8 * N), np.zeros(RUN_SYMBOLS + 1)
    follow_packet(x, 0, REF, REF_DOWN, NB, 10, 133, 1.0, 10.0, 0, N + 0.2, 10 ** 6, 9 * N + N // 2, st, peaks)
    # Only one more whole symbol fits before ``until``: noise, not yet RUN_SYMBOLS of it.
    assert st[ST_SYMBOLS] == 9 and st[ST_DONE] == 0 and st[ST_NEXT] == int(round(9 * (N + 0.2)))
    follow_packet(x, 0, REF, REF_DOWN, NB, 10, 133, 1.0, 10.0, 0, N + 0.2, 10 ** 6, 10 ** 6, st, peaks)
    assert st[ST_DONE] == 1 and st[ST_SYMBOLS] == 8 + RUN_SYMBOLS      # noise: ends after RUN_SYMBOLS
