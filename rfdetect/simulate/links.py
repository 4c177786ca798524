"""Registry of simulated links: permanent ids, modes, band plans and burst schedules.

Every mode's numbers come from LINKS.md (rows named in ``source``) and the sources it cites;
values LINKS.md marks *unverified* are marked ``provisional`` here.  A link turns an emitter
description into a list of :class:`TxBurst` (what goes on air, when, where) or, for continuous
carriers, a renderer.  Waveforms are synthesised lazily, only for bursts the receiver sees.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from . import adsb, analog_video, bandplans as bp, fsk, lora, ofdm, ook
from .kernels import fsk_burst_iq, ramp_edges


@dataclass(frozen=True)
class LinkSpec:
    id: str
    name: str
    family: str                  # lora, fsk, ofdm-droneid, ... (selects the synthesiser)
    drone: bool
    modes: dict                  # mode name -> parameters
    default_mode: str
    plans: dict                  # domain -> channel centres (Hz), or ISM ranges
    default_domain: str
    schedule: str                # "fhss", "sporadic", "periodic", "continuous"
    source: str
    provisional: bool = False
    ranges: bool = False         # plans hold (lo, hi) frequency ranges, not channels


@dataclass
class TxBurst:
    """One transmission: a contiguous waveform on one carrier."""
    index: int
    t_start_s: float
    freq_hz: float
    bandwidth_hz: float
    synth: Callable[[float, np.random.Generator], np.ndarray]
    channel: int | None = None
    extra: dict = field(default_factory=dict)


_MASK64 = (1 << 64) - 1
_BURST_BG = np.random.PCG64(0)
_BURST_GEN = np.random.Generator(_BURST_BG)


def _mix64(z: int) -> int:
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def burst_phase(seed: int, index: int) -> float:
    """A uniform random carrier phase for one burst (radians), a pure function of its key."""
    return _mix64(_mix64(int(seed) * 0x2545F4914F6CDD1D + int(index)) ^ 0x7F4A7C15) / 2.0 ** 64 * 2 * math.pi


def burst_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator for one burst's randomness, a pure function of (seed, index, stream).

    Creating a seeded Generator costs 15-20 us (SeedSequence hashing), more than synthesising
    a short burst; instead one PCG64 is re-keyed with a splitmix64 hash of the triple.  The
    returned generator is valid until the next call (single-threaded use, drawn at once)."""
    h = _mix64(_mix64(int(seed) + 0x9E3779B97F4A7C15 * (int(index) + 1)) + int(stream))
    _BURST_BG.state = {"bit_generator": "PCG64", "state": {"state": (h << 64) | _mix64(h),
                                                           "inc": 0xDA3E39CB94B95BDB},
                       "has_uint32": 0, "uinteger": 0}
    return _BURST_GEN


# ------------------------------------------------------------------------- modes

def _elrs900(sf, pre, hop, interval_us, tlm, cr=3, pl=8, nsym=None):
    n = nsym if nsym is not None else lora.payload_symbols(sf, pl, cr, implicit_header=True, crc=False)
    return dict(kind="lora", sf=sf, bw_hz=500e3, preamble=pre, payload_symbols=n, sync_word=0x12,
                hop_every=hop, interval_s=interval_us * 1e-6, tlm_ratio=tlm)


def _elrs2g4(sf, pre, hop, interval_us, tlm, cr=3, pl=8):
    n = lora.payload_symbols(sf, pl, cr, implicit_header=True, crc=False)
    return dict(kind="lora", sf=sf, bw_hz=812.5e3, preamble=pre, payload_symbols=n, sync_word=0x12,
                hop_every=hop, interval_s=interval_us * 1e-6, tlm_ratio=tlm)


def _gfsk(bitrate, dev, nbits, interval_s=None, hop=1, bt=0.5, tlm=0, **kw):
    d = dict(kind="fsk", bitrate=bitrate, deviation_hz=dev, bits=nbits, bt=bt, hop_every=hop,
             interval_s=interval_s, tlm_ratio=tlm)
    d.update(kw)
    return d


def _lora(sf, bw, pre, pl, cr, interval_s=None, hop=1, ih=True, crc=False, sync=0x12, **kw):
    de = (1 << sf) / bw > 16e-3
    n = lora.payload_symbols(sf, pl, cr, implicit_header=ih, crc=crc, low_dr_opt=de)
    d = dict(kind="lora", sf=sf, bw_hz=bw, preamble=pre, payload_symbols=n, sync_word=sync,
             hop_every=hop, interval_s=interval_s, tlm_ratio=0)
    d.update(kw)
    return d


