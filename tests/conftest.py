"""Shared fixtures: paths to the bundled and the shared real recordings."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_RECORDINGS = REPO.parent / "shared" / "recordings"


@pytest.fixture
def shared_recording():
    """Path to a real recording in ../shared/recordings, or a visible skip."""
    def get(name: str) -> Path:
        path = SHARED_RECORDINGS / name
        if not path.exists():
            pytest.skip(f"real recording {path} is not present on this machine")
        return path
    return get
