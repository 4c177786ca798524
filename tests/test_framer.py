"""Framing on worker threads gives exactly the frames of framing in order on one thread."""
from __future__ import annotations

import time

import numpy as np
import pytest

from rfdetect.detect import DetectorConfig
from rfdetect.detect.framer import Framer, framed_blocks
from rfdetect.model import IQBlock

FS = 2.4e6


def stream(sizes, *, gap_at=None, retune_at=None, seed=0):
    """IQBlocks of the given sizes; block ``gap_at`` follows lost samples, block
    ``retune_at`` is at another frequency."""
    rng = np.random.default_rng(seed)
    index = 0
    for i, n in enumerate(sizes):
        lost = 5000 if i == gap_at else 0
        index += lost
        x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
        yield IQBlock(samples=x, sample_index0=index, center_freq_hz=869e6 if i == retune_at else 868e6,
                      sample_rate_hz=FS, samples_lost_before=lost)
        index += n


def framer():
    return Framer(256, 128, DetectorConfig(), 868e6)


def collect(blocks, workers, consume_s=0.0):
    out = []
    for block, batch in framed_blocks(blocks, framer(), workers=workers):
        out.append((block.sample_index0, batch.power.copy(), batch.restart_at, batch.center_freq_hz,
                    batch.samples_lost))
        time.sleep(consume_s)      # a slow consumer: the workers run ahead of it
    return out


@pytest.mark.parametrize("consume_s", [0.0, 0.01])
def test_workers_give_the_frames_of_one_thread(consume_s):
    sizes = [1000, 70_000, 127, 129, 300_000, 5, 64_000, 64_001] * 3
    kw = dict(gap_at=9, retune_at=14)
    serial = collect(stream(sizes, **kw), workers=0)
    parallel = collect(stream(sizes, **kw), workers=2, consume_s=consume_s)
    assert len(serial) == len(parallel) == len(sizes)
    for a, b in zip(serial, parallel):
        assert a[0] == b[0] and a[2:] == b[2:]
        np.testing.assert_array_equal(a[1], b[1])
    frames = sum(a[1].shape[0] for a in serial)
    assert frames > 0.99 * sum(sizes) / 128 - 3 * 2          # every sample framed, twice
    assert [a[2] for a in serial if a[2] is not None] == [sum(sizes[:9]) + 5000,
                                                          sum(sizes[:14]) + 5000,
                                                          sum(sizes[:15]) + 5000]


def test_a_failing_source_raises_after_the_blocks_before_it():
    def failing():
        yield from stream([50_000] * 4)
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for block, _ in framed_blocks(failing(), framer(), workers=2):
            seen.append(block.sample_index0)
    assert seen == [0, 50_000, 100_000, 150_000]


def test_stopping_early_leaves_no_thread_behind():
    import threading
    before = threading.active_count()
    for i, _ in enumerate(framed_blocks(stream([50_000] * 50), framer(), workers=2)):
        if i == 2:
            break
    time.sleep(0.2)
    assert threading.active_count() == before


def test_deferred_batches_give_the_frames_computed_at_once():
    sizes = [1000, 70_000, 127, 300_000, 5, 64_001]
    eager, deferred = framer(), framer()
    for block in stream(sizes, gap_at=2, retune_at=4):
        a = eager.frame(block)
        b = deferred.defer(block)
        assert (a.restart_at, a.center_freq_hz, a.samples_lost) == (b.restart_at, b.center_freq_hz,
                                                                   b.samples_lost)
        chunks = [c.copy() for c in b.chunks()]
        assert all(c.shape[0] <= DetectorConfig().frames_per_batch(256) for c in chunks)
        joined = np.concatenate(chunks) if chunks else np.zeros((0, 256), np.float32)
        np.testing.assert_array_equal(joined, a.power)
        np.testing.assert_array_equal(b.power, a.power)      # all at once, on demand


