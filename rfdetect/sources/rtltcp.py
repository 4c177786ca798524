"""An RTL-SDR behind an rtl_tcp server (e.g. a Raspberry Pi on a mast).

Protocol (rtl_tcp as shipped by osmocom librtlsdr): on connection the server
sends a 12-byte header, ``b"RTL0"``, the tuner type and the number of gain
steps (both big-endian uint32), then streams cu8 samples.  The client sends
5-byte commands: one byte id and a big-endian uint32 value.

The server drops whole 256 KiB list buffers when the client falls behind and
never says so; the sample-clock estimate (accounting.py) finds them.  When the
server restarts, the source reconnects and the downtime becomes a gap.
"""
from __future__ import annotations

import socket
import struct
import time

import numpy as np

from ..errors import DeviceError, ParameterError
from .accounting import LiveConfig, LiveSource, check_rate

HEADER_MAGIC = b"RTL0"
HEADER_BYTES = 12

CMD_SET_FREQ = 0x01
CMD_SET_SAMPLE_RATE = 0x02
CMD_SET_GAIN_MODE = 0x03          # 0 automatic, 1 manual
CMD_SET_GAIN = 0x04               # tenths of dB
CMD_SET_FREQ_CORRECTION = 0x05    # ppm (signed, sent as uint32)
CMD_SET_IF_GAIN = 0x06
CMD_SET_TEST_MODE = 0x07
CMD_SET_AGC_MODE = 0x08
CMD_SET_DIRECT_SAMPLING = 0x09
CMD_SET_OFFSET_TUNING = 0x0A
CMD_SET_RTL_XTAL = 0x0B
CMD_SET_TUNER_XTAL = 0x0C
CMD_SET_GAIN_BY_INDEX = 0x0D
CMD_SET_BIAS_TEE = 0x0E

SERVER_BUFFER_SAMPLES = 131072    # rtl_tcp's transfer and list-buffer size (256 KiB of cu8)
TUNER_NAMES = {0: "unknown", 1: "E4000", 2: "FC0012", 3: "FC0013", 4: "FC2580", 5: "R820T", 6: "R828D"}


def command(cmd: int, value: int) -> bytes:
    """One 5-byte rtl_tcp command."""
    return struct.pack(">BI", cmd, int(value) & 0xFFFFFFFF)


