"""Bursts -> tracks -> named detections."""
from .matcher import Classifier, Detection, KernelRunner, feature_scores, match_burst

__all__ = ["Classifier", "Detection", "KernelRunner", "feature_scores", "match_burst"]
