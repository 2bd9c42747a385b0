"""Continuous planners on linear dynamics with a quadratic goal cost: a known optimum."""

from __future__ import annotations

import functools

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models.base import Belief, Rollout
from forethought.planning import ActionSpaceInfo, PlanCarry, build_planner, colored_noise
from forethought.planning.common import shift
from tests.planning.helpers import LQ_HIGH, LQ_HORIZON, LQ_LOW, lq_optimum, lq_problem

SPACE = ActionSpaceInfo(2, False, LQ_LOW, LQ_HIGH)
# Budgets that pass the tolerances below on the LQ task for each of seeds 0-5.
SETTINGS = {
    "cem": ("cem", dict(samples=256, iterations=8, elites=25)),
    "icem": ("icem", dict(samples=256, iterations=8, elites=25, beta=0.5, population_decay=1.0)),
    "mppi": ("mppi", dict(samples=256, iterations=10, temperature=0.01, noise_std=0.2)),
    "gradient-tanh": ("gradient", dict(samples=8, iterations=60, lr=0.2)),
    "gradient-clamp": ("gradient", dict(samples=8, iterations=60, lr=0.1, reparam="clamp")),
}


@functools.lru_cache(maxsize=1)
def optimum() -> tuple[torch.Tensor, float]:
    return lq_optimum(600)


def make(key: str, **extra):
    name, kw = SETTINGS[key]
    return build_planner(name, SPACE, horizon=LQ_HORIZON, **{**kw, **extra})


class Recording:
    """Wraps a model and keeps the actions of every imagine call."""

    def __init__(self, model) -> None:
        self.model, self.calls = model, []
        self.latent_dim = model.latent_dim

    def imagine(self, belief: Belief, actions: torch.Tensor) -> Rollout:
        self.calls.append(actions.detach().clone())
        return self.model.imagine(belief, actions)


@pytest.mark.parametrize("key", list(SETTINGS))
def test_reaches_the_known_optimum(key):
    model, belief, objective = lq_problem()
    best_actions, best_cost = optimum()
    result = make(key).plan(model, belief, objective)
    assert result.actions.shape == (LQ_HORIZON, 2)
    with torch.no_grad():
        cost = float(objective.cost(model.imagine(belief, result.actions[None])))
        final = model.imagine(belief, result.actions[None]).latents[0, -1]
        final_opt = model.imagine(belief, best_actions[None]).latents[0, -1]
    assert cost - best_cost < 0.1
    assert (result.actions[0] - best_actions[0]).abs().max() < 0.05  # on the bounds
    assert (final - final_opt).abs().max() < 0.2
    if SETTINGS[key][0] != "mppi":  # MPPI reports the weighted mean cost of its samples
        assert result.cost == pytest.approx(cost, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("key", list(SETTINGS))
def test_bounds_are_respected_everywhere(key):
    model, belief, objective = lq_problem()  # the goal pulls far outside these narrow bounds
    low, high = (-0.3, 0.1), (0.2, 0.5)
    rec = Recording(model)
    result = make(key, low=low, high=high, iterations=3).plan(rec, belief, objective)
    lo, hi = torch.tensor(low), torch.tensor(high)
    for actions in [result.actions[None], *rec.calls]:  # the plan and every candidate
        assert bool(((actions >= lo) & (actions <= hi)).all())


@pytest.mark.parametrize("key", list(SETTINGS))
def test_same_seed_same_plan(key):
    model, belief, objective = lq_problem()
    a = make(key, iterations=2).plan(model, belief, objective).actions
    b = make(key, iterations=2).plan(model, belief, objective).actions
    c = make(key, iterations=2, seed=1).plan(model, belief, objective).actions
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("key", ["cem", "icem", "mppi", "gradient-clamp"])
def test_warm_start_shifts_the_previous_plan(key):
    model, belief, objective = lq_problem()
    previous = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]])
    carry = PlanCarry(actions=previous, executed=2, calls=3)
    rec = Recording(model)
    result = make(key, iterations=1).plan(rec, belief, objective, carry)
    expected = torch.tensor([[0.5, 0.6], [0.7, 0.8], [0.0, 0.0], [0.0, 0.0]])  # tail: centre
    assert torch.allclose(rec.calls[0][0], expected, atol=1e-5)  # candidate 0 = warm start
    assert result.carry.calls == 4 and result.carry.executed == 1


def test_shift_pads_and_truncates():
    prev = torch.arange(6.0).reshape(3, 2)  # (H'=3, A=2)
    fill = torch.tensor([-1.0, -1.0])
    assert shift(prev, 1, 3, fill).tolist() == [[2, 3], [4, 5], [-1, -1]]
    assert shift(prev, 0, 2, fill).tolist() == [[0, 1], [2, 3]]
    assert shift(prev, 5, 2, fill).tolist() == [[-1, -1], [-1, -1]]


def test_carry_after_and_validation():
    carry = PlanCarry(actions=torch.zeros(4, 2))
    assert carry.executed == 1 and carry.after(3).executed == 3
    with pytest.raises(ForethoughtError, match="elites must be"):
        PlanCarry(actions=torch.zeros(4, 2), elites=torch.zeros(5, 3, 2))
    with pytest.raises(ForethoughtError, match="executed and calls must be >= 0"):
        PlanCarry(actions=torch.zeros(4, 2), executed=-1)


def test_carry_of_the_wrong_shape_is_refused():
    model, belief, objective = lq_problem()
    with pytest.raises(ForethoughtError, match="pass carry=None"):
        make("cem").plan(model, belief, objective, PlanCarry(actions=torch.zeros(4, 3)))


def test_batched_belief_is_refused():
    model, _, objective = lq_problem()
    with pytest.raises(ForethoughtError, match="belief of batch size 1"):
        make("mppi").plan(model, model.initial(2), objective)


def test_config_errors_are_one_line():
    with pytest.raises(ForethoughtError, match=r"CEMConfig: elites must be in \[2, samples=8\]"):
        build_planner("cem", SPACE, samples=8, elites=9)
    with pytest.raises(ForethoughtError, match="need low < high"):
        build_planner("mppi", SPACE, low=(0.0, 0.0), high=(0.0, 1.0))


def test_colored_noise_is_unit_variance_and_smooth():
    gen = torch.Generator().manual_seed(0)
    white = colored_noise(4000, 16, 2, 0.0, gen, torch.device("cpu"))
    red = colored_noise(4000, 16, 2, 2.0, gen, torch.device("cpu"))
    assert white.shape == red.shape == (4000, 16, 2)
    assert red.std().item() == pytest.approx(1.0, abs=0.05)

    def lag1(x):
        return float((x[:, 1:] * x[:, :-1]).mean() / x.var())

    assert abs(lag1(white)) < 0.05 and lag1(red) > 0.5
    again = colored_noise(3, 16, 2, 2.0, torch.Generator().manual_seed(1), torch.device("cpu"))
    same = colored_noise(3, 16, 2, 2.0, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert torch.equal(again, same)


def test_gradient_planner_needs_a_differentiable_cost():
    model, belief, objective = lq_problem()

    class Detached:
        latent_dim = 2

        def imagine(self, b, actions):
            return model.imagine(b, actions.detach())

    with pytest.raises(ForethoughtError, match="does not depend differentiably"):
        make("gradient-tanh", iterations=2).plan(Detached(), belief, objective)
