"""Simulator kernels against their slow NumPy twins, and the channel impairments."""
from __future__ import annotations


import numpy as np
import pytest

from rfdetect.simulate import generate
from rfdetect.simulate.channel import doppler_hz, multipath_taps
from rfdetect.simulate.frontend import RtlSdrModel
from rfdetect.simulate.kernels import gauss_noise, gauss_noise_numpy, mix_add, mix_add_numpy
from rfdetect.simulate.lora import lora_frame, lora_frame_numpy
from rfdetect.simulate.scenario import FrontEnd


@pytest.mark.parametrize("sf,bw,fs", [(6, 500e3, 2.4e6), (7, 812.5e3, 4e6), (12, 125e3, 1e6), (5, 500e3, 1.7e6)])
def test_lora_kernel_matches_numpy(sf, bw, fs):
    d = np.random.default_rng(sf).integers(0, 1 << sf, 12)
    a = lora_frame(fs, sf, bw, 8, 0x12, d)
    b = lora_frame_numpy(fs, sf, bw, 8, 0x12, d)
    assert len(a) == len(b) and np.max(np.abs(a - b)) < 1e-4


@pytest.mark.parametrize("n,index0", [(0, 0), (1, 5), (1000, 123456789), (4097, 3)])
def test_noise_kernel_matches_numpy_and_blocks(n, index0):
    out = np.empty(n, np.complex64)
    gauss_noise(0xDEADBEEF, index0, 0.5, out)
    ref = gauss_noise_numpy(0xDEADBEEF, index0, 0.5, n)
    assert np.allclose(out, ref, atol=1e-5)
    if n > 10:                                    # any block split gives the same stream
        part = np.empty(n - 7, np.complex64)
        gauss_noise(0xDEADBEEF, index0 + 7, 0.5, part)
        assert np.array_equal(part, out[7:])


def test_noise_statistics():
    out = np.empty(1 << 20, np.complex64)
    gauss_noise(42, 0, np.sqrt(0.5), out)
    assert abs(np.mean(np.abs(out) ** 2) - 1.0) < 0.01
    assert abs(np.mean(out.real ** 4) / np.mean(out.real ** 2) ** 2 - 3.0) < 0.05    # Gaussian kurtosis
    spec = np.abs(np.fft.fft(out[:65536].astype(np.complex128))) ** 2
    assert np.std(spec.reshape(64, -1).mean(1)) / spec.mean() < 0.1                 # white


@pytest.mark.parametrize("n,rel,drift", [(0, 0.0, 0.0), (1, 1e3, 0.0), (5000, 123456.7, 50.0), (20000, -9e5, -1e3)])
def test_mix_kernel_matches_numpy(n, rel, drift):
    rng = np.random.default_rng(n)
    seg = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    o1 = np.zeros(n, np.complex64)
    o2 = np.zeros(n, np.complex64)
    mix_add(o1, seg, 0.3, -0.4, rel, drift, 1e-3, 2.4e6, 0.7)
    mix_add_numpy(o2, seg, 0.3 - 0.4j, rel, drift, 1e-3, 2.4e6, 0.7)
    assert np.allclose(o1, o2, atol=2e-4)


def test_quantise_kernel_matches_numpy():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 5000)) * 0.6 + 1j * rng.standard_normal((2, 5000)) * 0.6).astype(np.complex64)
    m = RtlSdrModel(FrontEnd(gain_db=3.0, dc_offset_dbfs=-30, iq_gain_imbalance_db=0.5, iq_phase_imbalance_deg=3),
                    np.random.default_rng(0))
    got = m.to_cu8(x)
    y = m.analog(x)
    ref = np.stack([y.real, y.imag], -1) * 127.5 + 127.5
    ref = np.clip(np.floor(ref + 0.5), 0, 255).astype(np.uint8)
    assert np.mean(got != ref) < 1e-3        # float32 vs float64 rounding at exact halves only
    assert got.min() == 0 and got.max() == 255


