"""Source contract over every reader, HDF5 writer, conversions and bad input."""
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from iqgen import held_open_for_writing, quantized, random_iq, write_hdf5, write_raw, write_sigmf
from rfdetect.errors import InputError, ParameterError
from rfdetect.model import Annotation, CU8Block, SensorPosition
from rfdetect.sources import detect_format, open_source
from rfdetect.sources.hdf5 import HDF5Source, HDF5Writer
from rfdetect.sources.raw import RawSource, parse_rtl433_name
from rfdetect.sources.sigmf_io import SigMFSource, hdf5_to_sigmf, sigmf_to_hdf5

N = 1000
RATE, FREQ = 2.4e6, 433.92e6
SHARED = Path(__file__).resolve().parents[2] / "shared" / "recordings"
ROOT = Path(__file__).resolve().parents[1]


def _hdf5(dt):
    def make(tmp, x):
        return write_hdf5(tmp / "rec.h5", x, dt, RATE, FREQ), {}, dt
    return make


def _sigmf(dt):
    def make(tmp, x):
        return write_sigmf(tmp / "rec", x, dt, RATE, FREQ), {}, dt
    return make


def _raw(fmt):
    sig = {"cu8": "cu8", "cs8": "ci8", "cs16": "ci16_le", "cf32": "cf32_le"}[fmt]

    def make(tmp, x):
        p = write_raw(tmp / f"rec.{fmt}", x, fmt)
        return p, {"sample_rate_hz": RATE, "center_freq_hz": FREQ, "channels": x.shape[0]}, sig
    return make


IMPLS = {
    "hdf5-cf32": (_hdf5("cf32_le"), 1), "hdf5-cu8": (_hdf5("cu8"), 1), "hdf5-cf32-3ch": (_hdf5("cf32_le"), 3),
    "hdf5-cu8-2ch": (_hdf5("cu8"), 2),
    "sigmf-cf32_le": (_sigmf("cf32_le"), 1), "sigmf-ci16_le": (_sigmf("ci16_le"), 1),
    "sigmf-cu8": (_sigmf("cu8"), 1), "sigmf-ci8": (_sigmf("ci8"), 1), "sigmf-ci16_be": (_sigmf("ci16_be"), 1),
    "sigmf-cf32_be": (_sigmf("cf32_be"), 1),
    "sigmf-cf32-2ch": (_sigmf("cf32_le"), 2), "sigmf-cu8-2ch": (_sigmf("cu8"), 2),
    "sigmf-ci16-2ch": (_sigmf("ci16_le"), 2),
    "raw-cu8": (_raw("cu8"), 1), "raw-cs8": (_raw("cs8"), 1), "raw-cs16": (_raw("cs16"), 1),
    "raw-cf32": (_raw("cf32"), 1), "raw-cu8-2ch": (_raw("cu8"), 2),
}


def collect(src, **kw):
    blocks = list(src.blocks(**kw))
    if not blocks:
        return np.zeros((src.info.num_channels, 0), np.complex64), blocks
    return np.concatenate([b.samples for b in blocks], axis=1), blocks


