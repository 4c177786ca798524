"""False drone alarms per hour of negative recordings: seeded simulated recordings without
any drone, through the whole engine (detector, tracker, signature matcher) exactly as
bench_accuracy.py runs it, counting the tracks reported ``"drone": true``.

    .venv/bin/python bench/bench_false_alarms.py [--hours 1.0] [--jobs 2] [--families all|NAME,NAME] [--first-recording K]
        [--integrate] [--dechirp [--dechirp-links all]] [--zadoff-chu] [--out bench/out/false_alarms]
    .venv/bin/python bench/bench_false_alarms.py --replay FAMILY:SEED     (one recording again)

The hours are shared between the scenario families (FAMILIES, each with its share): noise alone at the
two receivers of bench_accuracy (an RTL-SDR at 2.4 MS/s with its front-end impairments, and
an ideal 20 MS/s receiver at 2.44 GHz), every non-drone emitter alone, and crowded bands
without drones (868 MHz LoRaWAN and ISM sensors, 433 MHz remotes and weather sensors,
2.4 GHz Wi-Fi on several channels, 1090 MHz ADS-B).  Every recording draws its emitters'
counts, modes, channels, rates, in-band SNRs (-5..+30 dB), carrier offsets and multipath
from its own seed, and the receiver's front-end errors too.  Recordings are rendered and
analysed block by block, so memory does not grow with their length.

Writes ``OUT.md`` and ``OUT.json``: hours per family, each false drone alarm with its link,
confidence, family, seed and time (``--replay FAMILY:SEED`` renders that recording again)
and the simulated emitters it overlaps, alarms per hour with the 95 % Poisson upper bound,
the non-drone detections per link, and the wall time.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_accuracy import detector_config  # noqa: E402
from rfdetect.classify import Classifier  # noqa: E402
from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.model import IQBlock, RecordingInfo  # noqa: E402
from rfdetect.pipeline import Pipeline  # noqa: E402

# Seeds: family i, recording k uses SEED_BASE + i * SEED_STRIDE + k, far from bench_accuracy's
# (0.. for noise, 1000.. for links) and bench/fit_confidence.py's.
SEED_BASE, SEED_STRIDE = 700_000, 10_000
SNR_RANGE_DB = (-5.0, 30.0)
FEED_SAMPLES = 1 << 16          # the block size bench_accuracy feeds
MHZ = 1e6


# ------------------------------------------------------------------ scenario generation

def _rtl(fc: float, rng: np.random.Generator, fs: float = 2.4e6) -> dict:
    """An RTL-SDR receiver with its impairments drawn per seed: gain, DC spike, IQ
    imbalance, and a crystal error of a dongle without TCXO."""
    return {"receiver": {"type": "rtl-sdr", "sample_rate": fs, "center_freq": fc,
                         "noise_dbfs": float(rng.uniform(-34, -26))},
            "frontend": {"gain_db": float(rng.uniform(0, 6)), "dc_offset_dbfs": float(rng.uniform(-45, -30)),
                         "iq_gain_imbalance_db": float(rng.uniform(-0.3, 0.3)),
                         "iq_phase_imbalance_deg": float(rng.uniform(-2, 2)), "ppm": float(rng.uniform(-10, 10))}}


def _wideband(fc: float, rng: np.random.Generator) -> dict:
    """The 20 MS/s receiver bench_accuracy uses at 2.4 GHz (no RTL-SDR reaches it)."""
    return {"receiver": {"sample_rate": 20e6, "center_freq": fc, "noise_dbfs": float(rng.uniform(-34, -26))}}


def _emitter(rng: np.random.Generator, eid: str, link: str, mode: str, *, offset_hz: float,
             max_delay_s: float, **keys) -> dict:
    """One emitter with the spread every emitter gets: in-band SNR, carrier offset (the
    transmitter's crystal), and multipath (AWGN, Rician or Rayleigh, up to three taps)."""
    em = {"id": eid, "link": link, "mode": mode, "snr_db": float(rng.uniform(*SNR_RANGE_DB)),
          "freq_offset_hz": float(rng.uniform(-offset_hz, offset_hz)), **keys}
    model = str(rng.choice(["awgn", "awgn", "rician", "rayleigh"]))
    if model != "awgn":
        delays = np.sort(rng.uniform(0, max_delay_s, int(rng.integers(1, 3))))
        em["channel_model"] = {"model": model, "k_db": float(rng.uniform(3, 10)),
                               "delays_s": [0.0, *map(float, delays)],
                               "powers_db": [0.0, *map(float, -np.sort(rng.uniform(2, 12, len(delays))))]}
    return em


def _ism_freq(rng: np.random.Generator, fc: float, band: tuple[float, float], bw: float) -> float:
    """A carrier inside the ISM allocation and within the receiver's 2.4 MHz window."""
    lo, hi = max(band[0] + bw, fc - 1.1 * MHZ), min(band[1] - bw, fc + 1.1 * MHZ)
    return float(rng.uniform(lo, hi))


ISM_BANDS = {"433": ((433.05 * MHZ, 434.79 * MHZ), 433.92 * MHZ), "868": ((863 * MHZ, 870 * MHZ), 868.0 * MHZ),
             "915": ((902 * MHZ, 928 * MHZ), 915.0 * MHZ), "315": ((314 * MHZ, 316 * MHZ), 315.0 * MHZ)}
SUB_GHZ_OFFSET_HZ = 10e3        # +-12 ppm at 868 MHz
ISM_OFFSET_HZ = 50e3            # SAW-resonator OOK remotes are far off their nominal
WIFI_OFFSET_HZ = 50e3           # +-20 ppm at 2.44 GHz (802.11 tolerance)
ADSB_OFFSET_HZ = 100e3
SUB_GHZ_DELAY_S, WIFI_DELAY_S = 2e-6, 0.3e-6


def _ism(rng: np.random.Generator, eid: str, link: str, band: str, fc: float, interval: tuple) -> dict:
    from rfdetect.simulate import occupied_bandwidth_hz

    modes = ("pwm-remote", "ppm-sensor") if link == "ism-ook" else ("sensor", "wmbus-t")
    mode = str(rng.choice(modes))
    freq = _ism_freq(rng, fc, ISM_BANDS[band][0], occupied_bandwidth_hz(link, mode))
    return _emitter(rng, eid, link, mode, offset_hz=ISM_OFFSET_HZ, max_delay_s=SUB_GHZ_DELAY_S,
                    domain=band, freq=freq, interval_s=float(rng.uniform(*interval)))


LORAWAN_MODES = ("SF7BW125", "SF8BW125", "SF9BW125", "SF10BW125", "SF11BW125", "SF12BW125", "SF7BW250", "SF8BW500")
# Receivers that see LoRaWAN channels: EU868 (867.1-868.5 MHz) and the US915 uplinks at 902.3+.
LORAWAN_RX = {"EU868": 868.0 * MHZ, "US915": 903.0 * MHZ}


def _lorawan(rng: np.random.Generator, eid: str, domain: str, interval: tuple, downlink: bool | None = None) -> dict:
    mode = str(rng.choice(LORAWAN_MODES))
    if downlink is None:
        downlink = bool(rng.random() < 0.3)
    return _emitter(rng, eid, "lorawan", mode, offset_hz=SUB_GHZ_OFFSET_HZ, max_delay_s=SUB_GHZ_DELAY_S,
                    domain=domain, downlink=downlink, interval_s=float(rng.uniform(*interval)))


WIFI_CHANNELS_2G4 = tuple((2407 + 5 * n) * MHZ for n in range(1, 14))


def _wifi(rng: np.random.Generator, eid: str, fc: float, traffic_ms: tuple) -> dict:
    # any channel that reaches into the receiver's 20 MHz, partial ones at the edges included
    chans = [f for f in WIFI_CHANNELS_2G4 if abs(f - fc) < 18 * MHZ]
    mode = str(rng.choice(["beacon", "traffic", "traffic"]))
    keys = {"freq": float(rng.choice(chans))}
    if mode == "traffic":
        keys["interval_s"] = float(rng.uniform(*traffic_ms)) * 1e-3
    return _emitter(rng, eid, "wifi", mode, offset_hz=WIFI_OFFSET_HZ, max_delay_s=WIFI_DELAY_S, **keys)


ADSB_MEAN_INTERVAL_S = {"mixed": 0.2, "df17": 0.25, "df11": 1.0}


def _adsb(rng: np.random.Generator, eid: str) -> dict:
    mode = str(rng.choice(list(ADSB_MEAN_INTERVAL_S)))
    return _emitter(rng, eid, "adsb", mode, offset_hz=ADSB_OFFSET_HZ, max_delay_s=SUB_GHZ_DELAY_S,
                    interval_s=ADSB_MEAN_INTERVAL_S[mode] * float(rng.uniform(0.5, 2.0)))


def noise_868(rng):
    return _rtl(float(rng.uniform(867.0, 869.0)) * MHZ, rng), []


def noise_2g4(rng):
    return _wideband(float(rng.uniform(2420, 2460)) * MHZ, rng), []


def lorawan_alone(rng):
    domain = str(rng.choice(list(LORAWAN_RX)))
    return _rtl(LORAWAN_RX[domain], rng), [_lorawan(rng, "node", domain, (0.3, 3.0))]


def _ism_alone(link: str):
    def build(rng):
        band = str(rng.choice(list(ISM_BANDS)))
        fc = ISM_BANDS[band][1]
        return _rtl(fc, rng), [_ism(rng, link, link, band, fc, (0.3, 3.0))]
    build.__name__ = link.replace("-", "_") + "_alone"
    return build


def wifi_alone(rng):
    fc = float(rng.uniform(2420, 2460)) * MHZ
    return _wideband(fc, rng), [_wifi(rng, "ap", fc, (1.0, 20.0))]


def adsb_alone(rng):
    return _rtl(1090 * MHZ, rng), [_adsb(rng, "aircraft")]


def noise_video(rng):
    """Noise alone where analog video links sit (the line-rate stage runs there): an RTL-SDR
    at 1.08-1.36 GHz, or the 20 MS/s receiver at 5.8 GHz."""
    if rng.random() < 0.5:
        return _rtl(float(rng.uniform(1080, 1360)) * MHZ, rng), []
    return _wideband(float(rng.uniform(5650, 5925)) * MHZ, rng), []


def crowded_868(rng):
    """LoRaWAN gateway downlinks and nodes, FSK weather stations and meters, OOK sensors."""
    fc = 868.0 * MHZ
    ems = [_lorawan(rng, "gateway", "EU868", (0.5, 3.0), downlink=True)]
    ems += [_lorawan(rng, f"node-{i}", "EU868", (0.5, 10.0), downlink=False) for i in range(int(rng.integers(2, 9)))]
    ems += [_ism(rng, f"fsk-{i}", "ism-fsk", "868", fc, (0.5, 5.0)) for i in range(int(rng.integers(1, 6)))]
    ems += [_ism(rng, f"ook-{i}", "ism-ook", "868", fc, (0.5, 5.0)) for i in range(int(rng.integers(1, 6)))]
    return _rtl(fc, rng), ems


def crowded_433(rng):
    """Many OOK remotes and sensors, FSK weather sensors."""
    fc = 433.92 * MHZ
    ems = [_ism(rng, f"ook-{i}", "ism-ook", "433", fc, (0.3, 5.0)) for i in range(int(rng.integers(3, 11)))]
    ems += [_ism(rng, f"fsk-{i}", "ism-fsk", "433", fc, (0.5, 5.0)) for i in range(int(rng.integers(1, 7)))]
    return _rtl(fc, rng), ems


def crowded_2g4(rng):
    """Access points and stations on several (overlapping) Wi-Fi channels."""
    fc = float(rng.uniform(2420, 2460)) * MHZ
    return _wideband(fc, rng), [_wifi(rng, f"wifi-{i}", fc, (2.0, 50.0)) for i in range(int(rng.integers(2, 5)))]


def crowded_1090(rng):
    """A busy sky: many aircraft squittering ADS-B / Mode S."""
    return _rtl(1090 * MHZ, rng), [_adsb(rng, f"aircraft-{i}") for i in range(int(rng.integers(3, 16)))]


# family -> (builder, seconds per recording, share of the hours).  The 2.4 GHz families get
# smaller shares: at 20 MS/s with Wi-Fi traffic the simulator and the engine take 5-20 s per
# second of signal on this machine, against 0.1-0.5 s for the sub-GHz ones.
FAMILIES = {
    "noise-868": (noise_868, 20.0, 0.10),
    "noise-2g4": (noise_2g4, 10.0, 0.08),
    "lorawan": (lorawan_alone, 20.0, 0.10),
    "ism-ook": (_ism_alone("ism-ook"), 20.0, 0.10),
    "ism-fsk": (_ism_alone("ism-fsk"), 20.0, 0.10),
    "wifi": (wifi_alone, 10.0, 0.08),
    "adsb": (adsb_alone, 20.0, 0.08),
    "crowded-868": (crowded_868, 20.0, 0.12),
    "crowded-433": (crowded_433, 20.0, 0.12),
    "crowded-2g4": (crowded_2g4, 5.0, 0.04),
    "crowded-1090": (crowded_1090, 20.0, 0.08),
    "noise-video": (noise_video, 10.0, 0.05),
}


def family_seed(family: str, k: int) -> int:
    return SEED_BASE + list(FAMILIES).index(family) * SEED_STRIDE + k


def make_scenario(family: str, seed: int, duration_s: float | None = None) -> dict:
    """The scenario (simulator dict) of recording ``seed`` of ``family``: the same every time."""
    build, default_s, _ = FAMILIES[family]
    rx, emitters = build(np.random.default_rng([seed, 0xFA15E]))
    return {"scenario": {"name": f"{family}-{seed}", "duration_s": duration_s or default_s, "seed": seed},
            **rx, "emitter": emitters}


# ------------------------------------------------------------------ running and scoring

def run_scenario(scn: dict, config: DetectorConfig | None = None) -> tuple[list[dict], list, float]:
    """Render ``scn`` block by block through the simulator (with its RTL-SDR model) and the
    whole engine.  Returns the records, the simulator's annotations and the wall time."""
    from rfdetect.simulate import load_scenario
    from rfdetect.simulate.engine import make_plan, paused_gc, render_blocks, sorted_annotations
    from rfdetect.simulate.frontend import cu8_to_float

    s = load_scenario(scn)
    fs, fc = s.receiver.sample_rate_hz, s.receiver.center_freq_hz
    info = RecordingInfo("bench", fs, fc, num_channels=1, num_samples=int(round(s.duration_s * fs)))
    recs: list[dict] = []
    p = Pipeline(info, recs.append, config=config, classifier=Classifier(early_reports=True))
    t0 = time.perf_counter()
    with paused_gc():
        plan = make_plan(s)
        i = 0
        for blk in render_blocks(plan):
            if plan.frontend is not None:
                blk = cu8_to_float(plan.frontend.to_cu8(blk))
            for j in range(0, blk.shape[1], FEED_SAMPLES):
                p.feed(IQBlock(blk[:, j:j + FEED_SAMPLES], i + j, fc, fs))
            i += blk.shape[1]
        annotations = sorted_annotations(plan)
    p.finish()
    return recs, annotations, time.perf_counter() - t0


def track_finals(recs: list[dict]) -> dict[int, dict]:
    """Per track, its last detection record (an update supersedes the first report)."""
    return {r["track_id"]: r for r in recs if r["type"] == "detection"}


def false_alarms(recs: list[dict]) -> list[dict]:
    """One entry per track reported ``"drone": true`` at any time: its first drone record
    (when the user was alarmed) and the highest confidence the track reached as a drone."""
    out: dict[int, dict] = {}
    for r in recs:
        if r["type"] != "detection" or r["drone"] is not True:
            continue
        a = out.setdefault(r["track_id"], {
            "track_id": r["track_id"], "link": r["link"], "mode": r.get("mode"), "t_alarm_s": r["t_end_s"],
            "t_start_s": r["t_start_s"], "center_freq_hz": r["center_freq_hz"], "bandwidth_hz": r["bandwidth_hz"],
            "snr_db": r.get("snr_db"), "confidence": r["confidence"], "links": []})
        a["max_confidence"] = max(a.get("max_confidence", 0.0), r["confidence"])
        if r["link"] not in a["links"]:
            a["links"].append(r["link"])
    return list(out.values())


def overlapping_emitters(alarm: dict, annotations: list, fs: float) -> list[dict]:
    """The simulated emitters whose bursts overlap the alarm's track in time and frequency,
    with how many of their bursts do: what the engine mistook for a drone."""
    lo = alarm["center_freq_hz"] - alarm["bandwidth_hz"] / 2
    hi = alarm["center_freq_hz"] + alarm["bandwidth_hz"] / 2
    hits: Counter = Counter()
    info: dict[str, dict] = {}
    for an in annotations:
        t0, t1 = an.sample_start / fs, (an.sample_start + an.sample_count) / fs
        if t1 < alarm["t_start_s"] or t0 > alarm["t_alarm_s"] or an.freq_upper_edge_hz < lo or an.freq_lower_edge_hz > hi:
            continue
        c = json.loads(an.comment)
        hits[c["emitter"]] += 1
        info[c["emitter"]] = {"emitter": c["emitter"], "link": an.label, "mode": c["mode"], "snr_db": c["snr_db"]}
    return [{**info[e], "bursts": n} for e, n in hits.most_common()]


def score_recording(family: str, seed: int, scn: dict, recs: list[dict], annotations: list) -> dict:
    fs = float(scn["receiver"]["sample_rate"])
    alarms = false_alarms(recs)
    for a in alarms:
        a["cause"] = overlapping_emitters(a, annotations, fs)
    finals = track_finals(recs)
    return {"family": family, "seed": seed, "duration_s": scn["scenario"]["duration_s"],
            "emitters": Counter(e["link"] for e in scn["emitter"]),
            "bursts_simulated": Counter(an.label for an in annotations),
            "detections": Counter(d["link"] for d in finals.values()),
            "false_alarms": alarms}


def run_one(job: tuple) -> dict:
    family, seed, duration_s, config = job
    scn = make_scenario(family, seed, duration_s)
    recs, annotations, wall = run_scenario(scn, config)
    out = score_recording(family, seed, scn, recs, annotations)
    out["wall_s"] = round(wall, 2)
    return out


def plan_jobs(hours: float, families: list[str], config: DetectorConfig, first: int = 0) -> list[tuple]:
    """Recordings covering at least ``hours`` in total, shared between the families by their
    shares, each family's numbered from ``first``; the widest (slowest) first so that the
    workers finish together."""
    jobs = []
    total_share = sum(FAMILIES[f][2] for f in families)
    for fam in families:
        _, seg_s, share = FAMILIES[fam]
        n = max(1, math.ceil(hours * 3600 * share / total_share / seg_s))
        jobs += [(fam, family_seed(fam, k), seg_s, config) for k in range(first, first + n)]
    wide = {f for f in families if make_scenario(f, 0)["receiver"]["sample_rate"] > 3e6}
    return sorted(jobs, key=lambda j: (j[0] not in wide, j[1]))


CONFIDENCE_FLOORS = (0.5, 0.9)


def poisson_upper_95(n: int) -> float:
    """One-sided 95 % upper limit of a Poisson mean after observing ``n`` events (3.0 for 0)."""
    from scipy.stats import chi2
    return float(chi2.ppf(0.95, 2 * n + 2) / 2)


def summarise(results: list[dict]) -> dict:
    fams: dict[str, dict] = {}
    for r in results:
        f = fams.setdefault(r["family"], {"recordings": 0, "seconds": 0.0, "false_alarms": 0, "wall_s": 0.0,
                                          "emitters": Counter(), "bursts_simulated": Counter(),
                                          "detections": Counter()})
        f["recordings"] += 1
        f["seconds"] += r["duration_s"]
        f["false_alarms"] += len(r["false_alarms"])
        f["wall_s"] += r["wall_s"]
        for k in ("emitters", "bursts_simulated", "detections"):
            f[k].update(r[k])
    total_s = sum(f["seconds"] for f in fams.values())
    n = sum(f["false_alarms"] for f in fams.values())
    alarms = [{"family": r["family"], "seed": r["seed"], **a} for r in results for a in r["false_alarms"]]
    hours = total_s / 3600
    # An operator may alarm only on reports of some confidence: the rate at each such floor
    # (by the highest confidence the track reached as a drone).
    at_confidence = {}
    for floor in CONFIDENCE_FLOORS:
        k = sum(a["max_confidence"] >= floor for a in alarms)
        at_confidence[floor] = {"false_alarms": k, "per_hour": k / hours if hours else None,
                                "per_hour_upper_95": poisson_upper_95(k) / hours if hours else None}
    return {"families": {k: {**v, "hours": v["seconds"] / 3600} for k, v in fams.items()},
            "hours": hours, "false_alarms": n, "alarms": sorted(alarms, key=lambda a: (a["family"], a["seed"])),
            "per_hour": n / hours if hours else None,
            "per_hour_upper_95": poisson_upper_95(n) / hours if hours else None,
            "at_confidence": at_confidence,
            "detections": sum((f["detections"] for f in fams.values()), Counter())}


def _counts(c: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])) or "-"


