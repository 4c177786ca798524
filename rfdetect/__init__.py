"""rfdetect: RF drone-detection engine for software-defined radio."""

__version__ = "0.1.0"