def test_doppler_shifts_the_carrier():
    """A 900 MHz emitter approaching at 300 m/s is 900 Hz higher."""
    assert doppler_hz(300.0, 900e6) == pytest.approx(900.6, rel=1e-3)
    fs = 250e3
    base = {"scenario": {"duration_s": 0.06, "seed": 1},
            "receiver": {"sample_rate": fs, "center_freq": "868.3M", "noise_dbfs": -50},
            "emitter": [{"id": "s", "link": "ism-fsk", "freq": "868.3M", "snr_db": 40, "phase_s": 0.001,
                         "interval_s": 1.0}]}
    x0, a0 = generate(base, seed=1)
    base["emitter"][0]["channel_model"] = {"velocity_mps": 3000.0}
    x1, a1 = generate(base, seed=1)
    a = a0[0]
    s0 = x0[0, a.sample_start: a.sample_start + a.sample_count]
    s1 = x1[0, a.sample_start: a.sample_start + a.sample_count]
    # the same burst, shifted: the ratio is a pure tone at the Doppler frequency
    r = s1 * np.conj(s0)
    f = np.fft.fftfreq(1 << 20, 1 / fs)
    peak = f[np.argmax(np.abs(np.fft.fft(r, 1 << 20)))]
    assert abs(peak - doppler_hz(3000.0, 868.3e6)) < 5.0


def test_multipath_taps_statistics():
    rng = np.random.default_rng(3)
    p = [np.sum(np.abs(multipath_taps(rng, "rayleigh", 0, (0, 1e-6, 3e-6), (0, -3, -6), 2.4e6)) ** 2)
         for _ in range(4000)]
    assert abs(np.mean(p) - 1.0) < 0.05                   # unit mean power
    k = [np.abs(multipath_taps(rng, "rician", 10.0, (0.0,), (0.0,), 2.4e6)[0]) ** 2 for _ in range(4000)]
    r1 = [np.abs(multipath_taps(rng, "rayleigh", 0, (0.0,), (0.0,), 2.4e6)[0]) ** 2 for _ in range(4000)]
    assert abs(np.std(r1) - 1.0) < 0.1                     # |h|^2 exponential: std = mean
    assert abs(np.std(k) - np.sqrt(21) / 11) < 0.05        # Rician K = 10: std = sqrt(2K+1)/(K+1)
    taps = multipath_taps(rng, "rayleigh", 0, (0, 1e-6), (0, 0), 2.4e6)
    assert len(taps) == 3 and taps[1] == 0                 # 1 us at 2.4 MS/s rounds to 2 samples


def test_rayleigh_channel_changes_burst_power():
    base = {"scenario": {"duration_s": 0.3, "seed": 1},
            "receiver": {"sample_rate": "2.4M", "center_freq": "866.1625M", "noise_dbfs": -60},
            "emitter": [{"id": "p", "link": "expresslrs-lora", "domain": "IN866", "snr_db": 40,
                         "channel_model": {"model": "rayleigh", "delays_s": [0, 2e-6], "powers_db": [0, -3]}}]}
    x, anns = generate(base, seed=1)
    pw = [np.mean(np.abs(x[0, a.sample_start: a.sample_start + a.sample_count]) ** 2) for a in anns[:30]]
    assert np.std(10 * np.log10(pw)) > 2.0                 # block fading: bursts differ by dB


def test_ppm_error_stretches_time_and_shifts_frequency():
    """A +50 ppm crystal: the packet interval in samples grows by 50 ppm, carriers move by -f ppm."""
    base = {"scenario": {"duration_s": 0.3, "seed": 1},
            "receiver": {"sample_rate": "2.4M", "center_freq": "866.1625M", "type": "rtl-sdr", "noise_dbfs": -30},
            "frontend": {"ppm": 50.0},
            "emitter": [{"id": "p", "link": "expresslrs-lora", "domain": "IN866", "snr_db": 20, "phase_s": 0.001}]}
    _, anns = generate(base, seed=1)
    starts = np.array([a.sample_start for a in anns])
    d = np.diff(starts) / 12000.0
    assert abs(np.mean(d) - (1 + 50e-6)) < 2e-5


@pytest.mark.parametrize("fs,bt", [(2.4e6, 0.5), (2.4e6, None), (4.8e6, 0.5), (4.8e6, None)])
def test_fsk_kernel_matches_numpy(fs, bt):
    from rfdetect.simulate.fsk import fsk_frame, fsk_frame_numpy

    b = np.random.default_rng(1).integers(0, 2, 100)
    a = fsk_frame(fs, b, 300e3, 100e3, bt=bt)
    r = fsk_frame_numpy(fs, b, 300e3, 100e3, bt=bt)
    assert len(a) == len(r)
    assert np.max(np.abs(np.angle(a * np.conj(r)))) < (0.15 if bt else 1e-5)