def parse_header(data: bytes) -> tuple[int, int]:
    """(tuner_type, gain_count) from the 12-byte greeting, else DeviceError."""
    if len(data) != HEADER_BYTES or data[:4] != HEADER_MAGIC:
        raise DeviceError(f"not an rtl_tcp server (greeting {data[:12]!r}, expected b'RTL0...')")
    tuner, gains = struct.unpack(">II", data[4:12])
    return tuner, gains


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (port default 1234; [v6]:port accepted)."""
    t = str(text).strip()
    host, port = t, "1234"
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            raise ParameterError("unclosed [ in IPv6 address", param="--rtl-tcp", value=text)
        host, rest = t[1:end], t[end + 1:]
        if rest.startswith(":"):
            port = rest[1:]
    elif t.count(":") == 1:
        host, port = t.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError("expected HOST:PORT, e.g. 192.168.1.20:1234", param="--rtl-tcp", value=text)
    return host, int(port)


class RtlTcpSource(LiveSource):
    """Live cu8 samples from an rtl_tcp server; same behaviour as a local dongle."""

    hardware = "RTL-SDR via rtl_tcp"

    def __init__(self, address: str | tuple[str, int], *, sample_rate_hz: float = 2.4e6,
                 center_freq_hz: float = 868e6, gain_db: float | None = None, agc: bool = False,
                 ppm: int = 0, bias_tee: bool = False, direct_sampling: int = 0,
                 connect_timeout_s: float = 5.0, silence_timeout_s: float = 3.0,
                 config: LiveConfig | None = None):
        check_rate(float(sample_rate_hz))
        self.host, self.port = parse_address(address) if isinstance(address, str) else address
        self.agc = bool(agc)
        self.ppm = int(ppm)
        self.bias_tee = bool(bias_tee)
        self.direct_sampling = int(direct_sampling)
        self.connect_timeout_s = float(connect_timeout_s)
        self.silence_timeout_s = float(silence_timeout_s)
        self.tuner = ""
        self.gain_count = 0
        self._sock: socket.socket | None = None
        # one chunk per server buffer, so that chunks arrive at the server's cadence
        config = config or LiveConfig(buffer_samples=SERVER_BUFFER_SAMPLES, loss_quantum=SERVER_BUFFER_SAMPLES,
                                      jitter_s=0.02, inflight_buffers=2, queue_buffers=64)
        super().__init__(f"rtl_tcp://{self.host}:{self.port}", sample_rate_hz, center_freq_hz, gain_db, config)

    def describe(self) -> dict:
        return {**super().describe(), "address": f"{self.host}:{self.port}", "tuner": self.tuner,
                "gain_steps": self.gain_count, "ppm": self.ppm, "agc": self.agc}

    def _send(self, cmd: int, value: int) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.sendall(command(cmd, value))
        except OSError as exc:
            raise DeviceError(f"rtl_tcp command {cmd:#04x} failed: {exc}", path=self.info.path) from None

    def _connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        except OSError as exc:
            raise DeviceError(f"cannot connect to the rtl_tcp server: {exc.strerror or exc}",
                              param="--rtl-tcp", value=f"{self.host}:{self.port}") from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            header = _recv_exact(sock, HEADER_BYTES)
            if header is None:
                raise DeviceError("the rtl_tcp server closed the connection before its greeting "
                                  "(busy with another client?)")
            tuner, self.gain_count = parse_header(header)
            self.tuner = TUNER_NAMES.get(tuner, f"type {tuner}")
        except DeviceError as exc:
            sock.close()
            raise DeviceError(exc.message, param="--rtl-tcp", value=f"{self.host}:{self.port}") from None
        except OSError as exc:
            sock.close()
            raise DeviceError(f"rtl_tcp greeting failed: {exc}", param="--rtl-tcp",
                              value=f"{self.host}:{self.port}") from None
        sock.settimeout(1.0)
        self._sock = sock
        self._send(CMD_SET_SAMPLE_RATE, int(round(self.sample_rate_hz)))
        if self.direct_sampling:
            self._send(CMD_SET_DIRECT_SAMPLING, self.direct_sampling)
        if self.ppm:
            self._send(CMD_SET_FREQ_CORRECTION, self.ppm)
        self._send(CMD_SET_FREQ, int(round(self.center_freq_hz)))
        if self.gain_db is None:
            self._send(CMD_SET_GAIN_MODE, 0)
        else:
            self._send(CMD_SET_GAIN_MODE, 1)
            self._send(CMD_SET_GAIN, int(round(self.gain_db * 10)))
        self._send(CMD_SET_AGC_MODE, int(self.agc))
        if self.bias_tee:
            self._send(CMD_SET_BIAS_TEE, 1)
        # data already in the server's queue predate these settings
        with self._lock:
            self._settle_left = self.config.settle_samples(self.sample_rate_hz)

    def _stream(self) -> None:
        sock = self._sock
        nbytes = 2 * self.config.buffer_samples
        last_data = time.monotonic()
        while not self._stop.is_set():
            buf = bytearray(nbytes)
            view = memoryview(buf)
            got = 0
            while got < nbytes:
                if self._stop.is_set():
                    return
                try:
                    k = sock.recv_into(view[got:])
                except socket.timeout:
                    if time.monotonic() - last_data > self.silence_timeout_s:
                        # a hung server keeps the connection open but sends nothing
                        return
                    continue
                except OSError as exc:
                    raise DeviceError(f"rtl_tcp connection lost: {exc}", path=self.info.path) from None
                if k == 0:
                    return                       # server closed: reconnect
                got += k
                last_data = time.monotonic()
            self._deliver(np.frombuffer(buf, np.uint8))

    def _cancel(self) -> None:
        pass                                      # the reader polls the stop flag every second

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _set_frequency(self, center_freq_hz: float) -> None:
        self._send(CMD_SET_FREQ, int(round(center_freq_hz)))

    def set_gain(self, gain_db: float | None) -> None:
        if gain_db is None:
            self._send(CMD_SET_GAIN_MODE, 0)
        else:
            self._send(CMD_SET_GAIN_MODE, 1)
            self._send(CMD_SET_GAIN, int(round(gain_db * 10)))
        self.gain_db = gain_db


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = bytearray()
    deadline = time.monotonic() + max(1.0, sock.gettimeout() or 5.0)
    while len(data) < n:
        if time.monotonic() > deadline:
            raise DeviceError("timed out waiting for the rtl_tcp greeting")
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)
