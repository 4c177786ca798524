"""Sinks in a child process: what the parent hands over arrives, counted, and the child
never stalls the parent nor outlives it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rfdetect.errors import ParameterError
from rfdetect.sinks import open_sinks, stamp
from rfdetect.sinks.process import ProcessSinkGroup
from test_sinks_support import ALL, free_port, sample, stream, wait_until

TESTS = Path(__file__).resolve().parent


def ids_in(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()] if path.exists() else []


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone too: only its exit status is left for the parent to collect.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def group_factory(tmp_path):
    groups = []

    def make(urls, **kwargs):
        kwargs.setdefault("spool_dir", tmp_path / "spool")
        g = open_sinks(urls, sensor_id="s1", **kwargs)
        groups.append(g)
        return g
    yield make
    for g in groups:
        if g._child.poll() is None:
            os.kill(g._child.pid, signal.SIGCONT)
            g.close(timeout_s=2)


def test_records_go_through_a_child_process_and_counters_come_back(tmp_path, group_factory):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    group = group_factory([str(a), f"file:{b}"])
    assert isinstance(group, ProcessSinkGroup) and group._child.pid != os.getpid()
    sent = [sample(r) for r in ALL]
    for r in sent:
        group.send(r)
    # No sink thread in this process: their work is the child's.
    assert not [t for t in threading.enumerate() if t.name.startswith("sink-")]
    wait_until(lambda: group.stats()[str(a)]["sent"] == len(ALL), 10, "delivery seen in stats")
    counters = group.close(timeout_s=5)
    assert group._child.returncode == 0
    for url in (str(a), f"file:{b}"):
        assert counters[url]["sent"] == len(ALL)
        assert counters[url]["spooled"] == counters[url]["dropped"] == 0
    assert ids_in(a) == ids_in(b) == [r["id"] for r in sent]
    got = [json.loads(line) for line in a.read_text().splitlines()]
    assert [{k: v for k, v in g.items() if k != "id"} for g in got] == list(ALL)


def test_records_handed_as_json_lines_arrive_with_the_callers_ids(tmp_path, group_factory):
    out = tmp_path / "lines.jsonl"
    group = group_factory([str(out)])
    sent = [stamp(sample(r)) for r in ALL]
    for r in sent:      # the line a command writes to its own output, spaces and all
        group.send_line(json.dumps(r, separators=(", ", ": ")) + "\n")
    group.send(sample(ALL[0]))          # dicts and lines mix
    counters = group.close(timeout_s=5)[str(out)]
    assert counters["sent"] == len(ALL) + 1 and counters["spooled"] == counters["dropped"] == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert got[:-1] == sent and got[-1]["id"] not in {r["id"] for r in sent}


def test_malformed_url_is_refused_before_a_child_starts(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))
    with pytest.raises(ParameterError) as err:
        open_sinks([str(tmp_path / "ok.jsonl"), "tcp://127.0.0.1:99999"], sensor_id="s1")
    assert "--handoff" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ParameterError):
        open_sinks([str(tmp_path / "ok.jsonl")], sensor_id="bad id!")
    assert started == []


def test_a_stopped_child_never_blocks_send_and_nothing_is_lost(tmp_path, group_factory):
    out = tmp_path / "out.jsonl"
    group = group_factory([str(out)])
    group.pending_limit = 500
    wait_until(lambda: "connected" in group.stats()[str(out)], 10, "child up")
    os.kill(group._child.pid, signal.SIGSTOP)          # a child that takes nothing any more
    records = stream(5000)
    big = {"blob": "x" * 2000}                         # 10 MB: far beyond the pipe's buffer
    t0 = time.perf_counter()
    for r in records:
        r["evidence"] = big
        group.send(r)
    assert time.perf_counter() - t0 < 10
    assert group.journal.count > 0                     # what the child could not take waits on disk
    os.kill(group._child.pid, signal.SIGCONT)
    counters = group.close(timeout_s=20)[str(out)]
    assert counters["dropped"] == 0
    assert counters["sent"] + counters["spooled"] == len(records)
    assert counters["spooled"] == group.journal.count and counters["journal_path"]
    # The next run with the same URLs and spool directory sends the journal first.
    again = group_factory([str(out)])
    assert again.close(timeout_s=20)[str(out)]["sent"] == counters["spooled"]
    assert sorted(ids_in(out)) == sorted(r["id"] for r in records)


def test_a_killed_child_sends_records_to_the_journal_for_the_next_run(tmp_path, group_factory):
    out = tmp_path / "out.jsonl"
    group = group_factory([str(out)])
    first, later = stream(30), stream(40)
    for r in first:
        group.send(r)
    wait_until(lambda: len(ids_in(out)) == 30, 10, "first records delivered")
    group._child.kill()
    group._child.wait(5)
    for i, r in enumerate(later):
        if i % 2:
            group.send(r)
        else:           # a line the child never got is journaled as the record it encodes
            group.send_line(json.dumps(stamp(r)))
    counters = group.close(timeout_s=2)[str(out)]
    assert counters["spooled"] == 40 and "exited" in counters["last_error"]
    again = group_factory([str(out)])
    assert again.close(timeout_s=5)[str(out)]["sent"] == 40
    assert sorted(ids_in(out)) == sorted(r["id"] for r in first + later)


def test_ctrl_c_does_not_kill_the_child(tmp_path, group_factory):
    out = tmp_path / "out.jsonl"
    group = group_factory([str(out)])
    wait_until(lambda: "connected" in group.stats()[str(out)], 10, "child up")
    os.kill(group._child.pid, signal.SIGINT)       # a terminal sends it to the whole group
    records = stream(10)
    for r in records:
        group.send(r)
    assert group.close(timeout_s=5)[str(out)]["sent"] == 10
    assert ids_in(out) == [r["id"] for r in records]


def test_child_delivers_and_exits_when_the_parent_dies(tmp_path):
    out = tmp_path / "out.jsonl"
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(TESTS)!r})
        from rfdetect.sinks import open_sinks, stamp
        from test_sinks_support import stream
        group = open_sinks([{str(out)!r}], spool_dir={str(tmp_path / 'spool')!r}, sensor_id="s1")
        for r in stream(200):
            group.send(r)
        time.sleep(0.3)                      # handed over to the child
        print(group._child.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout.split()[0])
    wait_until(lambda: gone(child), 15, "the orphaned child to exit")
    assert len(set(ids_in(out))) == 200


def test_tcp_receiver_down_then_up_through_the_child(tmp_path, group_factory):
    from test_sinks_jsonl import LineServer
    port = free_port()
    group = group_factory([f"tcp://127.0.0.1:{port}"])
    records = stream(300)
    for r in records[:100]:
        group.send(r)
    wait_until(lambda: group.stats()[f"tcp://127.0.0.1:{port}"]["spooled"] == 100, 10,
               "spooled while no receiver listens")
    server = LineServer(port)
    try:
        for r in records[100:]:
            group.send(r)
        wait_until(lambda: server.ids() >= {r["id"] for r in records}, 15, "every record")
        counters = group.close(timeout_s=5)[f"tcp://127.0.0.1:{port}"]
    finally:
        server.stop()
    assert counters["sent"] == 300 and counters["spooled"] == counters["dropped"] == 0


def test_real_receivers_restarted_mid_stream_get_every_record_through_the_child(tmp_path):
    pytest.importorskip("paho.mqtt.client")
    pytest.importorskip("sapient_msg.bsi_flex_335_v2_0")
    from test_sinks_cot import TAKY, TakClient, Taky
    from test_sinks_mqtt import MOSQUITTO, Broker, Subscriber
    from test_sinks_sapient import SapientReceiver
    if MOSQUITTO is None or not Path(TAKY).exists():
        pytest.skip("needs mosquitto and taky")
    (tmp_path / "taky").mkdir()
    broker, taky, sapient = Broker(tmp_path), Taky(tmp_path / "taky"), SapientReceiver(free_port())
    sub, tak = Subscriber(broker.port, "rfdetect/#"), TakClient(taky.port)
    # A TAK server relays an event only to the clients connected at that moment: the CoT sink
    # must come back after the test's client, so it retries seconds apart, not 0.2 s.
    urls = [f"mqtt://127.0.0.1:{broker.port}", f"cot+tcp://127.0.0.1:{taky.port}?backoff_s=4",
            f"sapient://127.0.0.1:{sapient.port}"]
    try:
        time.sleep(0.2)     # the TAK client registered before traffic starts
        group = open_sinks(urls, spool_dir=tmp_path / "spool", sensor_id="mast-9")
        records = stream(300)
        received = {"mqtt": sub.ids, "tak": lambda: set(tak.by_id()), "sapient": sapient.report_ids}

        def missing(part) -> dict:
            want = {r["id"] for r in part}
            return {name: len(want - got()) for name, got in received.items() if want - got()}

        def every(part):
            return not missing(part)
        for r in records[:100]:
            group.send(r)
        wait_until(lambda: every(records[:100]), 15, "first part at every receiver")
        broker.stop(), taky.stop(), sapient.stop()
        wait_until(lambda: not tak.connected.is_set(), 5, "TAK client noticed the stop")
        for r in records[100:200]:
            group.send(r)
            time.sleep(0.001)
        wait_until(lambda: all(c["spooled"] > 0 for c in group.stats().values()), 10,
                   "every sink spooling while its receiver is down")
        broker.start(), taky.start(), sapient.start()
        assert tak.connected.wait(5)
        for r in records[200:]:
            group.send(r)
        try:
            wait_until(lambda: every(records), 30, "every record at every receiver")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; records missing per receiver: {missing(records)}") from None
        counters = group.close(timeout_s=10)
    finally:
        sub.close(), tak.close()
        broker.stop(), taky.stop(), sapient.stop()
    for url in urls:
        assert counters[url]["sent"] == 300, counters[url]
        assert counters[url]["spooled"] == counters[url]["dropped"] == 0
