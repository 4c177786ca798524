"""JSON Lines sinks (file, stdout, TCP, UDP) and the shared delivery machinery."""
from __future__ import annotations

import json
import os
import threading
import time

import pytest

from rfdetect.errors import ParameterError
from rfdetect.sinks import check_url, open_sink, open_sinks
from rfdetect.sinks.base import Spool, UlidBlocks, new_ulid, next_id
from test_sinks_support import (ALL, DETECTION, LoopbackServer, SilentServer, free_port, received,
                                restart_mid_stream, sample, stream, udp_receiver, wait_until)


class LineServer(LoopbackServer):
    """A JSON Lines TCP receiver that can be stopped and restarted on the same port."""

    def __init__(self, port: int):
        self.records: list[dict] = []
        super().__init__(port)

    def serve(self, conn):
        buf = b""
        conn.settimeout(0.05)
        for data in received(conn, lambda: self.running):
            buf += data
            *lines, buf = buf.split(b"\n")
            self.records.extend(json.loads(line) for line in lines if line)
        conn.close()

    def ids(self):
        return {r["id"] for r in self.records}


@pytest.fixture
def line_server():
    srv = LineServer(free_port())
    yield srv
    srv.stop()


def test_file_sink_writes_every_record_unchanged_plus_id(tmp_path):
    out = tmp_path / "out.jsonl"
    sink = open_sink(str(out), spool_dir=tmp_path / "spool", sensor_id="s1")
    sent = [sample(r) for r in ALL]
    for r in sent:
        sink.send(r)
    counters = sink.close(timeout_s=5)
    assert counters["sent"] == len(ALL) and counters["spooled"] == 0 and counters["dropped"] == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(ALL)
    for original, got in zip(ALL, lines):
        assert got["id"] and len(got["id"]) == 26
        assert {k: v for k, v in got.items() if k != "id"} == original


