"""Each detection kernel against a slow, obviously correct NumPy/SciPy twin."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

from rfdetect.detect import BurstDetector, DetectorConfig
from rfdetect.detect.spectrogram import Spectrogram, make_window
from rfdetect.kernels import bursts as K


def scipy_twin(x, nfft, hop):
    """|STFT|^2 / (sum w)^2, fft-shifted, frames as rows."""
    _, _, sxx = scipy.signal.spectrogram(x, window=scipy.signal.get_window("hann", nfft), nperseg=nfft,
                                         noverlap=nfft - hop, detrend=False, return_onesided=False,
                                         scaling="spectrum", mode="psd")
    return np.fft.fftshift(sxx, axes=0).T


@pytest.mark.parametrize("backend", ["fftw", "rocket"])
@pytest.mark.parametrize("nfft,hop,n", [(256, 128, 50_000), (1024, 512, 70_001), (64, 64, 640), (128, 32, 1000)])
def test_spectrogram_matches_scipy(backend, nfft, hop, n):
    rng = np.random.default_rng(nfft + n)
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    ours = Spectrogram(nfft, hop, backend=backend, batch_frames=37).compute(x)
    ref = scipy_twin(x.astype(np.complex128), nfft, hop)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=1e-6 * ref.max())


def test_windowing_bytes_matches_converting_then_windowing():
    """window_frames on bytes against its twin: the bytes converted (cu8_to_c64), then
    windowed in NumPy; bit for bit."""
    from rfdetect.kernels.convert import cu8_to_c64
    from rfdetect.kernels.spectrogram import window_frames

    rng = np.random.default_rng(5)
    raw = rng.integers(0, 256, (5000, 2), dtype=np.uint8)
    window2 = np.repeat(make_window("hann", 256), 2)
    out = np.empty((20, 512), np.float32)
    window_frames(raw.reshape(-1), window2, 100, 37, 20, out)
    xf = cu8_to_c64(raw)[0].view(np.float32)
    twin = np.stack([xf[2 * (37 + i * 100): 2 * (37 + i * 100) + 512] * window2 for i in range(20)])
    np.testing.assert_array_equal(out.view(np.uint32), twin.view(np.uint32))


@pytest.mark.parametrize("backend", ["fftw", "rocket"])
def test_spectrogram_edge_cases(backend):
    sp = Spectrogram(64, 32, backend=backend)
    assert sp.compute(np.zeros(0, np.complex64)).shape == (0, 64)
    assert sp.compute(np.zeros(63, np.complex64)).shape == (0, 64)
    assert sp.compute(np.ones(64, np.complex64)).shape == (1, 64)
    # A full-scale tone on a bin centre reads 1.0 in that bin.
    n = np.arange(64)
    tone = np.exp(2j * np.pi * 5 * n / 64).astype(np.complex64)
    p = sp.compute(tone)[0]
    assert p.argmax() == 32 + 5 and abs(p[32 + 5] - 1.0) < 1e-5
    # NaN poisons only the frames that contain it.
    x = np.ones(64 * 4, np.complex64)
    x[10] = np.nan
    p = sp.compute(x)
    assert np.isnan(p[0]).all() and np.isfinite(p[2:]).all()


def test_window_is_periodic_hann():
    np.testing.assert_allclose(make_window("hann", 256), scipy.signal.get_window("hann", 256), atol=1e-7)
    np.testing.assert_allclose(make_window("blackman", 128), scipy.signal.get_window("blackman", 128), atol=1e-7)


@pytest.mark.parametrize("h", [0, 1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 5, 7, 256])
def test_smooth_matches_clipped_moving_average(h, n):
    p = np.random.default_rng(n).exponential(size=n).astype(np.float32)
    out = np.empty_like(p)
    K.make_smooth(h)(p, out)
    twin = np.array([p[max(k - h, 0): k + h + 1].mean() for k in range(n)])
    np.testing.assert_allclose(out, twin, rtol=1e-5)


@pytest.mark.parametrize("h", [0, 1, 2, 4, 7])
@pytest.mark.parametrize("n", [1, 3, 16, 256])
def test_box_sum_matches_clipped_moving_sum(h, n):
    p = np.random.default_rng(n + h).exponential(size=n).astype(np.float32)
    p[n // 2] = 1e6          # a strong bin leaves nothing behind once out of the window
    rows = np.empty((3, n), np.float32)       # sums of a row into another row
    K.box_sum(p.reshape(1, n), 0, rows, 1, h, np.empty((3, n + 2 * h), np.float32))
    out = rows[1]
    twin = np.array([p[max(k - h, 0): k + h + 1].astype(np.float64).sum() for k in range(n)])
    np.testing.assert_allclose(out, twin, rtol=1e-6)
    far = np.abs(np.arange(n) - n // 2) > h
    np.testing.assert_allclose(out[far], twin[far], rtol=1e-5, atol=0)


def floor_twin(frames, floor0, thr_lo, alpha, rise):
    """Censored exponential average, one frame at a time (no step rule)."""
    floor = floor0.astype(np.float64).copy()
    history = []
    for s in frames:
        hot = s > thr_lo * floor
        floor = np.where(hot, floor * rise, floor + alpha * (s - floor))
        history.append(floor.copy())
    return np.array(history)


def test_floor_update_and_cfar_match_twins():
    rng = np.random.default_rng(0)
    frames = rng.exponential(size=(200, 64)).astype(np.float32)
    frames[50:80, 10:20] *= 30           # a burst must not lift the floor
    floor = np.ones(64, np.float32)
    twin = floor_twin(frames, floor, 3.0, 0.01, 1.001)
    for i, s in enumerate(frames):
        hot = np.empty(64, np.bool_)
        n = K.cfar_row(s, floor, np.float32(3.0), hot)
        np.testing.assert_array_equal(hot, s > 3.0 * floor)
        assert n == hot.sum()
        K.update_floor(s, floor, np.float32(3.0), np.float32(0.01), np.float32(1.001))
        np.testing.assert_allclose(floor, twin[i], rtol=1e-4)
    assert floor[10:20].max() < 1.2    # censored: the burst did not raise it


def regions_twin(power, floor, thr_lo, thr_hi, h):
    """Hysteresis regions by labelling: hot cells (smoothed > thr_lo * floor),
    8-connected, kept if a cell exceeds thr_hi; returned as (t0, t1, lo, hi)."""
    kernel = np.ones(2 * h + 1) / (2 * h + 1)
    s = np.array([np.convolve(p, kernel, mode="same") for p in power])
    hot = s > thr_lo * floor
    labels, n = scipy.ndimage.label(hot, structure=np.ones((3, 3)))
    out = []
    for i, sl in enumerate(scipy.ndimage.find_objects(labels), start=1):
        if (s[sl][labels[sl] == i] > thr_hi * floor[sl[1]][None, :].repeat(labels[sl].shape[0], 0)[labels[sl] == i]).any():
            out.append((sl[0].start, sl[0].stop - 1, sl[1].start, sl[1].stop - 1))
    return sorted(out)


def run_kernel(power, floor, thr_lo, thr_hi, h, batch, max_gap=0, min_cells=1, max_active=256,
               power_scale=0.0):
    """The fused frame kernel with the floor held fixed (alpha 0, rise 1), as the twin assumes.
    ``power`` may be spectra (2*bins columns), squared with ``power_scale`` in the kernel."""
    frames, bins = power.shape[0], floor.size
    state = np.zeros(K.S_COLS, np.int64)
    state[K.S_FRAME] = state[K.S_PROC] = -1
    floor = floor.astype(np.float32).copy()
    ring = np.zeros((1024, bins), np.float32)
    rows = np.zeros((4, 1, bins), np.float32)
    active = np.zeros((max_active, K.A_COLS), np.int64)
    peak = np.zeros((max_active, 2))
    closed = np.zeros((max_active, K.O_COLS))
    fparams = np.zeros(K.F_COLS)
    fparams[[K.F_THR_LO, K.F_THR_HI, K.F_STEP_RATIO, K.F_STEP_FRACTION, K.F_RISE, K.F_LEVEL_RATIO]] = (
        thr_lo, thr_hi, 1e9, 1.0, 1.0, 1e9)
    iparams = np.zeros(K.I_COLS, np.int64)
    iparams[[K.I_STEP_FRAMES, K.I_MAX_GAP, K.I_MIN_FRAMES, K.I_MIN_CELLS, K.I_FREQ_TOL]] = (
        10**9, max_gap, 1, min_cells, 1)
    fparams[K.F_POWER_SCALE] = power_scale
    kernel = K.make_frame_kernel(h)
    for f0 in range(0, frames, batch):
        assert kernel(power[f0:f0 + batch], state, floor, ring, rows, active, peak, closed,
                      fparams, iparams, False) == 0
    K.close_all(state, active, peak, closed, ring, floor, 1, min_cells)
    return closed[: state[K.S_CLOSED]]


def test_region_extraction_matches_labelling_twin():
    """Well separated boxes above a fixed floor: the streaming tracker and the
    labelling twin find the same regions, whatever the batch size."""
    rng = np.random.default_rng(7)
    frames, bins = 400, 128
    power = (rng.uniform(0.2, 1.0, size=(frames, bins))).astype(np.float32)
    boxes = [(10, 30, 5, 20), (15, 16, 60, 62), (100, 250, 90, 120), (300, 300, 40, 44), (320, 390, 2, 10)]
    for t0, t1, lo, hi in boxes:
        power[t0:t1 + 1, lo:hi + 1] = 50.0
    floor = np.ones(bins, np.float32)
    twin = regions_twin(power, floor, 3.0, 10.0, 1)
    for batch in (1, 17, 400):
        found = sorted(tuple(int(v) for v in r[[K.O_T0, K.O_T1, K.O_LO, K.O_HI]])
                       for r in run_kernel(power, floor, 3.0, 10.0, h=1, batch=batch))
        assert found == twin, (batch, found, twin)
    # Smoothing widens each box by h bins on each side.
    assert twin[0] == (10, 30, 4, 21)


def test_runs_across_word_and_band_edges_match_labelling_twin():
    """Single frames of random hot cells (runs of every length, at the band's edges and
    across the eight-bin words the kernel skips by): one region per run."""
    rng = np.random.default_rng(11)
    frames, bins = 240, 128
    power = np.full((frames, bins), 0.5, np.float32)
    for t in range(2, frames, 3):
        power[t, rng.random(bins) < (0.1 + 0.8 * rng.random())] = 50.0
    power[5, :] = 50.0                 # the whole band
    power[8, [0, 7, 8, 15, 16, 127]] = 50.0
    floor = np.ones(bins, np.float32)
    twin = regions_twin(power, floor, 3.0, 10.0, 0)
    assert len(twin) > 1000
    for batch in (7, 240):
        found = sorted(tuple(int(v) for v in r[[K.O_T0, K.O_T1, K.O_LO, K.O_HI]])
                       for r in run_kernel(power, floor, 3.0, 10.0, h=0, batch=batch, max_active=4096))
        assert found == twin


def test_region_measurements_match_numpy_twin():
    """Edges, SNR and peak of one flat box, against the same quantities in NumPy."""
    frames, bins = 120, 64
    power = np.ones((frames, bins), np.float32)
    t0, t1, lo, hi, level = 40, 79, 20, 35, 21.0
    power[t0:t1 + 1, lo:hi + 1] = level
    power[60, 30] = 100.0
    (row,) = run_kernel(power, np.ones(bins), 3.0, 10.0, h=1, batch=50)
    excess = power[t0:t1 + 1].mean(axis=0) - 1.0
    assert row[K.O_PEAK] == power.max()
    # -10 dB edges interpolated between the bin outside and the first bin inside.
    thr = 0.1 * np.sort(excess[lo - 1:hi + 2])[(hi - lo + 3) // 2:].mean()
    assert row[K.O_FLO] == pytest.approx(lo - 1 + thr / excess[lo], abs=1e-6)
    assert row[K.O_FHI] == pytest.approx(hi + 1 - thr / excess[hi], abs=1e-6)
    # Time edges: half-power crossings between frames; a sharp edge lands half-way.
    assert row[K.O_START] == pytest.approx(t0 - 0.5)
    assert row[K.O_END] == pytest.approx(t1 + 0.5)
    # SNR: median in-band excess over the band's noise, in the bins between the edges.
    k0, k1 = int(np.floor(row[K.O_FLO] + 0.5)), int(np.floor(row[K.O_FHI] + 0.5))
    band = power[t0:t1 + 1, k0:k1 + 1].sum(axis=1) - (k1 - k0 + 1)
    assert row[K.O_SNR] == pytest.approx(np.median(band) / (k1 - k0 + 1), rel=1e-6)


def test_short_strong_burst_in_a_region_noise_kept_open_is_measured_on_its_frames():
    """A whole-band box of three frames, then a chain of single hot cells, each touching the
    last, that keeps the region open for twelve more frames (noise cells in a wide band do):
    the SNR and time edges are the box's, against NumPy on its frames, not those of a median
    frame of noise."""
    frames, bins = 80, 64
    power = np.ones((frames, bins), np.float32)
    t0, t1, level = 30, 32, 101.0
    power[t0:t1 + 1, :] = level
    for t in range(t1 + 1, t1 + 13):
        power[t, 10 + t - t1] = 8.0
    (row,) = run_kernel(power, np.ones(bins), 3.0, 10.0, h=0, batch=50)
    assert row[K.O_T1] >= t1 + 12           # the region ran on
    k0, k1 = max(int(np.floor(row[K.O_FLO] + 0.5)), 0), min(int(np.floor(row[K.O_FHI] + 0.5)), bins - 1)
    energy = power[:, k0:k1 + 1].sum(axis=1) - (k1 - k0 + 1)
    plateau = np.median(energy[t0:t1 + 1])
    assert row[K.O_SNR] == pytest.approx(plateau / (k1 - k0 + 1), rel=1e-6)
    # Half-power crossings, interpolated with the frames outside (the first hot cell after).
    half = 0.5 * plateau
    assert row[K.O_START] == pytest.approx(t0 - 1 + (half - energy[t0 - 1]) / (energy[t0] - energy[t0 - 1]))
    assert row[K.O_END] == pytest.approx(t1 + (energy[t1] - half) / (energy[t1] - energy[t1 + 1]))
    assert abs(row[K.O_START] - (t0 - 0.5)) < 0.01 and abs(row[K.O_END] - (t1 + 0.5)) < 0.01


@pytest.mark.parametrize("backend", ["fftw", "rocket"])
def test_spectrogram_batches_are_the_frames_of_compute(backend):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(20_000) + 1j * rng.standard_normal(20_000)).astype(np.complex64)
    head = x[:300].copy()
    sp = Spectrogram(256, 128, backend=backend, batch_frames=37)
    whole = sp.compute(x[300:], head=head)
    batches = [b.copy() for b in sp.batches(x[300:], head)]
    assert [b.shape[0] for b in batches[:-1]] == [37] * (len(batches) - 1)
    np.testing.assert_array_equal(np.concatenate(batches), whole)
    np.testing.assert_array_equal(whole, sp.compute(x))       # the head joined without a copy


def shifted_power_twin(spectra, scale):
    """fftshift(|X|^2) * scale in float32, rows of complex64 spectra."""
    return np.fft.fftshift((spectra.real * spectra.real + spectra.imag * spectra.imag) * scale, axes=1)


def test_shifted_power_row_matches_numpy_twin_and_the_spectrogram_kernel():
    from rfdetect.kernels.spectrogram import shifted_power
    rng = np.random.default_rng(5)
    spectra = (rng.standard_normal((9, 64)) + 1j * rng.standard_normal((9, 64))).astype(np.complex64) * 30
    scale = np.float32(1 / 1024.0 ** 2 * 3)
    rows = np.empty((9, 64), np.float32)
    for i in range(9):
        K.shifted_power_row(spectra[i].view(np.float32), scale, rows[i])
    np.testing.assert_array_equal(rows, shifted_power_twin(spectra, scale))
    whole = np.empty_like(rows)
    shifted_power(spectra.view(np.float32), 9, scale, whole, 0)
    np.testing.assert_array_equal(rows, whole)


def test_frame_kernel_takes_spectra_as_their_power():
    """Spectra squared inside the frame kernel give the regions, edges and levels of their
    power frames computed apart, to the bit."""
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(120_000) + 1j * rng.standard_normal(120_000)).astype(np.complex64) * 0.05
    t = np.arange(20_000)
    x[30_000:50_000] += 0.5 * np.exp(2j * np.pi * 0.1 * t)          # a tone burst
    x[80_000:100_000] += 0.3 * np.exp(2j * np.pi * -0.3 * t)
    sp = Spectrogram(128, 64, batch_frames=64)
    power = sp.compute(x)
    spectra = np.concatenate([s.copy() for s in sp.spectra(x)])
    assert spectra.shape == (power.shape[0], 256)
    np.testing.assert_array_equal(np.concatenate([sp.power_of(s) for s in sp.spectra(x)]), power)
    floor = np.full(128, np.median(power), np.float32)
    for batch in (13, 64):
        from_power = run_kernel(power, floor, 3.0, 10.0, h=1, batch=batch, max_gap=2)
        from_spectra = run_kernel(spectra, floor, 3.0, 10.0, h=1, batch=batch, max_gap=2,
                                  power_scale=sp.scale)
        assert len(from_power) >= 2
        np.testing.assert_array_equal(from_spectra, from_power)


def test_closed_region_horizon_is_the_earliest_start_still_open():
    """Regions close in end order: a short burst closing while a long one is open says so
    (its horizon is the long one's start), and no region closed after any other starts
    before that one's horizon, whatever the batch size."""
    rng = np.random.default_rng(3)
    frames, bins = 300, 128
    power = (rng.uniform(0.2, 1.0, size=(frames, bins))).astype(np.float32)
    # (t0, t1, lo, hi): a long burst, two short ones closing inside it, one after it.
    boxes = [(20, 200, 10, 30), (60, 70, 60, 70), (150, 155, 90, 100), (240, 250, 40, 50)]
    for t0, t1, lo, hi in boxes:
        power[t0:t1 + 1, lo:hi + 1] = 50.0
    floor = np.ones(bins, np.float32)
    for batch in (1, 13, 300):
        closed = run_kernel(power, floor, 3.0, 10.0, h=1, batch=batch)
        by_start = {int(r[K.O_T0]): r for r in closed}
        assert sorted(by_start) == [20, 60, 150, 240]
        assert by_start[60][K.O_HORIZON] == 20 and by_start[150][K.O_HORIZON] == 20
        # Alone when it closed: the horizon is the frame being decided, past its end.
        assert by_start[240][K.O_HORIZON] > 250 and by_start[20][K.O_HORIZON] > 200
        for i, row in enumerate(closed):
            assert all(later[K.O_T0] >= row[K.O_HORIZON] for later in closed[i + 1:])
