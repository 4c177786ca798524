"""Scenario simulator: format, errors, reproducibility, in-band SNR, annotations, writers, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from rfdetect.errors import RFDetectError
from rfdetect.simulate import generate, load_scenario, simulate
from rfdetect.simulate.channel import measure_in_band_snr_db
from rfdetect.simulate.engine import make_plan
from rfdetect.sources import open_source

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((REPO / "recordings" / "scenarios").glob("*.toml"))


def base(**over):
    d = {"scenario": {"duration_s": 0.2, "seed": 7},
         "receiver": {"sample_rate": "2.4M", "center_freq": "866.1625M"},
         "emitter": [{"id": "pilot", "link": "expresslrs-lora", "mode": "200", "domain": "IN866", "snr_db": 12}]}
    for k, v in over.items():
        d[k] = v
    return d


# ------------------------------------------------------------ reproducibility

def test_same_seed_same_samples_and_annotations():
    x1, a1 = generate(base(), seed=11)
    x2, a2 = generate(base(), seed=11)
    assert np.array_equal(x1, x2) and a1 == a2
    x3, _ = generate(base(), seed=12)
    assert not np.array_equal(x1, x3)


def test_same_seed_same_file_bit_for_bit(tmp_path):
    simulate(base(), tmp_path / "a.h5", seed=3)
    simulate(base(), tmp_path / "b.h5", seed=3)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_adding_an_emitter_does_not_change_the_others():
    d = base()
    x1, a1 = generate(d, seed=5)
    d2 = base()
    d2["emitter"] = d["emitter"] + [{"id": "far", "link": "lorawan", "freq": "868.1M", "snr_db": 5}]
    _, a2 = generate(d2, seed=5)
    mine = [a for a in a2 if json.loads(a.comment)["emitter"] == "pilot"]
    assert mine == a1


# ------------------------------------------------------------ in-band SNR

@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_in_band_snr_matches_request_lora(snr_db):
    """In-band SNR (signal power over noise power within the occupied bandwidth, during the
    burst) measured on the written samples within 0.5 dB of the request."""
    d = base()
    d["emitter"][0]["snr_db"] = snr_db
    d["emitter"][0]["start_s"] = 0.05
    x, anns = generate(d, seed=1)
    fc = 866.1625e6
    noise = x[0, : int(0.045 * 2.4e6)]
    got = []
    for a in anns[:6]:
        seg = x[0, a.sample_start: a.sample_start + a.sample_count]
        lo, hi = a.freq_lower_edge_hz - fc, a.freq_upper_edge_hz - fc
        n = noise[: len(seg)]
        got.append(measure_in_band_snr_db(seg, n, 2.4e6, lo, hi))
    assert abs(np.mean(got) - snr_db) < 0.5, got


@pytest.mark.parametrize("link,mode,freq,fs", [("expresslrs-fsk", "1000", None, 2.4e6),
                                               ("ism-fsk", "sensor", "868.3M", 1.0e6),
                                               ("wifi", "beacon", "2412M", 20e6)])
def test_in_band_snr_matches_request_other_families(link, mode, freq, fs):
    em = {"id": "e", "link": link, "mode": mode, "snr_db": 10.0, "start_s": 0.02, "phase_s": 0.0}
    fc = 866.1625e6
    if link == "expresslrs-fsk":
        em.update(domain="IN866")
    else:
        em["freq"] = freq
        fc = float(freq[:-1]) * 1e6
    d = {"scenario": {"duration_s": 0.06, "seed": 2}, "receiver": {"sample_rate": fs, "center_freq": fc},
         "emitter": [em]}
    x, anns = generate(d, seed=2)
    noise = x[0, : int(0.019 * fs)]
    got = []
    for a in anns[:8]:
        seg = x[0, a.sample_start: a.sample_start + a.sample_count]
        got.append(measure_in_band_snr_db(seg, noise[: len(seg)], fs, a.freq_lower_edge_hz - fc,
                                          a.freq_upper_edge_hz - fc))
    assert abs(np.mean(got) - 10.0) < 0.5, got


def test_power_dbm_with_path_loss_gives_expected_snr():
    from rfdetect.simulate.channel import snr_from_link_budget

    d = base()
    d["emitter"][0] = {"id": "p", "link": "expresslrs-lora", "domain": "IN866", "power_dbm": 20.0,
                       "distance_m": 2000.0}
    _, anns = generate(d, seed=1)
    snr = json.loads(anns[0].comment)["snr_db"]
    expect = snr_from_link_budget(20.0, 2000.0, 865.375e6, 500e3, 6.0)
    assert abs(snr - expect) < 1.0      # channels differ slightly in frequency
    # free space at 2 km, 866 MHz: 97.2 dB loss; noise in 500 kHz with NF 6: -111 dBm
    assert 30 < snr < 37


# ------------------------------------------------------------ annotations and writers

def test_annotations_in_hdf5_and_sigmf(tmp_path):
    out = simulate(base(), tmp_path / "s.h5", seed=4, sigmf=True)
    with open_source(out) as s:
        info = s.info
    assert info.datatype == "cf32_le" and info.num_samples == int(0.2 * 2.4e6)
    assert len(info.annotations) > 5
    a = info.annotations[0]
    c = json.loads(a.comment)
    assert a.label == "expresslrs-lora" and c["emitter"] == "pilot" and c["mode"] == "200"
    assert c["snr_db"] == 12.0 and a.freq_upper_edge_hz - a.freq_lower_edge_hz == pytest.approx(500e3)
    assert a.sample_count == round(4.384e-3 * 2.4e6)
    meta = json.loads((tmp_path / "s.sigmf-meta").read_text())
    sa = meta["annotations"][0]
    assert sa["core:sample_start"] == a.sample_start and sa["core:label"] == "expresslrs-lora"
    assert sa["rfdetect:emitter"] == "pilot" and sa["rfdetect:snr_db"] == 12.0
    with open_source(tmp_path / "s.sigmf-meta") as s2:
        assert len(s2.info.annotations) == len(info.annotations)
        x = next(iter(s2.blocks(1000))).samples
    with open_source(out) as s1:
        assert np.array_equal(next(iter(s1.blocks(1000))).samples, x)
    assert not list(tmp_path.glob(".*partial*"))


def test_rtl_sdr_receiver_writes_cu8_with_clipping_and_dc(tmp_path):
    d = base()
    d["receiver"]["type"] = "rtl-sdr"
    d["receiver"]["noise_dbfs"] = -25
    d["frontend"] = {"gain_db": 0.0, "dc_offset_dbfs": -20.0}
    out = simulate(d, tmp_path / "r.h5", seed=1)
    with h5py.File(out) as f:
        assert f["iq"].dtype == np.uint8 and f["iq"].shape[2] == 2
        raw = f["iq"][0, :, :]
    x = (raw.astype(np.float64) - 127.5) / 127.5
    z = x[:, 0] + 1j * x[:, 1]
    assert abs(abs(z.mean()) - 0.1) < 0.02                # the DC spike at -20 dBFS
    assert np.mean((raw == 0) | (raw == 255)) < 1e-3      # no clipping at 0 dB gain
    d["frontend"]["gain_db"] = 30.0
    xg, _ = generate(d, seed=1)
    clipped = np.mean((np.abs(xg.real) >= 0.999) | (np.abs(xg.imag) >= 0.999))
    assert clipped > 0.3                                   # 30 dB more gain clips the ADC


def test_iq_imbalance_makes_an_image():
    """A signal at +f gets a mirror at -f: image rejection 20log10((1+g)/|1-g e^{j phi}|)-ish."""
    d = {"scenario": {"duration_s": 0.05, "seed": 1},
         "receiver": {"sample_rate": "2.4M", "center_freq": "867.0M", "type": "rtl-sdr", "noise_dbfs": -45},
         "frontend": {"iq_gain_imbalance_db": 1.0, "iq_phase_imbalance_deg": 5.0, "dc_offset_dbfs": -90},
         "emitter": [{"id": "s", "link": "ism-fsk", "mode": "wmbus-t", "freq": "867.6M", "snr_db": 40,
                      "interval_s": 0.01, "phase_s": 0.0}]}
    x, _ = generate(d, seed=1)
    spec = np.abs(np.fft.fftshift(np.fft.fft(x[0]))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(x.shape[1], 1 / 2.4e6))
    sig = spec[np.abs(f - 0.6e6) < 150e3].sum()
    img = spec[np.abs(f + 0.6e6) < 150e3].sum()
    g = 10 ** (1.0 / 20)
    phi = np.radians(5.0)
    irr = 10 * np.log10(abs(1 + g * np.exp(1j * phi)) ** 2 / abs(1 - g * np.exp(1j * phi)) ** 2)
    assert abs(10 * np.log10(sig / img) - irr) < 1.5


def test_sweep_plan_writes_retunes(tmp_path):
    d = base()
    d["receiver"]["sweep"] = [{"t_s": 0.1, "center_freq": "868.0M"}]
    out = simulate(d, tmp_path / "w.h5", seed=1)
    with open_source(out) as s:
        assert s.info.retunes == ((240000, 868.0e6),)


# ------------------------------------------------------------ bad input

def _err(d, tmp_path=None):
    with pytest.raises(RFDetectError) as ei:
        load_scenario(d, path="scn.toml")
    return str(ei.value)


def test_unknown_link_names_key_and_value():
    d = base()
    d["emitter"][0]["link"] = "elrs-9000"
    msg = _err(d)
    assert "scn.toml" in msg and "emitter[0].link" in msg and "elrs-9000" in msg


def test_mode_the_link_lacks():
    d = base()
    d["emitter"][0]["mode"] = "500"
    msg = _err(d)
    assert "emitter[0].mode" in msg and "'500'" in msg and "200" in msg


def test_frequency_outside_band_plan():
    d = base()
    d["emitter"][0]["freq"] = "866.0M"
    msg = _err(d)
    assert "emitter[0].freq" in msg and "866.0M" in msg
    d = base()
    d["emitter"][0] = {"link": "ism-ook", "domain": "433", "freq": "440M"}
    assert "emitter[0].freq" in _err(d)


def test_sample_rate_too_low_for_the_signal():
    d = base()
    d["emitter"][0] = {"link": "dji-droneid", "freq": "2459.5M"}
    msg = _err(d)
    assert "receiver.sample_rate" in msg and "2400000.0" in msg and "9.015 MHz" in msg


def test_malformed_toml_and_unknown_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[scenario]\nduration_s = = 1\n")
    with pytest.raises(RFDetectError) as ei:
        load_scenario(p)
    assert str(p) in str(ei.value) and "malformed TOML" in str(ei.value)
    d = base()
    d["emitter"][0]["snr"] = 3
    assert "emitter[0].snr" in _err(d)


def test_cli_bad_input_one_line_and_no_output(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[scenario]\nduration_s = 0.1\n[receiver]\nsample_rate = "2.4M"\ncenter_freq = "868M"\n'
                 '[[emitter]]\nlink = "expresslrs-lora"\nmode = "1000"\n')
    out = tmp_path / "o.h5"
    r = subprocess.run([sys.executable, "-m", "rfdetect", "simulate", str(p), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "emitter[0].mode" in lines[0] and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob("*.h5*")) and not list(tmp_path.glob(".*"))


def test_cli_writes_recording(tmp_path):
    p = tmp_path / "ok.toml"
    p.write_text('[scenario]\nduration_s = 0.05\n[receiver]\nsample_rate = "2.4M"\ncenter_freq = "866.1625M"\n'
                 '[[emitter]]\nlink = "expresslrs-lora"\ndomain = "IN866"\n')
    out = tmp_path / "o.h5"
    r = subprocess.run([sys.executable, "-m", "rfdetect", "simulate", str(p), "--out", str(out), "--seed", "2",
                        "--sigmf"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.exists() and (tmp_path / "o.sigmf-meta").exists() and (tmp_path / "o.sigmf-data").exists()


def test_failure_mid_write_leaves_no_file(tmp_path, monkeypatch):

    def boom(*a, **k):
        raise RuntimeError("disk full")
        yield  # pragma: no cover

    monkeypatch.setattr("rfdetect.simulate.writer.render_blocks", boom)
    with pytest.raises(RuntimeError):
        simulate(base(), tmp_path / "x.h5", seed=1)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ example scenarios

@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_example_scenarios_load_and_render(path):
    scn = load_scenario(path)
    plan = make_plan(scn, 1)
    assert plan.num_samples > 0
    short = {"scenario": {"duration_s": min(scn.duration_s, 0.02), "seed": 1}}
    import tomllib
    d = tomllib.loads(path.read_text())
    d["scenario"]["duration_s"] = short["scenario"]["duration_s"]
    for e in d.get("emitter", []):
        e.pop("stop_s", None)
        if e.get("start_s", 0) >= short["scenario"]["duration_s"]:
            e["start_s"] = 0.0
    d["receiver"].pop("sweep", None)
    x, anns = generate(d, seed=1)
    assert x.shape == (scn.num_channels, int(round(d["scenario"]["duration_s"] * scn.receiver.sample_rate_hz)))
    assert np.all(np.isfinite(x))


def test_examples_cover_every_link():
    from rfdetect.simulate import LINKS

    seen = set()
    for p in SCENARIOS:
        seen |= {e.link for e in load_scenario(p).emitters}
    assert seen == set(LINKS)
