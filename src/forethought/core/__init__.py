"""Shared pieces with no dependencies on the rest of forethought: errors, spaces, seeding."""

from forethought.core.errors import DatasetError, EnvError, ForethoughtError, MissingExtraError

__all__ = ["DatasetError", "EnvError", "ForethoughtError", "MissingExtraError"]