@pytest.mark.parametrize("name", ["raw-cu8", "sigmf-cu8", "hdf5-cu8"])
def test_rtl_bytes_come_as_byte_blocks_that_outlive_the_file(tmp_path, name):
    """One channel of cu8 comes as CU8Blocks (converted when read, see model.CU8Block),
    whose bytes are copied out of the file's mapping: readable after the source closes."""
    make, nch = IMPLS[name]
    x = random_iq(N, nch, seed=3)
    path, kw, datatype = make(tmp_path, x)
    with open_source(path, **kw) as src:
        blocks = list(src.blocks(block_samples=300))
    assert all(isinstance(b, CU8Block) and b._converted is None for b in blocks)
    assert sum(b.num_samples for b in blocks) == N
    full = np.concatenate([b.samples for b in blocks], axis=1)
    np.testing.assert_allclose(full, quantized(x, datatype), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", list(IMPLS))
def test_source_contract(tmp_path, name):
    make, nch = IMPLS[name]
    x = random_iq(N, nch, seed=len(name))
    path, kw, datatype = make(tmp_path, x)
    expect = quantized(x, datatype)
    src = open_source(path, **kw)
    with src:
        info = src.info
        assert (info.sample_rate_hz, info.center_freq_hz) == (RATE, FREQ)
        assert info.num_channels == nch and info.num_samples == N and info.datatype == datatype
        full, blocks = collect(src, block_samples=4096)
        assert full.dtype == np.complex64 and full.shape == (nch, N)
        np.testing.assert_allclose(full, expect, rtol=0, atol=1e-6)
        step = {"cu8": 1 / 127.5, "ci8": 1 / 128}.get(datatype, 1 / 32768)
        np.testing.assert_allclose(full, x, rtol=0, atol=step * 0.72 if "f" not in datatype else 1e-7)
        for bs in (1, 7, 4096, N + 5):
            got, blocks = collect(src, block_samples=bs)
            np.testing.assert_array_equal(got, full)
            idx = [b.sample_index0 for b in blocks]
            assert idx == list(range(0, N, bs))
            assert all(b.num_samples <= bs and b.samples.shape[0] == nch for b in blocks)
            assert all(b.sample_rate_hz == RATE and b.center_freq_hz == FREQ for b in blocks)
            assert all(b.samples_lost_before == 0 for b in blocks)
        for start, stop in ((0, 1), (13, 480), (999, None), (N, None), (500, 500), (5, N + 100)):
            got, blocks = collect(src, block_samples=64, start=start, stop=stop)
            np.testing.assert_array_equal(got, full[:, start:stop])
            if blocks:
                assert blocks[0].sample_index0 == start
        with pytest.raises(ParameterError):
            src.blocks(block_samples=0)
        with pytest.raises(ParameterError):
            src.blocks(start=N + 1)
        with pytest.raises(ParameterError):
            src.blocks(start=10, stop=5)
    src.close()
    src.close()
    with pytest.raises(InputError):
        next(iter(src.blocks()))


def test_hdf5_retunes_gaps_metadata(tmp_path):
    x = random_iq(1000, 2, seed=4)
    ann = Annotation(100, 50, 433.8e6, 434.0e6, "drone", "ground truth ✓")
    arr = {"name": "pair", "elements_m": [[0, 0, 0], [0.1, 0, 0]]}
    p = write_hdf5(tmp_path / "r.h5", x, "cf32_le", RATE, FREQ, retunes=[(300, 868e6), (700, 915e6)],
                   gaps=[(500, 1200), (700, 10)], annotations=[ann, Annotation(5, 1)],
                   datetime_utc="2026-01-02T03:04:05Z", hardware="rtl-sdr v4", gain_db=20.7,
                   sensor=SensorPosition(52.0, 4.0, 10.0, 90.0), array=arr)
    with open_source(p) as s:
        i = s.info
        assert s.complete
        assert i.retunes == ((300, 868e6), (700, 915e6)) and i.gaps == ((500, 1200), (700, 10))
        assert i.annotations == (ann, Annotation(5, 1, None, None, "", ""))
        assert i.sensor == SensorPosition(52.0, 4.0, 10.0, 90.0) and i.array == arr
        assert (i.hardware, i.gain_db, i.datetime_utc) == ("rtl-sdr v4", 20.7, "2026-01-02T03:04:05Z")
        blocks = list(s.blocks(256))
        starts = [b.sample_index0 for b in blocks]
        assert starts == [0, 256, 300, 500, 700, 956]   # at most 256, split at entries
        freqs = {b.sample_index0: b.center_freq_hz for b in blocks}
        assert freqs[256] == FREQ and freqs[300] == 868e6 and freqs[500] == 868e6 and freqs[700] == 915e6 and freqs[956] == 915e6
        lost = {b.sample_index0: b.samples_lost_before for b in blocks}
        assert lost == {0: 0, 256: 0, 300: 0, 500: 1200, 700: 10, 956: 0}
        t0 = blocks[0].timestamp
        by = {b.sample_index0: b for b in blocks}
        assert by[500].timestamp - t0 == pytest.approx((500 + 1200) / RATE, abs=1e-6)
        assert by[956].timestamp - t0 == pytest.approx((956 + 1210) / RATE, abs=1e-6)
        got = list(s.blocks(1000, start=500, stop=710))
        assert [(b.sample_index0, b.samples_lost_before) for b in got] == [(500, 1200), (700, 10)]


def test_hdf5_writer_grows_and_marks_complete(tmp_path):
    p = tmp_path / "live.h5"
    x = random_iq(3000, seed=9)
    w = HDF5Writer(p, RATE, FREQ, datatype="cu8", chunk_samples=512)
    assert w.append(x[:, :1000]) == 0
    assert w.append(np.ascontiguousarray(quantized(x[:, 1000:2000], "cu8"))) == 1000
    raw = np.clip(np.rint(np.stack([x.real, x.imag], -1)[0, 2000:] * 127.5 + 127.5), 0, 255).astype(np.uint8)
    assert w.append(raw.reshape(-1)) == 2000
    w.flush()
    w.close()
    w.close()
    with h5py.File(p, "r") as f:
        assert f.attrs["rfdetect:format_version"] == 1 and f["iq"].shape == (1, 3000, 2)
        assert f["iq"].maxshape == (1, None, 2) and f["iq"].chunks is not None and f["iq"].compression is None
    with open_source(p) as s:
        np.testing.assert_allclose(collect(s)[0], quantized(x, "cu8"), atol=1e-6)
    with pytest.raises(RuntimeError):
        with HDF5Writer(tmp_path / "crash.h5", RATE, FREQ) as w:
            w.append(x)
            raise RuntimeError("recorder died")
    with HDF5Source(tmp_path / "crash.h5") as s:
        assert not s.complete and s.info.num_samples == 3000
    with pytest.raises(InputError, match="exists"):
        HDF5Writer(p, RATE, FREQ)


@pytest.mark.parametrize("dt,nch", [("cf32_le", 1), ("cu8", 1), ("cf32_le", 2)])
def test_hdf5_sigmf_round_trip(tmp_path, dt, nch):
    x = random_iq(777, nch, seed=2)
    ann = (Annotation(10, 20, 433e6, 434e6, "a", "c"), Annotation(600, 100, None, None, "b", ""))
    p = write_hdf5(tmp_path / "a.h5", x, dt, RATE, FREQ, retunes=[(300, 868e6)], gaps=[(400, 50), (300, 3)],
                   annotations=ann, datetime_utc="2026-01-02T03:04:05.250Z", hardware="hw",
                   gain_db=12.0, sensor=SensorPosition(1.0, 2.0, 3.0, 45.0), array={"name": "x"})
    meta = hdf5_to_sigmf(p, tmp_path / "b")
    assert meta.endswith("b.sigmf-meta") and (tmp_path / "b.sigmf-data").stat().st_size == 777 * nch * (
        2 if dt == "cu8" else 8)
    with pytest.raises(InputError, match="exists"):
        hdf5_to_sigmf(p, tmp_path / "b")
    sigmf_to_hdf5(meta, tmp_path / "c.h5")
    infos = []
    for path in (p, meta, tmp_path / "c.h5"):
        with open_source(path) as s:
            infos.append(s.info)
            np.testing.assert_allclose(collect(s, block_samples=100)[0], quantized(x, dt), rtol=0, atol=1e-6)
    a, b, c = infos
    for other in (b, c):
        for field in ("sample_rate_hz", "center_freq_hz", "num_channels", "num_samples", "datatype",
                      "datetime_utc", "hardware", "gain_db", "sensor", "annotations", "array"):
            assert getattr(other, field) == getattr(a, field), field
        assert sorted(other.retunes) == sorted(a.retunes)
        assert sorted(other.gaps) == sorted(a.gaps)


def test_sigmf_captures_map_to_retunes_and_gaps(tmp_path):
    x = random_iq(100)
    caps = [{"core:sample_start": 0, "core:frequency": 1e9, "core:global_index": 1000,
             "core:datetime": "2026-01-01T00:00:00Z"},
            {"core:sample_start": 40, "core:frequency": 1e9, "core:global_index": 1060},
            {"core:sample_start": 70, "core:frequency": 2e9, "core:global_index": 1090}]
    anns = [{"core:sample_start": 3, "core:sample_count": 4, "core:label": "x", "core:description": "d",
             "core:freq_lower_edge": 1, "core:freq_upper_edge": 2}]
    m = write_sigmf(tmp_path / "s", x, captures=caps, annotations=anns,
                    extra_global={"core:geolocation": {"type": "Point", "coordinates": [4.5, 52.5, 7]}})
    with open_source(m) as s:
        assert s.info.retunes == ((70, 2e9),) and s.info.gaps == ((40, 20),)
        assert s.info.annotations == (Annotation(3, 4, 1.0, 2.0, "x", "d"),)
        assert s.info.sensor == SensorPosition(52.5, 4.5, 7.0, None)
        assert [(b.sample_index0, b.samples_lost_before, b.center_freq_hz) for b in s.blocks(50)] == [
            (0, 0, 1e9), (40, 20, 1e9), (70, 0, 2e9)]
    for p in (tmp_path / "s.sigmf-data", tmp_path / "s"):
        assert detect_format(p) == "sigmf"
        with open_source(p) as s:
            assert s.info.num_samples == 100


def test_rtl433_names():
    assert parse_rtl433_name("g001_868.3M_250k.cu8") == (868.3e6, 250e3, "cu8")
    assert parse_rtl433_name("adsb_modes_g001_1090M_2000k.cu8") == (1090e6, 2000e3, "cu8")
    assert parse_rtl433_name("x_2450M_2.4M.cu8") == (2450e6, 2.4e6, "cu8")
    assert parse_rtl433_name("rec_433.92MHz_1Msps.cs16") == (433.92e6, 1e6, "cs16")
    assert parse_rtl433_name("rec_100000000Hz_250000sps.cf32") == (100e6, 250e3, "cf32")
    assert parse_rtl433_name("capture.cs8.raw") == (None, None, "cs8")
    assert parse_rtl433_name("g005_433.92M_1024k.cu8") == (433.92e6, 1024e3, "cu8")


def test_raw_rate_from_name_and_arguments(tmp_path):
    p = write_raw(tmp_path / "g001_868.3M_250k.cu8", random_iq(10), "cu8")
    with open_source(p) as s:
        assert (s.info.center_freq_hz, s.info.sample_rate_hz) == (868.3e6, 250e3)
    with open_source(p, sample_rate_hz="1M", center_freq_hz=915e6) as s:
        assert (s.info.center_freq_hz, s.info.sample_rate_hz) == (915e6, 1e6)
    q = write_raw(tmp_path / "capture_433.92M_2048k.cs16.bin", random_iq(10), "cs16")
    with open_source(q) as s:
        assert s.info.datatype == "ci16_le" and s.info.num_samples == 10
    with open_source(write_raw(tmp_path / "plain.iq", random_iq(10), "cf32"), format="cf32",
                     sample_rate_hz=1e6, center_freq_hz=1e8) as s:
        assert s.info.num_samples == 10


# ------------------------------------------------------------------ bad input

def err(exc_type, fn, *words):
    with pytest.raises(exc_type) as e:
        fn()
    text = str(e.value).lower()
    for w in words:
        assert str(w).lower() in text, (w, text)
    return e.value


def test_missing_and_empty_files(tmp_path):
    for name in ("nope.h5", "nope.cu8", "nope.sigmf-meta"):
        err(InputError, lambda: open_source(tmp_path / name, sample_rate_hz=1, center_freq_hz=1),
            name, "no such file")
    for name in ("e.h5", "e.cu8"):
        (tmp_path / name).write_bytes(b"")
        err(InputError, lambda: open_source(tmp_path / name, sample_rate_hz=1, center_freq_hz=1), name, "empty")
    m = write_sigmf(tmp_path / "z", random_iq(4), data=False)
    (tmp_path / "z.sigmf-data").write_bytes(b"")
    err(InputError, lambda: open_source(m), "z.sigmf-data", "empty")
    (tmp_path / "y.sigmf-meta").write_text("")
    err(InputError, lambda: open_source(tmp_path / "y.sigmf-meta"), "y.sigmf-meta", "empty")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    err(InputError, lambda: open_source(tmp_path / "junk.h5"), "junk.h5", "not an hdf5")


@pytest.mark.parametrize("fmt,nbytes", [("cu8", 7), ("cs8", 3), ("cs16", 6), ("cs16", 2), ("cf32", 12),
                                        ("cf32", 4)])
def test_raw_size_not_whole_samples(tmp_path, fmt, nbytes):
    p = tmp_path / f"bad.{fmt}"
    p.write_bytes(b"\x01" * nbytes)
    err(InputError, lambda: open_source(p, sample_rate_hz=1e6, center_freq_hz=1e8), "bad." + fmt,
        str(nbytes), "multiple")


def test_raw_without_rate(tmp_path):
    p = write_raw(tmp_path / "noname.cu8", random_iq(4), "cu8")
    err(InputError, lambda: open_source(p), "noname.cu8", "--sample-rate", "--center-freq")
    err(InputError, lambda: open_source(p, sample_rate_hz=1e6), "--center-freq")
    q = write_raw(tmp_path / "what.bin", random_iq(4), "cu8")
    err(InputError, lambda: open_source(q, sample_rate_hz=1e6, center_freq_hz=1e6), "what.bin", "--format")


def test_hdf5_missing_rate_or_iq(tmp_path):
    p = write_hdf5(tmp_path / "r.h5", random_iq(10))
    with h5py.File(p, "a") as f:
        del f.attrs["core:sample_rate"]
    err(InputError, lambda: open_source(p), "r.h5", "core:sample_rate")
    with open_source(p, sample_rate_hz=1e6) as s:
        assert s.info.sample_rate_hz == 1e6
    q = tmp_path / "q.h5"
    with h5py.File(q, "w") as f:
        f.attrs["core:sample_rate"] = 1e6
        f.create_dataset("other", data=[1])
    err(InputError, lambda: open_source(q), "q.h5", "'iq'")
    with h5py.File(q, "a") as f:
        f.create_dataset("iq", data=np.zeros((1, 5), np.float32))
    err(InputError, lambda: open_source(q), "q.h5", "dtype")
    for bad in (0.0, -5.0, np.nan):
        with h5py.File(p, "a") as f:
            f.attrs["core:sample_rate"] = bad
        err(InputError, lambda: open_source(p), "r.h5", "core:sample_rate", "greater than zero")
    with h5py.File(p, "a") as f:
        f.attrs["core:sample_rate"] = 1e6
        f.attrs["rfdetect:format_version"] = 2
    err(InputError, lambda: open_source(p), "r.h5", "format_version 2")


def test_sigmf_bad_metadata(tmp_path):
    x = random_iq(10)
    m = write_sigmf(tmp_path / "a", x, sample_rate_hz=None)
    err(InputError, lambda: open_source(m), "a.sigmf-meta", "core:sample_rate")
    m = write_sigmf(tmp_path / "b", x, extra_global={"core:sample_rate": -1})
    err(InputError, lambda: open_source(m), "b.sigmf-meta", "core:sample_rate", "greater than zero")
    m = write_sigmf(tmp_path / "c", x, extra_global={"core:sample_rate": 0})
    err(InputError, lambda: open_source(m), "c.sigmf-meta", "greater than zero")
    m = write_sigmf(tmp_path / "d", x)
    m.write_text(m.read_text().replace("cf32_le", "cq99_xx"))
    err(InputError, lambda: open_source(m), "d.sigmf-meta", "core:datatype", "cq99_xx")
    m = write_sigmf(tmp_path / "e", x, data=False)
    err(InputError, lambda: open_source(m), "e.sigmf-meta", "e.sigmf-data", "missing")
    m = write_sigmf(tmp_path / "f", random_iq(5, 1), "ci16_le", extra_global={"core:num_channels": 2})
    err(InputError, lambda: open_source(m), "f.sigmf-data", "num_channels=2", "multiple of 8")
    m = write_sigmf(tmp_path / "h", x)
    m.write_text(m.read_text().replace("cf32_le", "rf32_le"))
    err(InputError, lambda: open_source(m), "h.sigmf-meta", "real-valued")
    m = write_sigmf(tmp_path / "i", x, center_freq_hz=None)
    err(InputError, lambda: open_source(m), "i.sigmf-meta", "core:frequency")
    (tmp_path / "j.sigmf-meta").write_text("{not json")
    err(InputError, lambda: open_source(tmp_path / "j.sigmf-meta"), "j.sigmf-meta", "json")


def test_bad_parameters(tmp_path):
    p = write_raw(tmp_path / "x.cu8", random_iq(4), "cu8")
    for bad in (0, -1, "-2M", "abc"):
        err(ParameterError, lambda: open_source(p, sample_rate_hz=bad, center_freq_hz=1e6), "sample_rate_hz")
    err(ParameterError, lambda: open_source(p, format="wav"), "format", "wav")
    err(ParameterError, lambda: open_source(p, channels=0, sample_rate_hz=1, center_freq_hz=1), "channels")
    q = write_hdf5(tmp_path / "one.h5", random_iq(4))
    err(ParameterError, lambda: open_source(q, channels=2), "channels", "1 channel")
    (tmp_path / "x.wav").write_bytes(b"RIFF")
    err(InputError, lambda: open_source(tmp_path / "x.wav"), "x.wav", "unknown file type")


@pytest.mark.parametrize("kind", ["hdf5", "sigmf", "raw"])
def test_nan_raises_at_its_block(tmp_path, kind):
    x = random_iq(10000, seed=1)
    x[0, 5000] = complex(np.nan, 0.0)
    if kind == "hdf5":
        p, kw = write_hdf5(tmp_path / "n.h5", x), {}
    elif kind == "sigmf":
        p, kw = write_sigmf(tmp_path / "n", x), {}
    else:
        p, kw = write_raw(tmp_path / "n.cf32", x, "cf32"), {"sample_rate_hz": 1e6, "center_freq_hz": 1e8}
    seen = []
    with open_source(p, **kw) as s:
        with pytest.raises(InputError) as e:
            for b in s.blocks(1024):
                seen.append(b.sample_index0)
    assert seen == [0, 1024, 2048, 3072]
    assert Path(p).name in str(e.value) and "sample 5000" in str(e.value) and "nan" in str(e.value).lower()
    y = random_iq(100, 2, seed=3)
    y[1, 42] = complex(0, np.inf)
    with open_source(write_hdf5(tmp_path / "inf.h5", y)) as s:
        err(InputError, lambda: list(s.blocks(50)), "inf.h5", "sample 42", "channel 1")


def test_raw_file_growing_while_read(tmp_path):
    p = write_raw(tmp_path / "live_100M_1000k.cu8", random_iq(3000), "cu8")
    seen = []
    with open_source(p) as s:
        with pytest.raises(InputError) as e:
            for b in s.blocks(1000):
                seen.append(b.sample_index0)
                if len(seen) == 1:
                    with open(p, "ab") as fh:
                        fh.write(b"\x80" * 200)
    assert seen == [0, 1000, 2000]
    assert "live_100M_1000k.cu8" in str(e.value) and "still being written" in str(e.value)


def test_hdf5_locked_by_writer_process(tmp_path):
    p = tmp_path / "busy.h5"
    with held_open_for_writing(p):
        err(InputError, lambda: open_source(p), "busy.h5", "another process")
    with open_source(p) as s:
        assert s.complete and s.info.num_samples == 100


# ------------------------------------------------------------------ real recordings

def test_real_recordings():
    if not SHARED.is_dir():
        pytest.skip(f"shared recordings folder {SHARED} is absent")
    with open_source(SHARED / "mavic_air_2.sigmf-meta") as s:
        i = s.info
        assert (i.datatype, i.sample_rate_hz, i.center_freq_hz, i.num_samples) == ("cf32_le", 50e6, 2457.5e6, 225280)
        assert [a.sample_start for a in i.annotations] == [93010, 128639, 165465, 201090]
        assert i.annotations[2].freq_lower_edge_hz == 2440.53e6 and i.annotations[0].label == "DroneID"
        assert sum(b.num_samples for b in s.blocks(1 << 16)) == 225280
    with open_source(SHARED / "adsb_modes_g001_1090M_2000k.cu8") as s:
        i = s.info
        assert (i.datatype, i.sample_rate_hz, i.center_freq_hz, i.num_samples) == ("cu8", 2e6, 1090e6, 356868)
        total = 0
        for b in s.blocks(1 << 16):
            assert np.abs(b.samples).max() <= 1.5
            total += b.num_samples
        assert total == 356868
