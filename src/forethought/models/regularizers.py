"""Anti-collapse terms for joint-embedding training, as pure functions of a batch of latents.

SIGReg (LeJEPA, Balestriero & LeCun 2025; used for world models by LeWM 2026): project the
embeddings on random unit directions and test every 1-D projection against N(0, 1) with the
Epps-Pulley statistic, a weighted L2 distance between the empirical characteristic function and
exp(-t^2 / 2). Facts taken from the public papers and reference code: integration on [0, 3] with
the symmetric half doubled, 17 trapezoid knots, the Gaussian window exp(-t^2 / 2) as weight,
fresh directions each step, statistic scaled by the number of samples N.

VICReg terms as used by PLDM / eb_jepa: a hinge on every dimension's std (margin 1), the mean
squared off-diagonal covariance, and temporal smoothness of consecutive latents.
"""

from __future__ import annotations

import torch
from torch import Tensor

T_MAX = 3.0


def epps_pulley(x: Tensor, knots: int = 17, t_max: float = T_MAX) -> Tensor:
    """Epps-Pulley statistic of each column of ``x`` against N(0, 1), scaled by N.

    For N(0, 1) samples its expectation is about 1.06 whatever N (the integral of
    (1 - exp(-t^2)) exp(-t^2 / 2) over [-3, 3]); it grows like N for any other distribution.

    Args:
        x: (N, S) samples of S univariate distributions.
        knots: odd number of quadrature points on [0, t_max].

    Returns:
        (S,) statistics.
    """
    t = torch.linspace(0.0, t_max, knots, device=x.device, dtype=x.dtype)  # (K,)
    window = torch.exp(-0.5 * t.square())  # N(0, 1) characteristic function, also the weight
    weights = torch.full_like(t, 2.0 * t_max / (knots - 1))  # trapezoid, doubled for t < 0
    weights[0] = weights[-1] = t_max / (knots - 1)
    ecf_re, ecf_im = _EmpiricalCF.apply(x, t)  # (S, K) each
    err = (ecf_re - window).square() + ecf_im.square()  # (S, K)
    return (err @ (weights * window)) * x.shape[0]  # (S,)


class _EmpiricalCF(torch.autograd.Function):
    """mean_n cos(x_n t_k), mean_n sin(x_n t_k) with a backward that reuses the forward's cos and
    sin (autograd would evaluate both again: trigonometry is most of SIGReg's cost on CPU)."""

    @staticmethod
    def forward(ctx, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        xt = x.unsqueeze(-1) * t  # (N, S, K)
        cos, sin = xt.cos(), xt.sin()
        ctx.save_for_backward(cos, sin, t)
        return cos.mean(0), sin.mean(0)

    @staticmethod
    def backward(ctx, g_re: Tensor, g_im: Tensor) -> tuple[Tensor, None]:
        cos, sin, t = ctx.saved_tensors
        n = cos.shape[0]
        # d/dx cos(x t) = -t sin(x t), d/dx sin(x t) = t cos(x t)
        grad = (cos * (g_im * t) - sin * (g_re * t)).sum(-1) / n  # (N, S)
        return grad, None


def random_directions(
    dim: int,
    slices: int,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """``slices`` random unit vectors as columns. (D, S)."""
    a = torch.randn(dim, slices, device=device, generator=generator)
    return a / a.norm(dim=0, keepdim=True)


def sigreg(
    z: Tensor, slices: int = 256, knots: int = 17, generator: torch.Generator | None = None
) -> Tensor:
    """Sketched isotropic Gaussian regularizer: mean Epps-Pulley statistic of random projections.

    Args:
        z: (N, D) embeddings (any leading dims are flattened into N).
        slices: number of random directions (drawn fresh on every call).
        generator: RNG for the directions (default: torch's global RNG).

    Returns:
        Scalar; about 1 when ``z`` is isotropic N(0, I), of order N when it is not.
    """
    z = z.reshape(-1, z.shape[-1])  # (N, D)
    dirs = random_directions(z.shape[-1], slices, z.device, generator).to(z.dtype)
    return epps_pulley(z @ dirs, knots).mean()


def vicreg_variance(z: Tensor, margin: float = 1.0, eps: float = 1e-4) -> Tensor:
    """Mean over dimensions of relu(margin - std). ``z``: (N, D) -> scalar (0 if all std >= 1)."""
    z = z.reshape(-1, z.shape[-1])
    std = torch.sqrt(z.var(dim=0) + eps)  # (D,)
    return torch.relu(margin - std).mean()


def vicreg_covariance(z: Tensor) -> Tensor:
    """Mean squared off-diagonal entry of the covariance matrix. ``z``: (N, D) -> scalar."""
    z = z.reshape(-1, z.shape[-1])
    n, d = z.shape
    zc = z - z.mean(dim=0, keepdim=True)
    cov = (zc.T @ zc) / (n - 1)  # (D, D)
    off = cov - torch.diag_embed(torch.diagonal(cov))
    return off.square().sum() / (d * (d - 1)) if d > 1 else cov.new_zeros(())


def temporal_smoothness(z: Tensor, keep: Tensor | None = None) -> Tensor:
    """Mean squared change between consecutive latents. ``z``: (B, T, D) -> scalar.

    ``keep``: optional (B, T) mask, 0 where a row starts an episode; the change into such a
    row is not counted (it is a jump between episodes, not motion).
    """
    if z.shape[1] < 2:
        return z.new_zeros(())
    sq = (z[:, 1:] - z[:, :-1]).square().mean(-1)  # (B, T-1)
    if keep is None:
        return sq.mean()
    w = keep[:, 1:].to(sq.dtype)
    return (sq * w).sum() / w.sum().clamp_min(1.0)
