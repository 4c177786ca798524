"""Burst detection: spectrogram, noise floor, CFAR and region extraction."""
from .config import DetectorConfig
from .detector import BurstDetector

__all__ = ["DetectorConfig", "BurstDetector"]
