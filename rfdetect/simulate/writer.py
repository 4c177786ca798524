"""Writing a simulated recording: HDF5 (native) and optionally SigMF, atomically.

Everything is written under a temporary name in the destination folder and renamed only
when complete, so a failed run leaves no file that looks finished.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


from ..errors import InputError
from ..model import SensorPosition
from ..sources.hdf5 import HDF5Writer
from .engine import Plan, render_blocks, sorted_annotations


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def write_hdf5(plan: Plan, out_path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    out = Path(out_path)
    if out.exists() and not overwrite:
        raise InputError("already exists", path=out)
    if not out.parent.exists():
        raise InputError("the output folder does not exist", path=out)
    scn = plan.scenario
    rx = scn.receiver
    cu8 = plan.frontend is not None
    tmp = _tmp(out)
    sensor = SensorPosition(scn.sensor.lat, scn.sensor.lon, scn.sensor.alt_m,
                            scn.array.heading_deg if scn.array else None)
    hardware = rx.hardware or ("simulated RTL-SDR (rfdetect simulate)" if cu8 else "simulated (rfdetect simulate)")
    try:
        w = HDF5Writer(tmp, plan.sample_rate_hz, rx.center_freq_hz, datatype="cu8" if cu8 else "cf32_le",
                       num_channels=scn.num_channels, datetime_utc=rx.datetime_utc, hardware=hardware,
                       gain_db=scn.frontend.gain_db if cu8 else None, sensor=sensor, array=plan.array,
                       overwrite=True)
        try:
            w.set_attribute("rfdetect:simulation", json.dumps(
                {"scenario": scn.name, "source": scn.source, "seed": plan.seed,
                 "true_sample_rate_hz": plan.true_rate_hz, "noise_dbfs": rx.noise_dbfs}))
            for block in render_blocks(plan):
                w.append(plan.frontend.to_cu8(block) if cu8 else block)
            for idx, f in plan.retunes[1:]:
                w.add_retune(idx, f)
            w.add_annotations(sorted_annotations(plan))
        except BaseException:
            w.close(complete=False)
            raise
        w.close(complete=True)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def write_sigmf(h5_path: str | os.PathLike, base: str | os.PathLike) -> Path:
    """SigMF pair next to ``base`` from a finished HDF5 recording; annotations gain the
    ``rfdetect:emitter``, ``rfdetect:mode``, ``rfdetect:snr_db`` fields from their comment."""
    from ..sources.sigmf_io import hdf5_to_sigmf

    base = Path(base)
    tmp_base = _tmp(base)
    meta_tmp = Path(str(tmp_base) + ".sigmf-meta")
    data_tmp = Path(str(tmp_base) + ".sigmf-data")
    try:
        hdf5_to_sigmf(h5_path, tmp_base, overwrite=True)
        meta = json.loads(meta_tmp.read_text())
        for a in meta.get("annotations", []):
            try:
                info = json.loads(a.get("core:comment", ""))
            except ValueError:
                continue
            for k in ("emitter", "mode", "snr_db", "domain", "channel"):
                if k in info:
                    a[f"rfdetect:{k}"] = info[k]
        meta["global"]["core:dataset"] = base.name + ".sigmf-data"
        meta["global"].pop("core:sha512", None)
        meta_tmp.write_text(json.dumps(meta, indent=2))
        os.replace(data_tmp, Path(str(base) + ".sigmf-data"))
        os.replace(meta_tmp, Path(str(base) + ".sigmf-meta"))
    finally:
        for p in (meta_tmp, data_tmp):
            if p.exists():
                p.unlink()
    return Path(str(base) + ".sigmf-meta")
