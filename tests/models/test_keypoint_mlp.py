"""keypoint-mlp: the latent is the images' keypoints, its action map is refit while they move."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import build_model, check_world_model
from forethought.models.keypoint_mlp import KEYPOINT_SCALE
from forethought.models.spec import DataSpec, ObsSpec
from tests.models._specs import PIXELS_AND_VECTOR

STEPS = 600
DOT = DataSpec(
    obs=(ObsSpec("pixels", (33, 33, 1), "uint8"),),
    action_dim=2,
    action_low=(-2.0, -2.0),
    action_high=(2.0, 2.0),
)


def _dot_windows(b: int, t: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, 33, 33, 1) frames of a dot moved by (B, T, 2) actions (px per step), beside a
    static 6x6 block brighter and larger than the dot, at a random place per window."""
    actions = torch.rand(b, t, 2, generator=gen) * 4 - 2
    actions[:, 0] = 0
    pos = 16 + torch.rand(b, 1, 2, generator=gen) * 6 - 3 + actions.cumsum(1)  # (B, T, 2)
    grid = torch.arange(33.0)
    gx = torch.exp(-0.5 * (grid - pos[..., 0:1]) ** 2)  # (B, T, 33)
    gy = torch.exp(-0.5 * (grid - pos[..., 1:2]) ** 2)
    frames = (200 * gy[..., :, None] * gx[..., None, :]).to(torch.uint8)  # (B, T, 33, 33)
    corner = torch.randint(0, 27, (b, 2), generator=gen)
    for i, (x, y) in enumerate(corner.tolist()):
        frames[i, :, y : y + 6, x : x + 6] = 255
    return frames[..., None], actions


def _best_move_correlation(model, gen: torch.Generator) -> tuple[float, float]:
    """Over keypoints, the best correlation of a keypoint's per-step move with the dot's (x, y)."""
    frames, actions = _dot_windows(64, 4, gen)
    with torch.no_grad():
        z = model.encode_goal({"pixels": frames.reshape(-1, 33, 33, 1)}).reshape(64, 4, -1)
    moves = (z[:, 1:] - z[:, :-1]).reshape(-1, z.shape[-1])  # (B * 3, 2K)
    true = actions[:, 1:].reshape(-1, 2)  # px moved per step
    corr = torch.corrcoef(torch.cat([moves, true], 1).T)[-2:, :-2]  # (2, 2K)
    return corr[0, 0::2].max().item(), corr[1, 1::2].max().item()


def test_the_latent_is_the_scaled_keypoints_then_the_standardized_vectors():
    model = build_model("keypoint-mlp", "tiny", PIXELS_AND_VECTOR)
    k = model.config.keypoints
    assert model.encoder.keys == ("pixels", "state", "agent/pos")
    assert model.latent_dim == 2 * k + 6
    obs = {
        "pixels": torch.randint(0, 255, (4, 16, 16, 3), dtype=torch.uint8),
        "state": torch.tensor([[10.0, 0.0, 0.0, 1.0]]).expand(4, 4),
        "agent/pos": torch.zeros(4, 2),
    }
    z = model.encode_goal(obs)
    assert bool((z[:, : 2 * k].abs() <= KEYPOINT_SCALE + 1e-5).all())  # soft-argmax in [-1, 1]
    torch.testing.assert_close(z[:, 2 * k :], torch.zeros(4, 6))  # the mean, standardized


def test_the_spread_term_is_the_maps_mean_variance_and_weighs_into_the_loss():
    """spread = mean over rows and keypoints of the softmax maps' spatial variance; the loss
    adds spread_weight x it."""
    gen = torch.Generator().manual_seed(0)
    batch = SimpleNamespace(
        obs={
            "pixels": torch.randint(0, 255, (2, 4, 16, 16, 3), dtype=torch.uint8, generator=gen),
            "state": torch.randn(2, 4, 4, generator=gen),
            "agent/pos": torch.randn(2, 4, 2, generator=gen),
        },
        action=torch.rand(2, 4, 3, generator=gen),
        reward=torch.zeros(2, 4),
        is_first=torch.zeros(2, 4, dtype=torch.bool),
        terminated=torch.zeros(2, 4, dtype=torch.bool),
    )
    losses = []
    for weight in (0.0, 2.0):
        torch.manual_seed(0)
        model = build_model("keypoint-mlp", "tiny", PIXELS_AND_VECTOR, spread_weight=weight)
        total, terms = model.loss(batch)
        losses.append(float(total.detach()))
    pixels = batch.obs["pixels"].reshape(8, 16, 16, 3)
    with torch.no_grad():
        _, spread = model.encoder.images[0].locate(pixels)  # (8, K)
    torch.testing.assert_close(terms["spread"], spread.mean())
    assert float(terms["spread"]) > 0  # a fresh encoder's maps are diffuse
    assert losses[1] - losses[0] == pytest.approx(2.0 * float(terms["spread"]), rel=1e-4)


