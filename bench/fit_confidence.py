"""Fit the confidence model (rfdetect/classify/calibration.py) on seeded simulated trials.

    .venv/bin/python bench/fit_confidence.py [--trials 3] [--snr=-20,-15,...,20] [--links all]
        [--configs default,integrate] [--jobs 2] [--out rfdetect/classify/confidence_model.py]
        [--save examples.npz | --examples examples.npz]

(The defaults: 1038 trials, about 17 CPU minutes; 33 minutes with --jobs 2 on a busy
2-core machine.)

The trials are those of bench_accuracy.py (same links, receivers, parameter spread per
seed), over the whole SNR sweep, every link and noise alone, with each detector
configuration in ``--configs``, but on seeds disjoint from the ones bench_accuracy.py
scores.  Every detection record naming a link of the library (a track's first report and
its update) is one example: the model's inputs recovered from the record
(``calibration.terms_of_record``), and whether it names the simulated link.  The fit: a
logistic regression with a small ridge, its coefficients held to the signs that keep the
confidence monotonic, gives the evidence score z; the examples in TABLE_BINS quantile
bins of z, their fraction right made non-decreasing (isotonic regression), give the
table from z to the confidence.  It writes both, with the command, date and training
set, as the Python module the package reads.  Same options, same tree: same model.
"""
from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.optimize import isotonic_regression, minimize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_accuracy as acc  # noqa: E402
from rfdetect.classify import calibration  # noqa: E402
from rfdetect.signatures import get  # noqa: E402

MODEL_PATH = REPO / "rfdetect" / "classify" / "confidence_model.py"
FIT_SEED = 100_000          # link trial k: FIT_SEED + k; noise trial k: FIT_SEED + NOISE_OFFSET + k
NOISE_OFFSET = 50_000
EVAL_SPAN = 10_000          # bench_accuracy.py's seeds: EVAL_SEED + k and NEGATIVE_SEED + k, k below this
TABLE_BINS = 20             # knots of the table from z to the confidence
RIDGE = 1.0                 # L2 penalty on the coefficients (not the intercept), in units of one example
CONFIGS = {"default": {}, "integrate": {"integrate": True}, "dechirp": {"integrate": True, "dechirp": True}}
# Sign each coefficient is held to (calibration.TERMS order): evidence never lowers the
# confidence, a provisional signature never raises it.
SIGNS = {"score": 1, "margin": 1, "bursts": 1, "kernel": 1, "provisional": -1}


def check_seeds(trials: int) -> None:
    fit = set(range(FIT_SEED, FIT_SEED + trials)) | set(range(FIT_SEED + NOISE_OFFSET, FIT_SEED + NOISE_OFFSET + trials))
    scored = set(range(acc.EVAL_SEED, acc.EVAL_SEED + EVAL_SPAN)) | set(range(acc.NEGATIVE_SEED, acc.NEGATIVE_SEED + EVAL_SPAN))
    if trials >= NOISE_OFFSET or fit & scored:
        raise SystemExit(f"fit_confidence: training seeds overlap the scored seeds of bench_accuracy.py "
                         f"(--trials {trials})")


def examples(recs: list[dict], truth: str | None) -> list[tuple[list[float], bool]]:
    """(model inputs, right) for every record naming a link of the library."""
    dets = [d for d in recs if d["type"] == "detection"]
    return [(list(calibration.terms_of_record(d, get(d["link"]).min_bursts)), r["right"])
            for d, r in zip(dets, acc.report_entries(recs, truth)) if r["named"]]


def _trial(job: tuple) -> list[tuple[list[float], bool]]:
    sig_id, snr, duration_s, seed, config_name, receiver = job
    recs, _, _ = acc.run_trial(sig_id, snr, duration_s, seed, acc.detector_config(**CONFIGS[config_name]),
                               receiver=receiver)
    return examples(recs, sig_id)


def jobs(links: list[str], snrs: list[float], trials: int, duration_s: float, configs: list[str]) -> list[tuple]:
    out = [(sig_id, snr, duration_s, FIT_SEED + k, c, None)
           for c in configs for sig_id in links for snr in snrs for k in range(trials)]
    out += [(None, 0.0, duration_s, FIT_SEED + NOISE_OFFSET + k, c, rx)
            for c in configs for rx in acc.NOISE_RECEIVERS for k in range(trials)]
    return out


