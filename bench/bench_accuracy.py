"""Accuracy harness: seeded simulated trials through the whole engine (detector,
tracker, signature matcher), scored against the simulator's ground truth.

    .venv/bin/python bench/bench_accuracy.py [--trials 20] [--snr -20,-15,-10,-5,0,5,10,15,20]
        [--links all|ID,ID] [--duration 1.0] [--out bench/out/accuracy] [--integrate] [--dechirp [--dechirp-links all]] [--zadoff-chu]
        [--modes default|all] [--jobs N]

Per link: an SNR sweep (in-band SNR as the simulator defines it), ``--trials`` seeded trials
per point, each parameter the simulator varies per seed (hop sequence, carrier offset,
payload); with ``--modes all``, the drone links' modes in turn (trial k of a link with n
modes in its mode k mod n).  Negatives: noise alone, every non-drone emitter alone, and
the crowded 868 MHz scenario without its drones.  Writes ``OUT.md``, ``OUT.json`` and PNG plots: probability
of detection and of correct link against SNR, the confusion matrix (with ``unknown`` and
the non-drone classes), balanced accuracy per SNR, false drone alarms per hour of
negatives, time to first detection, and the reliability table of the confidence.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rfdetect.classify import Classifier  # noqa: E402
from rfdetect.detect import DetectorConfig  # noqa: E402
from rfdetect.model import IQBlock, RecordingInfo  # noqa: E402
from rfdetect.pipeline import Pipeline  # noqa: E402
from rfdetect.signatures import UNKNOWN, UNKNOWN_FHSS  # noqa: E402

# signature id (also the simulator's link id) -> (mode, domain, sample rate, centre
# frequency, fixed channel or None)
# Receivers: an RTL-SDR-like 2.4 MS/s window for sub-GHz links, wider for 2.4 GHz and video.
CASES = {
    "expresslrs-lora": ("200", "EU868", 2.4e6, 868.0e6, None),
    "expresslrs-fsk": ("1000", "EU433", 2.4e6, 433.775e6, None),
    "expresslrs-2g4-lora": ("500", "ISM2G4", 20e6, 2440e6, None),
    "expresslrs-2g4-flrc": ("1000", "ISM2G4", 20e6, 2440e6, None),
    "frsky-r9": ("20ms", "EU868", 2.4e6, 865.5e6, None),
    "tbs-crossfire": ("150", "EU868", 2.4e6, 868.0e6, None),
    "mlrs": ("31", "EU868", 2.4e6, 868.0e6, None),
    "frsky-d16": ("9ms", "ISM2G4", 20e6, 2440e6, None),
    "flysky-afhds2a": ("3.85ms", "ISM2G4", 20e6, 2440e6, None),
    "spektrum-dsmx": ("11ms", "ISM2G4", 20e6, 2440e6, None),
    "dji-droneid": ("v2", "2G4", 30.72e6, 2444.5e6, 2444.5e6),
    "dji-ocusync-c2": ("c2", "2G4", 20e6, 2440e6, None),
    "dji-ocusync-video": ("10MHz", "2G4", 30.72e6, 2439.5e6, 2439.5e6),
    "analog-fpv-video": ("pal", "1G3", 10e6, 1280e6, 1280e6),
    "lorawan": ("SF9BW125", "EU868", 2.4e6, 868.0e6, 868.1e6),
    "ism-ook": ("pwm-remote", "433", 2.4e6, 433.92e6, 433.92e6),
    "ism-fsk": ("sensor", "868", 2.4e6, 868.0e6, 868.3e6),
    "wifi": ("traffic", "2G4", 30.72e6, 2437e6, 2437e6),
    "adsb": ("mixed", "1090", 2.4e6, 1090e6, 1090e6),
}
NON_DRONE = ("lorawan", "ism-ook", "ism-fsk", "wifi", "adsb")
UNNAMED = (UNKNOWN, UNKNOWN_FHSS)
NOISE_RECEIVERS = ((2.4e6, 868e6), (20e6, 2440e6))
# Seeds of the scored trials: link trial k uses EVAL_SEED + k, noise trial k NEGATIVE_SEED + k
# (bench/fit_confidence.py fits on seeds far from both).
EVAL_SEED, NEGATIVE_SEED = 1000, 0


def link_modes(sig_id: str, which: str = "default") -> list[str]:
    """The modes a link's trials run in: its harness mode (``CASES``), or with ``which``
    "all" every mode the simulator declares for a drone link (a non-drone emitter keeps its
    mode: its trials send an event every 0.1 s, shorter than some of its other modes'
    messages)."""
    if which == "all" and sig_id not in NON_DRONE:
        from rfdetect.simulate.links import LINKS
        return list(LINKS[sig_id].modes)
    return [CASES[sig_id][0]]


def trial_duration_s(sig_id: str, mode: str, duration_s: float) -> float:
    """Control links sending 25 packets a second or fewer are given 2 s (the target's
    window for 25 Hz modes), the others ``duration_s``."""
    from rfdetect.simulate.links import LINKS
    p = LINKS[sig_id].modes[mode]
    slow = p.get("kind") in ("lora", "fsk") and (p.get("interval_s") or 0.0) >= 0.04 and sig_id not in NON_DRONE
    return max(duration_s, 2.0) if slow else duration_s


def scenario(sig_id: str, snr_db: float, duration_s: float, seed: int, mode: str | None = None) -> dict:
    default_mode, domain, fs, fc, freq = CASES[sig_id]
    em = {"id": "e", "link": sig_id, "mode": mode or default_mode, "domain": domain, "snr_db": float(snr_db)}
    if freq is not None:
        em["freq"] = float(freq)
    if sig_id in NON_DRONE:
        em["interval_s"] = 0.1      # enough events in a short trial
    return {"scenario": {"duration_s": duration_s, "seed": seed},
            "receiver": {"sample_rate": fs, "center_freq": fc}, "emitter": [em]}


def run_samples(x: np.ndarray, fs: float, fc: float,
                config: DetectorConfig | None = None) -> tuple[list[dict], float]:
    info = RecordingInfo("bench", fs, fc, num_channels=x.shape[0], num_samples=x.shape[1])
    recs: list[dict] = []
    p = Pipeline(info, recs.append, config=config, classifier=Classifier(early_reports=True))
    t0 = time.perf_counter()
    for i in range(0, x.shape[1], 1 << 16):
        p.feed(IQBlock(x[:, i:i + (1 << 16)], i, fc, fs))
    p.finish()
    return recs, time.perf_counter() - t0


def detector_config(integrate: bool = False, dechirp: bool = False, dechirp_links: str = "drone",
                    zadoff_chu: bool = False) -> DetectorConfig:
    """The detector of ``rfdetect analyze`` with ``--integrate`` / ``--dechirp`` / ``--zadoff-chu``."""
    changes: dict = {}
    if integrate:
        changes["integrate_frames"] = 9
    if dechirp:
        changes.update(dechirp=True, dechirp_links=dechirp_links)
    if zadoff_chu:
        changes["zadoff_chu"] = True
    return DetectorConfig(**changes)


def run_trial(sig_id: str | None, snr_db: float, duration_s: float, seed: int,
              config: DetectorConfig | None = None, receiver: tuple[float, float] | None = None,
              mode: str | None = None) -> tuple[list[dict], float, float]:
    """One seeded trial: the link ``sig_id`` at ``snr_db`` in ``mode`` (None: its harness
    mode) (``sig_id`` None: noise alone at ``receiver`` (sample rate, centre frequency)).
    Returns the records, the wall time and the signal duration."""
    from rfdetect.simulate import generate

    if sig_id is None:
        fs, fc = receiver
        scn = {"scenario": {"duration_s": duration_s, "seed": seed},
               "receiver": {"sample_rate": fs, "center_freq": fc}, "emitter": []}
    else:
        duration_s = trial_duration_s(sig_id, mode or CASES[sig_id][0], duration_s)
        scn = scenario(sig_id, snr_db, duration_s, seed, mode)
        fs, fc = CASES[sig_id][2], CASES[sig_id][3]
    x, _ = generate(scn, seed=seed)
    recs, wall = run_samples(x, fs, fc, config)
    return recs, wall, duration_s


def report_entries(recs: list[dict], truth: str | None) -> list[dict]:
    """Every detection record as the reliability table counts it: right when it names the
    simulated link (``truth`` None: noise alone, where no report is right).  ``named``:
    a link of the library (not ``unknown``/``unknown-fhss``, whose confidence says how
    sure an emitter is there, not which)."""
    return [{"track_id": d["track_id"], "report": d["evidence"].get("report"), "link": d["link"],
             "confidence": d["confidence"], "right": d["link"] == truth, "named": d["link"] not in UNNAMED}
            for d in recs if d["type"] == "detection"]


def final_reports(entries: list[dict]) -> list[dict]:
    """One entry per detection as a user sees it: a track's last record (a record
    supersedes the earlier ones of its track), carrying the first report's confidence beside
    it."""
    out: dict[int, dict] = {}
    for e in entries:
        seen = out.get(e["track_id"])
        first = {"first_confidence": e["confidence"], "first_right": e["right"], "first_named": e["named"]} \
            if seen is None else {k: seen[k] for k in ("first_confidence", "first_right", "first_named")}
        out[e["track_id"]] = {**e, **first}
    return list(out.values())


def score_trial(recs: list[dict], truth: str | None) -> dict:
    """Outcome of one trial: the link named (the most confident drone detection, else the
    most confident detection), detection of the drone, time to first correct report."""
    dets = [r for r in recs if r["type"] == "detection"]
    drone = [d for d in dets if d["drone"] is True]
    named = max(drone or dets, key=lambda d: d["confidence"], default=None)
    first_ok = [d["t_end_s"] for d in dets if d["link"] == truth]
    return {"named": named["link"] if named else "none", "confidence": named["confidence"] if named else None,
            "detected": bool(drone) if truth not in NON_DRONE else bool(dets),
            "correct": bool(first_ok), "t_first_s": min(first_ok) if first_ok else None,
            "false_drone": len({d["track_id"] for d in drone}) if truth in NON_DRONE or truth is None else 0,
            "reports": final_reports(report_entries(recs, truth))}


def reliability(reports: list[tuple[float, bool]], bins: int = 10) -> dict:
    """Reliability table of (confidence, right) pairs: per confidence bin the count, mean
    confidence and fraction right, and the expected calibration error (ECE: the
    count-weighted mean over bins of |mean confidence - fraction right|)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    conf = np.array([c for c, _ in reports], float)
    right = np.array([ok for _, ok in reports], bool)
    # Bin b holds [edge b, edge b+1); 1.0 falls in the last.
    idx = np.minimum((conf * bins).astype(int), bins - 1) if len(conf) else np.zeros(0, int)
    rows, ece = [], 0.0
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        row = {"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": n, "mean_confidence": None, "correct": None}
        if n:
            row["mean_confidence"] = float(conf[sel].mean())
            row["correct"] = float(right[sel].mean())
            ece += n * abs(row["mean_confidence"] - row["correct"])
        rows.append(row)
    n = len(conf)
    return {"rows": rows, "n": n, "right": int(right.sum()),
            "mean_confidence": float(conf.mean()) if n else None,
            "ece": ece / n if n else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rfdetect bench accuracy", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--snr", default="-20,-15,-10,-5,0,5,10,15,20")
    ap.add_argument("--links", default="all")
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "accuracy"))
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--integrate", action="store_true",
                    help="detector with the integrated test (rfdetect analyze --integrate)")
    ap.add_argument("--dechirp", action="store_true",
                    help="add the chirp detector (rfdetect analyze --dechirp)")
    ap.add_argument("--dechirp-links", choices=["drone", "all"], default="drone",
                    help="LoRa signatures the chirp detector searches for (rfdetect analyze --dechirp-links)")
    ap.add_argument("--zadoff-chu", action="store_true",
                    help="add the Zadoff-Chu search for DroneID (rfdetect analyze --zadoff-chu)")
    ap.add_argument("--modes", choices=["default", "all"], default="default",
                    help="the drone links' modes: the harness mode of each link (default), or all "
                         "the simulator declares, in turn from trial to trial")
    ap.add_argument("--jobs", type=int, default=1,
                    help="worker processes (default 1); the results do not depend on it")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs {args.jobs}: must be at least 1")
    config = detector_config(args.integrate, args.dechirp, args.dechirp_links, args.zadoff_chu)
    snrs = [float(s) for s in args.snr.split(",")]
    links = list(CASES) if args.links == "all" else args.links.split(",")
    results: dict = {"config": vars(args), "trials": [], "negatives": []}
    t_start = time.time()
    cells = [(sig_id, snr, k, args.duration, config, _mode_of_trial(sig_id, k, args.modes))
             for sig_id in links for snr in snrs for k in range(args.trials)]
    # Negatives: noise alone at two receivers.
    cells += [(None, rx, k, args.duration, config, None) for k in range(max(1, args.trials // 2))
              for rx in NOISE_RECEIVERS]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pending = Counter((c[0], c[1]) for c in cells if c[0] is not None)
    # Each trial's outcome as it comes, so that an interrupted run still tells what it saw.
    with out.with_suffix(".partial.jsonl").open("w") as partial:
        for r in _outcomes(cells, args.jobs):
            partial.write(json.dumps(r, default=str) + "\n")
            partial.flush()
            if r["link"] is None:
                results["negatives"].append(r)
                continue
            results["trials"].append(r)
            key = (r["link"], r["snr_db"])
            pending[key] -= 1
            if not pending[key]:
                tt = [t for t in results["trials"] if (t["link"], t["snr_db"]) == key]
                print(f"{key[0]:22s} {key[1]:+5.1f} dB  detected {np.mean([t['detected'] for t in tt]):.2f}"
                      f"  correct {np.mean([t['correct'] for t in tt]):.2f}", file=sys.stderr, flush=True)
    # (In the order of a serial run, whatever order the workers finished in.)
    order = {(c[0], c[1], c[2]): i for i, c in enumerate(cells)}
    results["trials"].sort(key=lambda t: order[(t["link"], t["snr_db"], t["trial"])])
    results["negatives"].sort(key=lambda t: order[(None, tuple(t["receiver"]), t["trial"])])
    neg_s = args.duration * len(results["negatives"])
    false_alarms = sum(sc["false_drone"] for sc in results["negatives"])
    for t in results["trials"]:
        if t["link"] in NON_DRONE:
            false_alarms += t["false_drone"]
            neg_s += args.duration
    summary = summarise(results["trials"], snrs, links, results["negatives"])
    summary["false_drone_alarms"] = false_alarms
    summary["negative_hours"] = neg_s / 3600
    summary["false_drone_alarms_per_hour"] = false_alarms / (neg_s / 3600) if neg_s else None
    summary["wall_s"] = round(time.time() - t_start, 1)
    results["summary"] = summary
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    out.with_suffix(".md").write_text(markdown(summary, snrs, links))
    if not args.no_plots:
        plots(summary, snrs, links, out)
    print(out.with_suffix(".md").read_text())
    return 0


def _mode_of_trial(sig_id: str, k: int, which: str) -> str:
    modes = link_modes(sig_id, which)
    return modes[k % len(modes)]


def run_cell(cell: tuple) -> dict:
    """One scored trial: ``(link, SNR, k, duration, config, mode)``, or ``(None, receiver,
    k, duration, config, None)`` for noise alone at that receiver."""
    sig_id, snr_or_rx, k, duration_s, config, mode = cell
    if sig_id is None:
        recs, wall, _ = run_trial(None, 0.0, duration_s, NEGATIVE_SEED + k, config, receiver=snr_or_rx)
        where = {"receiver": snr_or_rx}
    else:
        recs, wall, _ = run_trial(sig_id, snr_or_rx, duration_s, EVAL_SEED + k, config, mode=mode)
        where = {"snr_db": snr_or_rx, "mode": mode}
    out = score_trial(recs, sig_id)
    out.update({"link": sig_id, **where, "trial": k, "wall_s": round(wall, 3)})
    return out


def _outcomes(cells: list[tuple], jobs: int):
    """``run_cell`` of every cell, in this process or in ``jobs`` worker processes (in the
    order they finish)."""
    if jobs == 1:
        yield from map(run_cell, cells)
        return
    import multiprocessing
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        yield from pool.imap_unordered(run_cell, cells)


def _rates(trials: list[dict]) -> dict:
    """Share of the trials that detected the link, that named it, and their number."""
    return {"p_detect": float(np.mean([t["detected"] for t in trials])),
            "p_correct": float(np.mean([t["correct"] for t in trials])), "n": len(trials)}


def summarise(trials: list[dict], snrs, links, negatives: list[dict] = ()) -> dict:
    per = defaultdict(dict)
    for sig_id in links:
        for snr in snrs:
            tt = [t for t in trials if t["link"] == sig_id and t["snr_db"] == snr]
            if tt:
                times = [t["t_first_s"] for t in tt if t["t_first_s"] is not None]
                per[sig_id][snr] = {**_rates(tt), "t_first_median_s": float(np.median(times)) if times else None}
    per_mode = defaultdict(lambda: defaultdict(dict))
    for sig_id in links:
        for mode in dict.fromkeys(t.get("mode") for t in trials if t["link"] == sig_id):
            for snr in snrs:
                tt = [t for t in trials if t["link"] == sig_id and t.get("mode") == mode and t["snr_db"] == snr]
                if tt:
                    per_mode[sig_id][mode][snr] = _rates(tt)
    confusion = defaultdict(Counter)
    for t in trials:
        confusion[t["link"]][t["named"]] += 1
    balanced = {}
    for snr in snrs:
        recalls = [per[s][snr]["p_correct"] for s in links if snr in per[s]]
        balanced[snr] = float(np.mean(recalls)) if recalls else None
    reports = [r for t in [*trials, *negatives] for r in t["reports"]]
    named = [r for r in reports if r["named"]]
    rel = {"named": reliability([(r["confidence"], r["right"]) for r in named]),
           "named_first": reliability([(r["first_confidence"], r["first_right"]) for r in reports if r["first_named"]]),
           "unnamed": reliability([(r["confidence"], r["right"]) for r in reports if not r["named"]]),
           "all": reliability([(r["confidence"], r["right"]) for r in reports])}
    return {"per_link": per, "per_mode": {k: dict(v) for k, v in per_mode.items()},
            "confusion": {k: dict(v) for k, v in confusion.items()},
            "balanced_accuracy": balanced, "reliability": rel}


RELIABILITY_TEXT = """Reliability of the confidence.  One entry per detection as a user sees it: per track,
its last record (the update that supersedes the first report), in every trial of every link
(drone and non-drone) and in the noise-alone trials.  Right: the record names the simulated
link.  Wrong: any other link, in a noise trial any report at all; a second track of the same
link in one trial counts as right again.  The table holds the detections that name a link
of the library.  `unknown` and `unknown-fhss` reports are summarised apart: the simulator
makes no emitter outside the library, so each of them here is a failure to name one that
is in it.  A track's first report (before its update) is scored on the line "at their
first report".  ECE: expected calibration error, the count-weighted mean over the bins of
|mean confidence - fraction right|."""


def _ece_line(name: str, r: dict) -> str:
    if not r["n"]:
        return f"- {name}: none"
    return (f"- {name}: {r['n']} reports, {r['right']} right ({r['right'] / r['n']:.2f}), "
            f"mean confidence {r['mean_confidence']:.2f}, ECE {r['ece']:.3f}")


def markdown(s: dict, snrs, links) -> str:
    lines = ["# Accuracy report", "", "Probability of detection / of correct link per in-band SNR (dB):", "",
             "| link | " + " | ".join(f"{x:+g}" for x in snrs) + " |", "|---|" + "---|" * len(snrs)]
    for sig_id in links:
        row = s["per_link"].get(sig_id, {})
        cells = [f"{row[x]['p_detect']:.2f} / {row[x]['p_correct']:.2f}" if x in row else "-" for x in snrs]
        lines.append(f"| {sig_id} | " + " | ".join(cells) + " |")
    several = {k: v for k, v in s.get("per_mode", {}).items() if len(v) > 1}
    if several:
        lines += ["", "Per mode, where a link's trials ran in several (detected / correct, trials):", "",
                  "| link | mode | " + " | ".join(f"{x:+g}" for x in snrs) + " |", "|---|---|" + "---|" * len(snrs)]
        for sig_id, modes in several.items():
            for mode, row in modes.items():
                cells = [f"{row[x]['p_detect']:.2f} / {row[x]['p_correct']:.2f} ({row[x]['n']})" if x in row else "-"
                         for x in snrs]
                lines.append(f"| {sig_id} | {mode} | " + " | ".join(cells) + " |")
    lines += ["", "Median time to first correct report (s):", "",
              "| link | " + " | ".join(f"{x:+g}" for x in snrs) + " |", "|---|" + "---|" * len(snrs)]
    for sig_id in links:
        row = s["per_link"].get(sig_id, {})
        cells = [f"{row[x]['t_first_median_s']:.3f}" if x in row and row[x]["t_first_median_s"] is not None else "-"
                 for x in snrs]
        lines.append(f"| {sig_id} | " + " | ".join(cells) + " |")
    lines += ["", "Balanced accuracy (mean per-class recall): " +
              ", ".join(f"{x:+g} dB: {v:.3f}" for x, v in s["balanced_accuracy"].items() if v is not None), "",
              f"False drone alarms: {s['false_drone_alarms']} in {s['negative_hours'] * 3600:.0f} s of negatives "
              f"({s['false_drone_alarms_per_hour']:.1f} per hour)" if s["false_drone_alarms_per_hour"] is not None else "",
              "", "Confusion (truth -> named):", ""]
    for truth, named in s["confusion"].items():
        lines.append(f"- {truth}: " + ", ".join(f"{k} {v}" for k, v in sorted(named.items(), key=lambda kv: -kv[1])))
    rel = s["reliability"]
    lines += ["", RELIABILITY_TEXT, "", "| bin | n | mean confidence | fraction right |", "|---|---|---|---|"]
    for r in rel["named"]["rows"]:
        if r["n"]:
            lines.append(f"| {r['bin']} | {r['n']} | {r['mean_confidence']:.2f} | {r['correct']:.2f} |")
        else:
            lines.append(f"| {r['bin']} | 0 | - | - |")
    lines += ["", _ece_line("named links, last record per track", rel["named"]),
              _ece_line("named links, at their first report", rel["named_first"]),
              _ece_line("unknown / unknown-fhss, last record per track", rel["unnamed"]),
              _ece_line("all detections, last record per track", rel["all"])]
    lines.append(f"\nWall time: {s['wall_s']} s")
    return "\n".join(lines) + "\n"


def plots(s: dict, snrs, links, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for sig_id in links:
        row = s["per_link"].get(sig_id, {})
        xs = [x for x in snrs if x in row]
        axes[0].plot(xs, [row[x]["p_detect"] for x in xs], marker="o", label=sig_id)
        axes[1].plot(xs, [row[x]["p_correct"] for x in xs], marker="o", label=sig_id)
    axes[0].set_title("probability of detection")
    axes[1].set_title("probability of correct link")
    for ax in axes:
        ax.set_xlabel("in-band SNR (dB)")
        ax.grid(True)
    axes[1].legend(fontsize=7)
    fig.savefig(out.with_name(out.name + "_pd.png"), dpi=100)
    plt.close(fig)
    classes = sorted({k for k in s["confusion"]} | {n for v in s["confusion"].values() for n in v})
    m = np.array([[s["confusion"].get(t, {}).get(n, 0) for n in classes] for t in classes], float)
    fig, ax = plt.subplots(figsize=(10, 9))
    ax.imshow(m / np.maximum(m.sum(axis=1, keepdims=True), 1), cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("named")
    ax.set_ylabel("truth")
    fig.tight_layout()
    fig.savefig(out.with_name(out.name + "_confusion.png"), dpi=100)
    plt.close(fig)
    rel = [r for r in s["reliability"]["named"]["rows"] if r["n"]]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--")
    ax.plot([r["mean_confidence"] for r in rel], [r["correct"] for r in rel], "o-")
    ax.set_xlabel("reported confidence")
    ax.set_ylabel("fraction correct")
    fig.savefig(out.with_name(out.name + "_reliability.png"), dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
