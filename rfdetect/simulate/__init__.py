"""Scenario simulator: labelled synthetic recordings of drone links and other emitters.

Python API::

    from rfdetect.simulate import generate, simulate, load_scenario
    samples, annotations = generate("recordings/scenarios/crowded_868.toml", seed=1)
    simulate({"scenario": {...}, "receiver": {...}, "emitter": [...]}, "out.h5", seed=1)

A scenario is a TOML path, a dict with the same structure, or a loaded :class:`Scenario`.
The format is documented in recordings/scenarios/README.md; the in-band SNR definition is in
:mod:`rfdetect.simulate.channel`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..model import Annotation
from .channel import measure_in_band_snr_db, signal_power_for_snr
from .engine import make_plan, paused_gc, render_blocks, sorted_annotations
from .frontend import cu8_to_float
from .links import LINKS, occupied_bandwidth_hz
from .scenario import Scenario, load_scenario

__all__ = ["generate", "simulate", "load_scenario", "Scenario", "LINKS", "occupied_bandwidth_hz",
           "signal_power_for_snr", "measure_in_band_snr_db"]


def generate(scenario, seed: int | None = None) -> tuple[np.ndarray, list[Annotation]]:
    """Render a scenario in memory: (samples complex64 (channels, n), annotations sorted by start).

    For an RTL-SDR receiver the samples are the cu8 bytes scaled back to floats, exactly as a
    reader of the written file returns them.  ``seed`` None uses the scenario's own seed.
    """
    scn = load_scenario(scenario)
    with paused_gc():
        plan = make_plan(scn, seed)
        x = np.empty((scn.num_channels, plan.num_samples), np.complex64)
        for b in render_blocks(plan, out=x):
            if plan.frontend is not None:
                b[...] = cu8_to_float(plan.frontend.to_cu8(b))
        return x, sorted_annotations(plan)


def simulate(scenario, out_path: str | os.PathLike, seed: int | None = None, *, sigmf: bool = False,
             overwrite: bool = True) -> Path:
    """Write a scenario to ``out_path`` (HDF5); with ``sigmf`` also a SigMF pair beside it
    (same base name).  Returns the HDF5 path.  Same scenario and seed: same file contents."""
    from .writer import write_hdf5, write_sigmf

    scn = load_scenario(scenario)
    with paused_gc():
        plan = make_plan(scn, seed)
        out = write_hdf5(plan, out_path, overwrite=overwrite)
    if sigmf:
        base = out.with_suffix("") if out.suffix.lower() in (".h5", ".hdf5") else out
        write_sigmf(out, base)
    return out
