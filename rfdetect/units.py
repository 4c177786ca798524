"""Parsing of frequencies, rates and durations as users type them."""
from __future__ import annotations

import math
import re

from .errors import ParameterError

_SI = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKMG]?)(?:Hz|hz|S/s|sps)?\s*$")


def parse_si(text: str | float | int, param: str = "value") -> float:
    """Parse ``866400000``, ``866.4e6``, ``866.4M``, ``250k`` into a float."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _NUMBER.match(str(text))
        if not match:
            raise ParameterError("not a number (use e.g. 866.4M, 2.4e6, 250k)", param=param, value=text)
        value = float(match.group(1)) * _SI[match.group(2)]
    if not math.isfinite(value):
        raise ParameterError("must be finite", param=param, value=text)
    return value


def parse_positive(text: str | float | int, param: str) -> float:
    value = parse_si(text, param)
    if value <= 0:
        raise ParameterError("must be greater than zero", param=param, value=text)
    return value


def format_hz(value_hz: float) -> str:
    """Short human form: 866.4 MHz, 250 kHz."""
    for scale, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if abs(value_hz) >= scale:
            return f"{value_hz / scale:.6g} {unit}"
    return f"{value_hz:.6g} Hz"