def test_vector_only_data_is_refused_in_one_line():
    vector = DataSpec(obs=(ObsSpec("state", (3,), "float32"),), action_dim=2)
    with pytest.raises(ForethoughtError, match="learns keypoints of images.*obs-mlp"):
        build_model("keypoint-mlp", "tiny", vector)


def test_the_action_map_is_refit_every_n_calls_until_the_limit():
    model = build_model("keypoint-mlp", "tiny", DOT, refit_every=2, refit_until=5).train()
    gen = torch.Generator().manual_seed(0)
    frames, actions = _dot_windows(8, 5, gen)
    batch = _Batch({"pixels": frames}, actions, torch.zeros(8, 5, dtype=torch.bool))
    weights = []
    for _ in range(8):
        torch.nn.init.zeros_(model.dynamics.gated.weight)
        model.loss(batch)
        weights.append(float(model.dynamics.gated.weight.abs().sum()))
    refit = [w > 0 for w in weights]
    assert refit == [True, False, True, False, True, False, False, False]


def test_training_on_a_moving_dot_puts_a_keypoint_on_it():
    """IDM + variance pull a keypoint off the larger, brighter static block onto the dot."""
    torch.manual_seed(0)
    model = build_model("keypoint-mlp", "tiny", DOT, keypoint_grid=16).train()
    gen = torch.Generator().manual_seed(1)
    before = _best_move_correlation(model, gen)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(STEPS):
        frames, actions = _dot_windows(32, 4, gen)
        loss, _ = model.loss(_Batch({"pixels": frames}, actions, torch.zeros(32, 4).bool()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = _best_move_correlation(model, gen)
    assert max(before) < 0.5, before  # at the start no keypoint follows the dot
    assert min(after) > 0.9, after


def test_freezing_the_encoder_refits_the_action_map_on_the_first_frozen_latents():
    model = build_model("keypoint-mlp", "tiny", DOT).train()
    model.dynamics.action_map_fitted.fill_(True)
    model.freeze_encoder()
    assert not bool(model.dynamics.action_map_fitted)
    z, actions = torch.randn(8, 5, model.latent_dim), torch.rand(8, 5, 2) * 4 - 2
    model.latent_loss(z, actions, torch.zeros(8, 5, dtype=torch.bool))
    assert bool(model.dynamics.action_map_fitted)
    assert all(not p.requires_grad for p in model.idm.parameters())


def test_ensemble_passes_the_contract():
    model = build_model("keypoint-mlp", "tiny", DOT, members=3)
    check_world_model(model, DOT)


def test_imagined_keypoints_stay_on_the_image_where_the_predictor_diverges():
    torch.manual_seed(0)
    model = build_model("keypoint-mlp", "tiny", PIXELS_AND_VECTOR).eval()
    k = 2 * model.config.keypoints
    with torch.no_grad():
        for p in model.dynamics.parameters():
            p.mul_(30.0)  # a predictor far off its training data: increments blow up
    obs = {
        "pixels": torch.randint(0, 255, (4, 16, 16, 3), dtype=torch.uint8),
        "state": torch.randn(4, 4),
        "agent/pos": torch.randn(4, 2),
    }
    belief = model.observe(model.initial(4), obs, torch.zeros(4, 3), torch.ones(4, dtype=bool))
    actions = torch.rand(4, 16, 3) * 2 - 1
    with torch.no_grad():
        bounded = model.imagine(belief, actions).latents  # (B, H, D)
        model.latent_bound = None
        free = model.imagine(belief, actions).latents
    assert float(free[..., :k].abs().max()) > 10 * KEYPOINT_SCALE  # it does diverge unclamped
    assert float(bounded[..., :k].abs().max()) <= KEYPOINT_SCALE
    assert float(bounded[..., k:].abs().max()) > KEYPOINT_SCALE  # the vectors have no range


class _Batch:
    def __init__(self, obs, action, is_first):
        self.obs, self.action, self.is_first = obs, action, is_first
