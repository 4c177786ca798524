"""The RTL-SDR source through the real pyrtlsdr, on the virtual dongle (tests/virtual_dongle).

Every run happens in a child process: a crashing C library cannot take pytest down.
"""
from __future__ import annotations

import os

import pytest

from virtual_dongle import (RATE, child_env, lost_samples, position_cu8, run_driver,  # noqa: F401
                            shadow_dir, vdongle_dir)

BUF = 32768          # the source's transfer size (LiveConfig.buffer_samples)


def _positions_consistent(chunks):
    """Each chunk contiguous; between chunks the dongle position advances by the
    samples handed over plus the samples reported lost (mod the pattern's 65536)."""
    assert chunks and all(c[5] for c in chunks)
    for prev, cur in zip(chunks, chunks[1:]):
        assert cur[0] == prev[0] + prev[1]                       # stored index contiguous
        jump = (cur[4] - prev[4] - prev[1]) % 65536
        assert jump == cur[3] % 65536, (prev, cur)


def test_pyrtlsdr_loads_the_virtual_library_through_ld_library_path(vdongle_dir, shadow_dir, position_cu8):
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8)
    out = run_driver(env, "rtlsdr", "--seconds", 0.5)
    assert "error" not in out, out
    assert out["library"] == str(vdongle_dir / "librtlsdr.so")
    # the only librtlsdr mapped into the process is the virtual one (not pyrtlsdrlib's)
    assert [os.path.realpath(m) for m in out["maps"]] == [str(vdongle_dir / "librtlsdr.so.0")]
    assert out["accounting"]["samples_received"] > 0.3 * RATE


def test_settings_reach_the_dongle_and_serial_selects_it(vdongle_dir, shadow_dir, position_cu8, tmp_path):
    log = tmp_path / "dongle.log"
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8, log=log, serial="RFD-0042")
    out = run_driver(env, "rtlsdr", "--seconds", 0.3, "--device", "RFD-0042", "--rate", 2.048e6,
                     "--gain", 29.7, "--agc", "--ppm", -12, "--bias-tee", "--freq", 433.92e6)
    assert "error" not in out, out
    lines = log.read_text().splitlines()
    for expect in ("sample_rate 2048000", "gain_mode 1", "gain 297", "agc 1", "ppm -12", "bias_tee 1",
                   "tune 433920000 at 0"):
        assert expect in lines, (expect, lines)
    assert out["describe"]["serial"] == "RFD-0042" and out["describe"]["tuner"] == "R820T"
    # automatic gain and direct sampling
    log.unlink()
    out = run_driver(env, "rtlsdr", "--seconds", 0.2, "--direct-sampling", 2, "--freq", 28e6)
    lines = log.read_text().splitlines()
    assert "gain_mode 0" in lines and "direct_sampling 2" in lines and "error" not in out
    # a serial that is not plugged in
    out = run_driver(env, "rtlsdr", "--seconds", 0.2, "--device", "NOPE")
    assert out["error_type"] == "DeviceError" and "NOPE" in out["error"]


def test_explicit_library_beats_pyrtlsdrlib(vdongle_dir, position_cu8):
    # no shadow: pyrtlsdrlib is importable and would win; library= pins the file
    env = child_env(vdongle_dir, iq=position_cu8)
    lib = vdongle_dir / "librtlsdr.so.0"
    out = run_driver(env, "rtlsdr", "--seconds", 0.3, "--library", lib)
    assert "error" not in out, out
    assert out["library"] == str(lib)
    assert [os.path.realpath(m) for m in out["maps"]] == [str(lib)]


def test_stream_is_real_time_and_sample_exact(vdongle_dir, shadow_dir, position_cu8):
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8)
    out = run_driver(env, "rtlsdr", "--seconds", 1.0)
    chunks = out["chunks"]
    _positions_consistent(chunks)
    assert chunks[0][4] == 0 and chunks[0][3] == 0
    assert all(c[3] == 0 for c in chunks)
    n = sum(c[1] for c in chunks)
    assert 0.8 * RATE <= n <= 1.1 * RATE           # paced by the sample clock
    assert out["accounting"]["samples_lost"] == 0


@pytest.mark.parametrize("fault,env_key,value", [
    ("dropped buffers", "drop_at", (0.4, 5)),
    ("usb stall", "stall_at", (0.4, 0.15)),
])
def test_fault_becomes_one_gap_with_the_exact_count(vdongle_dir, shadow_dir, position_cu8, tmp_path,
                                                    fault, env_key, value):
    log = tmp_path / "dongle.log"
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8, log=log, **{env_key: value})
    out = run_driver(env, "rtlsdr", "--seconds", 1.2)
    lost_true = lost_samples(log)
    assert lost_true >= BUF
    gaps = [c for c in out["chunks"] if c[3]]
    assert len(gaps) == 1, gaps
    assert gaps[0][3] == lost_true
    assert out["accounting"]["lost_sample_clock"] == lost_true
    assert out["accounting"]["gaps"] == 1
    _positions_consistent(out["chunks"])


def test_slow_consumer_overflows_the_queue_counted_never_blocking(vdongle_dir, shadow_dir, position_cu8):
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8)
    # a consumer 3x slower than real time and a queue of 4 buffers
    out = run_driver(env, "rtlsdr", "--seconds", 1.2, "--queue", 4, "--busy", 0.04)
    acc = out["accounting"]
    assert acc["lost_queue_overflow"] > 0
    assert acc["lost_sample_clock"] == 0          # the reader kept up with USB
    _positions_consistent(out["chunks"])
    assert sum(c[3] for c in out["chunks"]) <= acc["lost_queue_overflow"]


