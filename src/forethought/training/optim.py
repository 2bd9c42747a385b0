"""AdamW with decay on matrices only, the warmup + cosine schedule, and an EMA of the weights."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from forethought.training.config import TrainConfig

Origin = tuple[int, float]  # (optimizer step, elapsed seconds) where a schedule starts


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; weight decay on matrices (dim >= 2) only.

    Biases, norm gains and other vectors are not decayed (as in nanoGPT). Parameter order follows
    ``model.parameters()``, so a saved optimizer state maps back onto the same model.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=cfg.betas)


def lr_at(
    cfg: TrainConfig, step: int, elapsed_s: float = 0.0, origin: Origin | None = None
) -> float:
    """The learning rate for optimizer step ``step`` (0-based).

    Linear warmup ``lr * (step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then a
    cosine from ``lr`` to ``lr * min_lr_ratio``. The cosine's progress is the fraction of the steps
    after warmup taken, or with a time budget the fraction of ``time_budget_s`` spent.

    A phase that starts with a fresh optimizer at (step, elapsed seconds) ``origin`` (the
    frozen-encoder phase) gets its own warmup and a cosine over the rest of the budget, from
    ``latent_lr`` when set.
    """
    step0, t0 = origin or (0, 0.0)
    step -= step0
    peak = cfg.latent_lr if origin is not None and cfg.latent_lr is not None else cfg.lr
    if step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    if cfg.steps is not None:
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - step0 - cfg.warmup_steps)
    else:
        progress = (elapsed_s - t0) / max(1e-9, float(cfg.time_budget_s) - t0)
    progress = min(max(progress, 0.0), 1.0)
    floor = peak * cfg.min_lr_ratio
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class EmaWeights:
    """A shadow copy of a model whose weights follow ``shadow = decay * shadow + (1 - decay) * w``.

    Buffers (e.g. normalization statistics) are copied, not averaged. ``module`` is a full model,
    ready for validation or evaluation.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the shadow."""
        for shadow, w in zip(self.module.parameters(), model.parameters(), strict=True):
            shadow.mul_(self.decay).add_(w.detach(), alpha=1.0 - self.decay)
        for shadow, b in zip(self.module.buffers(), model.buffers(), strict=True):
            shadow.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)
