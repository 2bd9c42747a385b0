"""Numbers for reports: success rates with intervals, latent spread, k-step error curves,
baselines, normalized latent error and uncertainty calibration.

Everything here is a pure function of tensors (no models, no files). Shapes use B windows,
K prediction steps, S grounded-state dims, D latent dims, A action dims, N samples.
Results are frozen dataclasses with a ``to_dict()`` for ``metrics.json``; no result holds NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError


def _fail(msg: str) -> NoReturn:
    raise ForethoughtError(msg)


def _floats(x: Tensor, digits: int | None) -> list[float]:
    vals = [float(v) for v in x.tolist()]
    return [round(v, digits) for v in vals] if digits is not None else vals


# ---------------------------------------------------------------------------- success rates


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% for the default ``z``).

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or n successes.

    Args:
        successes: number of successes, 0 <= successes <= n.
        n: number of trials, at least 1.
        z: the standard normal quantile of the confidence level.

    Returns:
        (low, high), both in [0, 1].
    """
    if n < 1:
        _fail(f"a success rate needs at least one trial, got n={n}")
    if not 0 <= successes <= n:
        _fail(f"successes must be between 0 and n={n}, got {successes}")
    if not z > 0:
        _fail(f"z must be positive, got {z}")
    p = successes / n
    z2n = z * z / n
    center = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    return max(0.0, center - half), min(1.0, center + half)


@dataclass(frozen=True)
class SuccessRate:
    """A success rate with its Wilson interval. Build it with :meth:`from_counts`."""

    successes: int
    n: int
    rate: float
    low: float
    high: float

    @classmethod
    def from_counts(cls, successes: int, n: int, z: float = 1.96) -> SuccessRate:
        """``successes`` out of ``n`` trials, with the interval at quantile ``z``."""
        low, high = wilson_interval(successes, n, z)
        return cls(int(successes), int(n), successes / n, low, high)

    @classmethod
    def from_outcomes(cls, outcomes: Tensor, z: float = 1.96) -> SuccessRate:
        """From (N,) bool / 0-1 outcomes, one per episode."""
        flat = outcomes.reshape(-1)
        return cls.from_counts(int(flat.bool().sum()), int(flat.numel()), z)

    def to_dict(self) -> dict[str, Any]:
        return {
            "successes": self.successes,
            "n": self.n,
            "rate": self.rate,
            "low": self.low,
            "high": self.high,
        }


# ---------------------------------------------------------------------------- latent spread


def _centered_singular_values(latents: Tensor) -> Tensor:
    if latents.dim() != 2 or latents.shape[0] < 2:
        _fail(f"latents must be (N, D) with N >= 2, got {tuple(latents.shape)}")
    z = latents.detach().double()
    if not torch.isfinite(z).all():
        _fail("latents hold NaN or inf")
    return torch.linalg.svdvals(z - z.mean(0))  # (min(N, D),)


def effective_rank(latents: Tensor) -> float:
    """Roy & Vetterli's effective rank of centered latents: exp of the entropy of the
    singular values normalized to sum to one.

    Equals r for r equal nonzero singular values; near 1 for collapsed latents; 0.0 for
    constant latents.

    Args:
        latents: (N, D), N >= 2.
    """
    s = _centered_singular_values(latents)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def pca_components(latents: Tensor, variance: float = 0.99) -> int:
    """The fewest principal components that explain ``variance`` of the total variance.

    Args:
        latents: (N, D), N >= 2.
        variance: the fraction to explain, in (0, 1].

    Returns:
        An int in [1, min(N, D)]; 0 for constant latents.
    """
    if not 0 < variance <= 1:
        _fail(f"variance must be in (0, 1], got {variance}")
    var = _centered_singular_values(latents) ** 2
    total = var.sum()
    if total <= 0:
        return 0
    explained = var.cumsum(0) / total
    need = int((explained < variance * (1 - 1e-9)).sum()) + 1
    return min(need, int(var.numel()))


# ---------------------------------------------------------------------------- k-step curves


def _valid_mask(mask: Tensor | None, b: int, k: int) -> Tensor:
    """(B, K) bool from None, (B,) or (B, K) masks (True = the row counts)."""
    if mask is None:
        return torch.ones(b, k, dtype=torch.bool)
    if mask.dtype != torch.bool:
        _fail(f"mask must be bool (True = valid row), got {mask.dtype}")
    if mask.shape == (b,):
        return mask[:, None].expand(b, k).cpu()
    if mask.shape != (b, k):
        _fail(f"mask must be (B,) or (B, K) = ({b},) or ({b}, {k}), got {tuple(mask.shape)}")
    return mask.cpu()


