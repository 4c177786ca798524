"""Sample accounting without hardware: the sample-clock loss estimate on synthetic
arrival times, and the live source's queue, settling and sweep bookkeeping."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rfdetect.errors import DeviceError, ParameterError
from rfdetect.sources.accounting import Accounting, ClockLossEstimator, LiveConfig, LiveSource, check_rate

RATE = 2.4e6
N = 32768
D = N / RATE        # one buffer's duration


def _run(arrivals, quantum=N, **kw):
    """arrivals: list of arrival times, one buffer of N samples each -> {item index: lost before}."""
    est = ClockLossEstimator(RATE, quantum=quantum, **kw)
    out = []
    for i, t in enumerate(arrivals):
        out += est.push(i, N, t)
    out += est.flush()
    assert [i for i, _ in out] == list(range(len(arrivals)))      # order kept, nothing dropped
    return {i: lost for i, lost in out if lost}


def _cadence(n, start=0.0, latency=0.002, jitter=0.0, rng=None):
    t = start + latency + D * np.arange(1, n + 1)
    if jitter:
        t = t + rng.uniform(0, jitter, n)
    return list(t)


def test_steady_stream_with_jitter_loses_nothing():
    rng = np.random.default_rng(1)
    assert _run(_cadence(400, jitter=0.003, rng=rng)) == {}


def test_clock_drift_is_not_a_loss():
    t = [x * (1 + 150e-6) for x in _cadence(3000)]       # a dongle 150 ppm slow, 40 s
    assert _run(t) == {}


@pytest.mark.parametrize("k", [1, 3, 17])
def test_lost_buffers_are_counted_exactly_where_they_were(k):
    rng = np.random.default_rng(k)
    t = _cadence(60, jitter=0.002, rng=rng)
    # buffers 30..30+k-1 were never delivered: later ones arrive k buffers "late"
    arrivals = t[:30] + [x + k * D for x in _cadence(30, start=t[29] - 0.002, jitter=0.002, rng=rng)]
    assert _run(arrivals) == {30: k * N}


def test_transient_delay_then_catch_up_is_not_a_loss():
    t = _cadence(100)
    # processing held the reader for 200 ms: buffers then arrive back to back
    hog_end = t[40] + 0.2
    arrivals = t[:40] + [max(x, hog_end + 0.0002 * i) for i, x in enumerate(t[40:])]
    assert _run(arrivals) == {}


def test_delay_followed_by_loss_is_counted_once():
    t = _cadence(100)
    hog_end = t[40] + 0.15
    late = [max(x, hog_end + 0.0002 * i) for i, x in enumerate(t[40:60])]
    after = [x + 5 * D for x in t[60:]]
    lost = _run(t[:40] + late + after)
    assert sum(lost.values()) == 5 * N and len(lost) == 1


def test_quantum_one_measures_arbitrary_losses():
    t = _cadence(50)
    arrivals = t[:20] + [x + 0.1 for x in t[20:]]
    lost = _run(arrivals, quantum=1, jitter_s=0.0)
    assert abs(lost[20] - 0.1 * RATE) <= 0.002 * RATE


def test_accounting_totals():
    a = Accounting(lost_queue_overflow=3, lost_sample_clock=5, lost_retune_settling=7, lost_reconnect=11)
    assert a.samples_lost == 26 and a.as_dict()["samples_lost"] == 26


def test_rtl_sample_rates():
    assert check_rate(2.4e6) == 2.4e6
    for bad in (250e3 - 30e3, 600e3, 3.3e6):
        with pytest.raises(ParameterError, match="225001"):
            check_rate(bad)


class _Feeder(LiveSource):
    """A receiver that delivers exactly what the test pushes (no timing)."""

    def __init__(self, **kw):
        # arrival timing is not under test here: keep the sample-clock estimate out of the way
        super().__init__("test:feeder", RATE, 868e6, None, LiveConfig(jitter_s=30.0, **kw))
        self.tuned = []
        self.go = threading.Event()
        self.buffers: list[np.ndarray] = []
        self.done = threading.Event()

    def _connect(self):
        pass

    def _stream(self):
        self.go.wait(5)
        t = time.monotonic()
        for i, b in enumerate(self.buffers):
            # in real time, as a receiver would
            while time.monotonic() < t + (i + 1) * b.size / 2 / RATE:
                pass
            # a loaded machine may run the tuner thread late: wait for it so that the
            # pattern of dwells is deterministic (samples during a retune are dropped)
            end = time.monotonic() + 2.0
            while self._retuning and time.monotonic() < end:
                time.sleep(0.0005)
            self._deliver(b)
        self.done.set()
        self._stop.wait(10)

    def _cancel(self):
        self.go.set()

    def _disconnect(self):
        pass

    def _set_frequency(self, f):
        self.tuned.append(f)


def _buffers(count, n=4096):
    pos = np.arange(count * n, dtype=np.int64)
    raw = np.empty(2 * pos.size, np.uint8)
    raw[0::2] = pos & 255
    raw[1::2] = (pos >> 8) & 255
    return [raw[2 * i * n:2 * (i + 1) * n] for i in range(count)]


def _drain(src, expect_samples, timeout=5.0):
    got = []
    end = time.monotonic() + timeout
    for c in src.chunks(tick_s=0.05):
        if c is not None:
            got.append(c)
        if sum(x.num_samples for x in got) + src.accounting.samples_lost >= expect_samples or \
                time.monotonic() > end:
            break
    return got


def test_queue_overflow_is_counted_and_reported_on_the_next_chunk():
    src = _Feeder(buffer_samples=4096, queue_buffers=3)
    src.buffers = _buffers(10)
    src.start()
    src.go.set()
    assert src.done.wait(5)                  # the reader never waited for the consumer
    got = _drain(src, 10 * 4096)
    src.close()
    acc = src.accounting
    assert acc.lost_queue_overflow == 7 * 4096
    assert [c.num_samples for c in got] == [4096] * 3
    assert acc.samples_handed_over == 3 * 4096
    # the next chunk handed over would carry the loss: it is pending, not forgotten
    assert src._pending_lost == 7 * 4096


def test_sweep_dwell_and_settling_are_exact():
    src = _Feeder(buffer_samples=4096, queue_buffers=1000, settle_s=0.0, inflight_buffers=1)
    src.buffers = _buffers(40)
    src.set_sweep([(868e6, 10000), (869e6, 6000)])
    src.start()
    src.go.set()
    got = _drain(src, 40 * 4096)
    src.close()
    acc = src.accounting
    assert acc.samples_handed_over + acc.lost_retune_settling == 40 * 4096
    runs = []
    for c in got:
        if runs and runs[-1][0] == c.center_freq_hz and not c.samples_lost_before:
            runs[-1][1] += c.num_samples
        else:
            runs.append([c.center_freq_hz, c.num_samples, c.samples_lost_before])
    assert [r[0] for r in runs[:4]] == [868e6, 869e6, 868e6, 869e6]
    assert runs[0][1] == 10000 and runs[1][1] == 6000 and runs[2][1] == 10000
    # each retune drops at least the in-flight transfer, counted on the first chunk after it
    assert all(r[2] >= 4096 for r in runs[1:])
    assert sum(c.samples_lost_before for c in got) + src.unreported_lost() == acc.lost_retune_settling
    assert src.tuned[:2] == [869e6, 868e6]


def test_a_failing_receiver_surfaces_as_device_error():
    class Broken(_Feeder):
        def _stream(self):
            raise RuntimeError("bus error")

    src = Broken()
    with pytest.raises(DeviceError, match="bus error"):
        list(src.chunks())
    src.close()


def test_a_received_chunk_becomes_a_block_of_its_bytes():
    """Live blocks are CU8Blocks: the detector windows their bytes; a burst's samples are
    converted when read, to the values of the conversion kernel."""
    from rfdetect.kernels.convert import cu8_to_c64
    from rfdetect.model import CU8Block
    from rfdetect.sources.accounting import Chunk, chunk_to_block

    raw = np.random.default_rng(2).integers(0, 256, 2 * 1000, dtype=np.uint8)
    block = chunk_to_block(Chunk(raw, 5000, 868e6, 7, 1.7e9), 2.4e6, gain_db=20.0)
    assert isinstance(block, CU8Block) and block._converted is None
    assert (block.num_samples, block.sample_index0, block.center_freq_hz, block.samples_lost_before,
            block.timestamp, block.gain_db, block.sample_rate_hz) == (1000, 5000, 868e6, 7, 1.7e9, 20.0, 2.4e6)
    np.testing.assert_array_equal(block.samples, cu8_to_c64(raw))
