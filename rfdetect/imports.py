"""Imports of libraries without the optional parts rfdetect does not use.

pyFFTW imports its ``interfaces`` wrappers, which import ``scipy.fftpack`` and
``dask.array``; rocket-fft registers ``scipy.fft`` for Numba besides
``numpy.fft``.  Those optional imports cost about a second of start-up.  Hidden
during the import, they are skipped, as when those packages are absent;
anything that needs them later imports them as usual.
"""
from __future__ import annotations

import importlib
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
