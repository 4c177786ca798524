"""Numba kernels: plain arrays in, preallocated arrays out, no exceptions, no I/O."""

from .. import imports

imports.numba_typing()
