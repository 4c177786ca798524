"""CoT sink against a real TAK server (taky) on 127.0.0.1, read back by a TAK client."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from rfdetect.sinks import open_sink
from rfdetect.sinks.cot import CotEncoder, CotSink
from test_sinks_support import (BEARING, BURST, DETECTION, DETECTION_NO_SENSOR, FIX, GAP,
                                SENSOR, SUMMARY, free_port, received, sample, stop_process, stream,
                                udp_receiver, wait_port, wait_until)

TAKY = shutil.which("taky") or str(Path(sys.executable).with_name("taky"))
pytestmark = pytest.mark.skipif(not Path(TAKY).exists(), reason="taky is not installed")


class Taky:
    def __init__(self, root: Path):
        self.port = free_port()
        self.root = root
        self.conf = root / "taky.conf"
        self.conf.write_text(f"[taky]\nhostname = localhost\nnode_id = TEST\nbind_ip = 127.0.0.1\n"
                             f"root_dir = {root}\n[cot_server]\nport = {self.port}\n"
                             "[ssl]\nenabled = false\n")
        self.start()

    def start(self):
        self.proc = subprocess.Popen([TAKY, "-c", str(self.conf)], cwd=self.root,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        stop_process(self.proc)
        sock = self.root / "taky-mgmt.sock"
        if sock.exists():       # a stopped server may leave its management socket behind
            sock.unlink()


class TakClient:
    """Connects, announces itself with its own CoT event, then parses what the server relays."""

    def __init__(self, port: int):
        self.port = port
        self.events: list[ET.Element] = []
        self.lock = threading.Lock()
        self.running = True
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.connected.wait(5), "TAK client could not connect"

    def _hello(self) -> bytes:
        now = datetime.now(timezone.utc)
        fmt = "%Y-%m-%dT%H:%M:%S.000Z"
        return (f'<event version="2.0" uid="TEST-CLIENT" type="a-f-G-U-C" how="m-g" '
                f'time="{now.strftime(fmt)}" start="{now.strftime(fmt)}" '
                f'stale="{(now + timedelta(minutes=5)).strftime(fmt)}">'
                '<point lat="52.0" lon="4.3" hae="0.0" ce="10.0" le="10.0"/>'
                '<detail><contact callsign="TESTER" endpoint="*:-1:stcp"/>'
                '<__group name="Cyan" role="Team Member"/>'
                '<takv os="linux" device="test" version="1" platform="pytest"/></detail>'
                "</event>").encode()

    def _run(self):
        while self.running:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
            except OSError:
                time.sleep(0.05)
                continue
            sock.sendall(self._hello())
            sock.settimeout(0.1)
            self.connected.set()
            buf = b""
            for data in received(sock, lambda: self.running):
                buf += data
                while b"</event>" in buf:
                    one, buf = buf.split(b"</event>", 1)
                    elm = ET.fromstring(one[one.index(b"<event"):] + b"</event>")
                    with self.lock:
                        self.events.append(elm)
            self.connected.clear()
            sock.close()

    def by_id(self) -> dict[str, ET.Element]:
        with self.lock:
            return {e.find("detail/rfdetect").get("id"): e for e in self.events
                    if e.find("detail/rfdetect") is not None}

    def close(self):
        self.running = False
        self.thread.join(2)


@pytest.fixture
def taky(tmp_path):
    root = tmp_path / "taky"
    root.mkdir()
    server = Taky(root)
    yield server
    server.stop()


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_events_reach_a_tak_client_through_taky(tmp_path, taky):
    client = TakClient(taky.port)
    try:
        time.sleep(0.2)     # let the server register the client before traffic starts
        sink = open_sink(f"cot+tcp://127.0.0.1:{taky.port}", spool_dir=tmp_path, sensor_id="mast-1")
        det, brg, fix = sample(DETECTION), sample(BEARING), sample(FIX)
        after_fix = sample(DETECTION, t_start_s=9.0)
        for r in (det, brg, sample(BURST), sample(GAP), fix, after_fix, sample(SUMMARY)):
            sink.send(r)
        wait_until(lambda: len(client.by_id()) >= 4, 10, "four CoT events")
        counters = sink.close(timeout_s=5)
        assert counters["sent"] == 4 and counters["filtered"] == 3
        got = client.by_id()

        e = got[det["id"]]
        assert e.get("type") == "a-u-A-M-F-Q" and e.get("uid") == "rfdetect.mast-1.expresslrs-lora"
        p = e.find("point").attrib
        assert float(p["lat"]) == pytest.approx(SENSOR["lat"], abs=1e-6)
        assert float(p["lon"]) == pytest.approx(SENSOR["lon"], abs=1e-6)
        assert float(p["ce"]) == 9999999.0                 # emitter position unknown
        rf = e.find("detail/rfdetect").attrib
        assert rf["link"] == "expresslrs-lora" and rf["drone"] == "true"
        assert float(rf["confidence"]) == pytest.approx(0.93)
        assert float(rf["center_freq_hz"]) == pytest.approx(868.4e6)
        assert rf["position_source"] == "sensor"
        assert "868.400 MHz" in e.find("detail/remarks").text
        assert _t(e.get("stale")) - _t(e.get("time")) == timedelta(seconds=60)

        b = got[brg["id"]]
        assert b.get("type") == "u-rb-a"
        assert float(b.find("point").get("lat")) == pytest.approx(SENSOR["lat"], abs=1e-6)
        assert float(b.find("detail/bearing").get("value")) == pytest.approx(123.4)
        assert b.find("detail/northRef").get("value") == "0"          # true north
        assert b.find("detail/bearingUnits").get("value") == "0"      # degrees
        assert b.find("detail/rangeUnits").get("value") == "1"        # metres
        assert float(b.find("detail/range").get("value")) == 3000.0
        brf = b.find("detail/rfdetect").attrib
        assert float(brf["bearing_sigma_deg"]) == pytest.approx(4.5)
        assert brf["sigma_convention"] == "1-sigma" and brf["method"] == "music"

        f = got[fix["id"]]
        assert float(f.find("point").get("lat")) == pytest.approx(52.02, abs=1e-6)
        assert float(f.find("point").get("ce")) == 150.0
        a = got[after_fix["id"]]
        assert float(a.find("point").get("lon")) == pytest.approx(4.36, abs=1e-6)
        assert a.find("detail/rfdetect").get("position_source") == "fix"
    finally:
        client.close()


def test_detection_without_any_position_is_filtered_never_at_zero_zero(tmp_path):
    with udp_receiver() as rx:
        sink = open_sink(f"cot+udp://127.0.0.1:{rx.getsockname()[1]}", spool_dir=tmp_path,
                         sensor_id="s1")
        nosensor = sample(DETECTION_NO_SENSOR)
        sink.send(nosensor)
        sink.send(sample(BEARING, sensor={"lat": None, "lon": None}))
        sink.send(sample(DETECTION))            # carries a position: goes out
        sink.send(sample(DETECTION_NO_SENSOR))  # now the sensor position is known
        first = ET.fromstring(rx.recv(65536))
        second = ET.fromstring(rx.recv(65536))
        counters = sink.close(timeout_s=2)
        assert counters["filtered"] == 2 and counters["sent"] == 2
        assert first.get("type") == "a-u-A-M-F-Q"
        assert second.get("type") == "a-u-A"                      # drone: null
        assert float(second.find("point").get("lat")) == pytest.approx(SENSOR["lat"])
        assert second.find("detail/rfdetect").get("drone") == "unknown"


def test_stale_time_follows_update_rate():
    enc = CotEncoder("s1", stale_default_s=60, stale_min_s=10, stale_max_s=600)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stales = []
    for i in range(6):
        now = t0 + timedelta(seconds=30 * i)
        ev = ET.fromstring(enc.encode(sample(DETECTION), now))
        stales.append((_t(ev.get("stale")) - now).total_seconds())
    assert stales[0] == 60 and stales[-1] == pytest.approx(90, abs=0.01)


def test_taky_restart_mid_stream_loses_nothing(tmp_path, taky):
    client = TakClient(taky.port)
    try:
        time.sleep(0.2)
        # A TAK server relays an event only to the clients connected at that moment: the sink
        # must come back after the client, so it retries seconds apart, not the default 0.2 s.
        sink = CotSink(f"cot+tcp://127.0.0.1:{taky.port}", "127.0.0.1", taky.port, "tcp",
                       spool_dir=tmp_path, sensor_id="m2", backoff_initial_s=4.0)
        records = stream(300)
        for r in records[:100]:
            sink.send(r)
        wait_until(lambda: len(client.by_id()) >= 100, 10, "first part")
        taky.stop()
        wait_until(lambda: not client.connected.is_set(), 5, "client noticed the stop")
        for r in records[100:200]:
            sink.send(r)
        wait_until(lambda: sink.stats()["spooled"] >= 100, 5, "spooled while down")
        taky.start()
        assert client.connected.wait(5)
        time.sleep(0.2)
        for r in records[200:]:
            sink.send(r)
        wait_until(lambda: set(client.by_id()) >= {r["id"] for r in records}, 20, "every event")
        counters = sink.close(timeout_s=5)
        assert counters["sent"] == 300 and counters["spooled"] == 0 and counters["dropped"] == 0
    finally:
        client.close()


def test_text_with_xml_specials_survives_escaping_in_every_field():
    from rfdetect.sinks.cot import parse_event
    odd = 'a<b>&"c\td'
    enc = CotEncoder(f"mast {odd}", sensor={"lat": 52.0, "lon": 4.3})
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for link in (odd, "expresslrs-lora", odd):         # the second event of a link uses its cached text
        event = parse_event(enc.encode(dict(DETECTION, link=link, id=f"id-{odd}"), now))
        assert event["uid"] == f"rfdetect.mast {odd}.{link}"
        assert event["contact"]["callsign"] == f"RF {link} @mast {odd}"
        assert event["rfdetect"]["link"] == link and event["rfdetect"]["id"] == f"id-{odd}"
        assert event["rfdetect"]["sensor_id"] == f"mast {odd}"
        assert event["remarks"].startswith(f"rfdetect {link} (")
    plain = parse_event(enc.encode(dict(DETECTION, link="plain", snr_db=7.25, confidence=0.5), now))
    assert plain["rfdetect"]["snr_db"] == "7.250000" and plain["rfdetect"]["confidence"] == "0.500000"
    assert "SNR 7.2 dB" in plain["remarks"] and "confidence 0.50" in plain["remarks"]
