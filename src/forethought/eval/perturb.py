"""Perturbations of observations and actions for robustness sweeps.

Every function is pure and deterministic given its ``generator`` (a ``torch.Generator`` on the
CPU): the same seed gives the same perturbation. A level of 0 returns the input unchanged (a copy).
Random numbers are drawn on the CPU and the result is moved back to the input's device.
Images are uint8 (..., H, W, C) as stored in datasets.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError


def _check_level(name: str, value: float, high: float | None = None) -> None:
    if not value >= 0 or (high is not None and value > high):
        bound = f"in [0, {high}]" if high is not None else "non-negative"
        raise ForethoughtError(f"{name} must be {bound}, got {value}")


def _check_images(images: Tensor) -> None:
    if images.dtype != torch.uint8 or images.dim() < 3:
        raise ForethoughtError(
            f"images must be uint8 (..., H, W, C), got {images.dtype} {tuple(images.shape)}"
        )


def pixel_noise(images: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
    """Add Gaussian noise of ``sigma`` pixel levels, round and clip to [0, 255]. Stays uint8.

    Args:
        images: (..., H, W, C) uint8.
        sigma: noise std in pixel units (0..255 scale).
    """
    _check_images(images)
    _check_level("sigma", sigma)
    noise = torch.randn(images.shape, generator=generator) * sigma
    out = (images.cpu().float() + noise).round().clamp(0, 255).to(torch.uint8)
    return out.to(images.device)


def feature_noise(
    x: Tensor, sigma: float, generator: torch.Generator, std: Tensor | None = None
) -> Tensor:
    """Add Gaussian noise of ``sigma`` times each feature's std to float vectors.

    Args:
        x: (..., F) float features.
        sigma: noise level in units of each feature's std.
        std: (F,) the per-feature std (e.g. from the training data); default: the std of ``x``
            over all its leading dims. Features with zero std get no noise.
    """
    if not x.is_floating_point() or x.dim() < 1:
        raise ForethoughtError(f"features must be float (..., F), got {x.dtype} {tuple(x.shape)}")
    _check_level("sigma", sigma)
    flat = x.detach().reshape(-1, x.shape[-1]).cpu()
    if std is None:
        std = flat.std(0) if flat.shape[0] > 1 else torch.zeros(x.shape[-1])
    std = torch.as_tensor(std, dtype=x.dtype).cpu()
    if std.shape != (x.shape[-1],):
        raise ForethoughtError(f"std must be ({x.shape[-1]},), got {tuple(std.shape)}")
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype) * sigma * std
    return (x.detach().cpu() + noise).to(x.device)


def occlude(images: Tensor, size: int, generator: torch.Generator, value: int = 0) -> Tensor:
    """Paint one ``size`` x ``size`` square of ``value`` at a uniformly random place inside each
    image (all channels).

    Args:
        images: (..., H, W, C) uint8.
        size: the square's side in pixels, at most min(H, W); 0 leaves images unchanged.
        value: the fill level, 0..255.
    """
    _check_images(images)
    h, w = images.shape[-3], images.shape[-2]
    if not 0 <= size <= min(h, w):
        raise ForethoughtError(f"occlusion size must be in [0, {min(h, w)}], got {size}")
    if not 0 <= value <= 255:
        raise ForethoughtError(f"occlusion value must be in [0, 255], got {value}")
    flat = images.detach().cpu().reshape(-1, h, w, images.shape[-1])  # (N, H, W, C)
    n = flat.shape[0]
    top = torch.randint(0, h - size + 1, (n, 1), generator=generator)
    left = torch.randint(0, w - size + 1, (n, 1), generator=generator)
    rows, cols = torch.arange(h)[None], torch.arange(w)[None]
    in_rows = (rows >= top) & (rows < top + size)  # (N, H)
    in_cols = (cols >= left) & (cols < left + size)  # (N, W)
    patch = (in_rows[:, :, None] & in_cols[:, None, :])[..., None]  # (N, H, W, 1)
    out = torch.where(patch, torch.tensor(value, dtype=torch.uint8), flat)
    return out.reshape(images.shape).to(images.device)


def drop_frames(
    obs: dict[str, Tensor],
    p: float,
    generator: torch.Generator,
    is_first: Tensor | None = None,
) -> tuple[dict[str, Tensor], Tensor]:
    """Replace each observation with probability ``p`` by the previous one shown (a frozen
    sensor): runs of drops repeat the last kept frame. Frame 0 and ``is_first`` rows are kept.

    Args:
        obs: key -> (B, T, ...) observations of windows.
        p: drop probability in [0, 1].
        is_first: (B, T) bool; rows that start an episode are never dropped, so nothing is
            copied across an episode boundary.

    Returns:
        The perturbed observations and the (B, T) bool mask of dropped rows.
    """
    _check_level("p", p, 1.0)
    if not obs:
        raise ForethoughtError("drop_frames needs at least one observation key")
    b, t = next(iter(obs.values())).shape[:2]
    for k, v in obs.items():
        if v.dim() < 2 or v.shape[:2] != (b, t):
            raise ForethoughtError(f"obs '{k}' must be ({b}, {t}, ...), got {tuple(v.shape)}")
    dropped = torch.rand(b, t, generator=generator) < p
    dropped[:, 0] = False
    if is_first is not None:
        if is_first.shape != (b, t):
            raise ForethoughtError(f"is_first must be ({b}, {t}), got {tuple(is_first.shape)}")
        dropped &= ~is_first.bool().cpu()
    steps = torch.arange(t).expand(b, t)
    source = torch.where(dropped, 0, steps).cummax(dim=1).values  # (B, T) last kept row
    out = {}
    for k, v in obs.items():
        idx = source.to(v.device).reshape(b, t, *([1] * (v.dim() - 2))).expand_as(v)
        out[k] = torch.gather(v, 1, idx)
    return out, dropped


def action_noise(
    actions: Tensor,
    sigma: float,
    low: Tensor | Sequence[float] | float,
    high: Tensor | Sequence[float] | float,
    generator: torch.Generator,
) -> Tensor:
    """Add Gaussian noise of ``sigma`` times the action range (high - low), clipped to bounds.

    Args:
        actions: (..., A) float actions inside the Box [low, high].
        sigma: noise std relative to each dimension's range.
        low, high: (A,) finite bounds (or scalars).
    """
    if not actions.is_floating_point() or actions.dim() < 1:
        raise ForethoughtError(
            f"action noise needs float (..., A) actions, got {actions.dtype} {tuple(actions.shape)}"
        )
    _check_level("sigma", sigma)
    lo, hi = _bound(low, actions), _bound(high, actions)
    if not (torch.isfinite(lo).all() and torch.isfinite(hi).all() and (hi >= lo).all()):
        raise ForethoughtError(f"action bounds must be finite with low <= high, got {lo}, {hi}")
    noise = torch.randn(actions.shape, generator=generator, dtype=actions.dtype)
    out = actions.detach().cpu() + noise * sigma * (hi - lo)
    return torch.minimum(torch.maximum(out, lo), hi).to(actions.device)


def _bound(value: Tensor | Sequence[float] | float, actions: Tensor) -> Tensor:
    """A scalar or (A,) bound as an (A,) CPU tensor of the actions' dtype."""
    a = actions.shape[-1]
    t = torch.as_tensor(value, dtype=actions.dtype).cpu()
    if t.dim() > 1 or t.numel() not in (1, a):
        raise ForethoughtError(f"action bounds must be scalars or ({a},), got {tuple(t.shape)}")
    return t.reshape(-1).expand(a)
