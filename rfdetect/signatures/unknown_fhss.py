"""A hopping emitter that fits no signature: periodic bursts on several channels.

Reported with ``drone: null``: an unexplained hopper in a control-link band is
what a non-cooperative or unlisted drone link looks like.
"""
from .base import Signature

SIGNATURE = Signature(
    id="unknown-fhss",
    name="Unknown frequency hopper",
    drone=None,
    bands=(),
    bandwidth_hz=(0.0, float("inf")),
    burst_s=(0.0, float("inf")),
    modulation="any",
    min_bursts=6,
    sources=("engine: periodic bursts on 3 or more channels, matching no signature",),
    hopping=True,
)
