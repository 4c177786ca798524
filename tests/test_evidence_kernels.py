"""Evidence kernels against slow, obviously correct NumPy twins (seeded inputs, edges)."""
from __future__ import annotations

import numpy as np
import pytest

from rfdetect.kernels.evidence_droneid import sliding_energy, zc_cfo_search
from rfdetect.kernels.evidence_fsk import (CARRIER_FLOOR, averaged_power, carrier_present, convolve_same,
                                           discriminator, fsk_evidence, fsk_evidence_numpy, lattice_coherence,
                                           lattice_period, lowpass_same, pairwise_sum, slicer_runs, symbol_period,
                                           tone_energy_difference, two_level_centre)
from rfdetect.kernels.evidence_lora import (_references, band_to_rate, band_to_rate_numpy, chirp_reference, dechirp_par, lora_scores,
                                            lora_window_scores)
from rfdetect.kernels.evidence_ofdm import normalised_autocorr
from test_classify_signals import add_noise, gfsk, lora, noise

FS = 2.4e6


def cnoise(rng, n):
    return rng.standard_normal(n) + 1j * rng.standard_normal(n)


# ---- DroneID: correlation over lags and carrier offsets ----------------------------------
def twin_zc(x, refs, shifts, n_fft):
    """Direct: mix by -k bins, correlate with each unit-energy reference at every lag."""
    L = refs.shape[1]
    lags = x.shape[0] - L + 1
    corr = np.zeros((refs.shape[0], len(shifts)))
    lag = np.zeros((refs.shape[0], len(shifts)), np.int64)
    n = np.arange(x.shape[0])
    for s, k in enumerate(shifts):
        y = x * np.exp(-2j * np.pi * k * n / n_fft)
        for r in range(refs.shape[0]):
            vals = []
            for m in range(lags):
                seg = y[m:m + L]
                e = np.vdot(seg, seg).real
                vals.append(abs(np.vdot(refs[r], seg)) ** 2 / e if e > 0 else 0.0)
            corr[r, s] = max(vals)
            lag[r, s] = int(np.argmax(vals))
    return corr, lag


