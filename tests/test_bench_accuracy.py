"""bench/bench_accuracy.py: the report does not depend on how many processes made it."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_accuracy as acc  # noqa: E402


def _run(tmp_path: Path, jobs: int) -> dict:
    out = tmp_path / f"jobs{jobs}"
    assert acc.main(["--trials", "2", "--snr=0,10", "--links", "ism-ook,expresslrs-lora", "--no-plots",
                     "--out", str(out), "--jobs", str(jobs)]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    for t in res["trials"] + res["negatives"]:
        t.pop("wall_s")
    res["summary"].pop("wall_s")
    return res


def test_worker_processes_give_the_serial_report(tmp_path, capsys):
    serial, parallel = _run(tmp_path, 1), _run(tmp_path, 2)
    assert [(t["link"], t["snr_db"], t["trial"]) for t in serial["trials"]] == \
        [(link, snr, k) for link in ("ism-ook", "expresslrs-lora") for snr in (0.0, 10.0) for k in range(2)]
    assert len(serial["negatives"]) == len(acc.NOISE_RECEIVERS)      # (trials // 2 each)
    assert parallel["trials"] == serial["trials"]
    assert parallel["negatives"] == serial["negatives"]
    assert parallel["summary"] == serial["summary"]
    # The trials at +10 dB name their links; the run is not empty.
    assert all(t["correct"] for t in serial["trials"] if t["snr_db"] == 10.0)
    # Each trial was also written as it came.
    lines = (tmp_path / "jobs2.partial.jsonl").read_text().splitlines()
    assert len(lines) == len(serial["trials"]) + len(serial["negatives"])


def test_jobs_below_one_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        acc.main(["--jobs", "0", "--out", str(tmp_path / "x")])
    assert e.value.code != 0
    assert "--jobs 0: must be at least 1" in capsys.readouterr().err
