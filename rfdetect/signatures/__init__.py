"""The signature library: an explicit registry with permanent string ids.

One module per link, each declaring ``SIGNATURE`` as data.  To add a link, write
its module and list it here; ids are permanent (they are the output's "link").
"""
from __future__ import annotations

import importlib

from .base import Band, Signature

# Permanent ids -> module declaring the signature.
REGISTRY = {
    "expresslrs-lora": "expresslrs_lora",
    "dji-droneid": "dji_droneid",
    "adsb": "adsb",
    "lorawan": "lorawan",
}

UNKNOWN = "unknown"


def load_all() -> list[Signature]:
    out = []
    for sig_id, module in REGISTRY.items():
        sig = importlib.import_module(f".{module}", __name__).SIGNATURE
        if sig.id != sig_id:
            raise RuntimeError(f"signature module {module} declares id {sig.id!r}, registry says {sig_id!r}")
        out.append(sig)
    return out


__all__ = ["Band", "Signature", "REGISTRY", "UNKNOWN", "load_all"]
