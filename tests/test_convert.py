"""Conversion kernels against their plain NumPy twins."""
import numpy as np
import pytest

from rfdetect.kernels import convert as cv

LENGTHS = [0, 1, 2, 3, 7, 1001, 4096, 8191, 8193, 40000]


def twin(values, kind, channels=1):
    v = values.astype(np.float64)
    v = {"cu8": (v - 127.5) / 127.5, "cs8": v / 128, "cs16": v / 32768}[kind]
    pairs = v.reshape(-1, channels, 2)
    return (pairs[..., 0] + 1j * pairs[..., 1]).T.astype(np.complex64)


def rand_values(kind, n_values, seed):
    rng = np.random.default_rng(seed)
    if kind == "cu8":
        return rng.integers(0, 256, n_values, dtype=np.uint8)
    if kind == "cs8":
        return rng.integers(-128, 128, n_values, dtype=np.int8)
    return rng.integers(-32768, 32768, n_values, dtype=np.int16)


WRAPPERS = {"cu8": cv.cu8_to_c64, "cs8": cv.cs8_to_c64, "cs16": cv.cs16_to_c64}


@pytest.mark.parametrize("kind", ["cu8", "cs8", "cs16"])
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_kernel_matches_numpy(kind, n, channels):
    src = rand_values(kind, 2 * n * channels, seed=n + 17 * channels)
    got = WRAPPERS[kind](src, channels)
    assert got.dtype == np.complex64 and got.shape == (channels, n)
    np.testing.assert_allclose(got, twin(src, kind, channels), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["cu8", "cs8", "cs16"])
def test_extremes_exact(kind):
    ext = {"cu8": [0, 255, 127, 128], "cs8": [-128, 127, 0, -1], "cs16": [-32768, 32767, 0, -1]}[kind]
    src = np.array(ext, dtype={"cu8": np.uint8, "cs8": np.int8, "cs16": np.int16}[kind])
    got = WRAPPERS[kind](src)
    np.testing.assert_allclose(got, twin(src, kind), atol=1e-7)
    if kind == "cu8":
        assert got[0, 0].real == pytest.approx(-1.0) and got[0, 0].imag == pytest.approx(1.0)


def test_preallocated_output_and_big_endian():
    src = rand_values("cs16", 2000, 3)
    out = np.empty((1, 1000), np.complex64)
    assert cv.cs16_to_c64(src.astype(">i2"), 1, out) is out
    np.testing.assert_allclose(out, twin(src, "cs16"), atol=1e-7)
    # the raw kernel writes into the given array
    out2 = np.zeros((2, 500), np.complex64)
    cv.cs16_to_complex64(src, out2)
    np.testing.assert_allclose(out2, twin(src, "cs16", 2), atol=1e-7)


def test_wrapper_rejects_bad_shapes():
    with pytest.raises(ValueError):
        cv.cu8_to_c64(np.zeros(3, np.uint8))
    with pytest.raises(ValueError):
        cv.cu8_to_c64(np.zeros(4, np.uint8), out=np.empty((1, 3), np.complex64))
    with pytest.raises(ValueError):
        cv.cu8_to_c64(np.zeros(4, np.int16))


def test_c64_to_cu8_inverts():
    src = rand_values("cu8", 2 * 999, 5)
    back = cv.c64_to_cu8(cv.cu8_to_c64(src))
    assert back.shape == (1, 999, 2)
    np.testing.assert_array_equal(back.reshape(-1), src)


@pytest.mark.parametrize("n", LENGTHS)
def test_nonfinite_matches_numpy(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    assert cv.count_nonfinite(x) == 0
    assert cv.first_nonfinite(x) == -1
    if n == 0:
        return
    bad = np.sort(rng.choice(n, size=min(n, 5), replace=False))
    vals = [np.nan, np.inf, -np.inf, complex(0, np.nan), complex(1, -np.inf)]
    for i, v in zip(bad, vals):
        x[i] = v
    ref = ~(np.isfinite(x.real) & np.isfinite(x.imag))
    assert cv.count_nonfinite(x) == int(ref.sum())
    assert cv.first_nonfinite(x) == int(np.flatnonzero(ref)[0])
    assert cv.find_nonfinite(x.reshape(1, -1)) == int(np.flatnonzero(ref)[0])


def test_nonfinite_each_position():
    x = np.zeros(9000, np.complex64)
    for i in (0, 1, 4095, 4096, 4097, 8999):
        y = x.copy()
        y[i] = complex(np.nan, 0) if i % 2 else complex(0, np.inf)
        assert cv.first_nonfinite(y) == i
        assert cv.count_nonfinite(y) == 1
