"""Accuracy harness: seeded simulated trials through the whole engine (detector,
tracker, signature matcher), scored against the simulator's ground truth.

    .venv/bin/python bench/bench_accuracy.py [--trials 20] [--snr -20,-15,-10,-5,0,5,10,15,20]
        [--links all|ID,ID] [--duration 1.0] [--out bench/out/accuracy] [--integrate] [--dechirp [--dechirp-links all]]

Per link: an SNR sweep (in-band SNR as the simulator defines it), ``--trials`` seeded trials
per point, each parameter the simulator varies per seed (hop sequence, carrier offset,
payload).  Negatives: noise alone, every non-drone emitter alone, and the crowded 868 MHz
scenario without its drones.  Writes ``OUT.md``, ``OUT.json`` and PNG plots: probability
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


def scenario(sig_id: str, snr_db: float, duration_s: float, seed: int) -> dict:
    mode, domain, fs, fc, freq = CASES[sig_id]
    em = {"id": "e", "link": sig_id, "mode": mode, "domain": domain, "snr_db": float(snr_db)}
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
            # One report per track: its last (an update supersedes the first report).
            "reports": [(d["link"], d["confidence"], d["link"] == truth)
                        for d in {d["track_id"]: d for d in dets}.values()]}


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
    args = ap.parse_args(argv)
    changes = {}
    if args.integrate:
        changes["integrate_frames"] = 9
    if args.dechirp:
        changes.update(dechirp=True, dechirp_links=args.dechirp_links)
    config = DetectorConfig(**changes)
    from rfdetect.simulate import generate

    snrs = [float(s) for s in args.snr.split(",")]
    links = list(CASES) if args.links == "all" else args.links.split(",")
    results: dict = {"config": vars(args), "trials": []}
    t_start = time.time()
    signal_s = 0.0
    for sig_id in links:
        for snr in snrs:
            for k in range(args.trials):
                dur = 2.0 * args.duration if CASES[sig_id][0] == "25" else args.duration
                scn = scenario(sig_id, snr, dur, seed=1000 + k)
                x, _ = generate(scn, seed=1000 + k)
                recs, wall = run_samples(x, CASES[sig_id][2], CASES[sig_id][3], config)
                signal_s += dur
                out = score_trial(recs, sig_id)
                out.update({"link": sig_id, "snr_db": snr, "trial": k, "wall_s": round(wall, 3)})
                results["trials"].append(out)
            print(f"{sig_id:22s} {snr:+5.1f} dB  detected {np.mean([t['detected'] for t in results['trials'] if t['link'] == sig_id and t['snr_db'] == snr]):.2f}"
                  f"  correct {np.mean([t['correct'] for t in results['trials'] if t['link'] == sig_id and t['snr_db'] == snr]):.2f}",
                  file=sys.stderr)
    # Negatives: noise alone at two receivers.
    neg_s = 0.0
    false_alarms = 0
    for k in range(max(1, args.trials // 2)):
        for fs, fc in ((2.4e6, 868e6), (20e6, 2440e6)):
            x, _ = generate({"scenario": {"duration_s": args.duration, "seed": k},
                             "receiver": {"sample_rate": fs, "center_freq": fc}, "emitter": []}, seed=k)
            recs, _ = run_samples(x, fs, fc, config)
            sc = score_trial(recs, None)
            false_alarms += sc["false_drone"]
            neg_s += args.duration
    for t in results["trials"]:
        if t["link"] in NON_DRONE:
            false_alarms += t["false_drone"]
            neg_s += args.duration
    summary = summarise(results["trials"], snrs, links)
    summary["false_drone_alarms"] = false_alarms
    summary["negative_hours"] = neg_s / 3600
    summary["false_drone_alarms_per_hour"] = false_alarms / (neg_s / 3600) if neg_s else None
    summary["wall_s"] = round(time.time() - t_start, 1)
    results["summary"] = summary
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    out.with_suffix(".md").write_text(markdown(summary, snrs, links))
    if not args.no_plots:
        plots(summary, snrs, links, out)
    print(out.with_suffix(".md").read_text())
    return 0


def summarise(trials: list[dict], snrs, links) -> dict:
    per = defaultdict(dict)
    for sig_id in links:
        for snr in snrs:
            tt = [t for t in trials if t["link"] == sig_id and t["snr_db"] == snr]
            if tt:
                times = [t["t_first_s"] for t in tt if t["t_first_s"] is not None]
                per[sig_id][snr] = {"p_detect": float(np.mean([t["detected"] for t in tt])),
                                    "p_correct": float(np.mean([t["correct"] for t in tt])),
                                    "t_first_median_s": float(np.median(times)) if times else None,
                                    "n": len(tt)}
    confusion = defaultdict(Counter)
    for t in trials:
        confusion[t["link"]][t["named"]] += 1
    balanced = {}
    for snr in snrs:
        recalls = [per[s][snr]["p_correct"] for s in links if snr in per[s]]
        balanced[snr] = float(np.mean(recalls)) if recalls else None
    bins = np.linspace(0, 1, 11)
    rel = []
    reports = [(c, ok) for t in trials for (_, c, ok) in t["reports"]]
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = [ok for c, ok in reports if lo <= c < hi or (hi == 1.0 and c == 1.0)]
        rel.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": len(sel), "correct": float(np.mean(sel)) if sel else None})
    return {"per_link": per, "confusion": {k: dict(v) for k, v in confusion.items()},
            "balanced_accuracy": balanced, "reliability": rel}


def markdown(s: dict, snrs, links) -> str:
    lines = ["# Accuracy report", "", "Probability of detection / of correct link per in-band SNR (dB):", "",
             "| link | " + " | ".join(f"{x:+g}" for x in snrs) + " |", "|---|" + "---|" * len(snrs)]
    for sig_id in links:
        row = s["per_link"].get(sig_id, {})
        cells = [f"{row[x]['p_detect']:.2f} / {row[x]['p_correct']:.2f}" if x in row else "-" for x in snrs]
        lines.append(f"| {sig_id} | " + " | ".join(cells) + " |")
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
    lines += ["", "Reliability (confidence bin: reports, fraction correct):", "", "| bin | n | correct |", "|---|---|---|"]
    for r in s["reliability"]:
        frac = "-" if r["correct"] is None else f"{r['correct']:.2f}"
        lines.append(f"| {r['bin']} | {r['n']} | {frac} |")
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
    rel = [r for r in s["reliability"] if r["correct"] is not None]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--")
    ax.plot([float(r["bin"][:3]) + 0.05 for r in rel], [r["correct"] for r in rel], "o-")
    ax.set_xlabel("reported confidence")
    ax.set_ylabel("fraction correct")
    fig.savefig(out.with_name(out.name + "_reliability.png"), dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
