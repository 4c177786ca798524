"""The bundled recordings: which scenario and seed make each, and their expected output.

    .venv/bin/python recordings/bundled.py            # write missing recordings and expected outputs
    .venv/bin/python recordings/bundled.py --expected # rewrite expected outputs (after a deliberate change)

Each bundled recording is a scenario of recordings/scenarios/ rendered with a fixed seed; its
expected output (recordings/expected/NAME.jsonl) is what `rfdetect analyze --all-bursts`
writes for it, less the timing fields.  tests/test_golden.py checks both.
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# name -> (scenario file, overrides, seed)
BUNDLED = {
    "demo_868": ("crowded_868.toml", {"scenario": {"duration_s": 1.5}}, 7),
    "elrs_433": ("elrs_433_rtlsdr.toml", {"scenario": {"duration_s": 1.0}}, 3),
}
TIMING_FIELDS = ("wall_s", "throughput_msps", "realtime_factor")


def scenario(name: str) -> dict:
    file, overrides, _ = BUNDLED[name]
    with open(HERE / "scenarios" / file, "rb") as f:
        data = tomllib.load(f)
    for table, values in overrides.items():
        data.setdefault(table, {}).update(values)
    return data


def comparable(record: dict) -> dict:
    """A record without what changes from run to run (timing) or place to place (path)."""
    return {k: v for k, v in record.items() if k not in TIMING_FIELDS and k != "source"}


def analyze(path: Path) -> list[dict]:
    from rfdetect.pipeline import analyze_source
    from rfdetect.sources import open_source
    records: list[dict] = []
    with open_source(path) as source:
        analyze_source(source, records.append, all_bursts=True)
    return [comparable(r) for r in records]


def main() -> None:
    import json
    from rfdetect.cli.common import to_json_line
    from rfdetect.simulate import simulate
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expected", action="store_true", help="rewrite the expected outputs")
    args = ap.parse_args()
    for name, (_, _, seed) in BUNDLED.items():
        path = HERE / f"{name}.h5"
        if not path.exists():
            simulate(scenario(name), path, seed=seed)
            print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        expected = HERE / "expected" / f"{name}.jsonl"
        if args.expected or not expected.exists():
            expected.write_text("".join(to_json_line(r) for r in analyze(path)))
            print(f"wrote {expected}")


if __name__ == "__main__":
    main()