def test_batches_left_unread_do_not_shift_the_next_blocks():
    sizes = [70_000, 300_000, 64_001, 300_000, 1000, 250_000]
    serial = collect(stream(sizes), workers=0)
    seen = []
    for i, (block, batch) in enumerate(framed_blocks(stream(sizes), framer(), workers=1)):
        if i % 2:             # only the first batch of every other block is read
            first = next(batch.chunks(), None)
            seen.append((block.sample_index0, None if first is None else first.copy()))
        else:
            seen.append((block.sample_index0, batch.power.copy()))
    assert [s[0] for s in seen] == [a[0] for a in serial]
    for i, (a, b) in enumerate(zip(serial, seen)):
        expected = a[1] if i % 2 == 0 else a[1][: DetectorConfig().frames_per_batch(256)]
        np.testing.assert_array_equal(b[1], expected)


def test_the_consumer_runs_its_share_of_the_transforms(monkeypatch):
    """Every CONSUMER_FFT_EVERY-th batch's FFT runs on the consumer's thread, from an
    input of its own, and gives the frames of one thread."""
    import threading

    from rfdetect.detect import framer as framer_module

    ran_on = []
    spectra = framer_module._Transform.spectra

    def recording_spectra(self):
        ran_on.append(threading.current_thread().name)
        return spectra(self)

    monkeypatch.setattr(framer_module._Transform, "spectra", recording_spectra)
    sizes = [300_000] * 6          # about 14000 frames: 28 batches
    serial = collect(stream(sizes), workers=0)
    parallel = collect(stream(sizes), workers=1, consume_s=0.002)
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a[1], b[1])
    rows = DetectorConfig().frames_per_batch(256)
    batches = sum(-(-a[1].shape[0] // rows) for a in serial)
    assert batches >= 25
    assert set(ran_on) == {threading.current_thread().name}
    assert len(ran_on) == pytest.approx(batches / framer_module.CONSUMER_FFT_EVERY, abs=2)


def byte_stream(sizes, *, kinds="b", gap_at=None, seed=1):
    """Blocks of RTL-SDR bytes, as CU8Blocks (kind "b") or converted (kind "c"), cycling
    through ``kinds``, and the same blocks all converted."""
    from rfdetect.kernels.convert import cu8_to_c64
    from rfdetect.model import CU8Block

    rng = np.random.default_rng(seed)
    index, as_given, converted = 0, [], []
    for i, n in enumerate(sizes):
        lost = 5000 if i == gap_at else 0
        index += lost
        raw = rng.integers(0, 256, (n, 2), dtype=np.uint8)
        kw = dict(sample_index0=index, center_freq_hz=868e6, sample_rate_hz=FS, samples_lost_before=lost)
        x = cu8_to_c64(raw)
        as_given.append(CU8Block(raw, **kw) if kinds[i % len(kinds)] == "b" else IQBlock(x, **kw))
        converted.append(IQBlock(x, **kw))
        index += n
    return as_given, converted


@pytest.mark.parametrize("kinds", ["b", "bc", "cb"])
@pytest.mark.parametrize("workers", [0, 1])
def test_bytes_give_the_frames_of_their_converted_samples(kinds, workers):
    """The framer windows an RTL-SDR block's bytes without converting them first: the same
    frames, bit for bit, also when blocks of bytes and of samples alternate."""
    sizes = [1000, 70_000, 127, 129, 300_000, 5, 64_001]
    as_given, converted = byte_stream(sizes, kinds=kinds, gap_at=4)
    a = collect(iter(converted), workers=workers)
    b = collect(iter(as_given), workers=workers)
    assert len(a) == len(b) == len(sizes)
    for x, y in zip(a, b):
        assert x[0] == y[0] and x[2:] == y[2:]
        np.testing.assert_array_equal(x[1].view(np.uint32), y[1].view(np.uint32))
    if kinds == "b":     # framing needed no conversion
        assert all(block._converted is None for block in as_given)


def test_a_byte_block_converts_once_and_only_when_read():
    from rfdetect.kernels.convert import cu8_to_c64

    (block,), _ = byte_stream([1000])
    assert block.num_samples == 1000 and block._converted is None
    x = block.samples
    assert x is block.samples                       # converted once
    np.testing.assert_array_equal(x, cu8_to_c64(block.raw))
    assert x.shape == (1, 1000) and x.dtype == np.complex64
