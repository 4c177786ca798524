"""`rfdetect analyze --handoff`: every record reaches the receiver, and the summary counts it."""
from __future__ import annotations

import json
import socket
import threading

from iqgen import write_hdf5
from rfdetect.cli import main
from synth import TrueBurst, scene

FS = 2.4e6


def test_records_reach_a_tcp_receiver_and_a_file(tmp_path, capsys):
    path = write_hdf5(tmp_path / "r.h5", scene(FS, 200_000, [TrueBurst(50_000, 20_000, 0, 300e3, 20)], seed=1),
                      sample_rate_hz=FS, center_freq_hz=868e6)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(20)
    port = server.getsockname()[1]
    received: list[dict] = []

    def receive():
        conn, _ = server.accept()
        conn.settimeout(20)
        with conn, conn.makefile("r") as lines:
            for line in lines:
                received.append(json.loads(line))

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    copy = tmp_path / "copy.jsonl"
    code = main(["analyze", str(path), "--all-bursts", "--progress", "off", "--quiet",
                 "--handoff", f"tcp://127.0.0.1:{port}", "--handoff", str(copy)])
    thread.join(timeout=20)
    server.close()
    out, err = capsys.readouterr()
    assert code == 0
    local = [json.loads(line) for line in out.splitlines()]
    assert [r["type"] for r in received] == [r["type"] for r in local] == ["burst", "summary"]
    # One id per record, shared by every sink and the local output.
    assert [r["id"] for r in received] == [r["id"] for r in local]
    assert [json.loads(l)["id"] for l in copy.read_text().splitlines()] == [r["id"] for r in local]
    assert f"tcp://127.0.0.1:{port}: 2 sent, 0 spooled, 0 dropped" in err


def test_malformed_handoff_url_fails_before_any_work(tmp_path, capsys):
    code = main(["analyze", str(tmp_path / "missing.h5"), "--handoff", "mqtt://:99999/x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--handoff" in err[0] and "missing.h5" not in err[0]
