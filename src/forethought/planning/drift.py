"""Drift-free imagination: a planner's view of a model whose zero-action rollout stands still.

A learned model can imagine the agent moving while it holds a zero action (TwoRoom pixel models
drift by several px over a plan's horizon). A search then prefers plans that ride or undo the
drift, and can promise a goal cost lower than the goal's own. :class:`DriftFreeModel` subtracts,
step by step, the model's rollout of the zero action from the same belief from every imagined
rollout::

    z'_k = z_k - (still_k - z_0)        still: the model's rollout of zeros, z_0: the belief

so the zero action stands exactly still and every other plan keeps the model's increments
relative to it. One extra batch-1 ``imagine`` per belief and horizon (kept for the search's
later iterations on the same belief). For continuous actions whose zero means "stand still".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from forethought.models.base import Belief, Rollout, WorldModel


class DriftFreeModel:
    """``model`` with its zero-action drift removed from ``imagine`` (see module doc); the rest
    is the model's own (as :class:`~forethought.planning.hold.HeldActionModel`)."""

    def __init__(self, model: WorldModel) -> None:
        self.model = model
        self._drift: tuple[Belief, Tensor] | None = None  # the latest belief and its drift

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        rollout = self.model.imagine(belief, actions)  # latents (N, H, D)
        return replace(rollout, latents=rollout.latents - self.drift(belief, actions))

    def drift(self, belief: Belief, actions: Tensor) -> Tensor:
        """The zero action's imagined move from ``belief`` over ``actions``' horizon:
        (1, H, D), computed once per belief and horizon."""
        cached = self._drift
        if cached is None or cached[0] is not belief or cached[1].shape[1] != actions.shape[1]:
            still = self.model.imagine(belief, torch.zeros_like(actions[:1]))  # (1, H, D)
            self._drift = cached = (belief, still.latents - belief.z[:, None])
        return cached[1]

    def __getattr__(self, name: str) -> Any:  # encode_goal, latent_dim, ... of the real model
        return getattr(self.model, name)