def markdown(s: dict, meta: dict) -> str:
    lines = ["# False drone alarms on negative recordings", "",
             f"Command: `{meta['command']}`  ",
             f"Load average at the start / end: {meta['load_start']} / {meta['load_end']}; "
             f"wall time {meta['wall_s']:.0f} s with {meta['jobs']} processes.", "",
             f"**{s['false_alarms']} false drone alarms in {s['hours']:.3f} h of negatives: "
             f"{s['per_hour']:.2f} per hour, 95 % upper bound {s['per_hour_upper_95']:.2f} per hour** "
             "(target: at most 1 per hour).", "",
             "Alarms whose track reached a confidence of at least: "
             + "; ".join(f"{floor:.1f}: {v['false_alarms']} ({v['per_hour']:.2f} per hour, 95 % upper bound "
                         f"{v['per_hour_upper_95']:.2f})" for floor, v in s["at_confidence"].items()) + ".", "",
             "| family | recordings | hours | false drone alarms | simulated emitters | bursts simulated "
             "| detections (tracks, last link) | wall s |", "|---|---|---|---|---|---|---|---|"]
    for name, f in s["families"].items():
        lines.append(f"| {name} | {f['recordings']} | {f['hours']:.3f} | {f['false_alarms']} | {_counts(f['emitters'])} "
                     f"| {_counts(f['bursts_simulated'])} | {_counts(f['detections'])} | {f['wall_s']:.0f} |")
    lines += ["", "Detections per link over all families (tracks, by the link of their last record): "
              + _counts(s["detections"]), "", "## Each false drone alarm", ""]
    if not s["alarms"]:
        lines.append("None.")
    else:
        lines += ["| family | seed | time s | link (all links of the track) | confidence first / max | "
                  "centre MHz | bandwidth kHz | overlapping simulated emitters (bursts) |", "|---|---|---|---|---|---|---|---|"]
        for a in s["alarms"]:
            cause = "; ".join(f"{c['emitter']} {c['link']} {c['mode']} {c['snr_db']:+.1f} dB ({c['bursts']})"
                              for c in a["cause"]) or "none (noise)"
            lines.append(f"| {a['family']} | {a['seed']} | {a['t_start_s']:.3f}-{a['t_alarm_s']:.3f} | {a['link']} "
                         f"({', '.join(a['links'])}) | {a['confidence']:.2f} / {a['max_confidence']:.2f} "
                         f"| {a['center_freq_hz'] / 1e6:.4f} | {a['bandwidth_hz'] / 1e3:.1f} | {cause} |")
        lines += ["", "Reproduce one: `.venv/bin/python bench/bench_false_alarms.py --replay FAMILY:SEED`."]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def replay(spec: str, config: DetectorConfig) -> int:
    family, _, seed = spec.partition(":")
    scn = make_scenario(family, int(seed))
    print(json.dumps(scn, indent=1))
    recs, annotations, wall = run_scenario(scn, config)
    r = score_recording(family, int(seed), scn, recs, annotations)
    for d in recs:
        if d["type"] == "detection":
            print(json.dumps({k: d[k] for k in ("track_id", "link", "drone", "confidence", "t_start_s", "t_end_s",
                                                "center_freq_hz", "bandwidth_hz", "snr_db")}))
    print(json.dumps(r["false_alarms"], indent=1))
    print(f"{len(r['false_alarms'])} false drone alarms, wall {wall:.1f} s", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rfdetect bench false_alarms", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0, help="total length of the negatives (default 1.0)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--families", default="all", help=f"comma-separated, of: {', '.join(FAMILIES)}")
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "false_alarms"))
    ap.add_argument("--first-recording", type=int, default=0, metavar="K",
                    help="number each family's recordings from K (default 0): another K gives recordings the "
                         "rules were not tuned on")
    ap.add_argument("--replay", metavar="FAMILY:SEED", help="run one recording and print its detections")
    ap.add_argument("--integrate", action="store_true",
                    help="detector with the integrated test (rfdetect analyze --integrate)")
    ap.add_argument("--dechirp", action="store_true", help="add the chirp detector (rfdetect analyze --dechirp)")
    ap.add_argument("--dechirp-links", choices=["drone", "all"], default="drone",
                    help="LoRa signatures the chirp detector searches for (rfdetect analyze --dechirp-links)")
    ap.add_argument("--zadoff-chu", action="store_true",
                    help="add the Zadoff-Chu search for DroneID (rfdetect analyze --zadoff-chu)")
    args = ap.parse_args(argv)
    config = detector_config(args.integrate, args.dechirp, args.dechirp_links, args.zadoff_chu)
    if args.replay:
        return replay(args.replay, config)
    families = list(FAMILIES) if args.families == "all" else args.families.split(",")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        ap.error(f"unknown families: {', '.join(unknown)} (known: {', '.join(FAMILIES)})")
    if not 0 <= args.first_recording < SEED_STRIDE - 1000:
        ap.error(f"--first-recording {args.first_recording}: must be in 0..{SEED_STRIDE - 1001}")
    jobs = plan_jobs(args.hours, families, config, args.first_recording)
    meta = {"command": " ".join(["bench/bench_false_alarms.py", *(argv if argv is not None else sys.argv[1:])]),
            "jobs": args.jobs, "load_start": _load(), "config": {k: v for k, v in vars(args).items()}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    results = []
    # each recording's result as it comes, so that an interrupted run still tells what it saw
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool, \
            out.with_suffix(".partial.jsonl").open("w") as partial:
        for i, r in enumerate(pool.imap_unordered(run_one, jobs)):
            results.append(r)
            partial.write(json.dumps(r, default=str) + "\n")
            partial.flush()
            print(f"[{i + 1}/{len(jobs)}] {r['family']:13s} seed {r['seed']}  {r['duration_s']:.0f} s in "
                  f"{r['wall_s']:.1f} s  alarms {len(r['false_alarms'])}  detections {_counts(r['detections'])}",
                  file=sys.stderr, flush=True)
    meta.update(wall_s=time.time() - t0, load_end=_load())
    results.sort(key=lambda r: (r["family"], r["seed"]))
    s = summarise(results)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "summary": s, "recordings": results},
                                                   indent=1, default=str))
    out.with_suffix(".md").write_text(markdown(s, meta))
    print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
