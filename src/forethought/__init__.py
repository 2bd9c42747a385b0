"""forethought: a CPU-first world-model engine."""

__version__ = "0.1.0"
