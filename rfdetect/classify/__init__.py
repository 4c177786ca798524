"""Bursts -> tracks -> named detections."""
from .matcher import Classifier, Detection, match_burst

__all__ = ["Classifier", "Detection", "match_burst"]