def test_unplug_and_replug_reconnects_with_a_gap(vdongle_dir, shadow_dir, position_cu8):
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8, unplug_at=(0.4, 0.6))
    out = run_driver(env, "rtlsdr", "--seconds", 2.0)
    assert "error" not in out, out
    acc = out["accounting"]
    assert acc["reconnects"] == 1
    gaps = [c for c in out["chunks"] if c[3]]
    assert len(gaps) == 1
    assert 0.45 * RATE <= gaps[0][3] <= 0.95 * RATE       # 0.6 s away, within polling slack
    assert [c for c in out["chunks"] if c[0] > gaps[0][0]], "nothing after the reconnect"


def test_unplugged_for_good_is_a_device_error(vdongle_dir, shadow_dir, position_cu8):
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8, unplug_at=(0.3, 0))
    out = run_driver(env, "rtlsdr", "--seconds", 5.0, "--reconnect-timeout", 0.8)
    assert out["error_type"] == "DeviceError"
    assert "did not come back" in out["error"]
    assert out["chunks"]                 # what arrived before is kept


def test_no_dongle_is_a_clear_device_error(vdongle_dir, shadow_dir, position_cu8, tmp_path):
    control = tmp_path / "control"
    control.write_text("unplug\n")
    env = child_env(vdongle_dir, shadow_dir, iq=position_cu8, control=control)
    out = run_driver(env, "rtlsdr", "--seconds", 0.5)
    assert out["error_type"] == "DeviceError"
    assert "no RTL-SDR dongle found" in out["error"]


def test_debian_librtlsdr_is_named_as_too_old(tmp_path, shadow_dir):
    """With pyrtlsdrlib hidden, pyrtlsdr finds the distribution's librtlsdr 0.6.0."""
    import ctypes.util
    if not ctypes.util.find_library("rtlsdr"):
        pytest.skip("no system librtlsdr installed")
    env = child_env(tmp_path, shadow_dir)
    env.pop("LD_LIBRARY_PATH")
    out = run_driver(env, "rtlsdr", "--seconds", 0.2)
    assert out.get("error_type") == "DeviceError"
    if "too old" not in out["error"]:
        pytest.skip(f"the system librtlsdr is recent enough: {out['error']}")
    assert "pyrtlsdrlib" in out["error"]


def test_sweep_follows_the_scenario_and_drops_settling(vdongle_dir, shadow_dir, tmp_path):
    from virtual_dongle import constant_pattern
    a = constant_pattern(tmp_path / "a.cu8", 40)
    b = constant_pattern(tmp_path / "b.cu8", 200)
    env = child_env(vdongle_dir, shadow_dir, scenario=[(868.0e6, a), (915.0e6, b)])
    # driver marks chunks "contiguous" only for the position pattern: read values instead
    out = run_driver(env, "rtlsdr", "--seconds", 1.5, "--freq", 868e6, "--freq", 915e6, "--dwell", 4 * BUF)
    acc = out["accounting"]
    chunks = out["chunks"]
    assert acc["retunes"] >= 3
    freqs = [c[2] for c in chunks]
    assert set(freqs) == {868e6, 915e6}
    # the first chunk after each retune carries the settling loss
    changes = [cur for prev, cur in zip(chunks, chunks[1:]) if cur[2] != prev[2]]
    assert changes and all(c[3] > 0 for c in changes)
    # Every loss is reported: by a chunk, or (a retune's settling when the stream stopped
    # before the next chunk was taken) as not yet reported.
    assert acc["lost_retune_settling"] > 0
    assert sum(c[3] for c in chunks) + out["unreported_lost"] == acc["samples_lost"]
    # content: position byte 0 of a chunk is the constant of its frequency's file
    for c in chunks:
        assert c[4] % 256 == (40 if c[2] == 868e6 else 200), c
    # dwell in handed-over samples per step
    runs, cur = [], None
    for c in chunks:
        if c[2] != cur:
            runs.append(0)
            cur = c[2]
        runs[-1] += c[1]
    assert all(r == 4 * BUF for r in runs[:-1][1:])


def _real_dongles() -> int:
    import subprocess
    import sys
    code = ("import sys\ntry:\n from rfdetect.sources.rtlsdr import load_pyrtlsdr\n"
            " print(load_pyrtlsdr().librtlsdr.rtlsdr_get_device_count())\n"
            "except Exception:\n print(0)\n")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
        return int(out.stdout.strip().splitlines()[-1])
    except Exception:
        return 0


def test_real_dongle_streams_at_the_sample_rate():
    """Hardware test: runs only where a real dongle is plugged in, else a visible skip."""
    if _real_dongles() == 0:
        pytest.skip("hardware test: no real RTL-SDR dongle attached")
    import json
    import subprocess
    import sys
    from virtual_dongle import DRIVER
    out = subprocess.run([sys.executable, str(DRIVER), "rtlsdr", "--seconds", "2"], capture_output=True,
                         text=True, timeout=60)
    res = json.loads(out.stdout.splitlines()[-1])
    assert "error" not in res, res
    n = sum(c[1] for c in res["chunks"])
    assert n + res["accounting"]["samples_lost"] >= 1.5 * RATE
