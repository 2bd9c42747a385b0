"""Known-answer problems for planner tests: a linear-quadratic goal task and a grid world."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import torch
from torch import Tensor, nn

from forethought.models.base import Belief, Obs, Rollout
from forethought.planning import GoalObjective, LinearModel, TwoRoomSimModel

# Linear dynamics with a goal out of one-step reach, so some optimal actions sit on the bounds.
LQ_A = torch.tensor([[1.0, 0.1], [0.0, 0.9]])
LQ_B = torch.tensor([[1.0, 0.0], [0.2, 1.0]])
LQ_START = torch.tensor([0.0, 0.0])
LQ_GOAL = torch.tensor([2.5, -1.2])
LQ_LOW, LQ_HIGH = (-1.0, -1.0), (1.0, 1.0)
LQ_HORIZON = 4


def lq_problem() -> tuple[LinearModel, Belief, GoalObjective]:
    """Model, batch-1 belief at the start, and sum-of-squared-distances goal objective."""
    model = LinearModel(LQ_A, LQ_B)
    belief = model.observe(model.initial(1), {"state": LQ_START[None]}, None, None)
    return model, belief, GoalObjective(LQ_GOAL, mode="sum")


def lq_optimum(steps: int = 3000, hold: int = 1) -> tuple[Tensor, float]:
    """The unique optimum of the convex box-constrained QP by projected gradient, over sequences
    whose actions are each held ``hold`` steps (LQ_HORIZON / hold decisions). (H / hold, 2), cost.
    """
    model, belief, objective = lq_problem()
    low, high = torch.tensor(LQ_LOW), torch.tensor(LQ_HIGH)
    a = torch.zeros(1, LQ_HORIZON // hold, 2, requires_grad=True)
    for _ in range(steps):
        cost = objective.cost(model.imagine(belief, a.repeat_interleave(hold, 1))).sum()
        (g,) = torch.autograd.grad(cost, a)
        with torch.no_grad():
            a -= 0.02 * g
            a.copy_(torch.maximum(torch.minimum(a, high), low))
    with torch.no_grad():
        return a[0].detach(), float(
            objective.cost(model.imagine(belief, a.repeat_interleave(hold, 1)))
        )


# Grid world: '#' walls, S start, G goal; actions stay, up, down, left, right.
GRID = (
    "#######",
    "#S..#.#",
    "#.#.#.#",
    "#.#...#",
    "#.###G#",
    "#######",
)
MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def find(ch: str) -> tuple[int, int]:
    for r, row in enumerate(GRID):
        if ch in row:
            return r, row.index(ch)
    raise KeyError(ch)


def bfs_distance(start: tuple[int, int], goal: tuple[int, int]) -> int:
    seen, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in MOVES[1:]:
            nxt = (r + dr, c + dc)
            if GRID[nxt[0]][nxt[1]] != "#" and nxt not in seen:
                seen[nxt] = seen[(r, c)] + 1
                queue.append(nxt)
    return seen[goal]


class GridModel(nn.Module):
    """Deterministic grid world as a discrete-action world model; latent = (row, col) floats."""

    latent_dim = 2

    def __init__(self) -> None:
        super().__init__()
        h, w = len(GRID), len(GRID[0])
        coords = torch.tensor([(r, c) for r in range(h) for c in range(w)], dtype=torch.float32)
        nxt = torch.zeros(h * w, len(MOVES), dtype=torch.long)  # (cells, n)
        for r in range(h):
            for c in range(w):
                for i, (dr, dc) in enumerate(MOVES):
                    rr, cc = r + dr, c + dc
                    ok = 0 <= rr < h and 0 <= cc < w and GRID[rr][cc] != "#"
                    nxt[r * w + c, i] = rr * w + cc if ok else r * w + c
        self.width = w
        self.register_buffer("coords", coords)
        self.register_buffer("next_cell", nxt)

    def initial(self, batch_size: int) -> Belief:
        return Belief(h=torch.zeros(batch_size, 0), z=torch.zeros(batch_size, 2))

    def observe(self, belief: Belief, obs: Obs, prev_action: Tensor, is_first: Tensor) -> Belief:
        z = obs["state"].float()
        return Belief(h=torch.zeros(z.shape[0], 0), z=z)

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        """actions (B, H) int64 -> latents (B, H, 2)."""
        z = belief.z.expand(actions.shape[0], -1)
        cell = (z[:, 0] * self.width + z[:, 1]).long()  # (B,)
        out = []
        for k in range(actions.shape[1]):
            cell = self.next_cell[cell, actions[:, k]]
            out.append(self.coords[cell])
        return Rollout(latents=torch.stack(out, 1))

    def encode_goal(self, obs: Obs) -> Tensor:
        return obs["state"].float()

    def loss(self, batch):  # pragma: no cover - not trained
        raise NotImplementedError


def grid_problem() -> tuple[GridModel, Belief, Tensor]:
    """Grid model, belief at S, goal latent (2,) at G."""
    model = GridModel()
    start = torch.tensor([find("S")], dtype=torch.float32)
    belief = model.observe(model.initial(1), {"state": start}, None, None)
    return model, belief, torch.tensor(find("G"), dtype=torch.float32)


def steps_off_goal(goal: Tensor):
    """Objective fn: steps not at the goal (minimal = reach it by the shortest path and stay)."""

    def fn(rollout: Rollout) -> Tensor:
        return (rollout.latents != goal).any(-1).float().sum(1)

    return fn


def first_arrival(latents: Tensor, goal: Tensor) -> int | None:
    """Steps until ``latents`` (H, 2) first equal the goal (1-based), or None."""
    hits = (latents == goal).all(-1).nonzero()
    return int(hits[0]) + 1 if len(hits) else None


class DriftingSim(TwoRoomSimModel):
    """TwoRoom's true dynamics imagined with a drift of 1 px per step along +x, whatever the
    actions (a learned model's zero-action rollout that does not stand still)."""

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        rollout = super().imagine(belief, actions)
        drift = torch.zeros_like(rollout.latents)  # (N, H, D)
        drift[..., 0] = torch.arange(1, actions.shape[1] + 1)
        return replace(rollout, latents=rollout.latents + drift)


class StuckSim(TwoRoomSimModel):
    """Imagines every move blocked: each rollout holds the belief, whatever the actions (the
    blocked-move memory around an agent pressed into a corner)."""

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        rollout = super().imagine(belief, actions)
        held = belief.z[:, None].expand(actions.shape[0], actions.shape[1], -1)  # (N, H, D)
        return replace(rollout, latents=held.clone())
