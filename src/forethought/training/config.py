"""The training configuration: one frozen dataclass that validates itself."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

from forethought.core.errors import ForethoughtError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration like ``"90s"``, ``"10m"``, ``"1.5h"`` (a bare number is seconds).

    Raises:
        ForethoughtError: the text is not a positive duration.
    """
    m = _DURATION.match(str(text))
    seconds = float(m.group(1)) * _UNIT_SECONDS[(m.group(2) or "s").lower()] if m else 0.0
    if not m or seconds <= 0:
        raise ForethoughtError(
            f"cannot read the duration {text!r}; write a positive number with a unit: 90s, 10m, 1h"
        )
    return seconds


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, budget, validation, checkpoints and logging.

    Exactly one of ``steps`` and ``time_budget_s`` sets the budget. The learning rate warms up
    linearly for ``warmup_steps`` and then follows a cosine down to ``lr * min_lr_ratio`` at the end
    of the budget (in time-budget runs the cosine follows the fraction of the budget spent). With
    ``encoder_share`` the frozen-encoder phase (``latent_phase.py``) starts after that share of
    the budget, with a fresh optimizer and its own warmup and cosine over the rest.
    """

    lr: float = 1e-3  # peak AdamW learning rate
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW moment decay rates
    warmup_steps: int = 100  # linear warmup from lr / warmup_steps to lr
    min_lr_ratio: float = 0.1  # cosine floor as a fraction of lr
    grad_clip: float | None = 1.0  # max global gradient norm (None: no clipping)
    ema_decay: float | None = None  # decay of an EMA of the weights used for validation (None: off)
    batch_size: int = 32  # B, windows per step
    window: int = 16  # T, rows per window
    steps: int | None = None  # optimizer steps to train (or use time_budget_s)
    time_budget_s: float | None = None  # wall-clock seconds to train (or use steps)
    val_fraction: float = 0.1  # fraction of episodes held out for validation (0: none)
    val_every: int = 500  # validate every N steps (and at the end)
    val_batches: int = 8  # batches per validation, the same ones every time
    ckpt_every: int | None = 1000  # checkpoint every N steps (None: off)
    ckpt_every_s: float | None = 600.0  # ... and every N seconds (None: off)
    keep_checkpoints: int = 3  # checkpoints kept on disk (the newest K)
    log_every: int = 50  # write metrics every N steps
    seed: int = 0  # seeds weights, sampling, the split and every RNG
    encoder_share: float | None = None  # share of the budget trained end to end, then the
    # encoder is frozen and the predictor trains on cached latents (None: end to end throughout)
    latent_batch_size: int = 512  # windows per step once the encoder is frozen
    latent_window: int | None = None  # rows per window once the encoder is frozen (None: window)
    latent_lr: float | None = None  # peak learning rate once the encoder is frozen (None: lr)

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if (self.steps is None) == (self.time_budget_s is None):
            _fail("give exactly one budget: steps (--steps N) or time_budget_s (--time-budget 10m)")
        _positive(self.lr, "lr", "--lr, e.g. 1e-3")
        if not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            _fail(f"weight_decay must be >= 0 (got {self.weight_decay}); try 0.01")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            _fail(f"betas must be two numbers in [0, 1) (got {self.betas}); try (0.9, 0.999)")
        _at_least(self.warmup_steps, 0, "warmup_steps")
        if not 0 <= self.min_lr_ratio <= 1:
            _fail(f"min_lr_ratio must be in [0, 1] (got {self.min_lr_ratio}); try 0.1")
        if self.grad_clip is not None:
            _positive(self.grad_clip, "grad_clip", "--grad-clip 1.0, or None for no clipping")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            _fail(f"ema_decay must be in (0, 1) (got {self.ema_decay}); try 0.999, or None for off")
        _at_least(self.batch_size, 1, "batch_size")
        _at_least(self.window, 1, "window")
        if self.steps is not None:
            _at_least(self.steps, 1, "steps")
        if self.time_budget_s is not None:
            _positive(self.time_budget_s, "time_budget_s", "--time-budget 10m")
        if not 0 <= self.val_fraction < 1:
            _fail(
                f"val_fraction must be in [0, 1) (got {self.val_fraction}); try 0.1, or 0 for none"
            )
        _at_least(self.val_every, 1, "val_every")
        _at_least(self.val_batches, 1, "val_batches")
        if self.ckpt_every is not None:
            _at_least(self.ckpt_every, 1, "ckpt_every")
        if self.ckpt_every_s is not None:
            _positive(self.ckpt_every_s, "ckpt_every_s", "600, or None for off")
        _at_least(self.keep_checkpoints, 1, "keep_checkpoints")
        _at_least(self.log_every, 1, "log_every")
        if self.encoder_share is not None and not 0 < self.encoder_share < 1:
            _fail(
                f"encoder_share must be in (0, 1) (got {self.encoder_share}); try 0.33, or None "
                "to train end to end throughout"
            )
        if self.encoder_share is not None and self.ema_decay is not None:
            _fail(
                "encoder_share and ema_decay cannot be combined (the EMA's encoder would drift "
                "from the one the latents were cached with); drop one of them"
            )
        _at_least(self.latent_batch_size, 1, "latent_batch_size")
        if self.latent_window is not None:
            _at_least(self.latent_window, 2, "latent_window")
        if self.latent_lr is not None:
            _positive(self.latent_lr, "latent_lr", "--latent-lr, e.g. 1e-3")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict` (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ForethoughtError(f"unknown training settings {unknown}; known: {sorted(names)}")
        return TrainConfig(**d)


def _fail(msg: str) -> None:
    raise ForethoughtError(f"invalid training config: {msg}")


def _positive(value: float, name: str, hint: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        _fail(f"{name} must be a positive number (got {value!r}); try {hint}")


def _at_least(value: int, low: int, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        _fail(f"{name} must be an integer >= {low} (got {value!r})")
