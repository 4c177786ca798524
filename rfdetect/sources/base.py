"""The Source protocol every input implements: files, synthetic streams and live radios."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator

from ..errors import InputError
from ..model import IQBlock, RecordingInfo

DEFAULT_BLOCK_SAMPLES = 1 << 18


class Source(ABC):
    """open (constructor) -> tune (live only) -> blocks() -> close; also a context manager.

    ``blocks`` yields contiguous IQBlocks with increasing ``sample_index0``; a block
    whose ``samples_lost_before`` is non-zero follows a gap.  Files are read lazily,
    so a recording of any length streams in constant memory.
    """

    info: RecordingInfo

    @abstractmethod
    def blocks(self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start: int = 0,
               stop: int | None = None) -> Iterator[IQBlock]:
        """Yield blocks of at most ``block_samples`` samples from ``start`` to ``stop``."""

    def tune(self, center_freq_hz: float) -> None:
        raise InputError("a recording cannot be retuned", path=self.info.path,
                         param="center_freq_hz", value=center_freq_hz)

    def close(self) -> None:
        """Release files or devices; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
