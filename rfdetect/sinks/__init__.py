"""Hand-off sinks: deliver records to files, JSON Lines peers, MQTT, TAK (CoT) and SAPIENT.

    sink = open_sink("mqtt://127.0.0.1:1883/rfdetect")
    sink.send(record)              # never blocks; adds record["id"] if missing
    sink.send_line(line)           # the same for a record already encoded as JSON
    counters = sink.close(timeout_s=5.0)   # {"sent", "spooled", "dropped", ...}

URLs (see docs/records.md for what each carries):

    -  | stdout                   JSON Lines to standard output
    PATH | file:PATH              JSON Lines appended to a file
    tcp://HOST:PORT               JSON Lines over a TCP stream
    udp://HOST:PORT               one JSON record per datagram
    mqtt://HOST[:PORT][/PREFIX]   MQTT, QoS 1, topics PREFIX/SENSOR_ID/TYPE
    cot+tcp://HOST[:PORT]         Cursor on Target to a TAK server (default port 8087)
    cot+udp://HOST[:PORT]         Cursor on Target datagrams (default port 6969)
    sapient://HOST:PORT           SAPIENT BSI Flex 335 v2.0

Several URLs: ``open_sinks(urls)`` checks them all first, then runs them in a
child process behind the same send/stats/close, one shared ``id`` per record.

Options go in the query string: ``queue`` (records), ``timeout_s`` (network
waits), ``backoff_max_s``; ``line_m`` for CoT bearing lines; ``heartbeat_s``
for SAPIENT status reports.
"""
from __future__ import annotations

import json
import re
import socket
from urllib.parse import parse_qsl, urlsplit

from ..errors import ParameterError
from .base import RECORD_TYPES, Sink, dumps, new_ulid, stamp

__all__ = ["open_sink", "open_sinks", "SinkGroup", "Sink", "stamp", "new_ulid", "dumps",
           "RECORD_TYPES", "default_sensor_id", "check_url"]

SCHEMES = ("stdout", "file", "tcp", "udp", "mqtt", "cot+tcp", "cot+udp", "sapient")
_SENSOR_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_COMMON_OPTIONS = {"queue": int, "timeout_s": float, "backoff_s": float, "backoff_max_s": float}
_SCHEME_OPTIONS = {"cot+tcp": {"line_m": float}, "cot+udp": {"line_m": float},
                   "sapient": {"heartbeat_s": float}, "mqtt": {"keepalive_s": int}}


def default_sensor_id() -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", socket.gethostname())[:48] or "sensor"
    return f"rfdetect-{name}"


def _bad(url: str, why: str) -> ParameterError:
    return ParameterError(why, param="--handoff", value=url)


def _host_port(url: str, parts, default_port: int | None) -> tuple[str, int]:
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:       # port out of range or not a number
        raise _bad(url, f"bad port ({exc}); expected HOST:PORT with PORT 1-65535") from None
    if not host:
        raise _bad(url, "missing host; expected e.g. "
                        f"{parts.scheme}://127.0.0.1:{default_port or 5000}")
    if port is None:
        if default_port is None:
            raise _bad(url, f"missing port; expected {parts.scheme}://HOST:PORT")
        port = default_port
    if not 0 < port < 65536:
        raise _bad(url, "port must be 1-65535")
    return host, port


def _options(url: str, scheme: str, query: str) -> dict:
    allowed = dict(_COMMON_OPTIONS)
    allowed.update(_SCHEME_OPTIONS.get(scheme, {}))
    out = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise _bad(url, f"unknown option {key!r}; {scheme} takes {', '.join(sorted(allowed))}")
        try:
            number = allowed[key](value)
        except ValueError:
            raise _bad(url, f"option {key}={value!r} is not a number") from None
        if number <= 0:
            raise _bad(url, f"option {key} must be greater than zero")
        out[key] = number
    return out


def open_sink(url: str, *, spool_dir=None, sensor_id: str | None = None,
              sensor: dict | None = None) -> Sink:
    """Open a hand-off sink for ``url``; raises ParameterError for a malformed or unknown URL.

    ``spool_dir`` keeps undelivered records across runs (default: a fresh
    temporary directory); ``sensor_id`` names this sensor in topics, CoT uids
    and the SAPIENT node id; ``sensor`` ({lat, lon, alt_m, heading_deg}) is the
    position known before any record carries one.
    """
    module, cls_name, args, kwargs = _plan(url, spool_dir=spool_dir, sensor_id=sensor_id,
                                           sensor=_sensor_dict(sensor))
    import importlib
    cls = getattr(importlib.import_module(f".{module}", __name__), cls_name)
    return cls(*args, **kwargs)


def _sensor_dict(sensor) -> dict | None:
    if sensor is None or isinstance(sensor, dict):
        return sensor
    import dataclasses
    if dataclasses.is_dataclass(sensor):          # e.g. rfdetect.model.SensorPosition
        return dataclasses.asdict(sensor)
    raise ParameterError("must be a dict {lat, lon, alt_m, heading_deg}",
                         param="sensor", value=sensor)


def check_url(url: str) -> None:
    """Raise ParameterError if ``url`` is not a usable hand-off URL (no side effects)."""
    _plan(url, spool_dir=None, sensor_id=None, sensor=None)


