"""One error hierarchy for every problem a user can cause or meet.

The CLI prints ``str(error)`` as one line and exits non-zero; no traceback
is shown for these.  Messages name the file, the parameter and its value.
"""
from __future__ import annotations


class RFDetectError(Exception):
    """Base class: a problem with input, configuration, a device or a peer."""

    exit_code = 2

    def __init__(self, message: str, *, path: object = None, param: str | None = None,
                 value: object = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.param = param
        self.value = value
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if self.param is not None:
            parts.append(f"{self.param}={self.value!r}" if self.value is not None else self.param)
        parts.append(self.message)
        return ": ".join(parts)


class InputError(RFDetectError):
    """A recording or its metadata is missing, malformed or contradictory."""


class ParameterError(RFDetectError):
    """A command-line or configuration value is out of range or unparseable."""


class DeviceError(RFDetectError):
    """An SDR device or server could not be opened or stopped delivering."""
    exit_code = 3
