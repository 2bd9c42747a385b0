"""Errors meant for people: one line that says what is wrong and what to do."""

from __future__ import annotations


class ForethoughtError(Exception):
    """A user-facing error. The CLI prints ``forethought: <message>`` and exits with code 2."""


class DatasetError(ForethoughtError):
    """A dataset file is missing, corrupt, or does not match what was asked of it."""


class EnvError(ForethoughtError):
    """An environment id is unknown, needs a missing extra, or has an unsupported space."""


class MissingExtraError(ForethoughtError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str, what: str = "") -> None:
        need = f" (needed for {what})" if what else ""
        super().__init__(
            f"package '{package}' is not installed{need}; run: pip install 'forethought[{extra}]'"
        )
        self.package = package
        self.extra = extra
        self.what = what

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:  # survives worker processes
        return (MissingExtraError, (self.package, self.extra, self.what))