def test_fsk_timing_exact_at_non_integer_samples_per_bit():
    """Area sampling keeps symbol timing: the phase after N bits is 2 pi dev N T (sum of symbols)."""
    from rfdetect.simulate.fsk import fsk_frame

    fs, rb, dev = 1e6, 300e3, 75e3                    # 3.33 samples per bit
    bits = np.ones(30, np.uint8)
    x = fsk_frame(fs, bits, rb, dev, bt=None)
    inst = np.angle(x[1:] * np.conj(x[:-1])) * fs / (2 * np.pi)
    assert np.allclose(inst[2:-2], dev, atol=1.0)
    bits = np.array([1, 0] * 30, np.uint8)            # net phase returns to zero every 2 bits
    x = fsk_frame(fs, bits, rb, dev, bt=None)
    ph = np.unwrap(np.angle(x))
    k = np.arange(1, 29) * 2 * fs / rb                 # sample positions of every second bit edge
    assert np.max(np.abs(np.interp(k - 0.5, np.arange(len(ph)), ph))) < 0.3


@pytest.mark.parametrize("fs", [1e6, 2.4e6, 333333.3])
def test_pulse_envelope_matches_reference(fs):
    from rfdetect.simulate.ook import pulse_envelope, pulse_envelope_reference, pwm_pulses

    bits = np.random.default_rng(4).integers(0, 2, 24)
    pulses, dur = pwm_pulses(bits, 350e-6, 1050e-6, 10.85e-3, 2)
    pulses = np.vstack([pulses, [[dur - 0.3 / fs, dur - 0.1 / fs]]])       # a pulse inside one cell
    a = pulse_envelope(fs, pulses, dur)
    b = pulse_envelope_reference(fs, pulses, dur)
    assert np.allclose(a, b, atol=1e-9)
    assert abs(a.sum() / fs - (pulses[:, 1] - pulses[:, 0]).sum()) < 2 / fs


@pytest.mark.parametrize("m", [1, 3, 5, 15, 17, 21, 33, 47, 65])
@pytest.mark.parametrize("n", [1, 7, 300, 1000])
def test_fir_kernel_matches_numpy(m, n):
    from rfdetect.simulate.kernels import _fir_same

    rng = np.random.default_rng(m * 1000 + n)
    x = rng.standard_normal(n)
    taps = rng.random(m)
    out = np.empty(n)
    _fir_same(x, taps, out)
    half = m // 2                    # np.convolve(mode="same"), also when n < m
    assert np.allclose(out, np.convolve(x, taps)[half:half + n], rtol=0, atol=1e-12)


@pytest.mark.parametrize("scale", [0.26, 1.5])
def test_phase_kernel_matches_numpy(scale):
    """Small steps take the Taylor rotation, steps over 1 rad cos/sin; both track exp(j cumsum)."""
    from rfdetect.simulate.kernels import phase_to_iq

    f = np.random.default_rng(2).standard_normal(5000)
    out = np.empty(5000, np.complex64)
    phase_to_iq(f, scale, out)
    ref = np.exp(1j * scale * np.cumsum(f))
    assert np.max(np.abs(out - ref)) < 1e-5


def test_ramp_kernel_matches_numpy():
    from rfdetect.simulate.kernels import ramp_edges, ramp_edges_numpy

    rng = np.random.default_rng(3)
    w = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    r = rng.random(24).astype(np.float32)
    a, b = w.copy(), w.copy()
    ramp_edges(a, r)
    ramp_edges_numpy(b, r)
    assert np.array_equal(a, b) and not np.array_equal(a, w)
    assert np.array_equal(a[24:-24], w[24:-24])


@pytest.mark.parametrize("n", [1, 7, 8, 9, 150, 333])
def test_random_bits_are_numpy_integers(n):
    """The fast bit draw gives exactly what Generator.integers(0, 2, n, uint8) gives."""
    from rfdetect.simulate.links import burst_rng, random_bits

    for seed in range(5):
        want = np.random.default_rng(seed).integers(0, 2, n, dtype=np.uint8)
        assert np.array_equal(random_bits(np.random.default_rng(seed), n), want)
        want = burst_rng(seed, 17).integers(0, 2, n, dtype=np.uint8)
        assert np.array_equal(random_bits(burst_rng(seed, 17), n), want)