def _lorawan_modes():
    modes = {}
    for sf in range(7, 13):
        modes[f"SF{sf}BW125"] = dict(kind="lora", sf=sf, bw_hz=125e3)
    modes["SF7BW250"] = dict(kind="lora", sf=7, bw_hz=250e3)
    modes["SF8BW500"] = dict(kind="lora", sf=8, bw_hz=500e3)
    for m in modes.values():
        m.update(preamble=8, sync_word=0x34, interval_s=30.0)
    return modes


LINKS: dict[str, LinkSpec] = {}


def _add(spec: LinkSpec) -> None:
    LINKS[spec.id] = spec


_add(LinkSpec(
    "expresslrs-lora", "ExpressLRS 900 MHz LoRa (SX127x / LR1121)", "lora", True,
    {"200": _elrs900(6, 8, 4, 5000, 64), "100": _elrs900(7, 8, 4, 10000, 32),
     "100full": _elrs900(6, 8, 4, 10000, 32, cr=4, pl=13), "50": _elrs900(8, 10, 4, 20000, 0),
     "25": _elrs900(9, 10, 2, 40000, 0), "250": _elrs900(5, 12, 4, 4000, 0, nsym=34)},
    "200", bp.ELRS_900, "FCC915", "fhss",
    "LINKS.md 'ExpressLRS 900, LoRa (SX127x)' and 'LoRa on LR1121'; ExpressLRS src/src/common.cpp "
    "(SF, preamble, interval, hop interval; implicit header, CR 4/7, 8-byte OTA packet, no CRC), "
    "src/lib/FHSS/FHSS.cpp (domains, sequence)"))
_add(LinkSpec(
    "expresslrs-fsk", "ExpressLRS 900 MHz FSK (LR1121)", "fsk", True,
    {"1000": _gfsk(300e3, 100e3, int(round(0.658e-3 * 300e3)), 1e-3, hop=2, preamble=32, syncword=0x12AD34CD)},
    "1000", bp.ELRS_900, "FCC915", "fhss",
    "LINKS.md 'ExpressLRS 900, FSK (LR1121)': GFSK 300 kb/s, 100 kHz deviation, 1000 Hz, "
    "hop every 2, 0.658 ms on air"))
_add(LinkSpec(
    "expresslrs-2g4-lora", "ExpressLRS 2.4 GHz LoRa (SX1280)", "lora", True,
    {"500": _elrs2g4(5, 12, 4, 2000, 128), "333full": _elrs2g4(5, 12, 4, 3003, 64, cr=4, pl=13),
     "250": _elrs2g4(6, 14, 4, 4000, 64), "150": _elrs2g4(7, 12, 4, 6666, 32),
     "100full": _elrs2g4(7, 12, 4, 10000, 32, cr=4, pl=13), "50": _elrs2g4(8, 12, 2, 20000, 0)},
    "500", bp.ELRS_2G4, "ISM2G4", "fhss",
    "LINKS.md 'ExpressLRS 2.4 (SX1280)': BW 812.5 kHz, SF5-SF8, 80 channels; air time from the "
    "SX127x formula (SX1280 long interleaving not modelled: provisional within the 1.5-10.8 ms range)"))
_add(LinkSpec(
    "expresslrs-2g4-flrc", "ExpressLRS 2.4 GHz FLRC (SX1280)", "fsk", True,
    {"1000": _gfsk(650e3, 162.5e3, int(round(0.389e-3 * 650e3)), 1e-3, hop=2, bt=1.0, preamble=32,
                   syncword=0x12AD34CD),
     "500": _gfsk(650e3, 162.5e3, int(round(0.389e-3 * 650e3)), 2e-3, hop=2, bt=1.0, preamble=32,
                  syncword=0x12AD34CD)},
    "1000", bp.ELRS_2G4, "ISM2G4", "fhss",
    "LINKS.md 'ExpressLRS 2.4 (SX1280)': FLRC 650 kb/s (GMSK-like, h = 0.5, BT 1.0), 1000/500 Hz, "
    "hop every 2, 0.389 ms"))
