"""A temporal-distance embedding fitted on frozen latents: goal costs that respect walls.

A Euclidean goal cost (in latent space or through a state probe) has local minima wherever the
straight line to the goal is blocked: in TwoRoom an agent pressed on the middle wall is closer to
a goal behind it than the door is, so a short search stays at the wall. This head learns an
embedding ``phi`` whose distances count *steps*: ``||phi(z) - phi(g)||`` approximates the number of
steps the data's paths take from ``z`` to ``g`` (as a discounted count), so the
door lies downhill of the wall.

Fitting (the idea of Park et al., "Foundation Policies with Hilbert Representations", 2024;
no code taken): goal-conditioned value learning on the data's own transitions with
``V(z, g) = -||phi(z) - phi(g)||``. Goals are relabelled from the same episode (the layout, e.g.
TwoRoom's wall and door, is the episode's own): a geometric number of steps ahead or any row of
the episode. The TD target follows the data's path for ``n_step`` steps,
``-(steps) + gamma^n V_target(z_{t+n}, g)`` (the exact discounted count when the goal comes
sooner), and an expectile loss (``expectile > 0.5``) weighs under-estimates of ``V`` more, so
it leans toward the better paths through the data rather than the average one. A slowly moving
copy of ``phi`` (Polyak average) gives the targets.

On TwoRoom's door-edge data (``benchmarks/bench_temporal_distance.py``, ``docs/benchmarks.md``)
one-step targets learned a nearly Euclidean distance that ignores the wall within the fit
budgets we tried (expectiles 0.5 to 0.97); 16-step targets with expectile 0.7 put the minimum
along the wall at the door.

It needs no state labels, only trajectories, so it works for every world model whose latents
carry the layout.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.config import _require_counts
from forethought.models.heads import MLPHead


@dataclass(frozen=True)
class TemporalDistanceConfig:
    """Settings of :func:`fit_temporal_embedding`.

    dim: size of the embedding. width: hidden width of the MLP. steps: Adam steps.
    batch_size: transitions per step. lr: Adam learning rate. gamma: discount of the value
    (distances up to about ``1 / (1 - gamma)`` steps are resolved). expectile: weight of
    under-estimates in the TD loss, in (0, 1). future_share: share of goals drawn a geometric
    number of steps ahead (the rest are any row of the episode). polyak: target-copy rate.
    n_step: steps of the data's own path per TD target (``-n + gamma^n V(z_{t+n}, g)``; the
    exact count when the goal comes sooner), which carries distances ``n`` times faster.
    """

    dim: int = 32
    width: int = 256
    steps: int = 16000
    batch_size: int = 1024
    lr: float = 1e-3
    gamma: float = 0.99
    expectile: float = 0.7
    future_share: float = 0.6
    polyak: float = 0.02
    n_step: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise ForethoughtError(f"temporal distance gamma must be in (0, 1), got {self.gamma}")
        if not 0.0 < self.expectile < 1.0:
            raise ForethoughtError(
                f"temporal distance expectile must be in (0, 1), got {self.expectile}"
            )
        if not 0.0 <= self.future_share <= 1.0:
            raise ForethoughtError(
                f"temporal distance future_share must be in [0, 1], got {self.future_share}"
            )
        _require_counts(self, ("dim", "width", "steps", "batch_size", "n_step"))


def episode_bounds(episode: Tensor) -> tuple[Tensor, Tensor]:
    """Per row, the first and one-past-last row of its episode. episode (N,) -> (N,), (N,).

    Rows of one episode must be contiguous (as a dataset stores them)."""
    n = episode.shape[0]
    change = torch.ones(n, dtype=torch.bool)
    change[1:] = episode[1:] != episode[:-1]
    starts = torch.nonzero(change).squeeze(1)  # (E,)
    ends = torch.cat([starts[1:], torch.tensor([n])])  # (E,)
    which = torch.cumsum(change.long(), 0) - 1  # (N,) episode ordinal of each row
    return starts[which], ends[which]


def step_distance(phi: MLPHead, z: Tensor, g: Tensor) -> Tensor:
    """``||phi(z) - phi(g)||``: latents (..., D), (..., D) -> (...,)."""
    return (phi(z) - phi(g)).square().sum(-1).clamp_min(1e-12).sqrt()


def fit_temporal_embedding(
    latents: Tensor, episode: Tensor, cfg: TemporalDistanceConfig | None = None
) -> MLPHead:
    """Fit ``phi`` (an :class:`MLPHead` latents (..., D) -> (..., dim)) on a dataset's latents.

    Args:
        latents: (N, D) latent of every row, in dataset order.
        episode: (N,) episode id of every row; an episode's rows are contiguous and in time
            order, and row ``t + 1`` follows row ``t`` within an episode.
        cfg: the fit's settings.

    Returns:
        ``phi`` in eval mode with gradients off; ``||phi(z) - phi(g)||`` is the learned
        distance (about ``(1 - gamma^k) / (1 - gamma)`` for ``k`` steps apart).
    """
    cfg = cfg or TemporalDistanceConfig()
    x = latents.detach().float().reshape(latents.shape[0], -1)  # (N, D)
    if episode.shape != (x.shape[0],):
        raise ForethoughtError(
            f"temporal distance: {x.shape[0]} latents but episode ids of shape "
            f"{tuple(episode.shape)}; give one id per row"
        )
    if not torch.isfinite(x).all():
        raise ForethoughtError("temporal distance: the latents hold NaN or inf; check the run")
    start, end = episode_bounds(episode.long())
    has_next = torch.nonzero(torch.arange(x.shape[0]) + 1 < end).squeeze(1)  # rows with a z'
    if has_next.numel() == 0:
        raise ForethoughtError("temporal distance needs episodes of at least two rows")
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        phi = MLPHead(x, torch.zeros(2, cfg.dim), cfg.width, regress=False)
    target = copy.deepcopy(phi).requires_grad_(False)
    opt = torch.optim.Adam(phi.parameters(), lr=cfg.lr)
    log_keep = math.log(cfg.gamma)
    with torch.enable_grad():
        for _ in range(cfg.steps):
            i = has_next[torch.randint(0, has_next.numel(), (cfg.batch_size,), generator=gen)]
            lo, hi = start[i], end[i]  # (B,), (B,)
            u = torch.rand(cfg.batch_size, generator=gen).clamp_min(1e-12)
            ahead = i + 1 + torch.floor(torch.log(u) / log_keep).long()  # geometric, >= 1
            anywhere = lo + (torch.rand(cfg.batch_size, generator=gen) * (hi - lo)).long()
            future = torch.rand(cfg.batch_size, generator=gen) < cfg.future_share
            g = torch.where(future, torch.minimum(ahead, hi - 1), anywhere)  # (B,)
            n = (hi - 1 - i).clamp(max=cfg.n_step)  # (B,) >= 1: steps left, at most n_step
            reached = (g >= i) & (g <= i + n)  # the goal lies on the next n steps of the path
            n = torch.where(reached, g - i, n).float()
            keep = cfg.gamma**n  # (B,)
            with torch.no_grad():
                v_next = -step_distance(target, x[i + n.long()], x[g])  # (B,)
                y = -(1.0 - keep) / (1.0 - cfg.gamma) + torch.where(reached, 0.0, keep * v_next)
            v = -step_distance(phi, x[i], x[g])  # (B,)
            err = y - v
            weight = torch.where(err > 0, cfg.expectile, 1.0 - cfg.expectile)
            loss = (weight * err.square()).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p, q in zip(target.parameters(), phi.parameters(), strict=True):
                    p.lerp_(q, cfg.polyak)
    return phi.eval().requires_grad_(False)