@pytest.mark.parametrize("seed", [0, 1])
def test_zc_cfo_search_matches_direct_correlation(seed):
    rng = np.random.default_rng(seed)
    L, n = 16, 40
    refs = cnoise(rng, 2 * L).reshape(2, L)
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    x = cnoise(rng, n)
    x[7:7 + L] += 20 * refs[0] * np.exp(2j * np.pi * 3 * np.arange(7, 7 + L) / 64)   # 3 bins up
    n_fft = 64
    X = np.fft.fft(x, n_fft)
    R = np.conj(np.fft.fft(refs, n_fft, axis=1))
    shifts = np.array([-4, 0, 3, 5], np.int64)
    energy = np.empty(n - L + 1)
    sliding_energy(x, L, energy)
    corr = np.empty((2, 4))
    lag = np.empty((2, 4), np.int64)
    zc_cfo_search(X, R, shifts, energy, corr, lag)
    twin_corr, twin_lag = twin_zc(x, refs, shifts, n_fft)
    np.testing.assert_allclose(corr, twin_corr, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(lag, twin_lag)
    assert lag[0, 2] == 7 and corr[0, 2] > 0.8     # the planted symbol, at its offset


def test_sliding_energy_edges():
    rng = np.random.default_rng(2)
    x = cnoise(rng, 10)
    out = np.empty(7)
    sliding_energy(x, 4, out)
    np.testing.assert_allclose(out, [np.sum(np.abs(x[m:m + 4]) ** 2) for m in range(7)], rtol=1e-12)
    out1 = np.empty(1)
    sliding_energy(x[:1], 1, out1)
    assert out1[0] == pytest.approx(abs(x[0]) ** 2)


# ---- LoRa: dechirp + FFT peak-to-average -----------------------------------------------
def twin_dechirp(x, ref, hop, windows):
    n = ref.shape[0]
    out = []
    for w in range(windows):
        p = np.abs(np.fft.fft(x[w * hop:w * hop + n] * ref)) ** 2
        out.append(p.max() / p.mean())
    return np.array(out)


@pytest.mark.parametrize("n,hop,direction", [(32, 16, 1), (64, 64, -1), (8, 3, 1)])
def test_dechirp_par_matches_numpy(n, hop, direction):
    rng = np.random.default_rng(n)
    x = cnoise(rng, 5 * n)
    windows = (x.shape[0] - n) // hop + 1
    out = np.empty(windows)
    ref = chirp_reference(n, direction)
    dechirp_par(x, ref, hop, out)
    np.testing.assert_allclose(out, twin_dechirp(x, ref, hop, windows), rtol=1e-9)


def test_dechirp_of_a_chirp_is_one_tone():
    n = 128
    up = np.conj(chirp_reference(n, 1))            # the up-chirp itself
    out = np.empty(1)
    dechirp_par(np.roll(up, 0), chirp_reference(n, 1), n, out)
    assert out[0] == pytest.approx(n, rel=1e-6)    # all energy in one of n bins
    dechirp_par(up, chirp_reference(n, -1), n, out)
    assert out[0] < 0.2 * n                        # wrong direction: spread


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_lora_window_scores_equal_lora_scores_per_sf(dtype):
    rng = np.random.default_rng(14)
    x = add_noise(lora(FS, 7, 500e3, 20, rng), 0.0, FS, 500e3, rng)
    x_bw = band_to_rate(x.astype(dtype), FS, 0.0, 500e3)[:5000].astype(dtype)
    sfs = (5, 6, 7, 9, 12, 13)                          # SF13: longer than x, no windows
    for direction in (1, -1):
        refs, noise_pars = _references(sfs, direction)
        scores, counts = np.empty(len(sfs)), np.empty(len(sfs), np.int64)
        lora_window_scores(x_bw, np.array(sfs), refs, noise_pars, scores, counts)
        # Bit for bit: the scores enter the output records.
        want = [lora_scores(x_bw, sf, direction) for sf in sfs]
        assert [(float(s), int(c)) for s, c in zip(scores, counts)] == want
    assert counts[2] > 0 and counts[-1] == 0


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("n", [4801, 10753, 28800])
def test_band_to_rate_is_its_numpy_twin(dtype, n):
    rng = np.random.default_rng(n)
    x = add_noise(lora(FS, 6, 500e3, 120, rng), 0.0, FS, 500e3, rng)[:n].astype(dtype)
    assert x.shape == (n,)
    for offset_hz in (0.0, -775e3, 310e3):
        got, want = band_to_rate(x, FS, offset_hz, 500e3), band_to_rate_numpy(x, FS, offset_hz, 500e3)
        assert got.dtype == want.dtype and got.shape == want.shape == (round(n * 500e3 / FS),)
        # Both FFTs are pocketfft's; they differ in the order of their operations only.
        tol = 2e-6 if dtype == np.complex64 else 1e-13
        assert np.abs(got - want).max() <= tol * np.abs(want).max()


def test_dechirp_zero_input_gives_zero():
    out = np.empty(2)
    dechirp_par(np.zeros(32, complex), chirp_reference(16, 1), 16, out)
    assert (out == 0).all()


# ---- FSK: discriminator and hysteresis slicer ---------------------------------------------
def test_discriminator_matches_numpy():
    rng = np.random.default_rng(3)
    x = cnoise(rng, 257)
    out = np.empty(256)
    discriminator(x, out)
    np.testing.assert_allclose(out, np.angle(x[1:] * np.conj(x[:-1])), atol=1e-12)
    empty = np.empty(0)
    discriminator(x[:1], empty)      # one sample: no frequency, no failure


def twin_runs(d, thr):
    state, last, runs, first = 0, 0, [], True
    signs = d >= 0
    for i, v in enumerate(d):
        s = 1 if v > thr else -1 if v < -thr else state
        if s != state:
            zc = max([j for j in range(1, i + 1) if signs[j] != signs[j - 1]], default=0)
            if state != 0:
                if first:
                    first = False
                else:
                    runs.append(zc - last)
            state, last = s, zc
    return runs


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_slicer_runs_match_numpy(seed):
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(500)
    out = np.empty(500, np.int64)
    n = slicer_runs(d, 0.5, out)
    assert list(out[:n]) == twin_runs(d, 0.5)
    # Bounded output: never writes past its end.
    small = np.empty(3, np.int64)
    assert slicer_runs(d, 0.5, small) == 3


@pytest.mark.parametrize("kernel_length", [1, 2, 3, 4, 33])
@pytest.mark.parametrize("step", [1, 2, 5, 40])
def test_convolve_same_is_np_convolve_decimated(kernel_length, step):
    rng = np.random.default_rng(kernel_length * 10 + step)
    h = rng.standard_normal(kernel_length)
    for x in (cnoise(rng, 101), rng.standard_normal(64)):
        out = np.empty(-(-x.shape[0] // step), x.dtype)
        convolve_same(x, h, step, out)
        want = np.convolve(x, h, "same")[::step]
        # (BLAS may sum a long kernel's terms in another order: equal to rounding.)
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
        if kernel_length <= 3 and x.dtype == np.float64:
            # NumPy's dot of the few terms at the edges goes through BLAS, whose kernel for
            # some CPUs fuses a multiply and an add (one rounding fewer): within 2 ulp.
            np.testing.assert_array_max_ulp(out, want, maxulp=2)
        if x.dtype == np.complex128:
            split = np.empty_like(out)
            lowpass_same(x, h, step, split)
            np.testing.assert_array_equal(split, out)        # the same sums, to the bit


def test_pairwise_sum_is_numpys_sum_bit_for_bit():
    rng = np.random.default_rng(15)
    for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4099]:
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)
        assert pairwise_sum(a) == np.sum(a)


def twin_symbol_period(runs):
    t0 = np.percentile(runs, 30)
    sel = runs[(runs > 0.5 * t0) & (runs < 1.5 * t0)]
    t = float(sel.mean()) if sel.size else float(t0)
    r = runs / t
    return t, float(np.mean(np.abs(r - np.round(r)) < 0.25))


@pytest.mark.parametrize("seed", [16, 17, 18])
def test_symbol_period_matches_numpy_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    for n in (1, 2, 8, 11, 57, 300):
        runs = (rng.integers(1, 4, n) * 37.0 + rng.integers(-3, 4, n)).astype(np.float64)
        assert symbol_period(runs) == twin_symbol_period(runs)
    runs = np.repeat([40.0, 80.0, 120.0], [10, 5, 3])
    assert symbol_period(runs) == (40.0, 1.0)


def _fsk_cases():
    rng = np.random.default_rng(19)
    yield gfsk(FS, 300e3, 100e3, 200, rng), 0.0, 400e3                               # no decimation
    for snr in (-3.0, 5.0, 15.0):
        x = add_noise(gfsk(FS, 50e3, 25e3, 300, rng), snr, FS, 100e3, rng)
        yield x * np.exp(2j * np.pi * 210e3 / FS * np.arange(x.size)), 210e3, 100e3     # decimated by 6
    yield add_noise(gfsk(FS, 17.24e3, 35e3, 160, rng, bt=None, p_one=0.8), 15.0, FS, 110e3, rng), 0.0, 110e3
    yield noise(20000, rng), 0.0, 500e3
    yield lora(FS, 7, 500e3, 20, rng), 0.0, 500e3
    yield (np.repeat(rng.random(40) < 0.5, 120) * np.exp(0.3j * np.arange(4800)) + 0.05 * noise(4800, rng)), \
        -50e3, 40e3                                                                    # OOK
    # Decimated by 12: 756 samples leave 63 (too short: None), 757 leave 64.
    yield noise(756, rng).astype(np.complex64), 0.0, 50e3
    yield noise(757, rng), 0.0, 50e3


def test_fsk_evidence_equals_its_numpy_twin():
    """The fused kernel gives the record the NumPy steps give, to the last digit shown."""
    results = [(fsk_evidence(x, FS, off, bw), fsk_evidence_numpy(x, FS, off, bw)) for x, off, bw in _fsk_cases()]
    for got, want in results:
        assert got == want
    assert results[-2] == (None, None) and results[-1][0] is not None
    assert sum(got["confirmed"] for got, _ in results[:-2]) >= 3


def test_slicer_counts_symbol_runs():
    sym = np.repeat([1, 1, -1, 1, -1, -1, -1, 1, -1, 1], 8).astype(float)
    out = np.empty(20, np.int64)
    n = slicer_runs(sym, 0.5, out)
    assert list(out[:n]) == [8, 8, 24, 8, 8]


# ---- OFDM: normalised autocorrelation ------------------------------------------------------
def test_normalised_autocorr_matches_numpy():
    rng = np.random.default_rng(7)
    x = cnoise(rng, 300)
    out = np.zeros(101)
    normalised_autocorr(x, 100, out)
    for lag in (0, 1, 17, 64, 100):
        a, b = x[:300 - lag], x[lag:]
        want = abs(np.vdot(b, a)) / np.sqrt(np.vdot(a, a).real * np.vdot(b, b).real)
        assert out[lag] == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert out[0] == pytest.approx(1.0)


def test_normalised_autocorr_finds_cyclic_prefix():
    rng = np.random.default_rng(8)
    parts = []
    for _ in range(10):
        s = cnoise(rng, 64)
        parts += [s[-16:], s]
    x = np.concatenate(parts)
    out = np.zeros(120)
    normalised_autocorr(x, 119, out)
    assert int(np.argmax(out[8:])) + 8 == 64
    assert out[64] == pytest.approx(16 / 80, abs=0.05)


def twin_two_level_centre(d, iterations=8):
    centre = float(np.median(d))
    for _ in range(iterations):
        hi, lo = d[d > centre], d[d <= centre]
        if hi.size == 0 or lo.size == 0:
            return centre
        new = 0.5 * (hi.mean() + lo.mean())
        if new == centre:
            break
        centre = new
    hi, lo = d[d > centre], d[d <= centre]
    return centre if hi.size == 0 or lo.size == 0 else 0.5 * (np.median(hi) + np.median(lo))


@pytest.mark.parametrize("seed,p_one", [(7, 0.8), (8, 0.5), (9, 0.2), (10, 0.95)])
def test_two_level_centre_matches_numpy(seed, p_one):
    rng = np.random.default_rng(seed)
    d = np.where(rng.random(3001) < p_one, 35e3, -35e3) + 500.0 + rng.normal(0.0, 8e3, 3001)
    assert two_level_centre(d) == pytest.approx(twin_two_level_centre(d), abs=1e-6)


def test_two_level_centre_is_the_midpoint_of_unbalanced_levels():
    rng = np.random.default_rng(7)
    d = np.where(rng.random(4000) < 0.8, 35e3, -35e3) + 500.0 + rng.normal(0.0, 3e3, 4000)
    assert np.median(d) > 30e3                        # the median sits on the frequent level
    assert two_level_centre(d) == pytest.approx(500.0, abs=300.0)
    assert two_level_centre(np.full(10, 7.0)) == 7.0  # one level: nothing to split


# ---- FSK below the discriminator's threshold: averaged spectrum, tone energies, lattice --------
def twin_averaged_power(x, window):
    n = window.shape[0]
    m = x.shape[0] // n
    if m == 0:
        return np.zeros(n), 0
    segs = x[:m * n].reshape(m, n) * window
    return np.mean(np.abs(np.fft.fft(segs, axis=1)) ** 2, axis=0), m


@pytest.mark.parametrize("n,length", [(64, 64 * 9 + 17), (16, 16), (32, 31)])
def test_averaged_power_matches_numpy(n, length):
    rng = np.random.default_rng(n + length)
    x = cnoise(rng, length)
    window = np.hanning(n)
    out = np.full(n, -1.0)
    m = averaged_power(x, window, out)
    want, m_twin = twin_averaged_power(x, window)
    assert m == m_twin
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)     # m = 0: zeros, no failure