_add(LinkSpec(
    "frsky-r9", "FrSky R9 / ACCESS R9", "lora", True,
    {"20ms": _lora(6, 500e3, 9, 26, 1, 20e-3, hop=1)},
    "20ms", bp.FRSKY_R9, "FCC915", "fhss",
    "LINKS.md 'FrSky R9': LoRa BW 500 kHz SF6 CR 4/5, 20 ms frames; DIY-Multiprotocol "
    "FrSkyR9_sx1276.ino (26-byte packet, preamble 9: provisional)", provisional=True))
_add(LinkSpec(
    "tbs-crossfire", "TBS Crossfire", "mixed", True,
    {"150": _gfsk(85.1e3, 42.5e3, 8 * 40, 1 / 150, hop=1, preamble=32, syncword=0x2DD4),
     "50": _lora(7, 500e3, 8, 20, 1, 1 / 50, hop=1),
     "4": _lora(10, 250e3, 8, 20, 1, 1 / 4, hop=1)},
    "150", bp.CROSSFIRE, "FCC915", "fhss",
    "LINKS.md 'TBS Crossfire' (RF modes 4/50/150 Hz, FSK at 150 Hz, LoRa at 50 Hz: PHY unverified)",
    provisional=True))
_add(LinkSpec(
    "mlrs", "mLRS", "lora", True,
    {"19": _lora(6, 500e3, 12, 91, 1, 53e-3, hop=1),
     "31": _lora(5, 500e3, 12, 91, 1, 32e-3, hop=1)},
    "31", bp.MLRS, "EU868", "fhss",
    "LINKS.md 'mLRS' (LoRa, hopping); mLRS Common/setup.h configure_mode (19 Hz: 53 ms, SF6; "
    "31 Hz: 32 ms, SF5, at 868/915 MHz) and Common/sx-drivers/sx126x_driver.h (BW 500 kHz, "
    "CR 4/5, preamble 12, implicit header, no CRC, 91-byte frames: 22.56 and 13.2 ms). "
    "Not modelled: the 50 Hz mode, FSK at 868/915 MHz, and the 2.4 GHz modes", provisional=True))
_add(LinkSpec(
    "frsky-d16", "FrSky D16 (ACCST, CC2500)", "fsk", True,
    {"9ms": _gfsk(70e3, 57e3, 8 * 40, 9e-3, hop=1, preamble=32, syncword=0xD391, hopping="skip")},
    "9ms", bp.FRSKY_D16, "ISM2G4", "fhss",
    "LINKS.md 'FrSky D8/D16': GFSK, 47 hop channels, 9 ms packets; DIY-Multiprotocol "
    "FrSkyX_cc2500.ino (CC2500 about 70 kBaud, 57 kHz deviation, channel-skip hopping: provisional)",
    provisional=True))
_add(LinkSpec(
    "flysky-afhds2a", "FlySky AFHDS 2A (A7105)", "fsk", True,
    {"3.85ms": _gfsk(500e3, 186e3, 8 * 46, 3.85e-3, hop=1, preamble=32, syncword=0x5475C52A)},
    "3.85ms", bp.AFHDS2A, "ISM2G4", "fhss",
    "LINKS.md 'FlySky AFHDS 2A': GFSK, 16 hop channels, 3.85 ms packets; A7105 500 kb/s, 186 kHz "
    "deviation (provisional)", provisional=True))
_add(LinkSpec(
    "spektrum-dsmx", "Spektrum DSMX (CYRF6936)", "fsk", True,
    {"11ms": _gfsk(1e6, 250e3, 1152, 11e-3, hop=1, preamble=0, syncword=0, channels_used=23),
     "22ms": _gfsk(1e6, 250e3, 1152, 22e-3, hop=1, preamble=0, syncword=0, channels_used=23)},
    "11ms", bp.DSMX, "ISM2G4", "fhss",
    "LINKS.md 'Spektrum DSMX': 23 of channels 3-75 (1 MHz raster), DSSS/GFSK, 11 or 22 ms frames; "
    "modelled as 1 Mchip/s MSK of pseudo-random chips, 16 bytes of 64-chip symbols (provisional)",
    provisional=True))
_add(LinkSpec(
    "dji-droneid", "DJI DroneID (OcuSync 2/3)", "ofdm-droneid", True,
    {"v2": dict(kind="droneid", legacy=False, interval_s=0.6, hop_every=1),
     "legacy": dict(kind="droneid", legacy=True, interval_s=0.6, hop_every=1)},
    "v2", bp.DRONEID, "2G4", "fhss",
    "LINKS.md 'DJI DroneID (OcuSync 2/3)'; RUB-SysSec/DroneSecurity src/helpers.py, "
    "src/packetizer.py; about every 600 ms, hopping"))
