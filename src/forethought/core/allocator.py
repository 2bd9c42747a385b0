"""Keep freed memory in the process while a pixel model trains end to end and builds its cache.

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and
hands it back with ``munmap`` when freed. A pixel model's training step allocates several such
tensors (``keypoint-mlp small``: (576, 16, 32, 32) float maps of 38 MB, forward and backward), so
each step faults every page of them in again: 3.9 million minor page faults in 40 steps, a
quarter of the CPU time spent in the kernel. With mmap off, freed blocks stay in the heap and the
next step reuses them. Measured on the 2-core machine (2026-12-02, 2 threads, 64 windows of 9
TwoRoom frames, AdamW, median of 30 steps): ``keypoint-mlp small`` 391 -> 189 ms a step and
``jepa small`` 292 -> 204 ms (``docs/models.md``, "Training throughput").

The trainer keeps it for the end-to-end steps and the frozen-encoder cache build, which writes
each chunk's latents into one preallocated tensor (small per-chunk results left above each chunk's
freed temporaries pinned the heap: a 201,000-frame TwoRoom cache peaked at 9.6 GB that way), and
returns to the defaults (:func:`return_freed_memory`) for the cached-latent steps and when it
stops. Set ``FORETHOUGHT_KEEP_FREED_MEMORY=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
KEPT_TRIM_THRESHOLD = 1 << 30
"""While kept: free memory at the heap's top above this much (1 GiB) still goes back."""
DEFAULT_TRIM_THRESHOLD, MAX_MMAP_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 32 << 20, 65536
"""Restored afterwards (glibc's defaults; the mmap threshold at the ceiling its own dynamic
rule climbs to, since setting any of these turns that rule off)."""

_libc: ctypes.CDLL | None | bool = None  # None: not looked up yet; False: not glibc
_kept = False


def keep_freed_memory() -> bool:
    """Turn off glibc's mmap for large blocks and raise its trim threshold.

    Returns whether the setting is in effect: False off glibc (macOS, Windows, musl) or when
    ``FORETHOUGHT_KEEP_FREED_MEMORY=0``.
    """
    global _kept
    libc = _glibc()
    if libc is None or os.environ.get("FORETHOUGHT_KEEP_FREED_MEMORY", "1") == "0":
        return False
    _kept = bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD)
    )
    return _kept


def return_freed_memory() -> None:
    """Back to mmap for blocks of 32 MiB and more, and hand the heap's free pages back."""
    global _kept
    libc = _glibc()
    if libc is None or not _kept:
        return
    libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
    libc.mallopt(M_MMAP_THRESHOLD, MAX_MMAP_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
    libc.malloc_trim(0)
    _kept = False


@contextmanager
def freed_memory_kept(keep: bool = True) -> Iterator[None]:
    """Keep freed memory (when ``keep``) inside the block; the defaults again however it ends."""
    if keep:
        keep_freed_memory()
    try:
        yield
    finally:
        return_freed_memory()


def is_kept() -> bool:
    """Whether :func:`keep_freed_memory` is in effect now."""
    return _kept


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.mallopt.argtypes, libc.mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
            libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
            _libc = libc
        except (OSError, AttributeError):
            _libc = False
    return _libc or None
