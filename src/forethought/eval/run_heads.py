"""Heads fitted on a run's frozen latents, cached in the run directory.

Fitting a state probe encodes thousands of training rows and takes Adam steps (15-30 s for
the TwoRoom ``small`` model on 2 cores); ``evaluate``, ``plan``, ``report`` and the benchmarks
each need the same probe. The first caller fits it and stores it under ``RUN/heads/`` as
safetensors weights plus a JSON header; later callers load it. The file name carries a hash of
everything the fit depends on (the model's weights, checkpoint step, dataset fingerprint, the
fit's settings), so a resumed run, EMA against raw weights or other settings fit a new head
instead of reusing a stale one. A cache file that cannot be read is refitted and replaced,
never trusted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import nn

from forethought.models.heads import MLPHead
from forethought.training.atomic import atomic_write, atomic_write_text

HEADS_DIR = "heads"
FORMAT = "forethought-head"


def weights_digest(model: nn.Module) -> str:
    """sha256 of a model's weights (names and bytes), so EMA and raw weights differ."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())  # any dtype
    return h.hexdigest()


def head_key(run: Any, kind: str, settings: dict[str, Any]) -> str:
    """A short hash of what a head depends on: the run's weights, data and the fit's settings."""
    ident = {
        "kind": kind,
        "step": int(run.info.step),
        "weights": weights_digest(run.model),
        "dataset": run.dataset.get("fingerprint", ""),
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def _paths(run: Any, kind: str, key: str) -> tuple[Path, Path]:
    folder = Path(run.path) / HEADS_DIR
    return folder / f"{kind}-{key}.safetensors", folder / f"{kind}-{key}.json"


def _load_mlp(weights: Path, header: Path, key: str) -> MLPHead | None:
    """The cached head, or None when the files are missing, unreadable or not this key's."""
    try:
        meta = json.loads(header.read_text())
        if meta.get("format") != FORMAT or meta.get("key") != key:
            return None
        state = safetensors.torch.load_file(str(weights))
        d, k, width = int(meta["latent_dim"]), int(meta["out_dim"]), int(meta["width"])
        head = MLPHead(torch.zeros(2, d), torch.zeros(2, k), width, regress=bool(meta["regress"]))
        head.load_state_dict(state)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, SafetensorError):
        return None
    return head.eval()


def cached_mlp_head(
    run: Any, kind: str, settings: dict[str, Any], fit: Callable[[], nn.Module]
) -> MLPHead:
    """The :class:`MLPHead` ``kind`` of ``run`` fitted with ``settings``: loaded from
    ``RUN/heads/`` when cached there, else ``fit()`` and stored (atomically) for next time.
    Either way the head comes back frozen (eval mode, gradients off), like a fitted artefact.

    A run directory that cannot be written (read-only) still gets its head, just uncached.
    """
    key = head_key(run, kind, settings)
    weights, header = _paths(run, kind, key)
    head = _load_mlp(weights, header, key)
    if head is not None:
        return head.requires_grad_(False)
    head = fit().eval().requires_grad_(False)
    if not isinstance(head, MLPHead):  # only MLP heads are cached
        return head
    meta = {
        "format": FORMAT,
        "key": key,
        "kind": kind,
        "settings": settings,
        "step": int(run.info.step),
        "latent_dim": int(head.net[0].in_features),
        "out_dim": int(head.net[-1].out_features),
        "width": int(head.net[0].out_features),
        "regress": head.out is not None,
    }
    try:
        weights.parent.mkdir(exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in head.state_dict().items()}
        atomic_write(weights, lambda tmp: safetensors.torch.save_file(state, str(tmp)))
        atomic_write_text(header, json.dumps(meta, indent=2) + "\n")  # written last
    except OSError:
        pass
    return head
