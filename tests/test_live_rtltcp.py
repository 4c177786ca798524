"""The rtl_tcp source against Debian's real rtl_tcp, and rtl_sdr captures imported
end to end, both running on the virtual dongle."""
from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from rfdetect.errors import DeviceError, ParameterError
from rfdetect.sources.rtltcp import (CMD_SET_FREQ, HEADER_MAGIC, SERVER_BUFFER_SAMPLES, RtlTcpSource,
                                     command, parse_address, parse_header)
from virtual_dongle import (RATE, RtlTcpServer, child_env, free_port, lost_samples,  # noqa: F401
                            position_cu8, run_driver, shadow_dir, vdongle_dir, wait_port_listening)

needs_rtl_tcp = pytest.mark.skipif(shutil.which("rtl_tcp") is None,
                                   reason="rtl_tcp not installed (Debian package rtl-sdr)")


def test_command_and_header_encoding():
    assert command(CMD_SET_FREQ, 868_300_000) == b"\x01" + struct.pack(">I", 868_300_000)
    assert command(0x05, -12) == b"\x05" + struct.pack(">i", -12)
    assert parse_header(HEADER_MAGIC + struct.pack(">II", 5, 29)) == (5, 29)
    with pytest.raises(DeviceError, match="not an rtl_tcp server"):
        parse_header(b"HTTP/1.1 200")
    assert parse_address("10.0.0.2:1235") == ("10.0.0.2", 1235)
    assert parse_address("pi.local") == ("pi.local", 1234)
    assert parse_address("[::1]:7000") == ("::1", 7000)
    with pytest.raises(ParameterError):
        parse_address("host:99999")


def test_wrong_server_is_named():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        conn, _ = srv.accept()
        conn.sendall(b"SSH-2.0-Open")
        time.sleep(0.2)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with pytest.raises(DeviceError, match="not an rtl_tcp server"):
            RtlTcpSource(f"127.0.0.1:{port}").start()
    finally:
        srv.close()
        t.join(2)


def test_nobody_listening_is_a_device_error():
    with pytest.raises(DeviceError, match="cannot connect"):
        RtlTcpSource(f"127.0.0.1:{free_port()}", connect_timeout_s=1).start()


@pytest.fixture
def server_env(vdongle_dir, position_cu8, tmp_path):
    log = tmp_path / "dongle.log"
    return child_env(vdongle_dir, iq=position_cu8, log=log), log


def _check_positions(chunks):
    assert chunks and all(c[5] for c in chunks)
    for prev, cur in zip(chunks, chunks[1:]):
        assert cur[0] == prev[0] + prev[1]
        assert (cur[4] - prev[4] - prev[1]) % 65536 == cur[3] % 65536, (prev, cur)


@needs_rtl_tcp
def test_rtl_tcp_stream_is_sample_exact(server_env, vdongle_dir, position_cu8):
    env, log = server_env
    server = RtlTcpServer(env).start()
    try:
        out = run_driver(child_env(vdongle_dir), f"rtl_tcp://127.0.0.1:{server.port}", "--seconds", 1.2)
    finally:
        server.stop()
    assert "error" not in out, out
    _check_positions(out["chunks"])
    assert out["accounting"]["samples_lost"] == 0
    n = sum(c[1] for c in out["chunks"])
    assert 0.6 * RATE <= n <= 1.3 * RATE
    # the server followed our 5-byte commands (sample rate, frequency)
    tunes = [l for l in log.read_text().splitlines() if l.startswith("tune ")]
    assert any(l.startswith("tune 868000000") for l in tunes)


@needs_rtl_tcp
def test_rtl_tcp_dropped_buffers_become_a_gap(vdongle_dir, position_cu8, tmp_path):
    log = tmp_path / "dongle.log"
    env = child_env(vdongle_dir, iq=position_cu8, log=log, drop_at=(0.6, 3))
    server = RtlTcpServer(env).start()
    try:
        out = run_driver(child_env(vdongle_dir), f"rtl_tcp://127.0.0.1:{server.port}", "--seconds", 1.8)
    finally:
        server.stop()
    lost = lost_samples(log)
    assert lost == 3 * SERVER_BUFFER_SAMPLES
    gaps = [c for c in out["chunks"] if c[3]]
    assert [g[3] for g in gaps] == [lost]
    _check_positions(out["chunks"])


@needs_rtl_tcp
def test_rtl_tcp_server_restart_reconnects_with_a_gap(vdongle_dir, position_cu8):
    env = child_env(vdongle_dir, iq=position_cu8)
    server = RtlTcpServer(env).start()
    result = {}

    def drive():
        result["out"] = run_driver(child_env(vdongle_dir), f"rtl_tcp://127.0.0.1:{server.port}",
                                   "--seconds", 3.0, timeout=40)

    t = threading.Thread(target=drive)
    t.start()
    try:
        assert wait_port_listening(server.port, 20, state="01"), "the client never connected"
        time.sleep(0.5)
        server.stop(crash=True)
        down = time.monotonic()
        time.sleep(0.5)
        server.start()
        down = time.monotonic() - down
        t.join(40)
    finally:
        server.stop()
    out = result["out"]
    assert "error" not in out, out
    acc = out["accounting"]
    assert acc["reconnects"] == 1
    gaps = [c for c in out["chunks"] if c[3]]
    assert len(gaps) == 1
    # downtime plus reconnect polling, at the sample rate
    assert 0.8 * down * RATE <= gaps[0][3] <= (down + 1.0) * RATE
    assert acc["lost_reconnect"] > 0


@needs_rtl_tcp
def test_rtl_sdr_capture_imports_end_to_end(vdongle_dir, tmp_path):
    """Debian's rtl_sdr records from the virtual dongle; rfdetect reads the cu8 file
    by rtl_433's file-name convention and finds the emitter the dongle was fed."""
    from virtual_dongle import elrs_cu8_file
    src = elrs_cu8_file(tmp_path / "elrs.cu8")
    out = tmp_path / "g001_868.4M_2400k.cu8"
    env = child_env(vdongle_dir, iq=src)
    subprocess.run(["rtl_sdr", "-f", "868.4e6", "-s", "2.4e6", "-n", str(int(1.2 * RATE)), str(out)], env=env,
                   check=True, capture_output=True, timeout=30)
    assert out.stat().st_size == 2 * int(1.2 * RATE)
    assert out.read_bytes()[:4096] == src.read_bytes()[:4096]
    from rfdetect.pipeline import analyze_source
    from rfdetect.sources import open_source
    records = []
    with open_source(out) as source:          # rate and frequency from the file name
        assert (source.info.sample_rate_hz, source.info.center_freq_hz) == (2.4e6, 868.4e6)
        analyze_source(source, records.append)
    found = [r for r in records if r["type"] == "detection" and abs(r["center_freq_hz"] - 868.7e6) < 50e3]
    assert found and max(r["bursts"] for r in found) >= 30     # the 40 bursts fed to the dongle