def test_send_adds_id_in_place_and_group_shares_it(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    group = open_sinks([str(a), f"file:{b}"], spool_dir=tmp_path / "spool", sensor_id="s1")
    rec = sample(DETECTION)
    group.send(rec)
    assert len(rec["id"]) == 26
    counters = group.close(timeout_s=5)
    assert [c["sent"] for c in counters.values()] == [1, 1]
    assert json.loads(a.read_text())["id"] == json.loads(b.read_text())["id"] == rec["id"]


def test_non_finite_and_numpy_values_give_strict_json(tmp_path):
    np = pytest.importorskip("numpy")
    out = tmp_path / "out.jsonl"
    sink = open_sink(str(out), spool_dir=tmp_path, sensor_id="s1")
    sink.send(sample(DETECTION, snr_db=float("nan"), bursts=np.int64(7),
                     confidence=np.float32(0.5)))
    sink.close(timeout_s=5)
    got = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert got["snr_db"] is None and got["bursts"] == 7 and got["confidence"] == 0.5


def test_ulids_are_unique_and_time_ordered():
    ids = [new_ulid(1_700_000_000 + i) for i in range(1000)]
    assert len(set(ids)) == 1000
    assert ids == sorted(ids)
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_ms(ulid: str) -> int:
    value = 0
    for c in ulid[:10]:
        value = value * 32 + CROCKFORD.index(c)
    return value


def test_record_ids_from_blocks_are_unique_across_threads_and_carry_their_time():
    ids = UlidBlocks()
    made: list[list[str]] = [[] for _ in range(4)]

    def make(out):
        for _ in range(3000):
            out.append(ids())
    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    every = [i for out in made for i in out]
    assert len(every) == len(set(every)) == 12000
    assert all(len(i) == 26 and set(i) <= set(CROCKFORD) for i in every)
    assert len({i[:24] for i in every}) >= 12000 // 1024    # a new random prefix every block
    late = ids()
    time.sleep(UlidBlocks.block_s + 0.05)
    before_ms = time.time() * 1000
    later = ids()           # a block expires: the id's time is its creation time, not the block's
    assert later[:24] != late[:24]
    assert before_ms - 1 <= ulid_ms(later) <= time.time() * 1000 + 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_ids_of_its_own():
    next_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:        # the child: its ids must not repeat the parent's block
        os.write(write, next_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert len(child) == 26 and child[:24] != next_id()[:24]


@pytest.mark.parametrize("url, words", [
    ("foo://127.0.0.1:1", "unknown scheme"),
    ("tcp://127.0.0.1", "missing port"),
    ("udp://:9000", "missing host"),
    ("sapient://127.0.0.1:99999", "bad port"),
    ("mqtt://127.0.0.1:1883/a/#", "must not contain"),
    ("cot+tcp://127.0.0.1:8087?line_m=abc", "not a number"),
    ("cot+tcp://127.0.0.1:8087?colour=red", "unknown option"),
    ("tcp://127.0.0.1:5000/path", "takes no path"),
    ("", "empty"),
])
def test_malformed_urls_fail_at_start_with_one_line(url, words):
    with pytest.raises(ParameterError) as err:
        open_sink(url)
    text = str(err.value)
    assert words in text and "\n" not in text and "--handoff" in text
    with pytest.raises(ParameterError):
        check_url(url)


def test_open_sinks_checks_every_url_before_opening_any(tmp_path):
    good = tmp_path / "never.jsonl"
    with pytest.raises(ParameterError):
        open_sinks([str(good), "nope://x"], spool_dir=tmp_path)
    assert not good.exists()


def test_tcp_sink_delivers_and_survives_receiver_restart(tmp_path, line_server):
    sink = open_sink(f"tcp://127.0.0.1:{line_server.port}", spool_dir=tmp_path, sensor_id="s1")
    records = stream(400)
    counters = restart_mid_stream(sink, records, line_server.ids, line_server.stop,
                                  line_server.start, down=slice(150, 300), after=slice(300, None))
    assert counters["sent"] == len(records) and counters["spooled"] == 0
    assert counters["dropped"] == 0 and counters["spooled_total"] > 0


def test_backoff_option_sets_how_soon_a_sink_retries(tmp_path):
    port = free_port()
    t0 = time.monotonic()           # before the first attempt
    sink = open_sink(f"tcp://127.0.0.1:{port}?backoff_s=1.5", spool_dir=tmp_path, sensor_id="s1")
    sink.send(stream(1)[0])
    wait_until(lambda: "last_error" in sink.stats(), 5, "the first attempt failing: no receiver")
    server = LineServer(port)
    try:
        # The next attempt comes 1.5 s after the first, itself after t0. The default 0.2 s
        # backoff would have retried (0.2 and 0.6 s after it) and delivered by now.
        time.sleep(max(0.0, 1.3 - (time.monotonic() - t0)))
        assert sink.stats()["sent"] == 0
        wait_until(lambda: sink.stats()["sent"] == 1, 5, "the retry after backoff_s")
        assert time.monotonic() - t0 >= 1.5
        sink.close(timeout_s=2)
    finally:
        server.stop()


def test_records_spooled_at_close_are_sent_by_the_next_run(tmp_path, line_server):
    dead = free_port()
    url = f"tcp://127.0.0.1:{dead}"
    sink = open_sink(url, spool_dir=tmp_path, sensor_id="s1")
    records = stream(50)
    for r in records:
        sink.send(r)
    counters = sink.close(timeout_s=3)
    assert counters == {"sent": 0, "spooled": 50, "dropped": 0, "filtered": 0, "resent": 0,
                        "spooled_total": 50, "last_error": counters["last_error"],
                        "spool_path": str(sink.spool.path)}
    assert "refused" in counters["last_error"]
    # Same URL and spool directory later, receiver now listening on that port.
    line_server.stop()
    line_server.port = dead
    line_server.start()
    again = open_sink(url, spool_dir=tmp_path, sensor_id="s1")
    wait_until(lambda: len(line_server.ids()) == 50, 5, "replayed spool")
    assert again.close(timeout_s=5)["sent"] == 50
    assert line_server.ids() == {r["id"] for r in records}


def test_full_queue_spills_to_spool_and_nothing_is_lost(tmp_path, line_server):
    sink = open_sink(f"tcp://127.0.0.1:{line_server.port}?queue=4", spool_dir=tmp_path,
                     sensor_id="s1")
    records = stream(2000)
    t0 = time.perf_counter()
    for r in records:
        sink.send(r)
    assert time.perf_counter() - t0 < 2.0      # 1 ms per record at most, disk included
    counters = sink.close(timeout_s=10)
    assert counters["sent"] == 2000 and counters["dropped"] == 0
    assert counters["spooled_total"] > 0
    assert line_server.ids() == {r["id"] for r in records}


def test_unwritable_spool_counts_drops(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    sink = open_sink(f"tcp://127.0.0.1:{free_port()}?queue=1", spool_dir=tmp_path,
                     sensor_id="s1")
    sink.spool.path = blocker / "cannot" / "exist.jsonl"     # a path below a file
    for r in stream(20):
        sink.send(r)
    counters = sink.close(timeout_s=2)
    assert counters["dropped"] > 0
    assert counters["sent"] + counters["spooled"] + counters["dropped"] == 20


def test_send_never_blocks_on_a_receiver_that_does_not_read(tmp_path):
    silent = SilentServer()
    try:
        sink = open_sink(f"tcp://127.0.0.1:{silent.port}?timeout_s=0.5&queue=100",
                         spool_dir=tmp_path, sensor_id="s1")
        big = sample(DETECTION, evidence={"blob": "x" * 20000})
        t0 = time.perf_counter()
        for _ in range(1500):       # 30 MB: far beyond the socket buffers
            sink.send(big)
        assert time.perf_counter() - t0 < 10
        t1 = time.monotonic()
        counters = sink.close(timeout_s=2)
        assert time.monotonic() - t1 < 3
        assert counters["spooled"] > 0
        assert counters["sent"] + counters["spooled"] + counters["dropped"] >= 1500
    finally:
        silent.close()


def test_udp_sink_one_record_per_datagram(tmp_path):
    with udp_receiver() as rx:
        sink = open_sink(f"udp://127.0.0.1:{rx.getsockname()[1]}", spool_dir=tmp_path,
                         sensor_id="s1")
        for r in ALL:
            sink.send(sample(r))
        got = [json.loads(rx.recv(65536)) for _ in ALL]
        assert sink.close(timeout_s=2)["sent"] == len(ALL)
        assert [g["type"] for g in got] == [r["type"] for r in ALL]


def test_spool_survives_an_interrupted_replay(tmp_path):
    sp = Spool(tmp_path / "s.jsonl")
    sp.append([{"id": "a"}, {"id": "b"}])
    (tmp_path / "s.jsonl").rename(tmp_path / "s.replaying")     # as a crash mid-replay leaves it
    again = Spool(tmp_path / "s.jsonl")
    assert again.count == 2
    assert [r["id"] for r in again.take_all()] == ["a", "b"]
    assert again.count == 0 and again.take_all() == []


def test_stdout_sink_and_sensor_position_dataclass(tmp_path, capfd):
    from rfdetect.model import SensorPosition
    sink = open_sink("-", spool_dir=tmp_path, sensor_id="s1", sensor=SensorPosition(52.0, 4.0))
    sink.send(sample(DETECTION))
    assert sink.close(timeout_s=5)["sent"] == 1
    got = json.loads(capfd.readouterr().out)
    assert got["type"] == "detection" and got["link"] == DETECTION["link"]
    with pytest.raises(ParameterError):
        open_sink("-", sensor=(52.0, 4.0))
