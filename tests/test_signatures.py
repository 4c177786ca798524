"""The signature library: registry, data sanity, and ``rfdetect signatures``."""
from __future__ import annotations

import json
import math

import pytest

from rfdetect.cli import main
from rfdetect.cli.signatures import reach
from rfdetect.signatures import KERNELS, REGISTRY, get, load_all

DRONE = ["expresslrs-lora", "expresslrs-fsk", "expresslrs-2g4-lora", "expresslrs-2g4-flrc", "frsky-r9",
         "tbs-crossfire", "mlrs", "frsky-d16", "flysky-afhds2a", "spektrum-dsmx", "dji-droneid",
         "dji-ocusync-c2", "dji-ocusync-video", "analog-fpv-video"]
NOT_DRONE = ["lorawan", "ism-ook", "ism-fsk", "wifi", "adsb"]
FALLBACK = ["unknown-fhss", "unknown"]


def test_registry_holds_exactly_the_permanent_ids():
    assert list(REGISTRY) == DRONE + NOT_DRONE + FALLBACK
    assert [s.id for s in load_all()] == DRONE + NOT_DRONE
    assert [s.id for s in load_all(include_fallbacks=True)] == DRONE + NOT_DRONE + FALLBACK


@pytest.mark.parametrize("sig_id", DRONE + NOT_DRONE + FALLBACK)
def test_signature_data_is_sane(sig_id):
    s = get(sig_id)
    expected = True if sig_id in DRONE else False if sig_id in NOT_DRONE else None
    assert s.drone is expected
    assert s.sources and all(isinstance(x, str) and x for x in s.sources)
    lo, hi = s.bandwidth_hz
    assert 0 <= lo < hi
    lo, hi = s.burst_s
    assert 0 <= lo < hi
    if sig_id in FALLBACK:
        assert s.bands == ()
        return
    assert s.bands
    for b in s.bands:
        assert 20e6 < b.lo_hz < b.hi_hz < 6.1e9, b
    assert s.kernel is None or s.kernel in KERNELS
    if s.interval_s:
        assert 0 < s.interval_s[0] < s.interval_s[1] < 1.0
    for mode in s.modes:
        for key in ("burst_s", "interval_s"):
            if key in mode:
                assert 0 < mode[key][0] < mode[key][1]
    # Unverified parameters are named, and only provisional signatures have them.
    if s.unverified:
        assert s.provisional


def test_provisional_where_links_md_says_unverified():
    for sig_id in ("frsky-r9", "tbs-crossfire", "mlrs"):
        assert get(sig_id).provisional and get(sig_id).unverified
    for sig_id in ("expresslrs-lora", "dji-droneid", "adsb", "lorawan"):
        assert not get(sig_id).provisional


def test_expresslrs_modes_follow_time_on_air_and_interval():
    s = get("expresslrs-lora")
    assert s.mode_for(4.38e-3, 5e-3, 6)["packet_rate"] == "200Hz"
    assert s.mode_for(18.5e-3, 20e-3, 8)["packet_rate"] == "50Hz"
    # Seen through a narrow window a hopper misses packets: multiples of the interval fit.
    assert s.mode_for(8.8e-3, 30e-3, 7)["packet_rate"] == "100Hz"
    # A split packet (short duration) is still named by its interval and spreading factor.
    assert s.mode_for(1.5e-3, 5e-3, 6)["packet_rate"] == "200Hz"
    assert s.mode_for(1.0, None, None) is None
    assert s.band_for(868.0e6).name == "EU868"


def test_receiver_reach():
    assert reach(863e6, 870e6, "rtlsdr") == "yes"
    assert reach(2400e6, 2480e6, "rtlsdr") == "no"
    assert reach(1700e6, 1800e6, "rtlsdr") == "partial"
    assert reach(5725e6, 5850e6, "wideband") == "yes"


def test_cli_json_lists_library_and_coverage(capsys):
    assert main(["signatures", "--receiver", "rtlsdr", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(REGISTRY)
    assert rows["expresslrs-lora"]["drone"] is True and rows["expresslrs-lora"]["reachable"] == "yes"
    assert rows["lorawan"]["drone"] is False
    assert rows["unknown"]["drone"] is None and rows["unknown-fhss"]["drone"] is None
    for sig_id in ("expresslrs-2g4-lora", "expresslrs-2g4-flrc", "dji-droneid", "wifi"):
        assert rows[sig_id]["reachable"] == "no", sig_id
    # Analog video: 1.2/1.3 GHz reachable, 5.8 GHz not.
    video = {b["name"]: b["reachable"] for b in rows["analog-fpv-video"]["bands"]}
    assert video == {"1G3": "yes", "5G8": "no"} and rows["analog-fpv-video"]["reachable"] == "partial"
    assert rows["frsky-r9"]["provisional"] is True and rows["frsky-r9"]["unverified"]
    assert rows["expresslrs-lora"]["modes"][1]["packet_rate"] == "200Hz"
    assert all(r["sources"] for r in rows.values())
    assert all(v is None or math.isfinite(v) for r in rows.values() for v in r["burst_s"])


def test_cli_text_says_what_the_receiver_cannot_reach(capsys):
    assert main(["signatures"]) == 0
    out = capsys.readouterr().out
    assert "receiver: rtlsdr" in out
    block = out.split("expresslrs-2g4-lora")[1].split("expresslrs-2g4-flrc")[0]
    assert "NOT REACHABLE" in block
    assert "PROVISIONAL" in out.split("frsky-r9")[1].split("tbs-crossfire")[0]
    assert main(["signatures", "--receiver", "wideband"]) == 0
    assert "NOT REACHABLE" not in capsys.readouterr().out


def test_cli_rejects_unknown_receiver(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["signatures", "--receiver", "hackrf9000"])
    assert exc.value.code == 2
