"""Planners for discrete actions: (H,) int64 plans of indices in ``[0, n)``.

- ``cem-discrete`` (:class:`CategoricalCEMPlanner`): per-step probability tables refit to the
  elite sequences' action frequencies.
- ``beam`` (:class:`BeamSearchPlanner`): exhaustive search in one ``imagine`` call when n^H is
  small, else beam search: at depth t, extend the W best prefixes by every action and keep the W
  cheapest (one ``imagine`` call per depth, prefixes scored by the objective on their rollout).
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
    DiscretePlannerConfig,
    check_belief,
    evaluate,
    finish,
    generator,
    require,
    shift,
)


@dataclass(frozen=True)
class CategoricalCEMConfig(DiscretePlannerConfig):
    """Categorical CEM.

    Attributes:
        samples: N sequences per iteration (the most likely sequence among them).
        iterations: batched ``imagine`` calls per plan.
        elites: K lowest-cost sequences the tables are refit to.
        momentum: ``new = momentum * old + (1 - momentum) * elite frequencies``.
        explore: warm-started tables are mixed with this much of the uniform distribution.
    """

    samples: int = 256
    iterations: int = 4
    elites: int = 32
    momentum: float = 0.1
    explore: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(self.samples >= 2, name, f"samples must be >= 2, got {self.samples}")
        require(self.iterations >= 1, name, f"iterations must be >= 1, got {self.iterations}")
        require(
            1 <= self.elites <= self.samples,
            name,
            f"elites must be in [1, samples={self.samples}], got {self.elites}",
        )
        require(0 <= self.momentum < 1, name, f"momentum must be in [0, 1), got {self.momentum}")
        require(0 <= self.explore <= 1, name, f"explore must be in [0, 1], got {self.explore}")


class CategoricalCEMPlanner:
    """CEM over per-step categorical distributions; the plan is the best sequence evaluated."""

    def __init__(self, config: CategoricalCEMConfig) -> None:
        self.config = config

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        cfg, start = self.config, time.perf_counter()
        device = check_belief(belief, "cem-discrete")
        gen = generator(cfg.seed, carry, device)
        h, n = cfg.horizon, cfg.n_actions
        uniform = torch.full((n,), 1.0 / n, device=device)
        probs = uniform.expand(h, n).clone()  # (H, n)
        if carry is not None and carry.probs is not None and carry.probs.shape[1] == n:
            probs = (1 - cfg.explore) * shift(carry.probs, carry.executed, h, uniform)
            probs = probs + cfg.explore * uniform
        best = Best()
        with torch.no_grad():
            for _ in range(cfg.iterations):
                cand = torch.multinomial(probs, cfg.samples, replacement=True, generator=gen).T
                cand[0] = probs.argmax(-1)  # (N, H) int64
                cost = evaluate(model, belief, objective, cand)  # (N,)
                best.update(cand, cost)
                elite = cand[torch.topk(cost, cfg.elites, largest=False).indices]  # (K, H)
                freq = torch.nn.functional.one_hot(elite, n).float().mean(0)  # (H, n)
                probs = cfg.momentum * probs + (1 - cfg.momentum) * freq
        assert best.actions is not None
        return finish(
            best.actions,
            best.cost,
            carry,
            best.actions,
            cfg.iterations,
            cfg.iterations * cfg.samples,
            start,
            best.history,
            probs=probs,
        )


@dataclass(frozen=True)
class BeamSearchConfig(DiscretePlannerConfig):
    """Exhaustive / beam search.

    Attributes:
        beam_width: W prefixes kept per depth when the search is not exhaustive.
        exhaustive_limit: search all n^H sequences in one call when there are at most this many.
    """

    beam_width: int = 64
    exhaustive_limit: int = 4096

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(self.beam_width >= 1, name, f"beam_width must be >= 1, got {self.beam_width}")
        require(self.exhaustive_limit >= 0, name, "exhaustive_limit must be >= 0")


class BeamSearchPlanner:
    """Exhaustive search for short horizons, beam search beyond ``exhaustive_limit``."""

    def __init__(self, config: BeamSearchConfig) -> None:
        self.config = config

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        cfg, start = self.config, time.perf_counter()
        device = check_belief(belief, "beam")
        h, n = cfg.horizon, cfg.n_actions
        best, samples = Best(), 0
        exhaustive = n**h <= cfg.exhaustive_limit
        with torch.no_grad():
            if exhaustive:
                cand = all_sequences(n, h, device)  # (n^H, H)
                best.update(cand, evaluate(model, belief, objective, cand))
                samples = cand.shape[0]
            else:
                prefixes = torch.zeros((1, 0), dtype=torch.long, device=device)  # (W, t)
                steps = torch.arange(n, device=device)
                for _ in range(h):
                    w = prefixes.shape[0]
                    cand = torch.cat(
                        [prefixes.repeat_interleave(n, 0), steps.repeat(w)[:, None]], dim=1
                    )  # (W * n, t + 1)
                    cost = evaluate(model, belief, objective, cand)
                    samples += cand.shape[0]
                    keep = torch.topk(cost, min(cfg.beam_width, cand.shape[0]), largest=False)
                    prefixes = cand[keep.indices]
                best.update(cand, cost)
        assert best.actions is not None
        return finish(
            best.actions,
            best.cost,
            carry,
            best.actions,
            1 if exhaustive else h,
            samples,
            start,
            best.history,
        )


def all_sequences(n: int, horizon: int, device: torch.device | str = "cpu") -> Tensor:
    """Every sequence of ``horizon`` actions from ``n``, lexicographic. (n^H, H) int64."""
    if n**horizon > 10_000_000:
        raise ForethoughtError(f"{n}^{horizon} sequences are too many to enumerate")
    idx = torch.arange(n**horizon, device=device)[:, None]  # (M, 1)
    powers = n ** torch.arange(horizon - 1, -1, -1, device=device)  # (H,)
    return (idx // powers) % n
