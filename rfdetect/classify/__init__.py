"""Bursts -> tracks -> named detections."""
from .matcher import Classifier, Detection, feature_scores, match_burst

__all__ = ["Classifier", "Detection", "feature_scores", "match_burst"]