@dataclass(frozen=True)
class KStepCurve:
    """A per-step statistic of open-loop predictions, k = 1..K (index 0 is one step ahead).

    Steps with no valid sample report 0.0 with ``count`` 0.
    """

    mean: Tensor  # (K,) float64
    std: Tensor  # (K,) float64, sample std (0 where count < 2)
    sem: Tensor  # (K,) float64, std / sqrt(count)
    count: Tensor  # (K,) int64, valid samples per step

    @classmethod
    def from_samples(
        cls, values: Tensor, mask: Tensor | None = None, what: str = "values"
    ) -> KStepCurve:
        """Summarize (B, K) per-sample values over the batch, ignoring rows where ``mask`` is
        False ((B,) or (B, K) bool)."""
        if values.dim() != 2:
            _fail(f"{what} must be (B, K), got {tuple(values.shape)}")
        v = values.detach().double().cpu()
        valid = _valid_mask(mask, *v.shape)
        bad = int((valid & ~torch.isfinite(v)).sum())
        if bad:
            _fail(f"{what} hold NaN or inf in {bad} valid rows (diverged rollout?)")
        count = valid.sum(0)  # (K,)
        mean = torch.where(valid, v, 0.0).sum(0) / count.clamp_min(1)
        dev = torch.where(valid, v - mean, 0.0)
        std = ((dev**2).sum(0) / (count - 1).clamp_min(1)).sqrt()
        return cls(mean=mean, std=std, sem=std / count.clamp_min(1).sqrt(), count=count)

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[0])

    def to_dict(self, digits: int | None = None) -> dict[str, list[float] | list[int]]:
        return {
            "mean": _floats(self.mean, digits),
            "std": _floats(self.std, digits),
            "sem": _floats(self.sem, digits),
            "count": [int(c) for c in self.count.tolist()],
        }


def _check_pair(pred: Tensor, truth: Tensor, names: str, dims: str) -> None:
    if pred.dim() != 3 or pred.shape != truth.shape:
        _fail(
            f"{names} must both be {dims} of the same shape, got "
            f"{tuple(pred.shape)} and {tuple(truth.shape)}"
        )


def kstep_errors(pred: Tensor, truth: Tensor, mask: Tensor | None = None) -> KStepCurve:
    """Mean L2 error per prediction step.

    Args:
        pred: (B, K, S) predicted states.
        truth: (B, K, S) true states.
        mask: (B,) or (B, K) bool, True where a row counts (default: all).
    """
    _check_pair(pred, truth, "pred and truth", "(B, K, S)")
    err = (pred.detach().double() - truth.detach().double()).norm(dim=-1)  # (B, K)
    return KStepCurve.from_samples(err, mask, what="prediction errors")


def normalized_latent_error(
    pred_latents: Tensor,
    target_latents: Tensor,
    mask: Tensor | None = None,
    total_variance: float | None = None,
) -> KStepCurve:
    """Per-step squared latent error divided by the targets' total variance.

    ``||pred - target||^2 / sum_d Var(target_d)``: 0 is perfect, 1.0 is as bad as always
    predicting the mean target latent. Comparable across models with differently scaled latents.

    Args:
        pred_latents: (B, K, D) imagined latents.
        target_latents: (B, K, D) latents of the real observations (``model.encode_goal``).
        mask: (B,) or (B, K) bool, True where a row counts.
        total_variance: the normalizer; default: the variance of the valid target rows.
    """
    _check_pair(pred_latents, target_latents, "pred_latents and target_latents", "(B, K, D)")
    pred, target = pred_latents.detach().double().cpu(), target_latents.detach().double().cpu()
    valid = _valid_mask(mask, *pred.shape[:2])
    if total_variance is None:
        rows = target[valid]  # (N, D)
        if rows.shape[0] < 2:
            _fail("normalized_latent_error needs at least two valid target rows")
        total_variance = float(rows.var(0, unbiased=False).sum())
    if not total_variance > 0 or not math.isfinite(total_variance):
        _fail(
            f"target latents have total variance {total_variance}; cannot normalize "
            "(collapsed encoder?)"
        )
    sq = ((pred - target) ** 2).sum(-1) / total_variance  # (B, K)
    return KStepCurve.from_samples(sq, valid, what="latent errors")


# ---------------------------------------------------------------------------- baselines


