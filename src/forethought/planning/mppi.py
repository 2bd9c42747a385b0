"""Model-predictive path integral control (registry name ``mppi``).

Each iteration perturbs the current mean plan with Gaussian noise (N candidates, the unperturbed
mean among them, all clipped to the bounds), scores them in one batched ``imagine`` call, and
replaces the mean by their softmax(-cost / temperature) weighted average. The plan returned is
that mean (a convex combination of in-bound sequences, so it is in bounds too) and its cost is
the weighted mean cost of the last iteration's samples.
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
from forethought.planning.icem import colored_noise


@dataclass(frozen=True)
class MPPIConfig(BoxPlannerConfig):
    """MPPI.

    Attributes:
        temperature: lambda of the softmax weights; smaller trusts the best samples more.
        noise_std: sigma of the perturbations as a fraction of the half range.
        beta: colored-noise exponent of the perturbations along time (0 white, 2 smooth).
        normalize_costs: divide ``cost - min`` by its range first, so ``temperature`` does not
            depend on the objective's scale (0.1 then weighs the worst sample e^-10 below the best).
    """

    iterations: int = 2
    temperature: float = 0.1
    noise_std: float = 0.5
    beta: float = 0.0
    normalize_costs: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(self.temperature > 0, name, f"temperature must be > 0, got {self.temperature}")
        require(self.noise_std > 0, name, f"noise_std must be > 0, got {self.noise_std}")
        require(self.beta >= 0, name, f"beta must be >= 0, got {self.beta}")


class MPPIPlanner:
    """MPPI over (H, A) action sequences with a fixed noise level."""

    def __init__(self, config: MPPIConfig) -> None:
        self.config = config

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        cfg, start = self.config, time.perf_counter()
        device = check_belief(belief, "mppi")
        gen = generator(cfg.seed, carry, device)
        low, high = cfg.bounds(device)  # (A,), (A,)
        sigma = cfg.noise_std * (high - low) / 2  # (A,)
        mean = warm_mean(carry, cfg.horizon, low, high)  # (H, A)
        n, h, a = cfg.samples, cfg.horizon, cfg.action_dim
        best, expected = Best(), 0.0
        with torch.no_grad():
            for _ in range(cfg.iterations):
                noise = colored_noise(n, h, a, cfg.beta, gen, device) * sigma  # (N, H, A)
                noise[0] = 0.0
                cand = torch.clamp(mean + noise, low, high)
                cost = evaluate(model, belief, objective, cand)  # (N,)
                best.update(cand, cost)
                c = cost - cost.min()
                if cfg.normalize_costs:
                    finite = c[torch.isfinite(c)]
                    c = c / finite.max().clamp_min(1e-12)
                w = torch.softmax(-c / cfg.temperature, dim=0)  # (N,)
                mean = (w[:, None, None] * cand).sum(0)  # (H, A)
                expected = float((w * torch.nan_to_num(cost, posinf=0.0)).sum())
        mean = torch.maximum(torch.minimum(mean, high), low)  # rounding only
        return finish(
            mean,
            expected,
            carry,
            mean,
            cfg.iterations,
            cfg.iterations * cfg.samples,
            start,
            best.history,
        )
