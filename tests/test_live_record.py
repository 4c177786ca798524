"""`rfdetect record`: crash-safe HDF5 capture from the virtual dongle (real CLI, child
processes): clean stop, Ctrl-C, kill -9, size cap, disk full."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from rfdetect.sources.hdf5 import HDF5Source
from virtual_dongle import RATE, child_env, position_cu8, shadow_dir, vdongle_dir  # noqa: F401


def _record_cmd(out, *args):
    return [sys.executable, "-m", "rfdetect", "record", "--freq", "868M", "--out", str(out), *map(str, args)]


def _positions_contiguous(path, gaps_ok=False):
    with HDF5Source(path) as src:
        raw = src.read_raw(0, src.info.num_samples)[0].astype(np.int64)
    pos = raw[:, 0] + 256 * raw[:, 1]
    steps = np.diff(pos) % 65536
    return bool(np.all(steps == 1)) if not gaps_ok else True


def _wait_samples(path, at_least_s, proc, timeout_s=30):
    """Wait until the recording has flushed at least this much (reads only when safe)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"recorder exited early: {proc.stderr.read()}")
        if Path(path).exists() and Path(path).stat().st_size > 2 * at_least_s * RATE:
            return
        time.sleep(0.05)
    raise AssertionError("the recording did not grow")


def test_record_duration_gives_a_complete_exact_file(vdongle_dir, shadow_dir, position_cu8, tmp_path):
    out = tmp_path / "rec.h5"
    proc = subprocess.run(_record_cmd(out, "--duration", 1.0), env=child_env(vdongle_dir, shadow_dir, iq=position_cu8),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stderr.strip().splitlines()[-1])
    with HDF5Source(out) as src:
        assert src.complete and src.info.datatype == "cu8"
        assert src.info.num_samples == summary["samples"]
        assert 0.8 * RATE <= src.info.num_samples <= 1.2 * RATE
        assert src.info.center_freq_hz == 868e6 and src.info.sample_rate_hz == RATE
        assert src.info.gaps == ()
    assert _positions_contiguous(out)


def test_ctrl_c_during_record_leaves_a_valid_complete_file(vdongle_dir, shadow_dir, position_cu8, tmp_path):
    out = tmp_path / "int.h5"
    proc = subprocess.Popen(_record_cmd(out), env=child_env(vdongle_dir, shadow_dir, iq=position_cu8),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_samples(out, 0.5, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    with HDF5Source(out) as src:
        assert src.complete and src.info.num_samples >= 0.5 * RATE
    assert _positions_contiguous(out)


def test_kill_9_leaves_a_file_readable_up_to_the_last_flush(vdongle_dir, shadow_dir, position_cu8, tmp_path):
    out = tmp_path / "killed.h5"
    proc = subprocess.Popen(_record_cmd(out, "--flush-interval", 0.2), env=child_env(vdongle_dir, shadow_dir,
                            iq=position_cu8), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_samples(out, 1.0, proc)
        time.sleep(0.3)
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with HDF5Source(out) as src:
        assert not src.complete                        # it says it was cut short
        n = src.info.num_samples
        assert n >= 1.0 * RATE                         # what was flushed is there
        block_total = sum(b.num_samples for b in src.blocks())
    assert block_total == n
    assert _positions_contiguous(out)
    assert killed_at > 0


@pytest.fixture
def small_disk(tmp_path):
    """A 12 MiB tmpfs (needs root); None when it cannot be mounted."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_during_record_stops_cleanly(vdongle_dir, shadow_dir, position_cu8, tmp_path, small_disk):
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8)
    if small_disk is not None:
        out = small_disk / "full.h5"
        args = ("--reserve", "2M")
        expect = "disk is full"
    else:                                   # no tmpfs (not root): the size cap path
        out = tmp_path / "capped.h5"
        args = ("--max-bytes", "6M")
        expect = "size cap"
    proc = subprocess.run(_record_cmd(out, *args, "--duration", 20), env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 4, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("rfdetect record: error:") and expect in last and "file is closed and valid" in last
    with HDF5Source(out) as src:
        assert src.complete
        assert src.info.num_samples >= 1.0 * RATE
        assert src.info.annotations[-1].label == "recording-stopped"
    assert _positions_contiguous(out)
    if small_disk is None:
        pytest.skip("tmpfs could not be mounted: only the size cap was exercised")


def test_size_cap_stops_with_a_valid_file(tmp_path):
    from rfdetect.live.recorder import Recorder, RecordingStopped
    from rfdetect.sources.accounting import Chunk
    rec = Recorder(tmp_path / "cap.h5", RATE, 868e6, max_bytes=1_000_000)
    raw = np.arange(2 * 32768, dtype=np.int64).astype(np.uint8)
    written = 0
    with pytest.raises(RecordingStopped, match="size cap of 1000000 bytes"):
        for i in range(100):
            rec.write(Chunk(raw, written, 868e6 if i < 5 else 869e6, 100 if i == 3 else 0, 0.0))
            written += 32768
    assert rec.stopped_reason and written == 15 * 32768
    with HDF5Source(tmp_path / "cap.h5") as src:
        assert src.complete and src.info.num_samples == written <= 500_000
        assert src.info.gaps == ((3 * 32768, 100),)
        assert src.info.retunes == ((5 * 32768, 869e6),)
        assert src.info.annotations[-1].label == "recording-stopped"
