"""`rfdetect scan --array` on a coherent 5-channel array served by five real rtl_tcp
processes, each on its own virtual dongle streaming one channel of a simulated array
recording, the channels starting at different stream positions."""
from __future__ import annotations

import json
import shutil
import threading
import time

import numpy as np
import pytest

from rfdetect.cli import main
from rfdetect.simulate import generate
from virtual_dongle import RtlTcpServer, child_env, command, vdongle_dir  # noqa: F401

needs_rtl_tcp = pytest.mark.skipif(shutil.which("rtl_tcp") is None,
                                   reason="rtl_tcp not installed (Debian package rtl-sdr)")

RATE = 1.2e6
FC = 868.2e6
ELEMENTS = [[0.0, 0.1209, 0.0], [0.115, 0.03736, 0.0], [0.07106, -0.09781, 0.0],
            [-0.07106, -0.09781, 0.0], [-0.115, 0.03736, 0.0]]
GAIN_ERRORS_DB = [0.0, 0.3, -0.2, 0.1, -0.4]
PHASE_ERRORS_DEG = [0.0, 14.0, -17.0, 12.5, 19.0]
TRUTH = {"node": (868.1e6, 200.0), "sensor": (868.5e6, 60.0)}
SCENARIO = {
    "scenario": {"name": "live-array", "duration_s": 1.0, "seed": 3},
    "receiver": {"sample_rate": RATE, "center_freq": FC, "noise_dbfs": -30.0},
    "array": {"name": "uca-5", "elements_m": ELEMENTS, "heading_deg": 0.0, "gain_errors_db": GAIN_ERRORS_DB,
              "phase_errors_deg": PHASE_ERRORS_DEG},
    "sensor": {"lat": 52.0, "lon": 4.0, "alt_m": 10.0},
    "emitter": [
        {"id": "node", "link": "lorawan", "mode": "SF7BW125", "freq": TRUTH["node"][0], "interval_s": 0.08,
         "snr_db": 15.0, "azimuth_deg": TRUTH["node"][1]},
        {"id": "sensor", "link": "lorawan", "mode": "SF7BW125", "freq": TRUTH["sensor"][0], "interval_s": 0.06,
         "snr_db": 15.0, "azimuth_deg": TRUTH["sensor"][1]},
    ]}
# where each channel's stream starts in the scene: channel k is SHIFTS[k] samples late
SHIFTS = [0, 3071, 20000, 517, 45123]


def array_toml(path, *, calibrated: bool = True):
    text = (f'[array]\nname = "uca-5"\nelements_m = {json.dumps(ELEMENTS)}\nheading_deg = 0.0\n'
            '[sensor]\nlat = 52.0\nlon = 4.0\nalt_m = 10.0\n')
    if calibrated:       # the simulated receivers' errors, as `rfdetect calibrate` measures them
        text += f"[calibration]\nphase_deg = {PHASE_ERRORS_DEG}\ngain_db = {GAIN_ERRORS_DB}\n"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def scene():
    x, _ = generate(SCENARIO, seed=3)
    return x


def channel_files(x, directory, *, lo_offset_hz: dict | None = None) -> list:
    """One cu8 file per channel.  Rolled, not cut, so that the dongle's looping keeps the
    channels' relation; an LO offset of whole Hz over a 1 s loop stays continuous too."""
    n = x.shape[1]
    t = np.arange(n) / RATE
    paths = []
    for k in range(x.shape[0]):
        y = x[k]
        if lo_offset_hz and k in lo_offset_hz:
            y = y * np.exp(2j * np.pi * lo_offset_hz[k] * t)
        y = np.roll(y, SHIFTS[k])
        v = np.clip(np.round(np.stack([y.real, y.imag], -1).reshape(-1) * 127.5 + 127.5), 0, 255).astype(np.uint8)
        p = directory / f"ch{k}.cu8"
        v.tofile(p)
        paths.append(p)
    return paths


@pytest.fixture
def servers(vdongle_dir):
    running = []

    def start(paths, faults: dict | None = None):
        """One server per channel file; ``faults``: channel -> virtual dongle fault options."""
        for k, p in enumerate(paths):
            running.append(RtlTcpServer(child_env(vdongle_dir, iq=p, **(faults or {}).get(k, {}))).start())
        return [f"127.0.0.1:{s.port}" for s in running]

    yield start
    for s in running:
        s.stop(crash=True)


def scan(tmp_path, toml, addresses, seconds=6.0, *extra):
    out = tmp_path / "out.jsonl"
    args = ["scan", *extra, "--array", str(toml), "--freq", str(FC), "--sample-rate", str(RATE), "--gain", "30",
            "--duration", str(seconds), "--out", str(out), "--quiet", "--status", "off"]
    for a in addresses:
        args += ["--rtl-tcp", a]
    rc = main(args)
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return rc, records


def _wrap(d):
    return (d + 180.0) % 360.0 - 180.0


def _brief(bearings):
    return [(b["link"], b.get("freq_hz"), b["bearing_deg"], b["bearing_sigma_deg"], b.get("reason")) for b in bearings]


