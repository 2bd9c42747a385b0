"""SIGReg and the VICReg terms on inputs with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from forethought.models.regularizers import (
    epps_pulley,
    sigreg,
    temporal_smoothness,
    vicreg_covariance,
    vicreg_variance,
)

# E[N * |ecf(t) - exp(-t^2/2)|^2] = 1 - exp(-t^2) for N(0, 1) samples, integrated against the
# window exp(-t^2/2) over [-3, 3].
GAUSSIAN_EXPECTATION = sum(
    (1 - math.exp(-(t**2))) * math.exp(-(t**2) / 2) * 6 / 20000
    for t in (-3 + 6 * (i + 0.5) / 20000 for i in range(20000))
)


def test_epps_pulley_matches_its_expectation_on_gaussian_samples():
    g = torch.Generator().manual_seed(0)
    stats = epps_pulley(torch.randn(1000, 400, generator=g))  # 400 independent columns
    assert stats.shape == (400,)
    assert GAUSSIAN_EXPECTATION == pytest.approx(1.06, abs=0.01)
    assert stats.mean().item() == pytest.approx(GAUSSIAN_EXPECTATION, rel=0.1)


def test_sigreg_is_near_zero_per_sample_for_isotropic_gaussians_and_large_when_collapsed():
    g = torch.Generator().manual_seed(1)
    n = 2048
    gaussian = sigreg(torch.randn(n, 32, generator=g), slices=256, generator=g)
    assert gaussian.item() / n < 1e-3  # the unscaled distance is ~0
    assert gaussian.item() < 2.0  # the N-scaled statistic stays O(1)
    collapsed = sigreg(torch.zeros(n, 32), slices=256, generator=g)
    constant = sigreg(torch.full((n, 32), 3.0), slices=256, generator=g)
    shrunk = sigreg(0.1 * torch.randn(n, 32, generator=g), slices=256, generator=g)
    one_dim = torch.randn(n, 1, generator=g) * torch.ones(1, 32)  # all dims the same
    rank_one = sigreg(one_dim, slices=256, generator=g)
    for bad in (collapsed, constant, shrunk, rank_one):
        assert bad.item() > 100 * gaussian.item()


def test_sigreg_gradient_pushes_a_shrunk_distribution_outward():
    z = (0.3 * torch.randn(1024, 8, generator=torch.Generator().manual_seed(2))).requires_grad_()
    sigreg(z, slices=64, generator=torch.Generator().manual_seed(3)).backward()
    assert (z.grad * z).sum() < 0  # descending the gradient scales z up


def test_vicreg_variance_known_values():
    wide = torch.randn(4096, 5, generator=torch.Generator().manual_seed(0)) * 2.0
    assert vicreg_variance(wide).item() == 0.0
    assert vicreg_variance(torch.ones(64, 5)).item() == pytest.approx(1.0 - math.sqrt(1e-4))
    half = torch.tensor([[0.5], [-0.5]]).repeat(50, 1)  # unbiased var = 0.25 * 100 / 99
    expected = 1.0 - math.sqrt(0.25 * 100 / 99 + 1e-4)
    assert vicreg_variance(half).item() == pytest.approx(expected, rel=1e-5)


def test_vicreg_covariance_known_values():
    x = torch.tensor([1.0, -1.0, 1.0, -1.0])  # unbiased var = 4/3
    cols = torch.stack([x, x, -x], dim=1)  # every off-diagonal covariance is +-4/3
    assert vicreg_covariance(cols).item() == pytest.approx((4 / 3) ** 2)
    orthogonal = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert vicreg_covariance(orthogonal).item() == pytest.approx(0.0, abs=1e-12)


def test_temporal_smoothness_known_value():
    t = torch.arange(6.0)[None, :, None]  # (1, T, 1)
    z = t * torch.tensor([0.5, -1.0, 2.0])  # steps of (0.5, -1, 2)
    assert temporal_smoothness(z).item() == pytest.approx((0.25 + 1 + 4) / 3)
    assert temporal_smoothness(z[:, :1]).item() == 0.0


def test_temporal_smoothness_skips_episode_starts():
    z = torch.tensor([[[0.0], [1.0], [11.0], [12.0]]])  # (1, T=4, 1): a new episode at row 2
    keep = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    assert temporal_smoothness(z).item() == pytest.approx((1 + 100 + 1) / 3)
    assert temporal_smoothness(z, keep).item() == pytest.approx(1.0)
