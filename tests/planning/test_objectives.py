"""Objectives on hand-computed rollouts."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models.base import Rollout
from forethought.planning import (
    CallableObjective,
    Deadline,
    GoalObjective,
    RewardObjective,
    UncertaintyPenalty,
)

# Two candidates, two steps, D = 2; the goal is the origin.
LATENTS = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0]]])  # (N, H, D)
GOAL = torch.zeros(2)


def test_goal_objective_modes_and_distances():
    r = Rollout(latents=LATENTS)
    assert GoalObjective(GOAL).cost(r).tolist() == [1.0, 26.0]  # squared, summed
    assert GoalObjective(GOAL, mode="last").cost(r).tolist() == [0.0, 1.0]
    assert torch.allclose(GoalObjective(GOAL, distance="l2").cost(r), torch.tensor([1.0, 6.0]))
    weighted = GoalObjective(GOAL, weights=torch.tensor([1.0, 0.0]))
    assert weighted.cost(r).tolist() == [1.0, 9.0]
    mixed = GoalObjective(GOAL, mode="last", mean_weight=0.5)  # last + 0.5 * mean over steps
    assert mixed.cost(r).tolist() == [0.25, 1.0 + 0.5 * 13.0]


def test_goal_objective_takes_a_batch_one_goal_and_checks_shapes():
    r = Rollout(latents=LATENTS)
    assert GoalObjective(GOAL[None]).cost(r).tolist() == [1.0, 26.0]
    with pytest.raises(ForethoughtError, match="mode must be 'sum' or 'last'"):
        GoalObjective(GOAL, mode="mean")
    with pytest.raises(ForethoughtError, match="G=3 dims but the model's latents have D=2"):
        GoalObjective(torch.zeros(3)).cost(r)
    with pytest.raises(ForethoughtError, match="weights must be"):
        GoalObjective(GOAL, weights=torch.ones(3))


def test_goal_objective_measures_through_a_readout():
    r = Rollout(latents=LATENTS)
    first = lambda z: z[..., :1]  # noqa: E731  a "probe" reading dim 0: [[1, 0], [3, 0]]
    assert GoalObjective(torch.tensor([1.0]), readout=first).cost(r).tolist() == [1.0, 5.0]
    last_l2 = GoalObjective(torch.tensor([3.0]), mode="last", distance="l2", readout=first)
    assert last_l2.cost(r).tolist() == [3.0, 3.0]
    with pytest.raises(ForethoughtError, match=r"readout maps latents \(2, 2, 2\) to \(2, 2, 1\)"):
        GoalObjective(GOAL, readout=first).cost(r)


def test_goal_objective_stride_reads_every_kth_step_ending_at_the_last():
    z = torch.arange(5.0).reshape(1, 5, 1)  # (N=1, H=5, D=1): distances 0..4 to the origin
    seen: list[int] = []

    def readout(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.shape[1])
        return x

    r = Rollout(latents=z)
    goal = torch.zeros(1)
    assert GoalObjective(goal, stride=2).cost(r).tolist() == [0.0 + 4 + 16]  # squared
    assert GoalObjective(goal, distance="l2", stride=3).cost(r).tolist() == [1.0 + 4]
    last = GoalObjective(goal, "last", "l2", mean_weight=1.0, readout=readout, stride=3)
    assert last.cost(r).tolist() == [4.0 + 2.5]  # last step + mean of steps 1 and 4
    assert seen == [2]  # the readout saw only the strided steps
    assert GoalObjective(goal, stride=7).cost(r).tolist() == [16.0]  # longer than H: the last
    with pytest.raises(ForethoughtError, match="stride must be >= 1"):
        GoalObjective(goal, stride=0)


def test_reward_objective_is_minus_discounted_return():
    r = Rollout(latents=LATENTS)
    head = lambda z: z.sum(-1)  # noqa: E731  rewards (N, H): [[1, 0], [7, 1]]
    assert RewardObjective(head).cost(r).tolist() == [-1.0, -8.0]
    assert RewardObjective(head, discount=0.5).cost(r).tolist() == [-1.0, -7.5]
    assert RewardObjective(lambda z: z.sum(-1, keepdim=True)).cost(r).tolist() == [-1.0, -8.0]
    with pytest.raises(ForethoughtError, match=r"must map latents \(N, H, D\) to \(2, 2\)"):
        RewardObjective(lambda z: z).cost(r)


def test_callable_objective_checks_its_output():
    r = Rollout(latents=LATENTS)
    assert CallableObjective(lambda ro: ro.latents[:, -1, 1]).cost(r).tolist() == [0.0, 1.0]
    with pytest.raises(ForethoughtError, match=r"must give \(2,\) costs"):
        CallableObjective(lambda ro: ro.latents.sum(-1)).cost(r)


def test_uncertainty_penalty_adds_weighted_disagreement():
    r = Rollout(latents=LATENTS, disagreement=torch.tensor([[0.5, 0.5], [0.0, 2.0]]))
    assert UncertaintyPenalty(GoalObjective(GOAL), 2.0).cost(r).tolist() == [3.0, 30.0]
    assert UncertaintyPenalty(GoalObjective(GOAL), -1.0).cost(r).tolist() == [0.0, 24.0]


def test_uncertainty_penalty_needs_disagreement():
    with pytest.raises(ForethoughtError, match="needs a model that reports disagreement"):
        UncertaintyPenalty(GoalObjective(GOAL)).cost(Rollout(latents=LATENTS))


def test_deadline_counts_only_the_steps_before_it():
    r = Rollout(latents=LATENTS, disagreement=torch.tensor([[0.5, 0.5], [0.0, 2.0]]))
    last = GoalObjective(GOAL, mode="last")
    assert Deadline(last, 1).cost(r).tolist() == [1.0, 25.0]  # step 0 is the last that counts
    assert Deadline(last, 2).cost(r).tolist() == Deadline(last, 9).cost(r).tolist() == [0.0, 1.0]
    penalized = Deadline(UncertaintyPenalty(GoalObjective(GOAL), 2.0), 1)  # both are cut
    assert penalized.cost(r).tolist() == [2.0, 25.0]
    with pytest.raises(ForethoughtError, match="Deadline steps must be >= 1"):
        Deadline(last, 0)