def twin_tone_energy_difference(x, f1, f2, length):
    n = np.arange(x.shape[0])
    k = np.ones(length) / length
    y1 = np.convolve(x * np.exp(-2j * np.pi * f1 * n), k, "valid")
    y2 = np.convolve(x * np.exp(-2j * np.pi * f2 * n), k, "valid")
    return np.abs(y1) ** 2 - np.abs(y2) ** 2


@pytest.mark.parametrize("length,n", [(1, 50), (7, 3000), (34, 2100)])
def test_tone_energy_difference_matches_numpy(length, n):
    rng = np.random.default_rng(length)
    x = cnoise(rng, n)
    out = np.empty(n - length + 1)
    tone_energy_difference(x, 0.0123, -0.0456, length, out)
    np.testing.assert_allclose(out, twin_tone_energy_difference(x, 0.0123, -0.0456, length), rtol=1e-7, atol=1e-9)


def test_tone_energy_difference_nulls_the_other_tone():
    # A boxcar of 1/spacing samples has its first null on the other tone.
    n, length = 4000, 40
    t = np.arange(n)
    up = np.exp(2j * np.pi * t / length)                    # the upper tone, spacing 1/length
    out = np.empty(n - length + 1)
    tone_energy_difference(up, 1.0 / length, 0.0, length, out)
    np.testing.assert_allclose(out, 1.0, atol=1e-9)


