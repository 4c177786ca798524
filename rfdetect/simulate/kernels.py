"""Numba kernels of the simulator (plain arrays in, preallocated arrays out, no exceptions).

Their NumPy twins (``*_numpy``) are the obviously-correct references the tests compare with.

Noise uses a counter-based generator: sample i of a stream with key k is a function of
(k, i) only (splitmix64 finaliser of k + i * golden, then Box-Muller), so blocks can be drawn
in any order or size and give the same stream, and the loop vectorises.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * np.pi
_INV_2_32 = 1.0 / 4294967296.0


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _ziggurat_tables(n: int = 128):
    """Marsaglia & Tsang (2000), "The Ziggurat Method for Generating Random Variables", 128 layers."""
    r, v = 3.442619855899, 9.91256303526217e-3
    m1 = 2147483648.0
    kn = np.zeros(n, np.int64)
    wn = np.zeros(n, np.float64)
    fn = np.zeros(n, np.float64)
    dn = tn = r
    q = v / np.exp(-0.5 * dn * dn)
    kn[0] = int(dn / q * m1)
    kn[1] = 0
    wn[0] = q / m1
    wn[n - 1] = dn / m1
    fn[0] = 1.0
    fn[n - 1] = np.exp(-0.5 * dn * dn)
    for i in range(n - 2, 0, -1):
        dn = np.sqrt(-2.0 * np.log(v / dn + np.exp(-0.5 * dn * dn)))
        kn[i + 1] = int(dn / tn * m1)
        tn = dn
        fn[i] = np.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


ZIG_KN, ZIG_WN, ZIG_FN = _ziggurat_tables()
_ZIG_R = 3.442619855899


@njit(cache=True, inline="always")
def _uni(z):
    return ((z >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740992.0)      # (0, 1]


@njit(cache=True)
def _zig_slow(hz, iz, z, kn, wn, fn):
    """The ziggurat's rare path (about 1 % of draws): tail or wedge, with fresh hashed bits."""
    c = np.uint64(1)
    while True:
        x = hz * wn[iz]
        if iz == 0:
            while True:
                z1 = _mix64(z + c * _GOLDEN)
                z2 = _mix64(z + (c + np.uint64(1)) * _GOLDEN)
                c += np.uint64(2)
                xx = -np.log(_uni(z1)) / _ZIG_R
                yy = -np.log(_uni(z2))
                if yy + yy >= xx * xx:
                    break
            return _ZIG_R + xx if hz > 0 else -_ZIG_R - xx
        z1 = _mix64(z + c * _GOLDEN)
        c += np.uint64(1)
        if fn[iz] + _uni(z1) * (fn[iz - 1] - fn[iz]) < np.exp(-0.5 * x * x):
            return x
        z2 = _mix64(z + c * _GOLDEN)
        c += np.uint64(1)
        hz = np.int64(np.int32(z2 & np.uint64(0xFFFFFFFF)))
        iz = hz & 127
        if abs(hz) < kn[iz]:
            return hz * wn[iz]


@njit(cache=True)
def _gauss_noise(key, index0, sigma, out, kn, wn, fn):
    k = np.uint64(key)
    base = np.uint64(index0)
    for i in range(out.shape[0]):
        z = _mix64(k + (base + np.uint64(i)) * _GOLDEN)
        h1 = np.int64(np.int32(z >> np.uint64(32)))
        h2 = np.int64(np.int32(z & np.uint64(0xFFFFFFFF)))
        i1 = h1 & 127
        i2 = h2 & 127
        if abs(h1) < kn[i1]:
            a = h1 * wn[i1]
        else:
            a = _zig_slow(h1, i1, z ^ np.uint64(0x5555555555555555), kn, wn, fn)
        if abs(h2) < kn[i2]:
            b = h2 * wn[i2]
        else:
            b = _zig_slow(h2, i2, z ^ np.uint64(0xAAAAAAAAAAAAAAAA), kn, wn, fn)
        out[i] = complex(sigma * a, sigma * b)


def gauss_noise(key: int, index0: int, sigma: float, out: np.ndarray) -> None:
    """out[i] = complex Gaussian sample number index0 + i of stream ``key``, each part of standard
    deviation ``sigma``: a counter-based hash gives 2 x 32 random bits per sample, turned into
    two normals by the ziggurat method (any block split gives the same stream)."""
    _gauss_noise(np.uint64(key), np.int64(index0), float(sigma), out, ZIG_KN, ZIG_WN, ZIG_FN)


