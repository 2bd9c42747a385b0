"""Test-time adaptation: the MPC agent fine-tunes its predictor on the episode's own real rows.

A planner trusts its model; where the model is wrong about a place (TwoRoom: a door's edge a
pixel off), the agent pushes where the model says it can pass, does not move, and plans the same
push again, for the rest of the episode. The real rows say what happened. Before each plan,
:class:`EpisodeAdapter` scores the model's prediction error on the latest ``window`` real rows
(the one-step plus open-loop terms of the model's ``prediction_loss``) and, above ``threshold``,
takes ``steps`` Adam steps on that window, on a private copy of the predictor: the agent's model
is never changed, and every episode starts from it.

Only the predictor (``model.dynamics``) adapts, and only for models whose belief does not run
through it (``obs-mlp``, ``keypoint-mlp``: the belief is the encoded observation and the last
action), so beliefs already folded stay valid.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import WorldModel
from forethought.models.obs_mlp import GatedMLPWorldModel


def require_gated_mlp(model: WorldModel, what: str, why: str) -> GatedMLPWorldModel:
    """``model`` if it is an ``obs-mlp`` or ``keypoint-mlp`` model, else a one-line error saying
    that ``what`` needs one (``why``: what such a model has)."""
    if not isinstance(model, GatedMLPWorldModel):
        raise ForethoughtError(
            f"{what} needs an obs-mlp or keypoint-mlp model, {why}; got {type(model).__name__}"
        )
    return model


@dataclass(frozen=True)
class AdaptConfig:
    """When and how much the agent adapts its predictor within an episode.

    Attributes:
        steps: Adam steps per adaptation (0: never adapt).
        lr: their learning rate.
        window: the latest real rows (observations and the actions into them) trained on.
        threshold: adapt when the window's one-step plus open-loop error, in the model's loss
            units, is above this. On TwoRoom (``obs-mlp``: mean squared standardized error,
            about 3e-4 on validation windows) 1e-2 adapts in 15-21% of the episodes and plans
            best; 1e-3 adapts in 64-75% of them and also unlearns what was right
            (docs/benchmarks.md, "Learning from the episode").
    """

    steps: int = 20
    lr: float = 3e-4
    window: int = 12
    threshold: float = 1e-2

    def __post_init__(self) -> None:
        if self.steps < 0 or self.window < 3:
            raise ForethoughtError(
                f"AdaptConfig: steps must be >= 0 and window >= 3, got {self.steps}, {self.window}"
            )
        if not (self.lr > 0 and self.threshold >= 0):
            raise ForethoughtError(
                f"AdaptConfig: lr must be > 0 and threshold >= 0, got {self.lr}, {self.threshold}"
            )


class EpisodeAdapter:
    """The episode's real rows, and the predictor copy fine-tuned on them when they surprise it.

    Rows are kept as latents (the belief's ``z`` right after each observation: the encoder never
    adapts), so an adaptation step costs predictor passes only, even for pixel models.

    Attributes:
        model: the model to plan with: the agent's own until the first adaptation of an episode,
            then a private copy.
        adaptations: adaptations made in this episode.
    """

    def __init__(self, base: WorldModel, config: AdaptConfig) -> None:
        gated = require_gated_mlp(
            base, "test-time adaptation (--adapt-steps)", "whose belief does not run through the "
            "predictor"
        )  # fmt: skip
        self.base, self.config = gated, config
        self.model: GatedMLPWorldModel = gated
        self.adaptations = 0
        self._rows: list[tuple[Tensor, Tensor, bool]] = []

    def reset(self) -> None:
        """A new episode: plan with the agent's own model again, forget the rows."""
        self.model, self.adaptations, self._rows = self.base, 0, []

    def record(self, z: Tensor, action: Tensor, first: bool) -> None:
        """One real row: its (1, D) latent and the (1, ...) action that led to it."""
        self._rows.append((z.detach(), action.detach(), first))
        del self._rows[: -self.config.window]

    def _loss(self) -> tuple[Tensor, dict[str, Tensor]]:
        """``prediction_loss`` on the window: (1, T, D) latents, (1, T, ...) actions."""
        z = torch.cat([r[0] for r in self._rows])[None]  # (1, T, D)
        action = torch.cat([r[1] for r in self._rows])[None]  # (1, T, A) or (1, T)
        is_first = torch.tensor([[r[2] for r in self._rows]], device=z.device)  # (1, T)
        return self.model.prediction_loss(z, action, is_first)

    def surprise(self) -> float | None:
        """The window's one-step + open-loop error under the current model (None: too short)."""
        if len(self._rows) < 3:
            return None
        with torch.no_grad():
            _, terms = self._loss()
        return float(terms["pred_one_step"] + terms["pred_open_loop"])

    def maybe_adapt(self) -> bool:
        """Fine-tune the predictor on the window if its error is above the threshold."""
        cfg = self.config
        error = self.surprise()
        if cfg.steps == 0 or error is None or error <= cfg.threshold:
            return False
        if self.model is self.base:  # first adaptation of the episode: a private copy
            self.model = copy.deepcopy(self.base)
        params = [q.requires_grad_(True) for q in self.model.dynamics.parameters()]
        optimizer = torch.optim.Adam(params, lr=cfg.lr)
        with torch.enable_grad():  # eval mode: no action-map refits on one window
            for _ in range(cfg.steps):
                loss, _ = self._loss()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        for p in params:
            p.grad = None
        self.adaptations += 1
        return True
