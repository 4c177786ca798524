"""`rfdetect bench NAME` runs the script of that name in bench/, passing its options on."""
from __future__ import annotations

import pytest

from rfdetect.cli import main
from rfdetect.cli.bench import BENCH_DIR, BENCHMARKS


def test_every_listed_benchmark_has_its_script():
    assert sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py")) == sorted(BENCHMARKS)


@pytest.mark.parametrize("name,option", [("core", "--samples-log2"), ("accuracy", "--trials")])
def test_options_reach_the_script(capfd, name, option):
    assert main(["bench", name, "--help"]) == 0
    assert option in capfd.readouterr().out
