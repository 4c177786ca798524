"""The signature library: an explicit registry with permanent string ids.

One module per link, each declaring ``SIGNATURE`` as data.  To add a link, write
its module and list it here; ids are permanent (they are the output's "link").
``unknown-fhss`` and ``unknown`` are the engine's names for what fits nothing:
they are listed, but never matched by features.
"""
from __future__ import annotations

import importlib
from functools import lru_cache

from .base import KERNELS, Band, Signature

# Permanent ids -> module declaring the signature.
REGISTRY = {
    # drone links
    "expresslrs-lora": "expresslrs_lora",
    "expresslrs-fsk": "expresslrs_fsk",
    "expresslrs-2g4-lora": "expresslrs_2g4_lora",
    "expresslrs-2g4-flrc": "expresslrs_2g4_flrc",
    "frsky-r9": "frsky_r9",
    "tbs-crossfire": "tbs_crossfire",
    "mlrs": "mlrs",
    "frsky-d16": "frsky_d16",
    "flysky-afhds2a": "flysky_afhds2a",
    "spektrum-dsmx": "spektrum_dsmx",
    "dji-droneid": "dji_droneid",
    "dji-ocusync-c2": "dji_ocusync_c2",
    "dji-ocusync-video": "dji_ocusync_video",
    "analog-fpv-video": "analog_fpv_video",
    # known emitters that are not drones
    "lorawan": "lorawan",
    "ism-ook": "ism_ook",
    "ism-fsk": "ism_fsk",
    "wifi": "wifi",
    "adsb": "adsb",
    # what fits nothing
    "unknown-fhss": "unknown_fhss",
    "unknown": "unknown",
}

UNKNOWN = "unknown"
UNKNOWN_FHSS = "unknown-fhss"
FALLBACK_IDS = (UNKNOWN_FHSS, UNKNOWN)


@lru_cache(maxsize=None)
def _load(sig_id: str) -> Signature:
    module = REGISTRY[sig_id]
    sig = importlib.import_module(f".{module}", __name__).SIGNATURE
    if sig.id != sig_id:
        raise RuntimeError(f"signature module {module} declares id {sig.id!r}, registry says {sig_id!r}")
    return sig


def get(sig_id: str) -> Signature:
    return _load(sig_id)


def load_all(include_fallbacks: bool = False) -> list[Signature]:
    """Every signature in registry order; ``include_fallbacks`` adds unknown-fhss and unknown."""
    return [_load(i) for i in REGISTRY if include_fallbacks or i not in FALLBACK_IDS]


__all__ = ["Band", "Signature", "KERNELS", "REGISTRY", "UNKNOWN", "UNKNOWN_FHSS", "FALLBACK_IDS",
           "get", "load_all"]
