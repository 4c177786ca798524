"""Imports of libraries without the optional parts rfdetect does not use.

pyFFTW imports its ``interfaces`` wrappers, which import ``scipy.fftpack`` and
``dask.array``; rocket-fft registers ``scipy.fft`` for Numba besides
``numpy.fft``; Numba's first call imports ``scipy.linalg`` and ``cffi``.  Those
optional imports cost about 1.3 s of start-up.  Hidden during the import, they
are skipped, as when those packages are absent; anything that needs them later
imports them as usual.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def import_without(name: str, optional: tuple[str, ...]) -> ModuleType:
    """``import name`` while the modules ``optional`` (not yet loaded) raise ImportError."""
    hidden = [m for m in optional if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None        # makes ``import m`` raise ImportError
    try:
        return importlib.import_module(name)
    finally:
        for m in hidden:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]


def pyfftw() -> ModuleType | None:
    """pyFFTW (FFTW plans and aligned arrays), or None when it is not installed."""
    try:
        return import_without("pyfftw", ("scipy.fftpack", "dask.array.fft"))
    except ImportError:
        return None


def rocket_fft() -> ModuleType | None:
    """rocket-fft, registering ``numpy.fft`` with Numba, or None when it is not installed."""
    try:
        return import_without("rocket_fft", ("scipy.fft",))
    except ImportError:
        return None


def numba_typing() -> None:
    """Load the Numba modules that its first call of any kernel loads, minus two imports.

    Numba's array-math module imports ``scipy.linalg`` (0.3 s) only to learn
    whether BLAS is there, for ``np.convolve``/``np.correlate`` in compiled
    code; the answer is restored, so compiled code is the same as without this
    (the BLAS routines themselves are looked up when first called).  Its CFFI
    typing builds a C parser (0.05 s) for CFFI functions, which no kernel takes.
    """
    if "numba.np.arraymath" not in sys.modules:
        arraymath = import_without("numba.np.arraymath", ("scipy.linalg",))
        if hasattr(arraymath, "_HAVE_BLAS"):
            arraymath._HAVE_BLAS = importlib.util.find_spec("scipy") is not None
    if "numba.core.typing.cffi_utils" not in sys.modules:
        import_without("numba.core.typing.cffi_utils", ("cffi",))
