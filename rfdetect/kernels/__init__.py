"""Numba kernels: plain arrays in, preallocated arrays out, no exceptions, no I/O."""