def collect(job_list: list[tuple], workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, len(TERMS)) and labels (n,) of all examples, in the order of ``job_list``
    whatever ``workers``."""
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            per_job = list(pool.map(_trial, job_list, chunksize=4))
    else:
        per_job = []
        for i, job in enumerate(job_list):
            per_job.append(_trial(job))
            if i % 50 == 49:
                print(f"  {i + 1}/{len(job_list)} trials", file=sys.stderr)
    ex = [e for job in per_job for e in job]
    x = np.array([e[0] for e in ex], float).reshape(-1, len(calibration.TERMS))
    y = np.array([e[1] for e in ex], float)
    return x, y


def fit(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> tuple[float, tuple[float, ...]]:
    """Logistic regression (intercept, coefficients) minimising the log loss plus
    ``ridge`` x |coefficients|^2 / 2, each coefficient held to its sign in SIGNS."""
    n, m = x.shape
    xa = np.hstack([np.ones((n, 1)), x])

    def loss(w):
        z = xa @ w
        # log(1 + e^z) - y z, stable for either sign of z
        ll = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * ridge * np.sum(w[1:] ** 2)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        grad = xa.T @ (p - y)
        grad[1:] += ridge * w[1:]
        return ll, grad

    bounds = [(None, None)] + [(0.0, None) if SIGNS[t] > 0 else (None, 0.0) for t in calibration.TERMS]
    res = minimize(loss, np.zeros(m + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9})
    w = np.round(res.x, 4) + 0.0     # (+ 0.0: no "-0.0" in the written module)
    return float(w[0]), tuple(float(v) for v in w[1:])


def fit_table(z: np.ndarray, y: np.ndarray, bins: int = TABLE_BINS) -> tuple[tuple[float, float], ...]:
    """(z, fraction right) knots: per quantile bin of z its mean z and fraction right,
    the fractions made non-decreasing in z (weighted by the bins' counts)."""
    edges = np.unique(np.quantile(z, np.linspace(0.0, 1.0, bins + 1)))
    if len(edges) < 2:
        return ((round(float(z[0]), 4), round(float(y.mean()), 4)),)
    idx = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    keep = counts > 0
    z_mean = np.bincount(idx, z, len(counts))[keep] / counts[keep]
    frac = np.bincount(idx, y, len(counts))[keep] / counts[keep]
    p = isotonic_regression(frac, weights=counts[keep].astype(float), increasing=True).x
    knots: list[tuple[float, float]] = []
    for zi, pi in zip(np.round(z_mean, 4), np.round(p, 4)):
        if not knots or zi > knots[-1][0]:
            knots.append((float(zi), float(pi) + 0.0))
    return tuple(knots)


def evidence_score(x: np.ndarray, intercept: float, coefficients: tuple[float, ...]) -> np.ndarray:
    return intercept + x @ np.array(coefficients)


def tree_state() -> str:
    """", tree at commit X" (and whether rfdetect/ or bench/ had uncommitted changes), or ""."""
    try:
        git = ["git", "-C", str(REPO)]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "rfdetect", "bench"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f", tree at commit {commit}" + (" with uncommitted changes" if dirty else "") if commit else ""


def model_source(intercept: float, coefficients: tuple[float, ...], table: tuple, header: dict) -> str:
    lines = ['"""Coefficients of the confidence model (calibration.py).', "",
             "Written by bench/fit_confidence.py; rerun it (the command below) rather than edit by hand.", ""]
    lines += [f"{k}: {v}" for k, v in header.items()]
    lines += ['"""', "", "INTERCEPT = " + repr(intercept),
              "# " + ", ".join(calibration.TERMS), "COEFFICIENTS = " + repr(coefficients),
              "# (evidence score z, confidence), z increasing", "TABLE = ("]
    lines += [f"    {k!r}," for k in table] + [")", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=3, help="seeded trials per link, SNR and configuration")
    ap.add_argument("--snr", default="-20,-15,-10,-5,0,5,10,15,20", help="in-band SNRs (dB)")
    ap.add_argument("--links", default="all")
    ap.add_argument("--duration", type=float, default=1.0, help="seconds per trial (twice for 25 Hz modes)")
    ap.add_argument("--configs", default="default,integrate", help="detector configurations: " + ",".join(CONFIGS))
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (the result does not depend on it)")
    ap.add_argument("--out", default=str(MODEL_PATH), help="module to write ('-': print only)")
    ap.add_argument("--save", metavar="NPZ", help="also save the examples (inputs x, labels y) there")
    ap.add_argument("--examples", metavar="NPZ", help="fit the examples --save wrote (with the same other "
                    "options) instead of simulating them again")
    args = ap.parse_args(argv)
    check_seeds(args.trials)
    snrs = [float(s) for s in args.snr.split(",")]
    links = list(acc.CASES) if args.links == "all" else args.links.split(",")
    configs = args.configs.split(",")
    unknown = [c for c in configs if c not in CONFIGS] + [s for s in links if s not in acc.CASES]
    if unknown:
        raise SystemExit(f"fit_confidence: unknown configuration or link: {', '.join(unknown)}")
    t0 = time.time()
    job_list = jobs(links, snrs, args.trials, args.duration, configs)
    if args.examples:
        with np.load(args.examples) as saved:
            x, y = saved["x"], saved["y"]
    else:
        x, y = collect(job_list, args.jobs)
    if args.save:
        np.savez(args.save, x=x, y=y, terms=np.array(calibration.TERMS))
    if len(y) == 0 or y.min() == y.max():
        raise SystemExit(f"fit_confidence: {len(y)} examples, not both right and wrong ones: nothing to fit")
    intercept, coefficients = fit(x, y)
    table = fit_table(evidence_score(x, intercept, coefficients), y)
    p = np.array([calibration.probability(tuple(v), intercept, coefficients, table) for v in x])
    rel = acc.reliability(list(zip(p, y.astype(bool))))
    tree = tree_state()
    # (The options that decide the coefficients; --jobs, --out and --save do not.)
    cmd = (f".venv/bin/python bench/fit_confidence.py --trials {args.trials} --snr={args.snr} --links {args.links} "
           f"--duration {args.duration:g} --configs {args.configs}")
    header = {
        "Command": cmd,
        "Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") + tree,
        "Training set": (f"{len(job_list)} seeded trials of bench/bench_accuracy.py's scenarios "
                         f"({args.duration:g} s each, seeds from {FIT_SEED}, disjoint from the scored ones): "
                         f"links {args.links}, SNR {args.snr} dB, {args.trials} per point, noise alone at "
                         f"{len(acc.NOISE_RECEIVERS)} receivers, detector configurations {args.configs}"),
        "Examples": (f"{len(y)} detection records naming a library link (first reports and updates), "
                     f"{int(y.sum())} right"),
        "Fit": f"expected calibration error on the training set {rel['ece']:.3f}",
    }
    source = model_source(intercept, coefficients, table, header)
    print(source)
    print(f"{len(job_list)} trials, {len(y)} examples, {time.time() - t0:.0f} s", file=sys.stderr)
    if args.out != "-":
        Path(args.out).write_text(source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