def test_lattice_coherence_matches_numpy():
    rng = np.random.default_rng(10)
    dates = np.cumsum(rng.integers(1, 300, 57)).astype(float)
    periods = np.linspace(80.0, 200.0, 31)
    out = np.empty(31)
    lattice_coherence(dates, periods, out)
    want = np.abs(np.exp(2j * np.pi * dates[None, :] / periods[:, None]).mean(axis=1))
    np.testing.assert_allclose(out, want, rtol=1e-9, atol=1e-12)
    empty = np.empty(2)
    lattice_coherence(np.zeros(0), periods[:2], empty)
    assert (empty == 0).all()


def test_lattice_period_finds_the_symbol_period_through_clicks():
    rng = np.random.default_rng(9)
    period = 139.2
    boundaries = np.cumsum(rng.integers(1, 4, 60)) * period            # 1-3 symbol runs
    clicks = rng.uniform(0, boundaries[-1], 25)                         # noise: dates off the lattice
    dates = np.round(np.sort(np.concatenate([boundaries, clicks]))).astype(np.int64)
    runs = np.diff(dates)
    found, rayleigh = lattice_period(runs, 1.2 * period)                # a rough first guess
    assert found == pytest.approx(period, rel=0.005)
    assert rayleigh > 20
    noise_runs = rng.integers(20, 400, 80)
    assert lattice_period(noise_runs, 139.2)[1] < 10                    # random dates: no lattice