def gauss_noise_numpy(key: int, index0: int, sigma: float, n: int) -> np.ndarray:
    """Slow twin: the same hash and ziggurat in plain Python integers and math."""
    import math

    mask = (1 << 64) - 1
    g = 0x9E3779B97F4A7C15

    def mix(z):
        z &= mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    def i32(v):
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v >= 1 << 31 else v

    def uni(z):
        return ((z >> 11) + 1) / 9007199254740992.0

    def slow(hz, iz, z):
        c = 1
        while True:
            x = hz * ZIG_WN[iz]
            if iz == 0:
                while True:
                    z1, z2 = mix(z + c * g), mix(z + (c + 1) * g)
                    c += 2
                    xx = -math.log(uni(z1)) / _ZIG_R
                    yy = -math.log(uni(z2))
                    if yy + yy >= xx * xx:
                        break
                return _ZIG_R + xx if hz > 0 else -_ZIG_R - xx
            z1 = mix(z + c * g)
            c += 1
            if ZIG_FN[iz] + uni(z1) * (ZIG_FN[iz - 1] - ZIG_FN[iz]) < math.exp(-0.5 * x * x):
                return x
            z2 = mix(z + c * g)
            c += 1
            hz = i32(z2)
            iz = hz & 127
            if abs(hz) < ZIG_KN[iz]:
                return hz * ZIG_WN[iz]

    out = np.empty(n, np.complex64)
    for i in range(n):
        z = mix(key + (index0 + i) * g)
        h1, h2 = i32(z >> 32), i32(z)
        a = h1 * ZIG_WN[h1 & 127] if abs(h1) < ZIG_KN[h1 & 127] else slow(h1, h1 & 127, z ^ 0x5555555555555555)
        b = h2 * ZIG_WN[h2 & 127] if abs(h2) < ZIG_KN[h2 & 127] else slow(h2, h2 & 127, z ^ 0xAAAAAAAAAAAAAAAA)
        out[i] = complex(sigma * a, sigma * b)
    return out


@njit(cache=True)
def mix_add(out, seg, gain_re, gain_im, rel_hz, drift_hz_s, tau0, fs, phase0):
    """out[i] += gain * seg[i] * exp(j (phase0 + 2 pi (rel tau + drift tau^2 / 2))), tau = tau0 + i/fs.

    The phasor advances by complex multiplication and is recomputed exactly every 512 samples
    (error below 1e-12 rad; the drift's frequency change inside one chunk is neglected)."""
    n = seg.shape[0]
    i = 0
    while i < n:
        tau = tau0 + i / fs
        ph = phase0 + _TWO_PI * (rel_hz * tau + 0.5 * drift_hz_s * tau * tau)
        ph = ph - _TWO_PI * np.floor(ph / _TWO_PI)
        zr = gain_re * np.cos(ph) - gain_im * np.sin(ph)
        zi = gain_re * np.sin(ph) + gain_im * np.cos(ph)
        step = _TWO_PI * (rel_hz + drift_hz_s * (tau + 256.0 / fs)) / fs
        wr = np.cos(step)
        wi = np.sin(step)
        m = min(n, i + 512)
        for k in range(i, m):
            x = seg[k]
            out[k] += complex(zr * x.real - zi * x.imag, zr * x.imag + zi * x.real)
            t = zr * wr - zi * wi
            zi = zr * wi + zi * wr
            zr = t
        i = m


def mix_add_numpy(out, seg, gain, rel_hz, drift_hz_s, tau0, fs, phase0):
    tau = tau0 + np.arange(len(seg)) / fs
    ph = phase0 + 2 * np.pi * (rel_hz * tau + 0.5 * drift_hz_s * tau * tau)
    out += (gain * seg * np.exp(1j * ph)).astype(np.complex64)


# PCG64 as NumPy implements it (O'Neill 2014, XSL-RR output of a 128-bit LCG), keyed as
# links.burst_rng keys it: hot synthesisers draw a burst's random bits here rather than through
# a Generator, whose re-keying and call overhead exceed the work.
_PCG_MUL_HI = np.uint64(2549297995355413924)
_PCG_MUL_LO = np.uint64(4865540595714422341)
_PCG_INC = np.uint64(0xDA3E39CB94B95BDB)
_LO32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, inline="always")
def _mulhi64(a, b):
    a0, a1 = a & _LO32, a >> np.uint64(32)
    b0, b1 = b & _LO32, b >> np.uint64(32)
    p00, p01, p10 = a0 * b0, a0 * b1, a1 * b0
    mid = (p00 >> np.uint64(32)) + (p01 & _LO32) + (p10 & _LO32)
    return a1 * b1 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))


