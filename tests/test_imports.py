"""Start-up imports: optional modules skipped while loading, and still usable afterwards."""
import subprocess
import sys
import textwrap

# Run in a fresh interpreter: the test process has long imported everything.
SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import rfdetect.pipeline                        # every kernel module the engine imports
    from rfdetect.detect.spectrogram import Spectrogram
    from rfdetect.kernels.convert import cu8_to_c64

    x = (np.arange(8192) % 251).astype(np.uint8)
    iq = cu8_to_c64(x)[0]                           # the first kernel call loads Numba's typing
    power = Spectrogram(256, 128).compute(iq)
    skipped = [m for m in ("scipy.linalg", "scipy.fft", "scipy.fftpack", "cffi", "dask.array")
               if m in sys.modules]
    print("skipped-but-loaded", skipped)

    import numba.np.arraymath
    print("have-blas", numba.np.arraymath._HAVE_BLAS)

    # What was skipped still works when asked for: BLAS inside compiled code, scipy.fft, cffi.
    from numba import njit
    import scipy.fft
    import cffi

    @njit
    def blas(a, b, v, k):
        return a @ b, np.convolve(v, k)

    a = np.arange(12.0).reshape(3, 4)
    b = np.arange(8.0).reshape(4, 2)
    v, k = np.arange(50.0), np.array([1.0, -2.0, 0.5])
    m, c = blas(a, b, v, k)
    print("blas-ok", bool(np.allclose(m, a @ b) and np.allclose(c, np.convolve(v, k))))
    print("fft-ok", bool(np.allclose(scipy.fft.fft(iq[:64]), np.fft.fft(iq[:64]), atol=1e-3)))
    print("cffi-ok", cffi.FFI().sizeof("int") == 4)
    print("power-ok", power.shape == (31, 256) and bool(np.isfinite(power).all()))
""")


def test_start_up_skips_optional_imports_which_still_work_later():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    assert "skipped-but-loaded []" in out
    assert "have-blas True" in out
    assert "blas-ok True" in out
    assert "fft-ok True" in out
    assert "cffi-ok True" in out
    assert "power-ok True" in out
