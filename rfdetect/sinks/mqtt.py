"""MQTT hand-off (paho-mqtt): one topic per record type and sensor, QoS 1.

Topics (``PREFIX`` from ``mqtt://host:port/PREFIX``, default ``rfdetect``)::

    PREFIX/SENSOR_ID/detection | burst | bearing | fix | gap | summary
    PREFIX/SENSOR_ID/status     retained; "online" on connect, "offline" on a clean
                                close or, as the broker's last will, on a lost link

Payloads are the JSON records of docs/records.md.  A record counts as sent
only once the broker acknowledged it (PUBACK); unacknowledged records are
spooled when the link breaks, so the window of the stream sinks is not needed.
The worker thread drives paho's network loop itself (no second thread).
"""
from __future__ import annotations

import json
import os
import select
import time
from datetime import datetime, timezone

import paho.mqtt.client as mqtt

from .base import ConnectionLost, Sink, dumps


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MqttSink(Sink):
    scheme = "mqtt"
    resend_window_s = 0.0
    # paho scans every unacknowledged message on each PUBACK: small batches keep that cheap.
    batch_size = 48

    def __init__(self, url: str, host: str, port: int, prefix: str, *, sensor: dict | None = None,
                 keepalive_s: int = 30, **kwargs):
        super().__init__(url, **kwargs)
        self.host, self.port, self.prefix = host, port, prefix
        self.keepalive_s = keepalive_s
        self.sensor = dict(sensor) if sensor else None
        self._client: mqtt.Client | None = None
        self._connack = None
        self._gone = False
        self._start()

    # topics ------------------------------------------------------------------
    def topic(self, record_type: str) -> str:
        return f"{self.prefix}/{self.sensor_id}/{record_type}"

    @property
    def status_topic(self) -> str:
        return self.topic("status")

    def _status(self, state: str) -> bytes:
        return dumps({"type": "status", "schema": 1, "sensor_id": self.sensor_id,
                      "state": state, "time_utc": _utc_now(), "sensor": self.sensor,
                      "sensor_position_known": bool(self.sensor and self.sensor.get("lat") is not None
                                                    and self.sensor.get("lon") is not None)}).encode()

    # link --------------------------------------------------------------------
    def _connect(self) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"rfdetect-{self.sensor_id}-{os.getpid()}-{id(self) & 0xffff:x}",
                             clean_session=True, protocol=mqtt.MQTTv311)
        client.max_inflight_messages_set(self.batch_size + 8)
        client.max_queued_messages_set(0)
        client.connect_timeout = self.io_timeout_s
        client.will_set(self.status_topic, self._status("offline"), qos=1, retain=True)
        self._connack = None
        self._gone = False

        def on_connect(_c, _u, _flags, reason_code, _props):
            self._connack = reason_code

        def on_disconnect(_c, _u, _flags, _reason_code, _props):
            self._gone = True

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        self._client = client
        client.connect(self.host, self.port, keepalive=self.keepalive_s)
        deadline = time.monotonic() + self.io_timeout_s
        while self._connack is None:
            self._loop(deadline)
        if self._connack.is_failure:
            raise ConnectionLost(f"broker refused the connection: {self._connack}")
        self._publish_wait([(self.status_topic, self._status("online"), True)])

    def _loop(self, deadline: float) -> None:
        """One round of network I/O.  paho's own loop() would add a wake-up socket pair
        and a syscall per publish; driving loop_read/loop_write/loop_misc avoids both."""
        if time.monotonic() > deadline:
            raise ConnectionLost("broker did not answer in time")
        client = self._client
        sock = client.socket()
        if sock is None or self._gone:
            raise ConnectionLost("link to broker lost")
        try:
            readable, writable, _ = select.select([sock], [sock] if client.want_write() else [],
                                                  [], 0.02)
        except (OSError, ValueError) as exc:
            raise ConnectionLost(f"link to broker lost ({exc})") from exc
        for ready, step in ((readable, client.loop_read), (writable, client.loop_write),
                            (True, client.loop_misc)):
            if ready:
                rc = step()
                if rc != mqtt.MQTT_ERR_SUCCESS or self._gone:
                    raise ConnectionLost(f"link to broker lost ({mqtt.error_string(rc)})")

    def _publish_wait(self, messages: list[tuple[str, bytes, bool]]) -> None:
        infos = []
        for topic, payload, retain in messages:
            info = self._client.publish(topic, payload, qos=1, retain=retain)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_QUEUE_SIZE):
                raise ConnectionLost(f"publish failed: {mqtt.error_string(info.rc)}")
            infos.append(info)
        deadline = time.monotonic() + self.io_timeout_s
        for info in infos:
            while not info.is_published():
                self._loop(deadline)

    def _deliver(self, records: list[dict]) -> None:
        messages = []
        for r in records:
            sensor = r.get("sensor")
            if isinstance(sensor, dict) and sensor != self.sensor:
                # The retained status always carries the latest known sensor position.
                self.sensor = dict(sensor)
                messages.append((self.status_topic, self._status("online"), True))
            messages.append((self.topic(str(r.get("type", "unknown"))), dumps(r).encode(), False))
        self._publish_wait(messages)

    def _poll(self) -> None:
        self._loop(time.monotonic() + self.io_timeout_s)

    def _goodbye(self) -> None:
        self._publish_wait([(self.status_topic, self._status("offline"), True)])
        self._client.disconnect()      # writes DISCONNECT at once: the will is not sent

    def _disconnect(self) -> None:
        if self._client is not None:
            try:
                sock = self._client.socket()
                if sock is not None:
                    sock.close()
            except Exception:   # noqa: BLE001
                pass
            self._client = None


def parse_status(payload: bytes) -> dict:
    """Decode a status message (helper for subscribers and tests)."""
    return json.loads(payload)