def _truth_for(record):
    """The simulated emitter's bearing nearest this one (a detection may mix both emitters'
    bursts under one label: its bearing is then one of them, never in between)."""
    return min((t[1] for t in TRUTH.values()), key=lambda b: abs(_wrap(record["bearing_deg"] - b)))


@needs_rtl_tcp
def test_live_array_bearings_match_the_truth(scene, servers, tmp_path):
    # once the array streams (its first detection is out), channel 2's dongle drops 2 server
    # buffers: a gap for the whole array
    control = tmp_path / "ch2.control"
    addresses = servers(channel_files(scene, tmp_path), {2: {"control": control}})
    capture = tmp_path / "capture.h5"
    out = tmp_path / "out.jsonl"

    def drop_when_streaming():
        end = time.monotonic() + 30
        while time.monotonic() < end and not (out.exists() and '"detection"' in out.read_text()):
            time.sleep(0.05)
        command(control, "drop 2")

    dropper = threading.Thread(target=drop_when_streaming, daemon=True)
    dropper.start()
    rc, records = scan(tmp_path, array_toml(tmp_path / "array.toml"), addresses, 7.0, "--record", str(capture))
    dropper.join(35)
    assert rc == 0
    summary = records[-1]
    assert summary["type"] == "summary"
    receiver = summary["live"]["receiver"]
    lags = receiver["offsets_samples"]
    # each stream starts wherever its server happened to be: the offsets are the shifts up to
    # whole server buffers (131072 samples) of start-up skew and lost buffers, found to the sample
    skew = [(lag - (s - SHIFTS[0])) for lag, s in zip(lags, SHIFTS)]
    assert all(k % 131072 == 0 for k in skew), (lags, skew)
    assert all(abs(a["residual_samples"]) < 0.3 for a in receiver["alignment"]), receiver["alignment"]
    assert all(a["coherence"] > 0.95 for a in receiver["alignment"][1:]), receiver["alignment"]
    acc = summary["live"]["accounting"]
    # the two buffers channel 2 lost are lost for every channel, and reported as a gap
    assert acc["channels"][2]["lost_sample_clock"] == 2 * 131072, acc
    gaps = [r for r in records if r["type"] == "gap"]
    assert sum(g["samples_lost"] for g in gaps) == summary["samples_lost"] == acc["samples_lost"]
    assert acc["samples_lost"] + acc["samples_lost_unreported"] >= 2 * 131072
    assert summary["live"]["receiver"]["offsets_samples"] == lags          # still aligned after it
    assert acc["realignments"] == 0 and not summary["live"]["receiver"]["coherence"]["incoherent_intervals"]
    bearings = [r for r in records if r["type"] == "bearing"]
    usable = [b for b in bearings if b["usable"]]
    assert len(usable) >= 2, bearings
    for b in usable:
        err = _wrap(b["bearing_deg"] - _truth_for(b))
        assert abs(err) <= 3 * b["bearing_sigma_deg"] + 0.5, (err, _brief(bearings))
    assert {_truth_for(b) for b in usable} == {60.0, 200.0}, _brief(bearings)
    # the recording holds the aligned channels, the geometry and the gap
    from rfdetect.sources import open_source
    with open_source(capture) as rec:
        info = rec.info
    assert info.num_channels == 5 and info.array["elements_m"] == ELEMENTS
    assert info.num_samples >= summary["samples"]
    assert sum(n for _, n in info.gaps) == summary["samples_lost"]


@needs_rtl_tcp
def test_channel_without_a_shared_clock_gives_unusable_bearings(scene, servers, tmp_path):
    addresses = servers(channel_files(scene, tmp_path, lo_offset_hz={3: 150}))
    rc, records = scan(tmp_path, array_toml(tmp_path / "array.toml"), addresses)
    assert rc == 0
    alignment = records[-1]["live"]["receiver"]["alignment"]
    assert alignment[3]["coherence"] < 0.8 and all(a["coherence"] > 0.95 for a in alignment[1:] if a["channel"] != 3)
    bearings = [r for r in records if r["type"] == "bearing"]
    assert bearings and not any(b["usable"] for b in bearings)
    assert all(b["bearing_deg"] is None and "not coherent" in b["reason"] for b in bearings), bearings


def test_receiver_count_must_match_the_array(tmp_path, capsys):
    toml = array_toml(tmp_path / "array.toml")
    rc = main(["scan", "--array", str(toml), "--freq", "868.2M", "--rtl-tcp", "127.0.0.1:1", "--rtl-tcp",
               "127.0.0.1:2", "--rtl-tcp", "127.0.0.1:3", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1, err
    assert "5 elements" in err[0] and "3 given" in err[0]


def test_several_servers_need_an_array(capsys):
    rc = main(["scan", "--freq", "868.2M", "--rtl-tcp", "127.0.0.1:1", "--rtl-tcp", "127.0.0.1:2", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "--array" in err[0], err


def test_array_scan_refuses_to_sweep(tmp_path, capsys):
    toml = array_toml(tmp_path / "array.toml")
    rc = main(["scan", "--array", str(toml), "--band", "eu868"] + ["--rtl-tcp", "127.0.0.1:1"] * 5 + ["--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "one centre frequency" in err[0], err
