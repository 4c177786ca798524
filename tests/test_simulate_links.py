"""Per-link measurements on the simulator's output; each test names the LINKS.md row it checks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rfdetect.simulate import generate
from rfdetect.simulate import bandplans as bp
from rfdetect.simulate.adsb import modes_crc
from rfdetect.simulate.fsk import measure_deviation

# ---------------------------------------------------------------- helpers (measure, do not trust)


def bursts_from_envelope(x: np.ndarray, fs: float, smooth_s: float = 20e-6, thr_ratio: float = 10.0):
    """(start, stop) sample pairs where the smoothed power exceeds thr_ratio x the noise floor
    (2nd percentile: bursts may fill most of the time)."""
    k = max(1, int(smooth_s * fs))
    p = np.convolve(np.abs(x) ** 2, np.ones(k) / k, mode="same")
    on = p > thr_ratio * np.percentile(p, 2)
    d = np.diff(on.astype(np.int8), prepend=0, append=0)
    starts, stops = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    # bursts cut by the start or end of the recording are not measurable
    return [(a, b) for a, b in zip(starts, stops) if b - a > 2 * k and a > 0 and b < len(x) - 1]


def centre_freq(seg: np.ndarray, fs: float) -> float:
    p = np.abs(np.fft.fft(seg)) ** 2
    f = np.fft.fftfreq(len(seg), 1 / fs)
    return float(np.sum(f * p) / np.sum(p))


def lora_sf_by_dechirp(seg: np.ndarray, fs: float, bw: float, candidates=range(5, 13)) -> int:
    """Spreading factor whose reference downchirp concentrates the preamble symbol best."""
    scores = {}
    for sf in candidates:
        ts = (1 << sf) / bw
        n = int(round(ts * fs))
        if 2 * n > len(seg):
            continue
        t = np.arange(n) / fs
        ref = np.exp(-1j * 2 * np.pi * (-bw / 2 * t + bw / (2 * ts) * t * t))
        sym = seg[n:2 * n] * ref                     # second preamble symbol (skip the ramp-in)
        spec = np.abs(np.fft.fft(sym)) ** 2
        scores[sf] = spec.max() / spec.sum()
    return max(scores, key=scores.get)


def obw99(seg: np.ndarray, fs: float) -> float:
    spec = np.abs(np.fft.fftshift(np.fft.fft(seg))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(len(seg), 1 / fs))
    c = np.cumsum(spec) / spec.sum()
    return float(f[np.searchsorted(c, 0.995)] - f[np.searchsorted(c, 0.005)])


def scenario(emitters, fs, fc, duration, noise=-40.0, seed=1):
    return {"scenario": {"duration_s": duration, "seed": seed},
            "receiver": {"sample_rate": fs, "center_freq": fc, "noise_dbfs": noise}, "emitter": emitters}


# ---------------------------------------------------------------- ExpressLRS 900 LoRa

def test_elrs_900_domains_match_links_md():
    """LINKS.md 'ExpressLRS 900, LoRa (SX127x)': FCC915 903.5-926.9 MHz 40 ch; EU868 863.275-869.575
    13 ch; AU915 915.5-926.9 20 ch; IN866 865.375-866.95 4 ch; EU433 433.1-434.45 3 ch; US433
    433.25-438.0 8 ch; US433W 423.5-438 20 ch."""
    expect = {"FCC915": (903.5, 926.9, 40), "EU868": (863.275, 869.575, 13), "AU915": (915.5, 926.9, 20),
              "IN866": (865.375, 866.95, 4), "EU433": (433.1, 434.45, 3), "US433": (433.25, 438.0, 8),
              "US433W": (423.5, 438.0, 20)}
    for dom, (lo, hi, n) in expect.items():
        plan = bp.ELRS_900[dom]
        assert len(plan) == n and plan[0] == pytest.approx(lo * 1e6) and plan[-1] == pytest.approx(hi * 1e6)


ELRS_RATES = [("200", 6, 4.38e-3, 5e-3, 4), ("100", 7, 8.77e-3, 10e-3, 4), ("50", 8, 18.56e-3, 20e-3, 4),
              ("25", 9, 29.95e-3, 40e-3, 2)]


@pytest.mark.parametrize("mode,sf,air_s,interval_s,hop_every", ELRS_RATES, ids=[r[0] for r in ELRS_RATES])
def test_elrs_900_lora_packet_rate(mode, sf, air_s, interval_s, hop_every):
    """LINKS.md 'ExpressLRS 900, LoRa (SX127x)': LoRa BW 500 kHz, SF6-SF9; 200/100/50/25 Hz;
    hop every 4 packets (2 at 25 Hz); on air 4.38 / 8.77 / 18.56 / 29.95 ms.  IN866 (4 channels)
    fits a 2.4 MS/s window, so every hop is visible."""
    fs, fc = 2.4e6, 866.1625e6
    n_pk = 20 if mode != "25" else 12
    x, _ = generate(scenario([{"id": "p", "link": "expresslrs-lora", "mode": mode, "domain": "IN866",
                               "snr_db": 25, "phase_s": 0.001}], fs, fc, n_pk * interval_s + 0.002), seed=2)
    b = bursts_from_envelope(x[0], fs)
    assert len(b) >= n_pk - 1
    durs = np.array([(e - s) / fs for s, e in b])
    assert np.all(np.abs(durs - air_s) < 0.02 * air_s), durs
    assert np.allclose(np.diff([s for s, _ in b]) / fs, interval_s, atol=20e-6)
    chans = [bp.channel_index(bp.ELRS_900["IN866"], round((fc + centre_freq(x[0, s:e], fs)) / 25e3) * 25e3,
                              tol_hz=30e3) for s, e in b]
    assert None not in chans
    runs = [len(list(g)) for g in _runs(chans)]
    assert all(r == hop_every for r in runs[1:-1]), chans
    assert set(chans) <= {0, 1, 2, 3}
    for s, e in b[:3]:
        assert lora_sf_by_dechirp(x[0, s:e] * np.exp(-2j * np.pi * centre_freq(x[0, s:e], fs)
                                                      * np.arange(e - s) / fs), fs, 500e3) == sf


def _runs(seq):
    import itertools
    return (list(g) for _, g in itertools.groupby(seq))


def test_elrs_900_hop_set_covers_the_domain():
    """LINKS.md 'ExpressLRS 900': EU433 has 3 channels; after one sequence block all are used,
    and the sync channel opens every block (FHSS.cpp)."""
    fs, fc = 2.4e6, 433.775e6
    x, anns = generate(scenario([{"id": "p", "link": "expresslrs-lora", "mode": "200", "domain": "EU433",
                                  "snr_db": 25, "phase_s": 0.001}], fs, fc, 0.125), seed=3)
    chans = [json.loads(a.comment)["channel"] for a in anns]
    b = bursts_from_envelope(x[0], fs)
    measured = [bp.channel_index(bp.ELRS_900["EU433"], round((fc + centre_freq(x[0, s:e], fs)) / 25e3) * 25e3,
                                 tol_hz=30e3) for s, e in b]
    assert measured == chans[:len(measured)]
    assert set(measured) == {0, 1, 2}
    dwell = [c[0] for c in _runs(measured)]
    assert dwell[0::3] == [1] * len(dwell[0::3])     # sync channel (the middle one) starts each block


# ---------------------------------------------------------------- ExpressLRS FSK

def test_elrs_900_fsk_deviation_rate_timing():
    """LINKS.md 'ExpressLRS 900, FSK (LR1121)': GFSK 300 kb/s, deviation 100 kHz, 1000 Hz, hop
    every 2 packets, 0.658 ms on air."""
    fs, fc = 4.8e6, 866.1625e6
    x, _ = generate(scenario([{"id": "f", "link": "expresslrs-fsk", "domain": "IN866", "snr_db": 50,
                               "phase_s": 0.0002}], fs, fc, 0.0125), seed=4)
    b = bursts_from_envelope(x[0], fs, smooth_s=5e-6)
    assert len(b) >= 11
    durs = np.array([(e - s) / fs for s, e in b])
    assert np.all(np.abs(durs - 0.658e-3) < 0.02e-3), durs
    assert np.allclose(np.diff([s for s, _ in b]) / fs, 1e-3, atol=5e-6)
    cents = [round((fc + centre_freq(x[0, s:e], fs)) / 25e3) * 25e3 for s, e in b]
    runs = [len(r) for r in _runs([bp.channel_index(bp.ELRS_900["IN866"], c, 30e3) for c in cents])]
    assert all(r == 2 for r in runs[1:-1])
    s, e = b[2]
    seg = x[0, s:e] * np.exp(-2j * np.pi * centre_freq(x[0, s:e], fs) * np.arange(e - s) / fs)
    _, inst = measure_deviation(seg, fs)
    inst = np.convolve(inst, np.ones(4) / 4, mode="same")
    peak = np.percentile(np.abs(inst), 90)
    assert 88e3 < peak < 112e3
    pre = inst[: int(32 / 300e3 * fs)]                # alternating preamble: a tone at bitrate / 2
    spec = np.abs(np.fft.rfft(pre - pre.mean(), 8192))
    f = np.fft.rfftfreq(8192, 1 / fs)
    assert abs(f[np.argmax(spec)] - 150e3) < 15e3


def test_frsky_r9_time_on_air_follows_its_sx1276_settings():
    """LINKS.md 'FrSky R9' (DIY-Multiprotocol FrSkyR9_sx1276.ino: LoRa BW 500 kHz, SF6, CR 4/5,
    implicit header, no CRC, preamble 9; 26-byte packets every 20 ms, 14 bytes in the EU LBT
    plan, 13-byte telemetry): by the SX1276 formula 48 payload symbols, 61.25 of 128 us,
    7.84 ms (28 and 5.28 ms for 13-14 bytes).  The simulator sends that, and the signature's
    burst range holds both."""
    from rfdetect.signatures import get
    from rfdetect.simulate import LINKS, lora

    assert lora.payload_symbols(6, 26, 1, implicit_header=True, crc=False) == 48
    assert lora.payload_symbols(6, 14, 1, implicit_header=True, crc=False) == 28
    assert lora.payload_symbols(6, 13, 1, implicit_header=True, crc=False) == 28
    assert lora.frame_duration_s(6, 500e3, 9, 48) == pytest.approx(7.84e-3)
    assert lora.frame_duration_s(6, 500e3, 9, 28) == pytest.approx(5.28e-3)
    fs = 2.4e6
    f3 = LINKS["frsky-r9"].plans["FCC915"][3]
    x, anns = generate(scenario([{"id": "r", "link": "frsky-r9", "mode": "20ms", "channel": 3, "snr_db": 30,
                                  "phase_s": 0.0002}], fs, f3 + 0.3e6, 0.1), seed=4)
    b = bursts_from_envelope(x[0], fs, smooth_s=5e-6)
    assert len(b) >= 4
    durs = np.array([(e - s) / fs for s, e in b])
    assert np.allclose(durs, 7.84e-3, atol=0.1e-3), durs
    assert np.allclose(np.diff([s for s, _ in b]) / fs, 20e-3, atol=10e-6)
    lo, hi = get("frsky-r9").burst_s
    assert lo < 5.28e-3 and 7.84e-3 < hi


# ---------------------------------------------------------------- LoRaWAN

@pytest.mark.parametrize("sf", [7, 9, 12])
def test_lorawan_sf_and_bandwidth(sf):
    """LINKS.md 'Emitters that are not drones': LoRaWAN 125 kHz, SF7-SF12, 868.1 MHz."""
    fs, fc = 1e6, 868.1e6
    x, anns = generate(scenario([{"id": "node", "link": "lorawan", "mode": f"SF{sf}BW125", "freq": "868.1M",
                                  "snr_db": 50, "phase_s": 0.001}], fs, fc, 0.02 * 2 ** (sf - 7) + 0.01,
                                noise=-40), seed=5)
    a = anns[0]
    seg = x[0, a.sample_start: a.sample_start + min(a.sample_count, int(4 * (1 << sf) / 125e3 * fs))]
    assert lora_sf_by_dechirp(seg, fs, 125e3, candidates=range(7, 13)) == sf
    assert 115e3 < obw99(seg, fs) < 135e3


# ---------------------------------------------------------------- ISM

def test_ism_ook_pwm_pulse_widths():
    """LINKS.md 'ISM sensors and remotes at 433.92 MHz (OOK)': PWM remote, short 350 us, long 1050 us."""
    fs = 1e6
    x, anns = generate(scenario([{"id": "r", "link": "ism-ook", "freq": "433.92M", "snr_db": 40,
                                  "phase_s": 0.001}], fs, 433.92e6, 0.05), seed=6)
    p = np.convolve(np.abs(x[0]) ** 2, np.ones(20) / 20, mode="same")
    env = p > 0.5 * p.max()
    d = np.diff(env.astype(np.int8))
    ups, downs = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    widths = (downs[: len(ups)] - ups[: len(downs)]) / fs
    widths = widths[widths > 100e-6]
    short = widths[widths < 700e-6]
    long = widths[widths >= 700e-6]
    assert abs(np.median(short) - 350e-6) < 30e-6 and abs(np.median(long) - 1050e-6) < 30e-6


def test_ism_fsk_sensor_deviation_and_rate():
    """ISM FSK sensor (rtl_433 Fine Offset WH1080): 17.24 kb/s, +-35 kHz."""
    fs = 500e3
    x, anns = generate(scenario([{"id": "s", "link": "ism-fsk", "freq": "868.3M", "snr_db": 35,
                                  "phase_s": 0.001}], fs, 868.3e6, 0.015), seed=7)
    a = anns[0]
    seg = x[0, a.sample_start + 50: a.sample_start + a.sample_count - 50]
    _, inst = measure_deviation(seg, fs)
    inst = np.convolve(inst, np.ones(5) / 5, mode="same")
    assert abs(np.median(np.abs(inst)) - 35e3) < 4e3
    pre = inst[: int(40 / 17.24e3 * fs)]
    spec = np.abs(np.fft.rfft(pre - pre.mean(), 1 << 15))
    f = np.fft.rfftfreq(1 << 15, 1 / fs)
    assert abs(f[np.argmax(spec)] - 17.24e3 / 2) < 600


# ---------------------------------------------------------------- ADS-B

def test_adsb_mode_s_preamble_and_ppm():
    """LINKS.md 'ADS-B / Mode S at 1090 MHz' and the dump1090 recording: 8 us preamble with pulses
    at 0, 1, 3.5, 4.5 us, 1 Mbit/s PPM, 112-bit DF17 frames (120 us)."""
    fs = 8e6
    x, anns = generate(scenario([{"id": "ac", "link": "adsb", "mode": "df17", "snr_db": 30, "phase_s": 0.0005}],
                                fs, 1090e6, 0.002), seed=8)
    a = anns[0]
    assert a.sample_count == int(round(120e-6 * fs))
    env = np.abs(x[0, a.sample_start: a.sample_start + a.sample_count])
    on = env > 0.5 * env.max()
    starts = np.nonzero(np.diff(on.astype(np.int8)) == 1)[0] + 1
    t_us = np.r_[0 if on[0] else [], starts] / fs * 1e6
    pre = [t for t in t_us if t < 8]
    assert np.allclose(pre, [0, 1.0, 3.5, 4.5], atol=0.2)
    # every 1 us bit has exactly one pulse half: energy in half 1 vs half 2 differ strongly
    bits = env[int(8e-6 * fs):].reshape(112, 8)
    h1, h2 = bits[:, :4].sum(1), bits[:, 4:].sum(1)
    assert np.all(np.abs(h1 - h2) > 0.5 * (h1 + h2))
    dec = (h1 > h2).astype(int)
    assert int("".join(map(str, dec[:5])), 2) == 17
    # A decoder's parity check passes: the CRC over the whole frame leaves no remainder.
    assert modes_crc(dec) == 0


# DF17 frames received from aircraft (J. Sun, "The 1090 Megahertz Riddle", 2nd ed., and the
# pyModeS test suite): each one's last 24 bits are the parity of the first 88.
REAL_DF17 = ("8D4840D6202CC371C32CE0576098", "8D40621D58C382D690C8AC2863A7", "8D485020994409940838175B284F")


@pytest.mark.parametrize("frame_hex", REAL_DF17)
def test_mode_s_crc_of_real_frames(frame_hex):
    v = int(frame_hex, 16)
    bits = [(v >> (111 - i)) & 1 for i in range(112)]
    assert modes_crc(bits[:88]) == v & 0xFFFFFF
    assert modes_crc(bits) == 0
    bits[40] ^= 1                       # one bit in error: the check fails
    assert modes_crc(bits) != 0


# ---------------------------------------------------------------- analog video

@pytest.mark.parametrize("std,line_hz,field_hz", [("ntsc", 15734.264, 59.94), ("pal", 15625.0, 50.0)])
def test_analog_video_line_and_field_structure(std, line_hz, field_hz):
    """LINKS.md '1.2/1.3 GHz analog FPV video': FM video, 6-8 MHz wide, NTSC line rate 15.734 kHz /
    PAL 15.625 kHz; fields at 59.94 / 50 Hz marked by broad vertical-sync pulses."""
    fs = 10e6
    x, anns = generate(scenario([{"id": "v", "link": "analog-fpv-video", "mode": std, "freq": "1258M",
                                  "snr_db": 30}], fs, 1258e6, 0.045, noise=-40), seed=9)
    assert anns[0].label == "analog-fpv-video"
    seg = x[0]
    inst = np.angle(seg[1:] * np.conj(seg[:-1])) * fs / (2 * np.pi)
    video = np.convolve(inst, np.ones(20) / 20, mode="same")
    sync = video < np.percentile(video, 2) + 0.15 * (np.percentile(video, 98) - np.percentile(video, 2))
    d = np.diff(sync.astype(np.int8))
    ups, downs = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    ups = ups[ups < downs[-1]]
    downs = downs[np.searchsorted(downs, ups[0]):][: len(ups)]
    widths = (downs - ups) / fs
    hs = ups[(widths > 3.5e-6) & (widths < 6e-6)]
    period = np.median(np.diff(hs)) / fs
    assert abs(1 / period - line_hz) < 20
    broad = ups[widths > 20e-6]
    groups = broad[np.r_[True, np.diff(broad) > 1e-3 * fs]]
    assert len(groups) >= 2
    assert abs(fs / np.median(np.diff(groups)) - field_hz) < 0.5
    bw = obw99(seg, fs)
    assert 5.5e6 < bw < 8.5e6


# ---------------------------------------------------------------- the remaining 2.4 GHz links

@pytest.mark.parametrize("link,mode,fs,air_lo,air_hi,interval_s", [
    ("expresslrs-2g4-lora", "500", 4e6, 1.5e-3, 10.8e-3, 2e-3),
    ("expresslrs-2g4-flrc", "1000", 4e6, 0.37e-3, 0.41e-3, 1e-3),
    ("frsky-d16", "9ms", 4e6, 0.5e-3, 8e-3, 9e-3),
    ("flysky-afhds2a", "3.85ms", 4e6, 0.3e-3, 3e-3, 3.85e-3),
    ("spektrum-dsmx", "11ms", 4e6, 0.5e-3, 3e-3, 11e-3)])
def test_2g4_links_timing(link, mode, fs, air_lo, air_hi, interval_s):
    """LINKS.md 2.4 GHz rows: ExpressLRS 2.4 LoRa 1.5-10.8 ms at 500 Hz; FLRC 0.389 ms at 1000 Hz;
    FrSky D16 9 ms packets; AFHDS 2A 3.85 ms packets; DSMX 11 ms frames.  A fixed channel
    is used so that every packet is in view."""
    from rfdetect.simulate import LINKS

    f3 = LINKS[link].plans["ISM2G4"][3]
    x, anns = generate(scenario([{"id": "t", "link": link, "mode": mode, "channel": 3, "snr_db": 30,
                                  "phase_s": 0.0002}], fs, f3 + 0.3e6, 6 * interval_s + 1e-3), seed=10)
    assert len({a.freq_lower_edge_hz for a in anns}) == 1
    assert abs((anns[0].freq_lower_edge_hz + anns[0].freq_upper_edge_hz) / 2 - f3) < 1.0
    b = bursts_from_envelope(x[0], fs, smooth_s=5e-6)
    assert len(b) >= 5
    durs = np.array([(e - s) / fs for s, e in b])
    assert np.all((durs > air_lo) & (durs < air_hi)), durs
    assert np.allclose(np.diff([s for s, _ in b]) / fs, interval_s, atol=10e-6)