def _plan(url, *, spool_dir, sensor_id, sensor):
    if not isinstance(url, str) or not url.strip():
        raise _bad(str(url), "empty hand-off URL; e.g. mqtt://127.0.0.1:1883/rfdetect")
    url = url.strip()
    sensor_id = default_sensor_id() if sensor_id is None else sensor_id
    if not _SENSOR_ID.match(sensor_id):
        raise ParameterError("sensor id must be 1-64 of A-Z a-z 0-9 _ . -",
                             param="sensor_id", value=sensor_id)
    common = {"sensor_id": sensor_id, "spool_dir": spool_dir}

    if url in ("-", "stdout", "stdout://"):
        return "jsonl", "StreamSink", (url, None), common
    if "://" not in url:
        path = url[5:] if url.startswith("file:") else url
        if not path:
            raise _bad(url, "missing file path; e.g. file:detections.jsonl")
        return "jsonl", "StreamSink", (url, path), common

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _bad(url, f"unknown scheme {parts.scheme!r}; use one of "
                        "-, PATH, tcp://, udp://, mqtt://, cot+tcp://, cot+udp://, sapient://")
    if scheme == "file":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path:
            raise _bad(url, "missing file path")
        return "jsonl", "StreamSink", (url, path), common
    if scheme == "stdout":
        return "jsonl", "StreamSink", (url, None), common

    opts = _options(url, scheme, parts.query)
    if "queue" in opts:
        common["queue_size"] = int(opts.pop("queue"))
    if "timeout_s" in opts:
        common["io_timeout_s"] = opts.pop("timeout_s")
    if "backoff_s" in opts:
        common["backoff_initial_s"] = opts.pop("backoff_s")
    if "backoff_max_s" in opts:
        common["backoff_max_s"] = opts.pop("backoff_max_s")
    if "#" in url:
        raise _bad(url, "MQTT topic prefix must not contain '+', '#' or empty levels"
                   if scheme == "mqtt" else "unexpected '#' in the URL")

    if scheme in ("tcp", "udp"):
        host, port = _host_port(url, parts, None)
        if parts.path not in ("", "/"):
            raise _bad(url, f"{scheme}:// takes no path")
        return "jsonl", "TcpJsonlSink" if scheme == "tcp" else "UdpJsonlSink", (url, host, port), common
    if scheme == "mqtt":
        host, port = _host_port(url, parts, 1883)
        prefix = parts.path.strip("/") or "rfdetect"
        if any(c in prefix for c in "+#\0") or "//" in prefix:
            raise _bad(url, "MQTT topic prefix must not contain '+', '#' or empty levels")
        return "mqtt", "MqttSink", (url, host, port, prefix), dict(sensor=sensor, **opts, **common)
    if scheme in ("cot+tcp", "cot+udp"):
        transport = scheme.split("+")[1]
        host, port = _host_port(url, parts, 8087 if transport == "tcp" else 6969)
        if parts.path not in ("", "/"):
            raise _bad(url, f"{scheme}:// takes no path")
        return "cot", "CotSink", (url, host, port, transport), dict(sensor=sensor, **opts, **common)
    # sapient
    host, port = _host_port(url, parts, None)
    if parts.path not in ("", "/"):
        raise _bad(url, "sapient:// takes no path")
    return "sapient", "SapientSink", (url, host, port), dict(sensor=sensor, **opts, **common)


class SinkGroup:
    """Several sinks behind the one interface: each record gets one id shared by all."""

    def __init__(self, sinks: list[Sink]):
        self.sinks = list(sinks)

    def send(self, record: dict) -> None:
        stamp(record)
        for sink in self.sinks:
            sink.send(record)

    def send_line(self, line: str) -> None:
        """``send`` for a record already encoded as a JSON object (decoded here)."""
        self.send(json.loads(line))

    def take(self, records: list[dict]) -> None:
        """Hand records with their ids, not to be changed afterwards, to every sink (no copies)."""
        for sink in self.sinks:
            sink.take(records)

    def stats(self) -> dict:
        return {s.url: s.stats() for s in self.sinks}

    def close(self, timeout_s: float = 5.0) -> dict:
        """Close all sinks in parallel within ``timeout_s``; counters per URL."""
        import time
        for s in self.sinks:
            s._closing.set()
        deadline = time.monotonic() + timeout_s
        return {s.url: s.close(timeout_s=max(0.0, deadline - time.monotonic())) for s in self.sinks}


def open_sinks(urls, *, spool_dir=None, sensor_id: str | None = None, sensor=None,
               in_process: bool = False):
    """Open every URL (a malformed one raises before any network traffic happens).

    The sinks run in a child process (``ProcessSinkGroup``, see process.py), so
    that their work does not slow detection; ``in_process=True`` runs them on
    threads of this process instead (a ``SinkGroup``).  Both have send/stats/close.
    """
    urls = list(urls)
    sensor = _sensor_dict(sensor)
    sensor_id = default_sensor_id() if sensor_id is None else sensor_id
    for url in urls:
        _plan(url, spool_dir=spool_dir, sensor_id=sensor_id, sensor=sensor)
    if not in_process:
        from .process import ProcessSinkGroup
        return ProcessSinkGroup(urls, spool_dir=spool_dir, sensor_id=sensor_id, sensor=sensor)
    opened: list[Sink] = []
    try:
        for url in urls:
            opened.append(open_sink(url, spool_dir=spool_dir, sensor_id=sensor_id, sensor=sensor))
    except Exception:
        for s in opened:
            s.close(timeout_s=0.5)
        raise
    return SinkGroup(opened)