@njit(cache=True)
def burst_raw(seed, index, stream, out):
    """out[:] = burst_rng(seed, index, stream).bit_generator.random_raw(len(out)) (uint64)."""
    h = _mix64(_mix64(np.uint64(seed) + _GOLDEN * (np.uint64(index) + np.uint64(1))) + np.uint64(stream))
    hi, lo = h, _mix64(h)
    for i in range(out.shape[0]):
        nlo = lo * _PCG_MUL_LO
        hi = _mulhi64(lo, _PCG_MUL_LO) + lo * _PCG_MUL_HI + hi * _PCG_MUL_LO
        lo = nlo + _PCG_INC
        if lo < nlo:
            hi += np.uint64(1)
        x = hi ^ lo
        rot = hi >> np.uint64(58)
        out[i] = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@njit(cache=True)
def fsk_burst_iq(seed, index, head, n_body, samples_per_symbol, taps, scale, ramp, out):
    """One (G)FSK burst: the bits ``head`` then ``n_body`` random bits, those
    ``links.random_bits(burst_rng(seed, index), n_body)`` gives, modulated by :func:`gfsk_iq`,
    with the power-amplifier ramp of :func:`ramp_edges` (``ramp`` may be empty)."""
    raw = np.empty((n_body + 7) // 8, np.uint64)
    burst_raw(seed, index, 0, raw)
    body = np.empty(n_body, np.uint8)
    for k in range(n_body):                  # the top bit of each byte, least significant first
        body[k] = np.uint8((raw[k >> 3] >> np.uint64(8 * (k & 7) + 7)) & np.uint64(1))
    gfsk_bits_iq(head, body, samples_per_symbol, taps, scale, out)
    ramp_edges(out, ramp)


@njit(cache=True)
def lora_burst_iq(seed, index, sf, starts_s, kinds, head_values, fs, bw, ts, ramp, out):
    """One LoRa burst: :func:`chirp_train` of the symbols before the data (``head_values``)
    then random data symbols, those ``burst_rng(seed, index).integers(0, 2**sf, n)`` gives
    (Lemire's method on 32-bit draws: the top ``sf`` bits of each half of the 64-bit outputs,
    low half first), with the power-amplifier ramp of :func:`ramp_edges`."""
    nh = head_values.shape[0]
    n_data = kinds.shape[0] - nh
    raw = np.empty((n_data + 1) // 2, np.uint64)
    burst_raw(seed, index, 0, raw)
    values = np.empty(kinds.shape[0])
    values[:nh] = head_values
    m = float(1 << sf)
    for k in range(n_data):
        w = raw[k >> 1] >> np.uint64(32 * (k & 1))
        values[nh + k] = float((w & _LO32) >> np.uint64(32 - sf)) / m
    chirp_train(starts_s, kinds, values, fs, bw, ts, out)
    ramp_edges(out, ramp)


@njit(cache=True)
def ramp_edges(w, r):
    """w[:k] *= r and w[-k:] *= r[::-1] in place (k = len(r) <= len(w) / 2): a window's rising
    half at the start of a burst, its falling half at the end."""
    n = w.shape[0]
    for i in range(r.shape[0]):
        w[i] = w[i] * r[i]
        w[n - 1 - i] = w[n - 1 - i] * r[i]


def ramp_edges_numpy(w, r):
    k = len(r)
    w[:k] *= r
    w[len(w) - k:] *= r[::-1]


@njit(cache=True)
def chirp_train(starts_s, kinds, values, fs, bw, ts, out):
    """LoRa frequency track integrated to phase: segment j starts at starts_s[j] (seconds),
    kind 0 upchirp shifted by values[j] (fraction of a symbol), 1 downchirp; out complex64.

    phase_i = phase_{i-1} + 2 pi f_i / fs, done as z_i = z_{i-1} w_i; inside a chirp f grows
    linearly, so w_i = w_{i-1} dw; w is recomputed exactly at every segment start and wrap."""
    nseg = kinds.shape[0]
    j = -1
    zr, zi = 1.0, 0.0
    wr, wi = 1.0, 0.0
    slope = bw / ts / fs                 # Hz per sample
    dwr = np.cos(_TWO_PI * slope / fs)
    dwi = np.sin(_TWO_PI * slope / fs)
    u_prev = 0.0
    next_start = starts_s[0]
    for i in range(out.shape[0]):
        t = i / fs            # division, not a reciprocal: boundaries fall exactly as in the twin
        new = False
        while t >= next_start and j + 1 < nseg:
            j += 1
            new = True
            next_start = starts_s[j + 1] if j + 1 < nseg else np.inf
        tau = (t - starts_s[j]) / ts
        if kinds[j] == 0:
            u = tau + values[j]
            u = u - np.floor(u)
            if new or u < u_prev:
                f = bw * (u - 0.5)
                wr = np.cos(_TWO_PI * f / fs)
                wi = np.sin(_TWO_PI * f / fs)
                mag = np.sqrt(zr * zr + zi * zi)
                zr /= mag
                zi /= mag
            else:
                t2 = wr * dwr - wi * dwi
                wi = wr * dwi + wi * dwr
                wr = t2
            u_prev = u
        else:
            if new:
                f = bw * (0.5 - tau)
                wr = np.cos(_TWO_PI * f / fs)
                wi = np.sin(_TWO_PI * f / fs)
            else:
                t2 = wr * dwr + wi * dwi
                wi = wi * dwr - wr * dwi
                wr = t2
            u_prev = 2.0
        t2 = zr * wr - zi * wi
        zi = zr * wi + zi * wr
        zr = t2
        out[i] = complex(zr, zi)


@njit(cache=True)
def quantise_cu8(x, gain, q_from_q, q_from_i, dc_re, dc_im, out):
    """RTL-SDR front end: gain, IQ imbalance, DC offset, 8-bit rounding with clipping.
    x complex64 (C, n) -> out uint8 (C, n, 2)."""
    for c in range(x.shape[0]):
        xc = x[c]
        oc = out[c].reshape(-1)              # flat I, Q, I, Q...: the loop vectorises
        for i in range(xc.shape[0]):
            v = xc[i]
            re = v.real * gain
            im = v.imag * gain
            qi = re + dc_re
            qq = im * q_from_q + re * q_from_i + dc_im
            a = np.floor(qi * 127.5 + 127.5 + 0.5)
            b = np.floor(qq * 127.5 + 127.5 + 0.5)
            oc[2 * i] = np.uint8(min(max(a, 0.0), 255.0))
            oc[2 * i + 1] = np.uint8(min(max(b, 0.0), 255.0))


@njit(cache=True)
def nrz_area(symbols, samples_per_symbol, out):
    """Area-sampled NRZ: out[i] = sum_k symbols[k] * |[i - 0.5, i + 0.5] & [k T, (k + 1) T]|,
    T = samples_per_symbol (any real > 0): exact symbol timing at any sample rate."""
    n = out.shape[0]
    for i in range(n):
        out[i] = 0.0
    for k in range(symbols.shape[0]):
        t0 = k * samples_per_symbol
        t1 = t0 + samples_per_symbol
        i0 = max(int(np.floor(t0 + 0.5)), 0)
        i1 = min(int(np.floor(t1 + 0.5)), n - 1)
        for i in range(i0, i1 + 1):
            lo = max(i - 0.5, t0)
            hi = min(i + 0.5, t1)
            if hi > lo:
                out[i] += symbols[k] * (hi - lo)


_R6, _R12, _R20, _R30, _R42, _R56, _R72, _R90, _R110, _R132 = (1.0 / 6, 1.0 / 12, 1.0 / 20, 1.0 / 30, 1.0 / 42,
                                                             1.0 / 56, 1.0 / 72, 1.0 / 90, 1.0 / 110, 1.0 / 132)


@njit(cache=True)
def phase_to_iq(freq, scale, out):
    """out[i] = exp(j * scale * sum_{m <= i} freq[m]).

    The phasor advances by multiplication with exp(j dphi); for |dphi| <= 1 rad the rotation
    comes from its Taylor series to order 11/12 (error below 3e-9, no libm call), and the
    phasor is renormalised every 128 samples.  The rotations are computed first in a loop
    of their own (it vectorises), then applied in the sequential one."""
    n = out.shape[0]
    cs = np.empty(n)
    sn = np.empty(n)
    for i in range(n):
        x = scale * freq[i]
        x2 = x * x
        cs[i] = 1.0 - x2 * 0.5 * (1.0 - x2 * _R12 * (1.0 - x2 * _R30 * (1.0 - x2 * _R56 * (
            1.0 - x2 * _R90 * (1.0 - x2 * _R132)))))
        sn[i] = x * (1.0 - x2 * _R6 * (1.0 - x2 * _R20 * (1.0 - x2 * _R42 * (1.0 - x2 * _R72 * (
            1.0 - x2 * _R110)))))
    zr, zi = 1.0, 0.0
    for i in range(n):
        x = scale * freq[i]
        if -1.0 <= x <= 1.0:
            c = cs[i]
            s = sn[i]
        else:
            c = np.cos(x)
            s = np.sin(x)
        t = zr * c - zi * s
        zi = zr * s + zi * c
        zr = t
        if (i & 127) == 127:
            g = 1.0 / np.sqrt(zr * zr + zi * zi)
            zr *= g
            zi *= g
        out[i] = complex(zr, zi)


@njit(cache=True)
def gfsk_iq(symbols, samples_per_symbol, taps, scale, out):
    """Area-sampled NRZ frequency track, Gaussian-filtered by ``taps`` (odd length, centred),
    integrated into phase: the whole (G)FSK modulator in one pass, no temporaries in Python."""
    n = out.shape[0]
    raw = np.empty(n)
    nrz_area(symbols, samples_per_symbol, raw)
    m = taps.shape[0]
    if m <= 1:
        phase_to_iq(raw, scale, out)
        return
    f = np.empty(n)
    _fir_same(raw, taps, f)
    phase_to_iq(f, scale, out)


@njit(cache=True)
def gfsk_bits_iq(head, body, samples_per_symbol, taps, scale, out):
    """:func:`gfsk_iq` of the bits ``head`` then ``body`` (uint8 0/1; bit b -> symbol 2b - 1)."""
    nh = head.shape[0]
    sym = np.empty(nh + body.shape[0])
    for i in range(nh):
        sym[i] = 2.0 * head[i] - 1.0
    for i in range(body.shape[0]):
        sym[nh + i] = 2.0 * body[i] - 1.0
    gfsk_iq(sym, samples_per_symbol, taps, scale, out)


_FIR_CHUNK = 256


@njit(cache=True, fastmath={"contract"})
def _fir_same(x, taps, out):
    """out = np.convolve(x, taps, mode="same") for odd-length taps, vectorised across outputs.

    Each output is the sum, over j, of taps[m-1-j] * pad[i+j] as fused multiply-adds in a fixed
    order: 16 interleaved partial sums over the largest multiple of 16 taps, combined pairwise,
    then 4 partial sums (the first starting from that result) over the largest multiple of 4,
    combined pairwise, then the rest one by one.  That is the order an AVX2 dot-product loop
    uses, so recordings made when this kernel was one such loop per output keep their bits;
    computing it across outputs instead is what makes it fast (15 taps: 3x)."""
    n = x.shape[0]
    m = taps.shape[0]
    half = m // 2
    pad = np.zeros(n + m)
    pad[half:half + n] = x
    m16 = m - m % 16
    m4 = m - m % 4
    acc = np.empty((16, _FIR_CHUNK))
    h = np.empty(_FIR_CHUNK)
    for i0 in range(0, n, _FIR_CHUNK):
        cn = min(_FIR_CHUNK, n - i0)
        j = 0
        if m >= 16:
            acc[:, :cn] = 0.0
            for j in range(m16):
                t = taps[m - 1 - j]
                a = acc[j & 15]
                p = pad[i0 + j:i0 + j + cn]
                for k in range(cn):
                    a[k] = a[k] + t * p[k]
            for k in range(cn):
                s0 = (acc[0, k] + acc[4, k]) + (acc[8, k] + acc[12, k])
                s1 = (acc[1, k] + acc[5, k]) + (acc[9, k] + acc[13, k])
                s2 = (acc[2, k] + acc[6, k]) + (acc[10, k] + acc[14, k])
                s3 = (acc[3, k] + acc[7, k]) + (acc[11, k] + acc[15, k])
                h[k] = (s0 + s2) + (s1 + s3)
            j = m16
        else:
            h[:cn] = 0.0
        if m4 - j >= 4:
            acc[0, :cn] = h[:cn]
            acc[1:4, :cn] = 0.0
            for jj in range(j, m4):
                t = taps[m - 1 - jj]
                a = acc[(jj - j) & 3]
                p = pad[i0 + jj:i0 + jj + cn]
                for k in range(cn):
                    a[k] = a[k] + t * p[k]
            for k in range(cn):
                h[k] = (acc[0, k] + acc[2, k]) + (acc[1, k] + acc[3, k])
            j = m4
        for jj in range(j, m):
            t = taps[m - 1 - jj]
            p = pad[i0 + jj:i0 + jj + cn]
            for k in range(cn):
                h[k] = h[k] + t * p[k]
        out[i0:i0 + cn] = h[:cn]
