"""Analytic world models: known dynamics behind the ``WorldModel`` contract.

- :class:`TwoRoomSimModel`: the exact dynamics of ``forethought/TwoRoom-v0`` in torch, vectorized
  over candidates. Its latent is the state vector ``[x, y, wall_x, door_y]``, so a
  ``GoalObjective`` on the goal state plans with the true simulator: the ceiling a learned model
  can reach with the same planner and objective.
- :class:`LinearModel`: ``z' = A z + B a``, for tests with a known optimum.

Neither is trained: ``loss`` raises. The TwoRoom geometry is restated here (planning may import
``core`` and ``models`` only); ``tests/planning`` checks it against ``envs/two_room.py``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.models.base import Batch, Belief, Obs, Rollout

# forethought/TwoRoom-v0 geometry, pixel units (see envs/two_room.py).
IMG_SIZE = 65
WALL_HALF = 1
DOOR_HALF = 4
MAX_STEP = 2.45
ARENA_LO = 4.5
ARENA_HI = 59.5
CONTACT_EPS = 1e-3


def _state(obs: Obs, who: str) -> Tensor:
    if "state" not in obs:
        raise ForethoughtError(
            f"{who} reads the 'state' observation, got keys {sorted(obs)} "
            "(make the env with obs='state' or 'both')"
        )
    return obs["state"].float()


def _not_trainable(who: str) -> ForethoughtError:
    return ForethoughtError(f"{who} is an analytic model with nothing to train")


def _rect_entry(
    x: Tensor, y: Tensor, dx: Tensor, dy: Tensor, rect: tuple[Tensor, Tensor, Tensor, Tensor]
) -> tuple[Tensor, Tensor]:
    """Slab test, vectorized: (time the segment enters each rect, speed along the hit normal).

    Positions and moves are (B, 1); rect bounds broadcast against them, e.g. x0, x1 (B, 1) and
    y0, y1 (B, R) for R rects sharing one x slab. Returns (B, R), (B, R); misses are (inf, 0).
    """
    t0 = t1 = speed = miss = None
    for p, d, lo, hi in ((x, dx, rect[0], rect[1]), (y, dy, rect[2], rect[3])):
        still = d == 0.0
        safe = d.masked_fill(still, 1.0)
        ta, tb = (lo - p) / safe, (hi - p) / safe
        enter = torch.minimum(ta, tb).masked_fill(still, -math.inf)
        leave = torch.maximum(ta, tb).masked_fill(still, math.inf)
        out = still & ((p < lo) | (p > hi))
        if t0 is None:  # first axis
            t0, t1, miss = enter, leave, out
            speed = d.abs().masked_fill(still, 0.0)
        else:
            later = enter > t0
            speed = torch.where(later, d.abs(), speed)
            t0, t1, miss = torch.where(later, enter, t0), torch.minimum(t1, leave), miss | out
    miss = miss | (t0 > t1) | (t1 < 0.0) | (t0 > 1.0)
    return t0.clamp_min(0.0).masked_fill(miss, math.inf), speed.masked_fill(miss, 0.0)


def two_room_step(state: Tensor, action: Tensor) -> Tensor:
    """One TwoRoom step. state (B, 4) ``[x, y, wall_x, door_y]`` float64, action (B, 2) -> (B, 4).

    The displacement is scaled down to norm 2.45 if longer; a step whose segment hits a wall or
    the arena border stops ``CONTACT_EPS`` px before the first contact (no tunnelling). Ties
    between contacts at the same time go to the slower normal speed, as in the env.
    """
    pos, wall_x, door_y = state[:, :2], state[:, 2:3], state[:, 3:4]  # (B, 2), (B, 1), (B, 1)
    d = action.to(state.dtype)  # (B, 2)
    norm = torch.hypot(d[:, :1], d[:, 1:])  # (B, 1)
    over = norm > MAX_STEP
    d = torch.where(over, d * MAX_STEP / norm.masked_fill(~over, 1.0), d)
    x, y, dx, dy = pos[:, :1], pos[:, 1:], d[:, :1], d[:, 1:]  # (B, 1) each
    y0 = torch.cat([torch.zeros_like(door_y), door_y + DOOR_HALF + 0.5], 1)  # (B, 2): below, above
    y1 = torch.cat([door_y - DOOR_HALF - 0.5, torch.full_like(door_y, float(IMG_SIZE))], 1)
    rect = (wall_x - WALL_HALF - 0.5, wall_x + WALL_HALF + 0.5, y0, y1)
    t_wall, s_wall = _rect_entry(x, y, dx, dy, rect)  # (B, 2)
    still = d == 0.0  # leaving the arena square, per axis
    t_edge = torch.where(d > 0.0, ARENA_HI - pos, ARENA_LO - pos) / d.masked_fill(still, 1.0)
    t_edge = t_edge.masked_fill(still, math.inf)  # (B, 2)
    t_all = torch.cat([t_wall, t_edge], 1)  # (B, 4)
    s_all = torch.cat([s_wall, d.abs()], 1)
    t_hit = t_all.min(1, keepdim=True).values  # (B, 1)
    s_hit = s_all.masked_fill(t_all != t_hit, math.inf).min(1, keepdim=True).values
    t = (t_hit - CONTACT_EPS / s_hit).clamp_min(0.0)
    t = t.masked_fill(t_hit > 1.0, 1.0)
    return torch.cat([pos + t * d, wall_x, door_y], dim=1)


class TwoRoomSimModel(nn.Module):
    """The true TwoRoom simulator as a world model (latent = state, D = 4, no memory)."""

    latent_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # follows .to()

    def initial(self, batch_size: int) -> Belief:
        dev = self._anchor.device
        return Belief(
            h=torch.zeros(batch_size, 0, device=dev), z=torch.zeros(batch_size, 4, device=dev)
        )

    def observe(self, belief: Belief, obs: Obs, prev_action: Tensor, is_first: Tensor) -> Belief:
        z = _state(obs, "TwoRoomSimModel")  # (B, 4)
        return Belief(h=torch.zeros(z.shape[0], 0, device=z.device), z=z)

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        """actions (B, H, 2) -> latents (B, H, 4), computed in float64 and returned as float32."""
        if actions.dim() != 3 or actions.shape[-1] != 2:
            raise ForethoughtError(
                f"TwoRoomSimModel takes (B, H, 2) actions, got {tuple(actions.shape)}"
            )
        b = actions.shape[0]
        s = belief.z.double().expand(b, -1) if belief.batch_size == 1 else belief.z.double()
        out = []
        for k in range(actions.shape[1]):
            s = two_room_step(s, actions[:, k])
            out.append(s)
        return Rollout(latents=torch.stack(out, 1).float())  # (B, H, 4)

    def encode_goal(self, obs: Obs) -> Tensor:
        return _state(obs, "TwoRoomSimModel")

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        raise _not_trainable("TwoRoomSimModel")


class LinearModel(nn.Module):
    """Linear latent dynamics ``z_{t+1} = A z_t + B a_{t+1}``; the latent is ``obs['state']``.

    Args:
        a: (D, D) state matrix.
        b: (D, A) input matrix.
    """

    def __init__(self, a: Tensor, b: Tensor) -> None:
        super().__init__()
        if a.dim() != 2 or a.shape[0] != a.shape[1] or b.dim() != 2 or b.shape[0] != a.shape[0]:
            raise ForethoughtError(
                f"LinearModel needs A (D, D) and B (D, A), got {tuple(a.shape)}, {tuple(b.shape)}"
            )
        self.register_buffer("a", a.float())
        self.register_buffer("b", b.float())
        self.latent_dim = int(a.shape[0])

    def initial(self, batch_size: int) -> Belief:
        dev = self.a.device
        return Belief(
            h=torch.zeros(batch_size, 0, device=dev),
            z=torch.zeros(batch_size, self.latent_dim, device=dev),
        )

    def observe(self, belief: Belief, obs: Obs, prev_action: Tensor, is_first: Tensor) -> Belief:
        z = _state(obs, "LinearModel")
        return Belief(h=torch.zeros(z.shape[0], 0, device=z.device), z=z)

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        """actions (B, H, A) -> latents (B, H, D)."""
        z = belief.z.expand(actions.shape[0], -1) if belief.batch_size == 1 else belief.z
        out = []
        for k in range(actions.shape[1]):
            z = z @ self.a.T + actions[:, k].float() @ self.b.T  # (B, D)
            out.append(z)
        return Rollout(latents=torch.stack(out, 1))

    def encode_goal(self, obs: Obs) -> Tensor:
        return _state(obs, "LinearModel")

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        raise _not_trainable("LinearModel")
