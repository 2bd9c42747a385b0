"""Heads on frozen latents: probes, decoder, reward / termination; ensemble disagreement."""

from __future__ import annotations

import torch

from forethought.models import (
    build_model,
    fit_image_decoder,
    fit_linear_probe,
    fit_probe,
    fit_reward_head,
    fit_termination_head,
)
from tests.models._specs import VECTOR


def _linear_data(n: int = 600, d: int = 8, k: int = 3):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n, d, generator=g) * 3 + 1
    w, b = torch.randn(d, k, generator=g), torch.randn(k, generator=g)
    return z, z @ w + b


def test_linear_probe_recovers_a_linear_map_exactly():
    z, y = _linear_data()
    probe = fit_linear_probe(z, y)
    torch.testing.assert_close(probe(z), y, atol=1e-4, rtol=1e-5)
    z2, _ = _linear_data(n=10)
    # Works on any leading dims, e.g. rollout latents (B, H, D).
    assert probe(z2.reshape(2, 5, 8)).shape == (2, 5, 3)


def test_mlp_probe_fits_a_linear_map_closely():
    z, y = _linear_data()
    probe = fit_probe(z, y, kind="mlp", steps=400)
    with torch.no_grad():
        rel = (probe(z) - y).norm() / (y - y.mean(0)).norm()
    assert rel < 0.05


def test_heads_fit_even_under_no_grad():
    z, y = _linear_data(n=200)
    with torch.no_grad():
        reward = fit_reward_head(z, y[:, 0], steps=50)
        done = fit_termination_head(z, y[:, 1] > 0, steps=50)
    assert reward(z).shape == (200, 1) and done(z).shape == (200, 1)


def test_image_decoder_learns_images_from_latents():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(16, 6, generator=g)
    images = (torch.rand(16, 12, 10, 1, generator=g) > 0.5).to(torch.uint8) * 255
    short = fit_image_decoder(z, images, steps=1, batch_size=16)
    long = fit_image_decoder(z, images, steps=300, batch_size=16)
    with torch.no_grad():
        err0 = (short(z) - images / 255).abs().mean()
        err1 = (long(z) - images / 255).abs().mean()
        pictures = long.to_uint8(z.reshape(4, 4, 6))
    assert pictures.shape == (4, 4, 12, 10, 1) and pictures.dtype == torch.uint8
    assert err1 < 0.5 * err0


def test_ensemble_disagreement_is_zero_for_identical_members_and_positive_otherwise():
    model = build_model("jepa-ensemble", "tiny", VECTOR).eval()
    belief = model.initial(4)
    actions = torch.rand(4, 6, 2) * 2 - 1
    with torch.no_grad():
        belief = model.observe(
            belief, {"state": torch.randn(4, 3)}, actions[:, 0], torch.ones(4, dtype=torch.bool)
        )
        assert (model.imagine(belief, actions).disagreement > 0).all()
        for p in model.dynamics.parameters():  # every member := member 0
            p.copy_(p[:1].expand_as(p))
        belief = model.observe(
            model.initial(4),
            {"state": torch.randn(4, 3)},
            actions[:, 0],
            torch.ones(4, dtype=torch.bool),
        )
        rollout = model.imagine(belief, actions)
    assert rollout.disagreement.shape == (4, 6)
    assert torch.equal(rollout.disagreement, torch.zeros(4, 6))
