"""Every random number generator's state as plain JSON (lists and ints), and back."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_rng() -> dict[str, Any]:
    """The states of torch (CPU and CUDA), numpy's global generator and Python's ``random``."""
    name, key, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, py_state, gauss_next = random.getstate()
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return {
        "torch": torch.get_rng_state().tolist(),
        "cuda": cuda,
        "numpy": {
            "name": name,
            "key": key.tolist(),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": [version, list(py_state), gauss_next],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Put back states saved by :func:`capture_rng`."""
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(
        (
            n["name"],
            np.array(n["key"], dtype=np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    version, py_state, gauss_next = state["python"]
    random.setstate((version, tuple(py_state), gauss_next))


def seed_everything(seed: int) -> None:
    """Seed torch, numpy's global generator and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
