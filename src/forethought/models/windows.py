"""What the models' losses share about a window of T rows: its masks and a masked mean."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Obs


@dataclass(frozen=True)
class WindowMasks:
    """Where a window's episodes start, for one-step and open-loop losses.

    The first row counts as an episode start, so training sees exactly the reset state that
    ``observe(..., is_first=True)`` produces when an agent starts an episode.
    """

    keep: Tensor  # (B, T) float: 1 where the row continues the previous one
    open_loop: Tensor  # (B, T - K) float: 1 where no episode starts in the rollout so far


def window_masks(name: str, is_first: Tensor, context: int) -> WindowMasks:
    """The masks of (B, T) ``is_first`` for a rollout after ``context`` observed rows."""
    t = is_first.shape[1]
    if t < context + 1:
        raise ForethoughtError(
            f"{name}: windows of {t} rows are too short for context={context}; "
            f"sample windows of at least {context + 1} rows (or lower context)"
        )
    reset = is_first.bool().clone()
    reset[:, 0] = True
    return WindowMasks(
        keep=(~reset).float(),
        open_loop=(reset[:, context:].cumsum(1) == 0).float(),
    )


def flatten_time(obs: Obs, keys: tuple[str, ...]) -> Obs:
    """(B, T, ...) observations of ``keys`` -> (B * T, ...)."""
    return {k: v.reshape(-1, *v.shape[2:]) for k, v in obs.items() if k in keys}


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over the entries where ``mask`` (broadcast to x) is 1."""
    mask = mask.expand_as(x)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)
