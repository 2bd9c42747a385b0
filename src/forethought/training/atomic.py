"""Crash-safe file replacement: write a temp file in the same folder, fsync, ``os.replace``.

A reader sees either the old file or the complete new one, never a half-written one, even when the
process is killed mid-write. Temp files are named ``.tmp-<name>-<pid>-<random>``; a crash can leave
one behind, and :func:`remove_stale_temps` cleans them up.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def temp_path_for(path: Path) -> Path:
    """A fresh temp path next to ``path`` (same folder, so ``os.replace`` is atomic)."""
    return path.with_name(f"{TEMP_PREFIX}{path.name}-{os.getpid()}-{secrets.token_hex(4)}")


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Create ``path`` atomically: ``write(tmp)`` fills a temp file that then replaces ``path``."""
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def remove_stale_temps(folder: Path) -> None:
    """Delete temp files a crashed writer left in ``folder``."""
    if folder.is_dir():
        for p in folder.glob(f"{TEMP_PREFIX}*"):
            p.unlink(missing_ok=True)