def copy_last_baseline(
    first_state: Tensor, truth: Tensor, mask: Tensor | None = None
) -> KStepCurve:
    """The error curve of predicting that nothing moves: every step equals ``first_state``.

    Args:
        first_state: (B, S) the last observed state.
        truth: (B, K, S) the states that followed.
        mask: (B,) or (B, K) bool, True where a row counts.
    """
    if first_state.dim() != 2 or truth.dim() != 3 or first_state.shape[0] != truth.shape[0]:
        _fail(
            f"first_state must be (B, S) and truth (B, K, S), got {tuple(first_state.shape)} "
            f"and {tuple(truth.shape)}"
        )
    return kstep_errors(first_state[:, None].expand_as(truth), truth, mask)


@dataclass(frozen=True)
class LinearDynamicsBaseline:
    """``state_{t+1} = state_t @ state_weight + action_{t+1} @ action_weight + bias``.

    A least-squares reference model in grounded units: a learned world model should beat it.
    Build it with :meth:`fit` (transitions) or :meth:`fit_windows` (windows). Discrete actions
    must be one-hot encoded first.
    """

    state_weight: Tensor  # (S, S) float64
    action_weight: Tensor  # (A, S) float64
    bias: Tensor  # (S,) float64

    @classmethod
    def fit(
        cls, states: Tensor, actions: Tensor, next_states: Tensor, ridge: float = 1e-6
    ) -> LinearDynamicsBaseline:
        """Ridge regression (bias not penalized) on transitions, solved in float64.

        Args:
            states: (N, S) state_t.
            actions: (N, A) float action_{t+1}, the action that led from state_t to state_{t+1}.
            next_states: (N, S) state_{t+1}.
            ridge: penalty relative to the mean diagonal of the centered Gram matrix.
        """
        if states.dim() != 2 or next_states.shape != states.shape:
            _fail(
                f"states and next_states must both be (N, S), got {tuple(states.shape)} "
                f"and {tuple(next_states.shape)}"
            )
        if actions.dim() != 2 or actions.shape[0] != states.shape[0]:
            _fail(f"actions must be (N, A) float (one-hot if discrete), got {tuple(actions.shape)}")
        if not actions.is_floating_point():
            _fail("actions must be float; one-hot encode discrete actions first")
        if states.shape[0] < 1:
            _fail("LinearDynamicsBaseline.fit needs at least one transition")
        x = torch.cat([states, actions], dim=1).detach().double().cpu()  # (N, S + A)
        y = next_states.detach().double().cpu()  # (N, S)
        if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
            _fail("transitions hold NaN or inf")
        xm, ym = x.mean(0), y.mean(0)
        xc, yc = x - xm, y - ym
        gram = xc.T @ xc
        lam = ridge * gram.diagonal().mean().clamp_min(1e-12)
        w = torch.linalg.solve(gram + lam * torch.eye(x.shape[1], dtype=x.dtype), xc.T @ yc)
        s = states.shape[1]
        return cls(state_weight=w[:s], action_weight=w[s:], bias=ym - xm @ w)

    @classmethod
    def fit_windows(
        cls,
        states: Tensor,
        actions: Tensor,
        is_first: Tensor | None = None,
        ridge: float = 1e-6,
    ) -> LinearDynamicsBaseline:
        """Fit on every consecutive pair of rows of (B, T, S) states and (B, T, A) actions.

        Pairs whose second row has ``is_first`` (B, T) set cross an episode boundary and are
        skipped.
        """
        if states.dim() != 3 or actions.dim() != 3 or actions.shape[:2] != states.shape[:2]:
            _fail(
                f"states must be (B, T, S) and actions (B, T, A), got {tuple(states.shape)} "
                f"and {tuple(actions.shape)}"
            )
        keep = torch.ones(states.shape[0], states.shape[1] - 1, dtype=torch.bool)
        if is_first is not None:
            keep = ~is_first[:, 1:].bool().cpu()
        return cls.fit(states[:, :-1][keep], actions[:, 1:][keep], states[:, 1:][keep], ridge=ridge)

    def step(self, state: Tensor, action: Tensor) -> Tensor:
        """One step: (B, S), (B, A) -> (B, S) in float64."""
        return state.double() @ self.state_weight + action.double() @ self.action_weight + self.bias

    def rollout(self, first_state: Tensor, actions: Tensor) -> Tensor:
        """Open-loop predictions from ``first_state`` (B, S) under ``actions`` (B, K, A).

        Returns:
            (B, K, S) in ``first_state``'s float dtype: out[:, k] follows actions[:, : k + 1].
        """
        s, a = self.state_weight.shape[0], self.action_weight.shape[0]
        if first_state.dim() != 2 or first_state.shape[1] != s:
            _fail(f"first_state must be (B, {s}), got {tuple(first_state.shape)}")
        if actions.dim() != 3 or actions.shape[0] != first_state.shape[0] or actions.shape[2] != a:
            _fail(f"actions must be (B, K, {a}), got {tuple(actions.shape)}")
        state, out = first_state.detach().cpu(), []
        for k in range(actions.shape[1]):
            state = self.step(state, actions[:, k].detach().cpu())
            out.append(state)
        dtype = first_state.dtype if first_state.is_floating_point() else torch.float32
        if not out:
            return first_state.new_zeros(first_state.shape[0], 0, s, dtype=dtype)
        return torch.stack(out, dim=1).to(dtype)


