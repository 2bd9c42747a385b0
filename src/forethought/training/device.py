"""The one place that picks the device and the number of CPU threads."""

from __future__ import annotations

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
    """Torch intra-op threads used when ``--threads`` is not given: 1.

    World models here are small, and small ops do not amortize thread synchronization; when another
    process keeps a core busy, a second thread mostly waits for it. Measured on the project's
    2-core machine (one AdamW step of a 3-layer GELU MLP, torch 2.13 CPU, the other core partly
    busy with a colleague's job, load average ~0.7):

    ============  ======  ==========  ==========  =======
    hidden        rows    1 thread    2 threads   speedup
    ============  ======  ==========  ==========  =======
    64            512     2.0 ms      55.0 ms     27x
    256           512     5.2 ms      20.1 ms     3.9x
    1024          2048    199 ms      477 ms      2.4x
    ============  ======  ==========  ==========  =======

    One thread won at every size. On a large idle machine training a big model more threads can
    help: pass ``--threads N`` there (and measure; the run records its thread count in env.json).
    """
    return 1


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count (``None``: :func:`default_threads`). Returns the count."""
    n = default_threads() if threads is None else int(threads)
    if n < 1:
        raise ForethoughtError(f"--threads must be at least 1 (got {n})")
    torch.set_num_threads(n)
    return n