_add(LinkSpec(
    "dji-ocusync-c2", "DJI OcuSync uplink (C2)", "ofdm-c2", True,
    {"c2": dict(kind="c2", interval_s=14e-3, hop_every=1)},
    "c2", bp.OCUSYNC_C2, "2G4", "fhss",
    "LINKS.md 'DJI OcuSync uplink (C2)': OFDM, 73 subcarriers, ZC in symbols 0 and 6, 500-520 us; "
    "interval and raster provisional", provisional=True))
_add(LinkSpec(
    "dji-ocusync-video", "DJI OcuSync video", "ofdm-video", True,
    {"10MHz": dict(kind="video", width="10MHz", interval_s=1e-3),
     "20MHz": dict(kind="video", width="20MHz", interval_s=1e-3)},
    "10MHz", bp.OCUSYNC_VIDEO, "2G4", "periodic",
    "LINKS.md 'DJI OcuSync video': OFDM 10/20 MHz, 15 kHz spacing, about 1 ms frames "
    "(12-symbol frames, provisional)", provisional=True))
_add(LinkSpec(
    "analog-fpv-video", "Analog FM video (1.2/1.3 and 5.8 GHz FPV)", "fm-video", True,
    {"ntsc": dict(kind="fmvideo", standard="ntsc"), "pal": dict(kind="fmvideo", standard="pal")},
    "pal", {**bp.VIDEO_1G3, **bp.VIDEO_5G8}, "R", "continuous",
    "LINKS.md '1.2/1.3 GHz analog FPV video' and '5.8 GHz analog FPV video'; ArduPilot "
    "AP_VideoTX_Table.cpp; SMPTE 170M / ITU-R BT.470 line and field structure"))
_add(LinkSpec(
    "lorawan", "LoRaWAN (node uplinks, gateway downlinks)", "lora", False,
    _lorawan_modes(), "SF7BW125", bp.LORAWAN, "EU868", "sporadic",
    "LINKS.md 'Emitters that are not drones' (LoRaWAN, 125/250 kHz, SF7-SF12); LoRa Alliance "
    "RP002 regional parameters; explicit header, CRC, preamble 8, sync word 0x34"))
_add(LinkSpec(
    "ism-ook", "ISM OOK remotes and sensors", "ook", False,
    {"pwm-remote": dict(kind="pwm", short_s=350e-6, long_s=1050e-6, sync_gap_s=10.85e-3, bits=24,
                        repeats=6, interval_s=5.0),
     "ppm-sensor": dict(kind="ppm", pulse_s=500e-6, gap0_s=1000e-6, gap1_s=2000e-6, sync_gap_s=4000e-6,
                        bits=36, repeats=6, interval_s=30.0)},
    "pwm-remote", bp.ISM_RANGES, "433", "sporadic",
    "LINKS.md 'ISM sensors and remotes' (OOK bursts); rtl_433 device timings (EV1527/PT2262 PWM "
    "remotes, Nexus/Prologue PPM sensors)", ranges=True))
_add(LinkSpec(
    "ism-fsk", "ISM FSK sensors", "fsk", False,
    {"sensor": _gfsk(17.24e3, 35e3, 8 * 20, None, bt=None, preamble=48, syncword=0x2DD4, interval_s_mean=48.0),
     "wmbus-t": _gfsk(100e3, 50e3, 8 * 40, None, bt=None, preamble=38, syncword=0x3D, interval_s_mean=60.0)},
    "sensor", bp.ISM_RANGES, "868", "sporadic",
    "LINKS.md 'ISM sensors and remotes' (FSK bursts); rtl_433 Fine Offset WH1080 FSK (17.24 kb/s), "
    "EN 13757-4 wireless M-Bus mode T (100 kchip/s, +-50 kHz)", ranges=True))
_add(LinkSpec(
    "wifi", "Wi-Fi 802.11a/g OFDM", "ofdm-wifi", False,
    {"beacon": dict(kind="wifi", interval_s=0.1024, bytes=(200, 300), rate_mbps=6),
     "traffic": dict(kind="wifi", interval_s_mean=2e-3, bytes=(100, 1500), rate_mbps=24)},
    "beacon", bp.WIFI, "2G4", "sporadic",
    "LINKS.md 'Wi-Fi and Bluetooth at 2.4/5 GHz'; IEEE 802.11-2020 clause 17 (OFDM PHY)"))