@pytest.mark.parametrize("bt", [0.5, None])
def test_fsk_modulator_is_fsk_frame(bt):
    from rfdetect.simulate.fsk import FskModulator, fsk_frame, preamble_bits

    head = preamble_bits(32)
    body = np.random.default_rng(5).integers(0, 2, 165).astype(np.uint8)
    a = FskModulator(2.4e6, head, len(body), 300e3, 100e3, bt)(body)
    b = fsk_frame(2.4e6, np.concatenate([head, body]), 300e3, 100e3, bt=bt)
    assert np.array_equal(a, b)


def test_cu8_to_float_scales_every_byte():
    from rfdetect.simulate.frontend import cu8_to_float

    b = np.arange(512, dtype=np.int64).reshape(1, 256, 2) % 256
    b = b.astype(np.uint8)
    x = cu8_to_float(b)
    assert x.shape == (1, 256) and x.dtype == np.complex64
    f = (b.astype(np.float64) - 127.5) / 127.5
    assert np.allclose(x.real, f[..., 0], atol=1e-7) and np.allclose(x.imag, f[..., 1], atol=1e-7)


def test_burst_raw_is_numpy_pcg64():
    """The kernels' PCG64 draws what NumPy's does for the same burst key."""
    from rfdetect.simulate.kernels import burst_raw
    from rfdetect.simulate.links import burst_rng

    for seed, index, stream in [(0, 0, 0), (2 ** 62 - 5, 123456, 0), (987654321, 3, 11), (5, 2 ** 40, 0)]:
        out = np.empty(40, np.uint64)
        burst_raw(seed, index, stream, out)
        assert np.array_equal(out, burst_rng(seed, index, stream).bit_generator.random_raw(40))


@pytest.mark.parametrize("link,mode,fs", [("expresslrs-fsk", "1000", 2.4e6), ("ism-fsk", "sensor", 1e6),
                                          ("expresslrs-2g4-flrc", "1000", 4e6)])
def test_fsk_burst_kernel_is_the_generator_path(link, mode, fs):
    """One kernel call gives exactly the burst the Generator, the modulator and the ramp give."""
    from rfdetect.simulate.kernels import ramp_edges_numpy
    from rfdetect.simulate.links import LINKS, _fsk_burst, _synth_fsk, burst_rng, ramp_for

    p = LINKS[link].modes[mode]
    for index in (0, 7, 100000):
        want = _synth_fsk(p, burst_rng(1234, index), fs)
        ramp_edges_numpy(want, ramp_for("fsk", len(want), fs))
        assert np.array_equal(_fsk_burst(p, 1234, index, fs), want)


@pytest.mark.parametrize("link,mode,fs,nsym", [("expresslrs-lora", "200", 2.4e6, None), ("lorawan", "SF9BW125", 1e6, 33),
                                               ("lorawan", "SF12BW125", 250e3, 8), ("expresslrs-2g4-lora", "500", 4e6, None)])
@pytest.mark.parametrize("inverted", [False, True])
def test_lora_burst_kernel_is_the_generator_path(link, mode, fs, nsym, inverted):
    """One kernel call gives exactly the burst Generator.integers, lora_frame and the ramp give."""
    from rfdetect.simulate.kernels import ramp_edges_numpy
    from rfdetect.simulate.links import LINKS, _synth_lora, burst_rng, ramp_for
    from rfdetect.simulate.lora import lora_burst

    p = LINKS[link].modes[mode]
    n = nsym or p["payload_symbols"]
    for index in (0, 9, 70000):
        want = _synth_lora(p, burst_rng(99, index), fs, inverted=inverted, nsym=n)
        ramp = ramp_for("lora", len(want), fs)
        ramp_edges_numpy(want, ramp)
        got = lora_burst(fs, p["sf"], p["bw_hz"], p["preamble"], p["sync_word"], n, 99, index, ramp,
                         inverted=inverted)
        assert np.array_equal(got, want)
