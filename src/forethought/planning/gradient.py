"""Gradient-based planning (registry name ``gradient``): Adam on the actions through the model.

N action sequences (the warm-start mean and N - 1 uniform random ones) are optimized in parallel:
each iteration imagines all of them in one batched call, keeps the best seen, and takes one Adam
step on the sum of their costs. Actions live in normalized coordinates ``u`` and stay in bounds:

- ``tanh``: ``a = low + (tanh(u) + 1) / 2 * (high - low)`` (smooth, never exactly on a bound);
- ``clamp``: ``a = low + (u + 1) / 2 * (high - low)`` with ``u`` clamped to [-1, 1] after each
  step (projected gradient descent; reaches bounds exactly).

Only the actions get gradients (``torch.autograd.grad``); the model's parameters are untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
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
class GradientConfig(BoxPlannerConfig):
    """Gradient planner.

    Attributes:
        samples: N parallel sequences (random restarts), the warm-start mean among them.
        iterations: batched ``imagine`` calls; one Adam step after each but the last.
        lr: Adam learning rate in normalized action units.
        reparam: ``"tanh"`` or ``"clamp"`` (see the module docstring).
    """

    samples: int = 16
    iterations: int = 40
    lr: float = 0.1
    reparam: str = "tanh"

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(self.lr > 0, name, f"lr must be > 0, got {self.lr}")
        require(
            self.reparam in ("tanh", "clamp"),
            name,
            f"reparam must be 'tanh' or 'clamp', got {self.reparam!r}",
        )


class GradientPlanner:
    """Adam on (H, A) action sequences through a differentiable world model and objective."""

    def __init__(self, config: GradientConfig) -> None:
        self.config = config

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        cfg, start = self.config, time.perf_counter()
        device = check_belief(belief, "gradient")
        gen = generator(cfg.seed, carry, device)
        low, high = cfg.bounds(device)  # (A,), (A,)
        shape = (cfg.samples, cfg.horizon, cfg.action_dim)
        x = torch.rand(shape, generator=gen, device=device) * 2 - 1  # (N, H, A) in [-1, 1]
        x[0] = 2 * (warm_mean(carry, cfg.horizon, low, high) - low) / (high - low) - 1
        tanh = cfg.reparam == "tanh"
        u = (torch.atanh(x.clamp(-0.999, 0.999)) if tanh else x).requires_grad_(True)
        adam = _Adam(u, cfg.lr)
        best = Best()
        belief = belief.detach()
        for i in range(cfg.iterations):
            with torch.enable_grad():
                actions = _actions(u, low, high, tanh)  # (N, H, A)
                cost = evaluate(model, belief, objective, actions)  # (N,)
                best.update(actions.detach(), cost.detach())
                if i == cfg.iterations - 1:
                    break
                grad = _grad(cost, u)
            with torch.no_grad():
                adam.step(grad)
                if not tanh:
                    u.clamp_(-1.0, 1.0)
        assert best.actions is not None
        plan = torch.maximum(torch.minimum(best.actions, high), low)
        return finish(
            plan,
            best.cost,
            carry,
            plan,
            cfg.iterations,
            cfg.iterations * cfg.samples,
            start,
            best.history,
        )


class _Adam:
    """Adam (Kingma & Ba) on one tensor, in place; a few lines instead of torch.optim."""

    def __init__(self, param: Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> None:
        self.param, self.lr, self.betas, self.t = param, lr, betas, 0
        self.m, self.v = torch.zeros_like(param), torch.zeros_like(param)

    def step(self, grad: Tensor) -> None:
        b1, b2 = self.betas
        self.t += 1
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = self.m / (1 - b1**self.t)
        v_hat = self.v / (1 - b2**self.t)
        self.param.sub_(self.lr * m_hat / (v_hat.sqrt() + 1e-8))


def _actions(u: Tensor, low: Tensor, high: Tensor, tanh: bool) -> Tensor:
    x = torch.tanh(u) if tanh else u
    return low + (x + 1) / 2 * (high - low)


def _grad(cost: Tensor, u: Tensor) -> Tensor:
    finite = torch.isfinite(cost)
    if not cost.requires_grad:
        raise ForethoughtError(
            "gradient planner: the cost does not depend differentiably on the actions "
            "(does the model or objective detach, or run under torch.no_grad?); use cem or mppi"
        )
    (g,) = torch.autograd.grad(torch.where(finite, cost, 0.0).sum(), u, allow_unused=True)
    if g is None:
        raise ForethoughtError("gradient planner: the cost does not depend on the actions")
    return torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