_add(LinkSpec(
    "adsb", "ADS-B / Mode S", "ppm", False,
    {"mixed": dict(kind="modes", interval_s_mean=0.2, long_fraction=0.8),
     "df17": dict(kind="modes", interval_s_mean=0.25, long_fraction=1.0),
     "df11": dict(kind="modes", interval_s_mean=1.0, long_fraction=0.0)},
    "mixed", bp.ADSB, "1090", "sporadic",
    "LINKS.md 'ADS-B / Mode S at 1090 MHz'; ICAO Annex 10 vol. IV; recording "
    "adsb_modes_g001_1090M_2000k.cu8 (8 us preamble, 1 Mbit/s PPM, 56/112 bits)"))


# Transmitter on/off ramps per waveform kind (seconds): SX127x/SX128x/LR1121 PA ramps are
# 10 us or more (PaRamp register); IEEE 802.11 transition time 0.1 us; DJI OFDM bursts about
# 0.5 us (provisional); OOK and Mode S pulses have their own edges.
RAMP_S = {"lora": 10e-6, "fsk": 10e-6, "droneid": 0.5e-6, "c2": 0.5e-6, "video": 0.5e-6, "wifi": 0.1e-6}
_NO_RAMP = np.zeros(0, np.float32)


@lru_cache(maxsize=64)
def _ramp_window(k: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)).astype(np.float32)