# ---------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Correlation:
    """How well disagreement ranks errors: Pearson (linear) and Spearman (rank) coefficients."""

    pearson: float
    spearman: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"pearson": self.pearson, "spearman": self.spearman, "n": self.n}


def _pair_1d(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    if x.dim() != 1 or x.shape != y.shape:
        _fail(
            f"disagreement and error must both be (N,), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    x, y = x.detach().double().cpu(), y.detach().double().cpu()
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        _fail("disagreement and error must be finite")
    return x, y


def _pearson(x: Tensor, y: Tensor) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    denom = ((xc**2).sum() * (yc**2).sum()).sqrt()
    return float((xc * yc).sum() / denom) if denom > 0 else 0.0


def average_ranks(x: Tensor) -> Tensor:
    """Ranks 1..N of (N,) values, ties given the mean of their ranks. (N,) float64."""
    values, inverse, counts = torch.unique(x, sorted=True, return_inverse=True, return_counts=True)
    before = counts.cumsum(0) - counts  # values strictly smaller than each unique value
    return (before.double() + (counts.double() + 1) / 2)[inverse]


def disagreement_error_correlation(disagreement: Tensor, error: Tensor) -> Correlation:
    """Pearson and Spearman correlation between per-sample disagreement and error.

    A calibrated uncertainty gives a high positive Spearman coefficient. A coefficient is 0.0
    when either input is constant (undefined correlation).

    Args:
        disagreement: (N,) the model's uncertainty per prediction.
        error: (N,) the prediction's actual error.
    """
    x, y = _pair_1d(disagreement, error)
    if x.numel() < 2:
        _fail(f"a correlation needs at least two samples, got {x.numel()}")
    return Correlation(_pearson(x, y), _pearson(average_ranks(x), average_ranks(y)), x.numel())


@dataclass(frozen=True)
class ReliabilityCurve:
    """Mean error per disagreement bin; bins follow disagreement quantiles, empty bins dropped."""

    mean_disagreement: Tensor  # (M,) float64, M <= bins, increasing
    mean_error: Tensor  # (M,) float64
    count: Tensor  # (M,) int64

    def to_dict(self, digits: int | None = None) -> dict[str, list[float] | list[int]]:
        return {
            "mean_disagreement": _floats(self.mean_disagreement, digits),
            "mean_error": _floats(self.mean_error, digits),
            "count": [int(c) for c in self.count.tolist()],
        }


def reliability_curve(disagreement: Tensor, error: Tensor, bins: int = 10) -> ReliabilityCurve:
    """Bin samples by disagreement quantiles and average both quantities per bin.

    Bin edges are the 1/bins, ..., (bins-1)/bins quantiles of ``disagreement``; a sample goes to
    the first bin whose upper edge exceeds it, so tied values share a bin.

    Args:
        disagreement: (N,) uncertainty per sample, N >= 1.
        error: (N,) error per sample.
        bins: number of quantile bins.
    """
    x, y = _pair_1d(disagreement, error)
    if bins < 1:
        _fail(f"bins must be at least 1, got {bins}")
    if x.numel() < 1:
        _fail("reliability_curve needs at least one sample")
    inner = torch.quantile(x, torch.linspace(0, 1, bins + 1, dtype=x.dtype)[1:-1])  # (bins - 1,)
    which = torch.searchsorted(inner, x, right=True)  # (N,) in [0, bins)
    count = torch.bincount(which, minlength=bins)
    keep = count > 0
    n = count.clamp_min(1).double()
    mean_x = torch.bincount(which, weights=x, minlength=bins) / n
    mean_y = torch.bincount(which, weights=y, minlength=bins) / n
    return ReliabilityCurve(mean_x[keep], mean_y[keep], count[keep])
