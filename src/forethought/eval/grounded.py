"""Grounded open-loop evaluation: how far imagined futures drift from the real ones, in the
world's units.

A probe (latent -> true state, fit on frozen latents with :func:`fit_state_probe`) reads each
imagined latent as a state, so the k-step error is a distance in the env's coordinates, next to
the copy-last baseline on the same windows. The latent error (normalized by the target latents'
variance) and, for ensembles, the disagreement per prediction come along for calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowBatch, WindowSampler
from forethought.eval.metrics import (
    Correlation,
    KStepCurve,
    copy_last_baseline,
    disagreement_error_correlation,
    kstep_errors,
    normalized_latent_error,
)
from forethought.models.base import Obs, WorldModel
from forethought.models.heads import fit_probe

Probe = Callable[[Tensor], Tensor]  # latents (..., D) -> states (..., S)


@dataclass(frozen=True)
class GroundedResult:
    """Open-loop errors of B windows: ``context`` observed rows, then K imagined ones."""

    context: int
    error: KStepCurve  # L2 distance of probe(imagined latent) to the true state, per k
    copy_last: KStepCurve  # L2 distance of the last observed state to the true state, per k
    encoder_error: KStepCurve  # probe(latent of the real observation) vs truth: the probe's floor
    latent: KStepCurve  # normalized latent error (0 perfect, 1 = predicting the mean latent)
    sample_errors: Tensor  # (B, K) float64 grounded error of each prediction
    disagreement: Tensor | None  # (B, K) float64 the model's uncertainty per prediction, or None

    @property
    def horizon(self) -> int:
        return self.error.horizon

    def calibration(self) -> Correlation | None:
        """Correlation of disagreement with grounded error over all predictions (None without
        disagreement)."""
        if self.disagreement is None:
            return None
        return disagreement_error_correlation(
            self.disagreement.reshape(-1), self.sample_errors.reshape(-1)
        )

    def to_dict(self, digits: int | None = 4) -> dict[str, Any]:
        """The curves and the calibration as JSON-ready values."""
        cal = self.calibration()
        return {
            "context": self.context,
            "horizon": self.horizon,
            "windows": int(self.sample_errors.shape[0]),
            "kstep_error": self.error.to_dict(digits),
            "copy_last": self.copy_last.to_dict(digits),
            "encoder_error": self.encoder_error.to_dict(digits),
            "normalized_latent_error": self.latent.to_dict(digits),
            "calibration": cal.to_dict() if cal is not None else None,
        }


def _device(module: Any) -> torch.device | None:
    if isinstance(module, nn.Module):
        for t in (*module.parameters(), *module.buffers()):
            return t.device
    return None


@contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """No grad, and ``model.eval()`` for modules (their training flag restored after)."""
    was = model.training if isinstance(model, nn.Module) else None
    if was is not None:
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was is not None:
            model.train(was)


def _states(obs: Obs, state_key: str, dims: Sequence[int] | None) -> Tensor:
    """The grounded state dims of ``obs[state_key]`` (..., S_all) as float32 (..., S)."""
    if state_key not in obs:
        raise ForethoughtError(
            f"state key '{state_key}' missing from the observations; they have {sorted(obs)}"
        )
    state = obs[state_key]
    if state.dim() < 1 or state.dtype == torch.uint8:
        raise ForethoughtError(f"obs '{state_key}' is not a state vector: {tuple(state.shape)}")
    if dims is None:
        return state.float()
    n = state.shape[-1]
    if not dims or any(not -n <= d < n for d in dims):
        raise ForethoughtError(f"state dims {tuple(dims)} out of range for '{state_key}' ({n},)")
    return state[..., list(dims)].float()


def _apply_probe(probe: Probe, latents: Tensor) -> Tensor:
    dev = _device(probe)
    with _eval_mode(probe):
        return probe(latents.to(dev) if dev is not None else latents).float().cpu()


def encode_rows(model: WorldModel, obs: Obs, chunk: int = 4096) -> Tensor:
    """Latents of (N, ...) observations with ``model.encode_goal``, in chunks, no grad, eval
    mode. (N, D) on the CPU."""
    n = int(next(iter(obs.values())).shape[0])
    dev = _device(model)
    parts = []
    with _eval_mode(model):
        for i in range(0, n, chunk):
            part = {k: v[i : i + chunk] for k, v in obs.items()}
            if dev is not None:
                part = {k: v.to(dev) for k, v in part.items()}
            parts.append(model.encode_goal(part).float().cpu())
    return torch.cat(parts) if parts else torch.zeros(0, model.latent_dim)


def open_loop_errors(
    model: WorldModel,
    windows: WindowBatch,
    probe: Probe,
    context: int,
    state_key: str = "state",
    dims: Sequence[int] | None = (0, 1),
) -> GroundedResult:
    """Observe the first ``context`` rows of each window, imagine the rest from the actions.

    Row t of a window is folded in with ``model.observe(belief, obs_t, action_t, is_first)``
    (``is_first`` True for row 0); then ``model.imagine(belief, action[:, context:])`` predicts
    the K = T - context remaining rows, and ``probe`` reads each imagined latent as a state.

    Args:
        model: any :class:`~forethought.models.WorldModel` (run in eval mode, no grad).
        windows: B windows of T rows (``WindowSampler(...).sample()``), holding ``state_key``.
        probe: latents (..., D) -> states (..., S), e.g. from :func:`fit_state_probe`.
        context: rows observed before imagining, 1 <= context < T.
        state_key: the observation key holding the true state.
        dims: the state dims the probe predicts (None: all).

    Returns:
        Grounded, copy-last, encoder-floor and normalized latent error curves over k = 1..K,
        with per-prediction errors and disagreement for calibration.
    """
    b, t = windows.batch_size, windows.window
    if not 1 <= context < t:
        raise ForethoughtError(f"context must be in [1, {t - 1}] for windows of {t} rows")
    state = _states(windows.obs, state_key, dims)  # (B, T, S)
    truth, k = state[:, context:], t - context
    dev = _device(model)
    data = windows.to(dev) if dev is not None else windows
    with _eval_mode(model):
        belief = model.initial(b)
        for i in range(context):
            first = data.is_first[:, i] | (i == 0)
            obs_i = {key: v[:, i] for key, v in data.obs.items()}
            belief = model.observe(belief, obs_i, data.action[:, i], first)
        rollout = model.imagine(belief, data.action[:, context:])
    latents = rollout.latents.float().cpu()  # (B, K, D)
    if latents.dim() != 3 or latents.shape[:2] != (b, k):
        raise ForethoughtError(
            f"model.imagine returned latents {tuple(latents.shape)}, expected ({b}, {k}, D)"
        )
    pred = _apply_probe(probe, latents)  # (B, K, S)
    if pred.shape != truth.shape:
        raise ForethoughtError(
            f"probe maps latents to {tuple(pred.shape[2:])} but the state dims are "
            f"{tuple(truth.shape[2:])}; fit it on the same state_key and dims"
        )
    real = encode_rows(model, {key: v[:, context:].flatten(0, 1) for key, v in windows.obs.items()})
    real = real.reshape(b, k, -1)  # (B, K, D)
    sample_errors = (pred.double() - truth.double()).norm(dim=-1)  # (B, K)
    disagreement = rollout.disagreement
    if disagreement is not None:
        disagreement = disagreement.detach().double().cpu().reshape(b, k)
    return GroundedResult(
        context=context,
        error=KStepCurve.from_samples(sample_errors, what="grounded errors"),
        copy_last=copy_last_baseline(state[:, context - 1], truth),
        encoder_error=kstep_errors(_apply_probe(probe, real), truth),
        latent=normalized_latent_error(latents, real),
        sample_errors=sample_errors,
        disagreement=disagreement,
    )


def fit_state_probe(
    model: WorldModel,
    data: WindowBatch | Dataset,
    state_key: str = "state",
    dims: Sequence[int] | None = (0, 1),
    kind: str = "mlp",
    rows: int = 16384,
    episodes: np.ndarray | None = None,
    obs_keys: tuple[str, ...] | None = None,
    seed: int = 0,
    **probe_kwargs: Any,
) -> nn.Module:
    """Fit a probe latent -> true state on frozen latents of training rows.

    Args:
        model: the world model whose ``encode_goal`` latents the probe reads (eval, no grad).
        data: a :class:`WindowBatch` (every row of every window is used) or an open
            :class:`Dataset` (``rows`` rows drawn with replacement from ``episodes``).
        state_key: the observation key holding the true state.
        dims: the state dims to predict (None: all).
        kind: ``"mlp"`` or ``"linear"`` (see :func:`forethought.models.fit_probe`).
        rows: rows to draw from a dataset.
        episodes: the dataset episodes to draw from (the training split; default: all).
        obs_keys: the dataset keys to load (default: all); must include the model's keys and
            ``state_key``.
        seed: seeds the row draw and the probe's fit.
        **probe_kwargs: passed to ``fit_probe`` (e.g. ``steps``, ``width``).

    Returns:
        The probe, a module mapping latents (..., D) to states (..., S).
    """
    if kind not in ("mlp", "linear"):
        raise ForethoughtError(f"probe kind must be 'mlp' or 'linear', got {kind!r}")
    if isinstance(data, Dataset):
        if rows < 1:
            raise ForethoughtError(f"rows must be positive, got {rows}")
        data = WindowSampler(
            data, 1, rows, obs_keys=obs_keys, episodes=episodes, seed=seed
        ).sample()
    obs = {key: v.flatten(0, 1) for key, v in data.obs.items()}  # (N, ...)
    targets = _states(obs, state_key, dims)  # (N, S)
    latents = encode_rows(model, obs)  # (N, D)
    if kind == "mlp":
        probe_kwargs.setdefault("seed", seed)
    return fit_probe(latents, targets, kind=kind, **probe_kwargs)