def ramp_for(kind: str, n: int, fs: float) -> np.ndarray:
    """Rising half of the raised-cosine power-amplifier ramp of an n-sample burst (applied at
    both ends by :func:`kernels.ramp_edges`; empty for none): real transmitters do not switch
    on instantly, and an abrupt edge would splatter across the whole band."""
    k = min(int(round(RAMP_S.get(kind, 0.0) * fs)), n // 4)
    return _ramp_window(k) if k >= 2 else _NO_RAMP


DEFAULT_FREQ = {("ism-ook", "433"): 433.92e6, ("ism-ook", "868"): 868.3e6, ("ism-ook", "915"): 915.0e6,
                ("ism-ook", "315"): 315.0e6, ("ism-fsk", "433"): 433.92e6, ("ism-fsk", "868"): 868.3e6,
                ("ism-fsk", "915"): 915.0e6, ("ism-fsk", "315"): 315.0e6}


# --------------------------------------------------------------- bandwidths

def _occupied_99(x: np.ndarray, fs: float) -> float:
    """Width of the centred band holding 99 % of the power (ITU-R SM.328 occupied bandwidth)."""
    n = 1 << int(np.ceil(np.log2(max(len(x), 1024))))
    p = np.abs(np.fft.fftshift(np.fft.fft(x, n))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(n, 1 / fs))
    c = np.cumsum(p) / p.sum()
    lo = f[np.searchsorted(c, 0.005)]
    hi = f[np.searchsorted(c, 0.995)]
    return float(max(abs(lo), abs(hi)) * 2)


@lru_cache(maxsize=None)
def occupied_bandwidth_hz(link_id: str, mode: str) -> float:
    """The occupied bandwidth used for annotations and the in-band SNR of a link mode.

    LoRa: the chirp bandwidth; OFDM: used subcarriers x spacing; others: the 99 % power
    bandwidth measured once on a reference burst synthesised at a generous rate.
    """
    p = LINKS[link_id].modes[mode]
    k = p["kind"]
    if k == "lora":
        return float(p["bw_hz"])
    if k == "droneid":
        return ofdm.DRONEID_SUBCARRIERS * 15e3
    if k == "c2":
        return ofdm.C2_SUBCARRIERS * 15e3
    if k == "video":
        return ofdm.VIDEO_MODES[p["width"]][0] * 15e3
    if k == "wifi":
        return 52 * 312.5e3 + 312.5e3
    rng = np.random.default_rng(0)
    if k == "fsk":
        fs = 16 * (p["deviation_hz"] + p["bitrate"])
        x = _synth_fsk(p, rng, fs)
    elif k in ("pwm", "ppm"):
        fs = 2e6
        x = _synth_ook(p, rng, fs)
    elif k == "modes":
        # PPM pulses with 0.1 us edges spread thinly over about 10 MHz; the band that matters
        # (and that a 2 MS/s Mode S receiver keeps) is the +-1 MHz around 1090 MHz
        return 2e6
    elif k == "fmvideo":
        fs = 30e6
        r = analog_video.FMVideoRenderer(p["standard"], fs)
        x = r.render(0, int(fs * 0.02))
    else:  # pragma: no cover
        raise KeyError(k)
    bw = _occupied_99(x, fs)
    # round up to 1 kHz steps: annotation edges are kept readable
    return float(math.ceil(bw / 1e3) * 1e3)


# ------------------------------------------------------------- synthesisers

def _synth_lora(p, rng, fs, inverted=False, nsym=None):
    """A LoRa frame of random data from ``rng``, without ramps: what :func:`lora.lora_burst`
    computes in one kernel call from the burst's key (the tests hold them equal)."""
    n = p["payload_symbols"] if nsym is None else nsym
    data = rng.integers(0, 1 << p["sf"], n)
    return lora.lora_frame(fs, p["sf"], p["bw_hz"], p["preamble"], p["sync_word"], data, inverted=inverted)


@lru_cache(maxsize=None)
def _fsk_header(preamble: int, syncword: int) -> np.ndarray:
    head = []
    if preamble:
        head.append(fsk.preamble_bits(preamble))
    if syncword:
        nb = int(syncword).bit_length()
        head.append(fsk.word_bits(syncword, max(8, nb + (-nb) % 8)))
    return np.concatenate(head).astype(np.uint8) if head else np.zeros(0, np.uint8)


@lru_cache(maxsize=256)
def _fsk_modulator(bits: int, bitrate: float, deviation_hz: float, bt: float | None, preamble: int,
                   syncword: int, fs: float) -> fsk.FskModulator:
    head = _fsk_header(preamble, syncword)
    return fsk.FskModulator(fs, head, max(bits - len(head), 8), bitrate, deviation_hz, bt)


def random_bits(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.integers(0, 2, n, dtype=np.uint8)`` of a freshly seeded generator, at a tenth of
    its cost: NumPy draws those bits as the top bit of each byte of its 64-bit outputs (Lemire's
    method on buffered bytes), so the raw outputs give them directly.  The simulator tests check
    the two agree, which keeps recordings made either way identical."""
    return rng.bit_generator.random_raw((n + 7) // 8).astype("<u8", copy=False).view(np.uint8)[:n] >> 7


def _modulator_for(p, fs) -> fsk.FskModulator:
    return _fsk_modulator(p["bits"], p["bitrate"], p["deviation_hz"], p.get("bt"), p.get("preamble") or 0,
                          p.get("syncword") or 0, float(fs))


def _synth_fsk(p, rng, fs):
    mod = _modulator_for(p, fs)
    return mod(random_bits(rng, mod.body_bits))


def _fsk_burst(p, burst_seed: int, index: int, fs: float) -> np.ndarray:
    """:func:`_synth_fsk` of ``burst_rng(burst_seed, index)`` with the transmitter's ramp, in
    one kernel call (the most frequent bursts: ExpressLRS FSK sends 1000 a second)."""
    mod = _modulator_for(p, fs)
    out = np.empty(mod.n, np.complex64)
    fsk_burst_iq(burst_seed, index, mod.head, mod.body_bits, mod.spp, mod.taps, mod.scale,
                 ramp_for("fsk", mod.n, fs), out)
    return out


def _synth_ook(p, rng, fs):
    bits = rng.integers(0, 2, p["bits"])
    if p["kind"] == "pwm":
        pulses, dur = ook.pwm_pulses(bits, p["short_s"], p["long_s"], p["sync_gap_s"], p["repeats"])
    else:
        pulses, dur = ook.ppm_pulses(bits, p["pulse_s"], p["gap0_s"], p["gap1_s"], p["sync_gap_s"], p["repeats"])
    return ook.ook_frame(fs, pulses, dur)


def burst_duration_s(link_id: str, mode: str) -> float | None:
    """Nominal air time of one burst (None when it varies from burst to burst)."""
    p = LINKS[link_id].modes[mode]
    k = p["kind"]
    if k == "lora" and "payload_symbols" in p:
        return lora.frame_duration_s(p["sf"], p["bw_hz"], p["preamble"], p["payload_symbols"])
    if k == "fsk":
        return max(p["bits"], (p.get("preamble") or 0) + 8) / p["bitrate"]
    if k == "droneid":
        cps = ofdm.DRONEID_CP_LEGACY if p["legacy"] else ofdm.DRONEID_CP
        return (sum(cps) + 1024 * len(cps)) / ofdm.DRONEID_RATE_HZ
    if k == "c2":
        return (sum(ofdm.C2_CP) + 1024 * len(ofdm.C2_CP)) / ofdm.DRONEID_RATE_HZ
    if k == "video":
        return (80 + 72 * (ofdm.VIDEO_SYMBOLS - 1) + 1024 * ofdm.VIDEO_SYMBOLS) / 15.36e6
    return None


# ---------------------------------------------------------------- sequences

def elrs_hop_sequence(n_channels: int, seed: int, length: int = 256) -> np.ndarray:
    """ExpressLRS-style FHSS sequence (FHSS.cpp): blocks of ``n_channels`` entries, each
    block starting with the sync channel (the middle one) followed by the other channels
    in a seeded random order.  The seed plays the role of the binding UID."""
    rng = np.random.default_rng(seed)
    sync = n_channels // 2
    others = np.array([c for c in range(n_channels) if c != sync], np.int64)
    blocks = max(1, length // n_channels)
    seq = []
    for _ in range(blocks):
        seq.append(np.concatenate([[sync], rng.permutation(others)]))
    return np.concatenate(seq)


def hop_sequence(spec: LinkSpec, p: dict, n_channels: int, seed: int) -> np.ndarray:
    if spec.id.startswith("expresslrs-"):
        return elrs_hop_sequence(n_channels, seed)
    rng = np.random.default_rng(seed)
    if p.get("hopping") == "skip":          # FrSky: next = (current + skip) mod n
        skip = int(rng.integers(1, n_channels))
        while math.gcd(skip, n_channels) != 1:
            skip += 1
        return (np.arange(n_channels) * skip) % n_channels
    used = p.get("channels_used")
    chans = rng.permutation(n_channels)[:used] if used else rng.permutation(n_channels)
    return chans


# ---------------------------------------------------------------- schedules

def schedule(spec: LinkSpec, mode: str, channels: tuple, fixed_channel: int | None, t0: float, t1: float,
             rng: np.random.Generator, hop_seed: int, burst_seed: int, emitter: object | None = None,
             keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> list[TxBurst]:
    """All bursts an emitter sends in [t0, t1) (continuous links return []).

    ``keep(times_s, freqs_hz) -> bool array`` drops periodic/hopping bursts nobody will render
    (out of the receiver's band) before any object is built for them."""
    p = spec.modes[mode]
    bw = occupied_bandwidth_hz(spec.id, mode)
    out: list[TxBurst] = []
    kind = p["kind"]

    def synth_for(k_index: int, extra: dict):
        def synth(fs: float, _rng_unused=None) -> np.ndarray:
            if kind == "fsk":
                return _fsk_burst(p, burst_seed, k_index, fs)
            if kind == "lora":
                frame = (fs, p["sf"], p["bw_hz"], p["preamble"], p["sync_word"],
                         p["payload_symbols"] if "payload_symbols" in p else extra["nsym"])
                return lora.lora_burst(*frame, burst_seed, k_index, ramp_for(kind, lora.frame_samples(*frame), fs),
                                       inverted=extra.get("downlink", False))
            w = synth_plain(fs)
            ramp_edges(w, ramp_for(kind, len(w), fs))
            return w

        def synth_plain(fs: float) -> np.ndarray:
            r = burst_rng(burst_seed, k_index)
            if kind in ("pwm", "ppm"):
                return _synth_ook(p, r, fs)
            if kind == "droneid":
                return ofdm.droneid_burst(fs, r, p["legacy"])
            if kind == "c2":
                return ofdm.ocusync_c2_burst(fs, r)
            if kind == "video":
                return ofdm.ocusync_video_burst(fs, r, p["width"])
            if kind == "wifi":
                return ofdm.wifi_burst(fs, r, extra["bytes"], p["rate_mbps"])
            if kind == "modes":
                return adsb.modes_frame(fs, adsb.random_squitter(r, extra["icao"], extra["long"]))
            raise KeyError(kind)
        return synth

    if spec.schedule == "continuous":
        return out
    if spec.schedule in ("fhss", "periodic"):
        interval = p["interval_s"]
        hop_every = p.get("hop_every", 1)
        if spec.schedule == "fhss" and fixed_channel is None:
            seq = hop_sequence(spec, p, len(channels), hop_seed)
        else:
            seq = np.array([fixed_channel if fixed_channel is not None else 0])
        # the emitter's packet clock starts at a seeded phase within one interval
        phase = float(rng.uniform(0, interval))
        if emitter is not None and getattr(emitter, "phase_s", None) is not None:
            phase = emitter.phase_s
        tlm = p.get("tlm_ratio", 0) or 0
        count = max(0, int(math.ceil((t1 - t0 - phase) / interval)))
        ks = np.arange(count)
        ts = t0 + phase + ks * interval
        ks, ts = ks[ts < t1], ts[ts < t1]
        chs = seq[(ks // hop_every) % len(seq)]
        freqs = np.asarray(channels, np.float64)[chs]
        sel = np.nonzero(keep(ts, freqs))[0] if keep is not None else ks
        for i in sel:
            k = int(ks[i])
            extra = {"packet": k}
            if tlm and k % tlm == tlm - 1:
                extra["telemetry"] = True
            out.append(TxBurst(k, float(ts[i]), float(freqs[i]), bw, synth_for(k, extra), int(chs[i]), extra))
        return out
    # sporadic: Poisson arrivals (or periodic beacons), random channel where the plan allows
    mean = p.get("interval_s_mean", p.get("interval_s"))
    if emitter is not None and getattr(emitter, "interval_s", None):
        mean = emitter.interval_s
    periodic = kind == "wifi" and "interval_s" in p and not (emitter is not None and getattr(emitter, "interval_s", None))
    t = t0 + float(rng.uniform(0, mean)) if periodic else t0 + float(rng.exponential(mean))
    if emitter is not None and getattr(emitter, "phase_s", None) is not None:
        t = t0 + emitter.phase_s
    k = 0
    icao = int(rng.integers(0x400000, 0xC00000))
    while t < t1:
        extra = {"packet": k}
        ch = fixed_channel
        if kind == "lora":
            sf, bwl = p["sf"], p["bw_hz"]
            plen = int(rng.integers(10, 52))
            de = (1 << sf) / bwl > 16e-3
            extra["nsym"] = lora.payload_symbols(sf, plen, 1, implicit_header=False, crc=True, low_dr_opt=de)
            extra["downlink"] = bool(getattr(emitter, "downlink", False))
            if ch is None:
                cand = _lorawan_channels(channels, bwl, spec, extra["downlink"])
                ch = int(cand[int(rng.integers(0, len(cand)))])
            dur = lora.frame_duration_s(sf, bwl, p["preamble"], extra["nsym"])
        elif kind == "wifi":
            extra["bytes"] = int(rng.integers(p["bytes"][0], p["bytes"][1] + 1))
            dur = ofdm.wifi_duration_s(extra["bytes"], p["rate_mbps"])
        elif kind == "modes":
            extra["icao"] = icao
            extra["long"] = bool(rng.random() < p["long_fraction"])
            dur = (120 if extra["long"] else 64) * 1e-6
        elif kind == "fsk":
            dur = p["bits"] / p["bitrate"]
        elif kind == "pwm":
            dur = p["repeats"] * (p["bits"] * (p["short_s"] + p["long_s"]) + p["short_s"] + p["sync_gap_s"])
        else:
            dur = p["repeats"] * (p["bits"] * (p["pulse_s"] + p["gap1_s"]) + p["pulse_s"] + p["sync_gap_s"])
        freq = channels[ch] if ch is not None else channels[0]
        out.append(TxBurst(k, t, freq, bw, synth_for(k, extra), ch, extra))
        gap = (p["interval_s"] if periodic else float(rng.exponential(mean)))
        t = t + max(gap, dur + 1e-4)
        k += 1
    return out


def _lorawan_channels(channels: tuple, bw: float, spec: LinkSpec, downlink: bool) -> np.ndarray:
    fr = np.asarray(channels)
    if abs(fr[0] - 868.1e6) < 1:        # EU868
        if downlink:
            return np.array([0, 1, 2, 8])
        return np.array([1]) if bw == 250e3 else np.arange(8)
    if bw == 500e3:
        return np.arange(72, 80) if downlink else np.arange(64, 72)
    return np.arange(64)
