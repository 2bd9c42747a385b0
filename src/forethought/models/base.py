"""The world-model contract: what planners, agents and evaluators may rely on.

A world model keeps a :class:`Belief` (memory of everything observed so far), folds real
observations into it with ``observe``, and predicts latent futures for candidate action sequences
with ``imagine``. Goals live in the same latent space (``encode_goal``), so a planner can score a
:class:`Rollout` by its distance to a goal without ever decoding pixels.

Row convention (as in the datasets): the action passed to ``observe`` together with ``obs_t`` is
the action that *led to* ``obs_t``; ``imagine(belief, actions)`` applies ``actions[:, 0]`` first and
returns the latent of the observation it would lead to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

Obs = dict[str, Tensor]  # key -> (B, *shape); images uint8 (B, H, W, C)


class Batch(Protocol):
    """The fields of a batch of windows a model trains on (``data.sampler.WindowBatch`` fits).

    Declared here as a structural type so that ``models`` depends on ``core`` only.
    """

    obs: dict[str, Tensor]  # key -> (B, T, *shape), images uint8
    action: Tensor  # (B, T, A) float32 or (B, T) int64; action[:, t] led to obs[:, t]
    reward: Tensor  # (B, T) float32
    is_first: Tensor  # (B, T) bool
    terminated: Tensor  # (B, T) bool


@dataclass(frozen=True)
class Belief:
    """What the model knows after some observations: recurrent memory plus the latest latent."""

    h: Tensor  # (B, D_h) recurrent state (ensembles: members' states concatenated)
    z: Tensor  # (B, D) latent of the latest observation

    @property
    def batch_size(self) -> int:
        return int(self.z.shape[0])

    def expand(self, n: int) -> Belief:
        """The same belief repeated for ``n`` candidates (needs batch size 1). (n, ...) views."""
        if self.batch_size != 1:
            raise ValueError(f"expand needs a belief of batch size 1, got {self.batch_size}")
        return Belief(h=self.h.expand(n, -1), z=self.z.expand(n, -1))

    def index(self, rows: Tensor | slice | int) -> Belief:
        """The beliefs of some rows (an int keeps the batch dimension)."""
        if isinstance(rows, int):
            rows = slice(rows, rows + 1)
        return Belief(h=self.h[rows], z=self.z[rows])

    def detach(self) -> Belief:
        return Belief(h=self.h.detach(), z=self.z.detach())

    def to(self, device: torch.device | str) -> Belief:
        return Belief(h=self.h.to(device), z=self.z.to(device))


@dataclass(frozen=True)
class Rollout:
    """Imagined latents for a batch of action sequences (open loop, no observations)."""

    latents: Tensor  # (B, H, D): latents[:, k] follows actions[:, : k + 1]
    disagreement: Tensor | None = None  # (B, H) epistemic uncertainty (ensembles), else None

    @property
    def horizon(self) -> int:
        return int(self.latents.shape[1])


@runtime_checkable
class WorldModel(Protocol):
    """A learned, action-conditioned latent dynamics model (implemented as a ``torch.nn.Module``).

    Attributes:
        latent_dim: D, the size of latents in beliefs, rollouts and goals.
    """

    latent_dim: int

    def initial(self, batch_size: int) -> Belief:
        """The belief before any observation. (B, ...) zeros-like state."""
        ...

    def observe(self, belief: Belief, obs: Obs, prev_action: Tensor, is_first: Tensor) -> Belief:
        """Fold one real observation into the belief (the filter; this is where memory lives).

        Args:
            belief: the belief before ``obs``.
            obs: key -> (B, *shape) observation tensors.
            prev_action: (B, A) float or (B,) int64: the action that led to ``obs``.
            is_first: (B,) bool: rows where ``obs`` starts an episode; their memory is reset and
                ``prev_action`` is ignored.
        """
        ...

    def imagine(self, belief: Belief, actions: Tensor) -> Rollout:
        """Predict latents for action sequences without observations.

        Args:
            belief: (B, ...) beliefs, or batch size 1 to share one belief across all rows.
            actions: (B, H, A) float, or (B, H) int64 for discrete actions; the batch is typically
                N candidate sequences of one planning step.
        """
        ...

    def encode_goal(self, obs: Obs) -> Tensor:
        """The latent of a (goal) observation. (B, D)."""
        ...

    def loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """Training loss on a batch of windows: a scalar and named detached scalar terms."""
        ...
