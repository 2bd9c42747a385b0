"""Improved CEM (registry name ``icem``), after Pinneri et al. 2020 (facts only, no code copied).

Differences from :mod:`~forethought.planning.cem`:

- colored noise: samples have power spectrum ~ 1/f^beta along time (beta 0 = white noise,
  2 = smooth, correlated action sequences), generated with an inverse real FFT;
- a fraction of the elites is kept for the next iteration, and shifted to the next plan call
  (their new tail steps are the warm-start mean's);
- the population shrinks by ``population_decay`` per iteration (never below 2 * elites);
- momentum on the mean and std.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from forethought.models.base import Belief, WorldModel
from forethought.planning.base import Objective, PlanCarry, PlanResult
from forethought.planning.common import (
    Best,
    BoxPlannerConfig,
    check_belief,
    evaluate,
    finish,
    generator,
    require,
    warm_mean,
)


def colored_noise(
    n: int, horizon: int, dim: int, beta: float, gen: torch.Generator, device: torch.device
) -> Tensor:
    """Unit-variance Gaussian noise whose power spectrum along time goes as 1 / f^beta.

    Timmer & Koenig's method: draw Fourier coefficients with std ~ f^(-beta/2) (the zero
    frequency gets the lowest non-zero frequency's scale), invert the real FFT, and divide by
    the exact std of that output, so every entry has variance 1.

    Returns:
        (n, H, A) noise; white (``torch.randn``) when beta is 0 or H < 2.
    """
    if beta == 0 or horizon < 2:
        return torch.randn((n, horizon, dim), generator=gen, device=device)
    f = torch.fft.rfftfreq(horizon, device=device)  # (F,), F = H // 2 + 1
    f[0] = 1.0 / horizon
    scale = f ** (-beta / 2)  # (F,)
    var = 4 * scale[1:].square()  # (F-1,) each conjugate pair counts twice...
    if horizon % 2 == 0:
        var[-1] /= 2  # ...but the (real, sqrt(2)-scaled) Nyquist term once
    sigma = torch.sqrt(2 * scale[0] ** 2 + var.sum()) / horizon  # std of the raw irfft output
    re = torch.randn((n, dim, f.shape[0]), generator=gen, device=device) * scale  # (n, A, F)
    im = torch.randn((n, dim, f.shape[0]), generator=gen, device=device) * scale
    im[..., 0] = 0.0
    re[..., 0] *= math.sqrt(2)
    if horizon % 2 == 0:  # the Nyquist coefficient is real too
        im[..., -1] = 0.0
        re[..., -1] *= math.sqrt(2)
    y = torch.fft.irfft(torch.complex(re, im), n=horizon) / sigma  # (n, A, H)
    return y.transpose(1, 2).contiguous()  # (n, H, A)


@dataclass(frozen=True)
class ICEMConfig(BoxPlannerConfig):
    """iCEM.

    Attributes:
        elites: K, the lowest-cost candidates the Gaussian is refit to.
        beta: colored-noise exponent (0 white, 2 smooth).
        keep_elites: fraction of the K elites re-evaluated next iteration and next call.
        population_decay: samples at iteration i are ``samples / decay**i`` (>= 2 * elites).
        init_std: initial std as a fraction of the half range ``(high - low) / 2``.
        min_std: std floor, same units.
        momentum: ``new = momentum * old + (1 - momentum) * elite statistics``.
    """

    elites: int = 32
    beta: float = 2.0
    keep_elites: float = 0.3
    population_decay: float = 1.25
    init_std: float = 0.5
    min_std: float = 0.02
    momentum: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(
            2 <= self.elites <= self.samples,
            name,
            f"elites must be in [2, samples={self.samples}], got {self.elites}",
        )
        require(self.beta >= 0, name, f"beta must be >= 0, got {self.beta}")
        require(
            0 <= self.keep_elites <= 1,
            name,
            f"keep_elites must be in [0, 1], got {self.keep_elites}",
        )
        require(self.population_decay >= 1, name, "population_decay must be >= 1")
        require(self.init_std > 0 and self.min_std >= 0, name, "need init_std > 0, min_std >= 0")
        require(0 <= self.momentum < 1, name, f"momentum must be in [0, 1), got {self.momentum}")


class ICEMPlanner:
    """iCEM over (H, A) action sequences; the plan is the lowest-cost sequence evaluated."""

    def __init__(self, config: ICEMConfig) -> None:
        self.config = config

    def plan(
        self,
        model: WorldModel,
        belief: Belief,
        objective: Objective,
        carry: PlanCarry | None = None,
    ) -> PlanResult:
        cfg, start = self.config, time.perf_counter()
        device = check_belief(belief, "icem")
        gen = generator(cfg.seed, carry, device)
        low, high = cfg.bounds(device)  # (A,), (A,)
        half = (high - low) / 2
        h, a = cfg.horizon, cfg.action_dim
        mean = warm_mean(carry, h, low, high)  # (H, A)
        std = (cfg.init_std * half).expand_as(mean).clone()  # (H, A)
        n_keep = math.ceil(cfg.keep_elites * cfg.elites)
        kept = _carried_elites(carry, h, a, n_keep)  # (k, H', A) with H' <= H, or None
        best, samples = Best(), 0
        with torch.no_grad():
            for i in range(cfg.iterations):
                n = max(round(cfg.samples / cfg.population_decay**i), 2 * cfg.elites)
                noise = colored_noise(n, h, a, cfg.beta, gen, device)  # (n, H, A)
                fresh = torch.clamp(mean + std * noise, low, high)
                if kept is not None and kept.shape[1] < h:  # shifted elites: the mean's tail
                    tail = mean[kept.shape[1] :].expand(kept.shape[0], -1, -1)
                    kept = torch.cat([kept, tail], dim=1)
                parts = [mean[None], *([kept] if kept is not None else []), fresh]
                cand = torch.cat(parts, dim=0)  # (1 + k + n, H, A)
                cost = evaluate(model, belief, objective, cand)
                samples += cand.shape[0]
                best.update(cand, cost)
                k = min(cfg.elites, cand.shape[0])
                elite = cand[torch.topk(cost, k, largest=False).indices]  # (K, H, A), best first
                m = cfg.momentum
                mean = m * mean + (1 - m) * elite.mean(0)
                std = torch.maximum(m * std + (1 - m) * elite.std(0), cfg.min_std * half)
                kept = elite[:n_keep] if n_keep else None
        assert best.actions is not None
        return finish(
            best.actions,
            best.cost,
            carry,
            mean,
            cfg.iterations,
            samples,
            start,
            best.history,
            elites=kept,
        )


def _carried_elites(carry: PlanCarry | None, horizon: int, dim: int, n_keep: int) -> Tensor | None:
    """The previous call's elites shifted by the executed steps: (k, H', A), H' <= H, or None."""
    if carry is None or carry.elites is None or n_keep == 0:
        return None
    e = carry.elites
    if e.dim() != 3 or e.shape[2] != dim:
        return None  # carry from another kind of planner: nothing to reuse
    e = e[:n_keep, carry.executed :][:, :horizon]
    return e if e.shape[1] > 0 else None
