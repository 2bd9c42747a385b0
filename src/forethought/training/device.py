"""The one place that picks the device and the number of CPU threads."""

from __future__ import annotations

import os

import torch

from forethought.core.errors import ForethoughtError

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``: ``auto`` is cuda if available, else mps, else cpu.

    Raises:
        ForethoughtError: an unknown name, or a device this machine does not have.
    """
    if name not in DEVICES:
        raise ForethoughtError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ForethoughtError(
            "--device cuda asked for, but torch sees no CUDA GPU; use --device cpu"
        )
    if name == "mps" and not _mps_available():
        raise ForethoughtError("--device mps asked for, but MPS is not available; use --device cpu")
    return torch.device(name)


def default_threads() -> int:
    """Torch intra-op threads used when ``--threads`` is not given: min(2, CPU cores).

    Measured on the project's 2-core machine (torch 2.13 CPU), full JEPA optimizer steps
    (batch 32 x 16 rows) with the machine otherwise idle, ``benchmarks/bench_train.py``:
    two threads beat one for every preset, 1.14x (state, tiny) to 1.87x (pixels, small); see
    ``benchmarks/results/train.json``.

    With another process keeping a core busy the picture flips: a second thread mostly waits
    for the busy core. One AdamW step of a 3-layer GELU MLP (hidden 64, 512 rows) took 2.0 ms
    with one thread and 55 ms with two while a colleague's job held the other core. Pass
    ``--threads 1`` when training beside other work; the run records its count in env.json.
    More than 2 threads is never chosen by default (small models do not amortize them).
    """
    return max(1, min(2, os.cpu_count() or 1))


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count (``None``: :func:`default_threads`). Returns the count."""
    n = default_threads() if threads is None else int(threads)
    if n < 1:
        raise ForethoughtError(f"--threads must be at least 1 (got {n})")
    torch.set_num_threads(n)
    return n
