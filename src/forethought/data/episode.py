"""The episode schema: what one finished episode looks like before it is written to disk.

Row convention (as in DreamerV3): an episode of L environment steps has L + 1 rows. Row 0 holds
the reset observation with a zero action and zero reward (``is_first``). Row t > 0 holds the
observation reached *after* taking ``action[t]``, and the reward received for it. The final row
carries the episode's ``terminated`` / ``truncated`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forethought.core.spaces import FieldSpec


@dataclass(frozen=True)
class Episode:
    """One finished episode as arrays with ``rows = steps + 1`` entries each."""

    obs: dict[str, np.ndarray]  # key -> (rows, *field.shape)
    action: np.ndarray  # (rows, *action.shape); row 0 is zeros
    reward: np.ndarray  # (rows,) float32; row 0 is 0
    terminated: bool
    truncated: bool
    seed: int = -1  # the reset seed, -1 when unknown

    @property
    def rows(self) -> int:
        return int(self.reward.shape[0])

    @property
    def steps(self) -> int:
        return self.rows - 1


@dataclass
class EpisodeBuilder:
    """Accumulates one episode step by step (the collection loop's scratch pad)."""

    action_spec: FieldSpec
    seed: int = -1
    _obs: list[dict[str, Any]] = field(default_factory=list)
    _action: list[np.ndarray] = field(default_factory=list)
    _reward: list[float] = field(default_factory=list)

    def start(self, obs: dict[str, Any]) -> None:
        self._obs = [obs]
        self._action = [np.zeros(self.action_spec.shape, dtype=self.action_spec.dtype)]
        self._reward = [0.0]

    def add(self, action: Any, reward: float, obs: dict[str, Any]) -> None:
        self._action.append(np.asarray(action, dtype=self.action_spec.dtype))
        self._reward.append(float(reward))
        self._obs.append(obs)

    def finish(self, terminated: bool, truncated: bool) -> Episode:
        keys = self._obs[0].keys()
        obs = {k: np.stack([np.asarray(o[k]) for o in self._obs]) for k in keys}
        return Episode(
            obs=obs,
            action=np.stack(self._action),
            reward=np.asarray(self._reward, dtype=np.float32),
            terminated=bool(terminated),
            truncated=bool(truncated),
            seed=self.seed,
        )
