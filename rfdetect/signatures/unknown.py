"""An emitter that fits no signature and does not hop: reported, not named."""
from .base import Signature

SIGNATURE = Signature(
    id="unknown",
    name="Unknown emitter",
    drone=None,
    bands=(),
    bandwidth_hz=(0.0, float("inf")),
    burst_s=(0.0, float("inf")),
    modulation="any",
    min_bursts=3,
    sources=("engine: repeated bursts matching no signature",),
)
