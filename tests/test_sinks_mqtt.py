"""MQTT sink against a real Mosquitto broker on 127.0.0.1 with a paho subscriber."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

paho = pytest.importorskip("paho.mqtt.client")
from rfdetect.sinks import open_sink  # noqa: E402
from test_sinks_support import (ALL, DETECTION, SENSOR, SilentServer, free_port,  # noqa: E402
                                restart_mid_stream, sample, stop_process, stream, wait_port,
                                wait_until)

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                          if shutil.os.path.exists("/usr/sbin/mosquitto") else None)
pytestmark = pytest.mark.skipif(MOSQUITTO is None,
                                reason="Debian package mosquitto is not installed")


class Broker:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.conf = tmp_path / "mosquitto.conf"
        # Started as root, mosquitto would switch to its own user, which cannot write here.
        user = "user root\n" if shutil.os.geteuid() == 0 else ""
        # Persistence keeps the subscriber's session and queued QoS 1 messages across a restart.
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence true\npersistence_location {tmp_path}/\n"
                             "log_dest none\n" + user)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        stop_process(self.proc)


class Subscriber:
    def __init__(self, port: int, topic: str):
        self.messages: list[tuple[str, dict, bool]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{port}",
                                  clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(lambda: self.client.is_connected(), 5, "subscriber connected")
        time.sleep(0.1)

    def _on_message(self, _c, _u, msg):
        with self.lock:
            self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def records(self):
        with self.lock:
            return [m for m in self.messages if not m[0].endswith("/status")]

    def ids(self):
        return {m[1]["id"] for m in self.records()}

    def statuses(self):
        with self.lock:
            return [m[1] for m in self.messages if m[0].endswith("/status")]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    yield b
    b.stop()


def test_every_record_on_its_topic_with_retained_status(tmp_path, broker):
    sub = Subscriber(broker.port, "site/#")
    try:
        sink = open_sink(f"mqtt://127.0.0.1:{broker.port}/site", spool_dir=tmp_path,
                         sensor_id="mast-1", sensor=SENSOR)
        sent = [sample(r) for r in ALL]
        for r in sent:
            sink.send(r)
        wait_until(lambda: len(sub.records()) == len(sent), 5, "all records")
        counters = sink.close(timeout_s=5)
        assert counters["sent"] == len(sent) and counters["spooled"] == 0
        got = {m[1]["id"]: m for m in sub.records()}
        for r in sent:
            topic, payload, _ = got[r["id"]]
            assert topic == f"site/mast-1/{r['type']}"
            assert payload == r
        wait_until(lambda: sub.statuses() and sub.statuses()[-1]["state"] == "offline", 5,
                   "offline status")
        first = sub.statuses()[0]
        assert first["state"] == "online" and first["sensor"] == SENSOR
        assert first["sensor_position_known"] is True
    finally:
        sub.close()
    # A late subscriber still learns the sensor state: the status is retained.
    late = Subscriber(broker.port, "site/mast-1/status")
    try:
        wait_until(lambda: late.messages, 5, "retained status")
        topic, status, retained = late.messages[0]
        assert retained and status["state"] == "offline" and status["sensor_id"] == "mast-1"
    finally:
        late.close()


def test_last_will_marks_sensor_offline_when_the_link_dies(tmp_path, broker):
    sub = Subscriber(broker.port, "rfdetect/+/status")
    try:
        sink = open_sink(f"mqtt://127.0.0.1:{broker.port}", spool_dir=tmp_path, sensor_id="m2")
        wait_until(lambda: [s for s in sub.statuses() if s["state"] == "online"], 5, "online")
        assert sub.statuses()[0]["sensor_position_known"] is False
        sink._client.socket().shutdown(socket.SHUT_RDWR)    # link cut without DISCONNECT
        wait_until(lambda: [s for s in sub.statuses() if s["state"] == "offline"], 5,
                   "last will")
        wait_until(lambda: sub.statuses()[-1]["state"] == "online", 5, "back online")
        sink.close(timeout_s=5)
    finally:
        sub.close()


def test_broker_restart_mid_stream_loses_nothing(tmp_path, broker):
    sub = Subscriber(broker.port, "rfdetect/#")
    try:
        sink = open_sink(f"mqtt://127.0.0.1:{broker.port}", spool_dir=tmp_path / "spool",
                         sensor_id="m3")
        records = stream(600)
        counters = restart_mid_stream(sink, records, sub.ids, broker.stop, broker.start,
                                      down=slice(200, 400), after=slice(400, None), timeout_s=20)
        assert counters["sent"] == 600 and counters["spooled"] == 0 and counters["dropped"] == 0
    finally:
        sub.close()


def test_broker_that_never_answers(tmp_path):
    silent = SilentServer()
    try:
        sink = open_sink(f"mqtt://127.0.0.1:{silent.port}?timeout_s=1", spool_dir=tmp_path,
                         sensor_id="m4")
        for _ in range(25):
            sink.send(sample(DETECTION))
        t0 = time.monotonic()
        counters = sink.close(timeout_s=1.5)
        assert time.monotonic() - t0 < 2.0
        assert counters["sent"] == 0 and counters["spooled"] == 25 and counters["dropped"] == 0
    finally:
        silent.close()
