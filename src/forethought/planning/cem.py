"""Cross-entropy method (registry name ``cem``): refit a Gaussian to the elite candidates.

Each iteration draws N action sequences from a per-step, per-dimension Gaussian (clipped to the
bounds), scores them in one batched ``imagine`` call, and moves the Gaussian to the K lowest-cost
ones (optionally smoothed with momentum). The current mean is always one of the N candidates,
and the plan returned is the lowest-cost sequence evaluated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from forethought.models.base import Belief, WorldModel
from forethought.planning.base import Objective, PlanCarry, PlanResult
from forethought.planning.common import (
    Best,
    BoxPlannerConfig,
    check_belief,
    evaluate,
    finish,
    generator,
    require,
    warm_mean,
)


@dataclass(frozen=True)
class CEMConfig(BoxPlannerConfig):
    """Gaussian CEM.

    Attributes:
        elites: K, the lowest-cost candidates the Gaussian is refit to.
        init_std: initial std as a fraction of the half range ``(high - low) / 2``.
        min_std: std floor, same units (keeps some exploration).
        momentum: ``new = momentum * old + (1 - momentum) * elite statistics``; 0 = plain CEM.
    """

    elites: int = 32
    init_std: float = 0.5
    min_std: float = 0.02
    momentum: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(
            2 <= self.elites <= self.samples,
            name,
            f"elites must be in [2, samples={self.samples}], got {self.elites}",
        )
        require(self.init_std > 0, name, f"init_std must be > 0, got {self.init_std}")
        require(self.min_std >= 0, name, f"min_std must be >= 0, got {self.min_std}")
        require(0 <= self.momentum < 1, name, f"momentum must be in [0, 1), got {self.momentum}")


class CEMPlanner:
    """Gaussian cross-entropy method over (H, A) action sequences."""

    def __init__(self, config: CEMConfig) -> None:
        self.config = config

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        cfg, start = self.config, time.perf_counter()
        device = check_belief(belief, "cem")
        gen = generator(cfg.seed, carry, device)
        low, high = cfg.bounds(device)  # (A,), (A,)
        half = (high - low) / 2
        mean = warm_mean(carry, cfg.horizon, low, high)  # (H, A)
        std = (cfg.init_std * half).expand_as(mean).clone()  # (H, A)
        shape = (cfg.samples, cfg.horizon, cfg.action_dim)
        best = Best()
        with torch.no_grad():
            for _ in range(cfg.iterations):
                noise = torch.randn(shape, generator=gen, device=device)  # (N, H, A)
                cand = torch.clamp(mean + std * noise, low, high)
                cand[0] = mean
                cost = evaluate(model, belief, objective, cand)  # (N,)
                best.update(cand, cost)
                elite = cand[torch.topk(cost, cfg.elites, largest=False).indices]  # (K, H, A)
                m = cfg.momentum
                mean = m * mean + (1 - m) * elite.mean(0)
                std = m * std + (1 - m) * elite.std(0)
                std = torch.maximum(std, cfg.min_std * half)
        assert best.actions is not None
        return finish(
            best.actions,
            best.cost,
            carry,
            mean,
            cfg.iterations,
            cfg.iterations * cfg.samples,
            start,
            best.history,
        )