def twin_carrier_present(power, width):
    high = power >= CARRIER_FLOOR * np.sort(power)[(power.size - 1) * 9 // 10]
    lo, hi = width // 2, (width - 1) // 2          # the stretch around sample i ("same" alignment)
    inside = np.array([i - lo >= 0 and i + hi < power.size and high[i - lo:i + hi + 1].all()
                       for i in range(power.size)])
    return inside[1:] & inside[:-1]


@pytest.mark.parametrize("width", [1, 4, 7])
def test_carrier_present_matches_numpy(width):
    rng = np.random.default_rng(width)
    power = np.abs(cnoise(rng, 300)) ** 2 * np.repeat(rng.random(30) < 0.6, 10)
    np.testing.assert_array_equal(carrier_present(power, width), twin_carrier_present(power, width))


def test_carrier_present_leaves_out_gaps_and_their_spikes():
    """A pulse, a gap with one noise spike as high as the pulse, a pulse: the spike and the
    samples next to the gap and to the ends (within the stretch) are not carrier."""
    power = np.r_[np.ones(20), np.full(10, 0.01), np.ones(20)]
    power[25] = 1.0
    keep = carrier_present(power, 4)
    assert keep.shape == (49,)
    assert np.array_equal(np.nonzero(keep)[0], np.r_[2:18, 32:48])
