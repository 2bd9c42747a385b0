"""Every registered model, at every preset, honours the world-model contract on all data kinds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.models import (
    MODELS,
    Belief,
    DataSpec,
    build_model,
    check_world_model,
    list_models,
)
from forethought.training.latent_phase import LatentPhaseModel
from tests.models._specs import PIXELS_AND_VECTOR, SPECS, VECTOR


@pytest.mark.parametrize("spec_name", sorted(SPECS))
@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
@pytest.mark.parametrize("name", list_models())
def test_registry_entry_passes_the_contract(name, preset, spec_name):
    assert preset in MODELS[name].presets
    if name == "keypoint-mlp" and spec_name == "vector":  # it learns keypoints of images
        with pytest.raises(ForethoughtError, match="learns keypoints of images"):
            build_model(name, preset, SPECS[spec_name])
        return
    check_world_model(build_model(name, preset, SPECS[spec_name]), SPECS[spec_name])


@pytest.mark.parametrize("spec_name", ["pixels+vector", "discrete"])
@pytest.mark.parametrize("name", list_models())
def test_a_frozen_encoder_phase_trains_the_predictor_alone(name, spec_name):
    """Models with the frozen-encoder phase: after ``freeze_encoder``, ``latent_loss`` on
    latents (B, T, D) reaches the predictor and nothing the latents depend on."""
    spec = SPECS[spec_name]
    model = build_model(name, "tiny", spec).train()
    if not isinstance(model, LatentPhaseModel):
        assert name == "obs-mlp"  # its latent is the observation: nothing to freeze
        return
    model.freeze_encoder()
    z = torch.randn(4, 5, model.latent_dim)
    action = torch.randint(0, 4, (4, 5)) if spec.discrete else torch.rand(4, 5, spec.action_dim)
    loss, terms = model.latent_loss(z, action, torch.zeros(4, 5, dtype=torch.bool))
    assert torch.isfinite(loss) and {"pred_one_step", "pred_open_loop", "loss"} <= set(terms)
    loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in model.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.dynamics.parameters())


@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_vicreg_variant_passes_the_contract(spec_name):
    model = build_model("jepa", "tiny", SPECS[spec_name], regularizer="vicreg", context=2)
    assert model.idm is not None  # PLDM's inverse dynamics comes with VICReg by default
    check_world_model(model, SPECS[spec_name], window=5)


@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_direct_action_variant_passes_the_contract(spec_name):
    model = build_model("jepa-ensemble", "tiny", SPECS[spec_name], direct_action=True)
    assert model.dynamics.direct is not None
    check_world_model(model, SPECS[spec_name])


def test_obs_mlp_closed_gate_blocks_the_actions_move_and_an_open_one_passes_it():
    """obs-mlp adds W (g * a): nothing from the action when the gate is shut, W a when open."""
    model = build_model("obs-mlp", "tiny", VECTOR)
    dyn = model.dynamics
    torch.nn.init.zeros_(dyn.head.weight)  # isolate the gated path
    torch.nn.init.zeros_(dyn.head.bias)
    torch.nn.init.zeros_(dyn.gated.bias)
    d, n = model.latent_dim, model.action_in
    z, h, a = torch.randn(1, 3, d), torch.randn(1, 3, d + n), torch.randn(1, 3, n)
    moves = []
    for bias in (-50.0, 50.0):
        torch.nn.init.zeros_(dyn.gate.weight)
        torch.nn.init.constant_(dyn.gate.bias, bias)
        moves.append(dyn(z, h, a) - z)  # (1, B, D)
    assert moves[0].abs().max() < 1e-6
    torch.testing.assert_close(moves[1], dyn.gated(a))


def test_obs_mlp_ensemble_passes_the_contract_and_reports_disagreement():
    model = build_model("obs-mlp", "tiny", VECTOR, members=3)
    check_world_model(model, VECTOR)
    belief = model.observe(
        model.initial(2), {"state": torch.randn(2, 3)}, torch.zeros(2, 2), torch.ones(2).bool()
    )
    rollout = model.imagine(belief, torch.rand(2, 4, 2))
    assert rollout.disagreement is not None and rollout.disagreement.shape == (2, 4)
    assert bool((rollout.disagreement > 0).all())  # members start from different weights


def test_obs_mlp_refuses_image_keys_in_one_line():
    with pytest.raises(ForethoughtError, match="vector observations only"):
        build_model("obs-mlp", "tiny", PIXELS_AND_VECTOR, obs_keys=("pixels",))
    model = build_model("obs-mlp", "tiny", PIXELS_AND_VECTOR)  # images skipped by default
    assert model.encoder.keys == ("state", "agent/pos") and model.latent_dim == 6


def test_model_built_from_a_real_dataset_passes_the_contract(small_dataset):
    with Dataset(small_dataset) as ds:
        spec = DataSpec.from_dataset(ds)
    assert set(spec.keys) == {"state", "pixels"}  # the text key is skipped
    assert spec.get("state").std is not None and spec.get("pixels").mean is None
    assert DataSpec.from_json(spec.to_json()) == spec
    check_world_model(build_model("jepa-ensemble", "tiny", spec), spec)


def test_checker_catches_a_model_that_ignores_is_first():
    model = build_model("jepa", "tiny", VECTOR)
    observe = model.observe

    def forgetful_observe(belief, obs, prev_action, is_first):
        return observe(belief, obs, prev_action, torch.zeros_like(is_first))

    model.observe = forgetful_observe
    with pytest.raises(AssertionError, match="is_first must reset"):
        check_world_model(model, VECTOR)


def test_checker_catches_a_model_without_memory():
    model = build_model("jepa", "tiny", VECTOR)
    observe = model.observe

    def memoryless(belief, obs, prev_action, is_first):
        out = observe(model.initial(belief.batch_size), obs, prev_action, is_first)
        return Belief(h=out.h + belief.z.sum(), z=out.z)  # h changes, but never with the past

    model.observe = memoryless
    with pytest.raises(AssertionError, match="history|did not change|reset"):
        check_world_model(model, VECTOR)


def test_imagine_shares_a_batch_one_belief_across_candidates():
    model = build_model("jepa", "tiny", VECTOR).eval()
    with torch.no_grad():
        obs = {"state": torch.randn(1, 3)}
        belief = model.observe(
            model.initial(1), obs, torch.zeros(1, 2), torch.ones(1, dtype=torch.bool)
        )
        actions = torch.rand(7, 5, 2) * 2 - 1
        a = model.imagine(belief, actions).latents
        b = model.imagine(belief.expand(7), actions).latents
    assert a.shape == (7, 5, model.latent_dim)
    torch.testing.assert_close(a, b)


def test_discrete_models_take_one_hot_candidates():
    from tests.models._specs import DISCRETE

    model = build_model("jepa", "tiny", DISCRETE).eval()
    idx = torch.randint(0, 4, (6, 3))
    onehot = torch.nn.functional.one_hot(idx, 4).float()
    with torch.no_grad():
        belief = model.initial(6)
        torch.testing.assert_close(
            model.imagine(belief, idx).latents, model.imagine(belief, onehot).latents
        )


@pytest.mark.parametrize("fit", ["pooled", "per_dim"])
def test_obs_mlp_action_map_is_the_free_moves_response_despite_blocked_steps(fit):
    """fit_action_map: W from the steps that moved, not shrunk by the 40% a wall stopped."""
    model = build_model("obs-mlp", "tiny", VECTOR, action_map_fit=fit)
    gen = torch.Generator().manual_seed(0)
    w_true = torch.randn(model.action_in, model.latent_dim, generator=gen)  # (A, D)
    a = torch.rand(2000, model.action_in, generator=gen) * 2 - 1  # (N, A)
    blocked = torch.rand(2000, generator=gen) < 0.4
    dz = (a @ w_true) * (~blocked)[:, None].float()  # (N, D)
    model.dynamics.fit_action_map(dz, a)
    assert bool(model.dynamics.action_map_fitted)
    torch.testing.assert_close(model.dynamics.gated.weight[0], w_true, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("fit", ["pooled", "per_dim"])
def test_obs_mlp_action_map_is_the_full_response_despite_shortened_steps(fit):
    """fit_action_map: steps an env shortens (a norm cap, as TwoRoom's) do not shrink W."""
    model = build_model("obs-mlp", "tiny", VECTOR, action_map_fit=fit)
    gen = torch.Generator().manual_seed(1)
    w_true = torch.randn(model.action_in, model.latent_dim, generator=gen)  # (A, D)
    a = torch.rand(2000, model.action_in, generator=gen) * 2 - 1  # (N, A)
    norm = a.norm(dim=-1, keepdim=True)
    cap = norm.median()  # half the steps are shortened, by up to a factor of two or more
    applied = a * (cap / norm).clamp(max=1.0)
    blocked = torch.rand(2000, generator=gen) < 0.2
    dz = (applied @ w_true) * (~blocked)[:, None].float()  # (N, D)
    model.dynamics.fit_action_map(dz, a)
    torch.testing.assert_close(model.dynamics.gated.weight[0], w_true, atol=0.01, rtol=0.01)
    plain_least_squares = torch.linalg.lstsq(a, dz).solution
    assert (plain_least_squares - w_true).abs().max() > 0.1  # what the refits undo
    noisy = dz + 0.3 * torch.randn(dz.shape, generator=gen)  # too noisy for tight refits
    model.dynamics.fit_action_map(noisy, a)
    assert torch.isfinite(model.dynamics.gated.weight).all()


def test_per_dim_action_map_fit_is_not_led_by_a_dim_that_jumps_with_the_action():
    """action_map_fit="per_dim": the jumping dim keeps its ordinary response and the others
    theirs; the pooled ratio picks the jump steps and inflates that dim several times over."""
    per_dim = build_model("obs-mlp", "tiny", VECTOR, action_map_fit="per_dim")
    gen = torch.Generator().manual_seed(2)
    w_true = torch.randn(per_dim.action_in, per_dim.latent_dim, generator=gen)  # (A, D)
    a = torch.rand(4000, per_dim.action_in, generator=gen) * 2 - 1  # (N, A)
    blocked = torch.rand(4000, generator=gen) < 0.3
    dz = (a @ w_true) * (~blocked)[:, None].float()  # (N, D)
    jumps = (torch.rand(4000, generator=gen) < 0.1).float()  # dim 0 jumps 8x along the action
    dz[:, 0] += 8.0 * w_true[:, 0].norm() * torch.sign(a @ w_true[:, 0]) * jumps
    per_dim.dynamics.fit_action_map(dz, a)
    torch.testing.assert_close(per_dim.dynamics.gated.weight[0], w_true, atol=0.02, rtol=0.02)
    pooled = build_model("obs-mlp", "tiny", VECTOR)
    pooled.dynamics.fit_action_map(dz, a)
    inflated = pooled.dynamics.gated.weight[0][:, 0].norm() / w_true[:, 0].norm()
    assert inflated > 2.0


def test_an_unknown_action_map_fit_is_one_line_naming_the_choices():
    with pytest.raises(ForethoughtError, match="action_map_fit must be one of pooled, per_dim"):
        build_model("keypoint-mlp", "tiny", VECTOR, action_map_fit="robust")


def test_obs_mlp_residual_term_is_the_heads_mean_square_and_weighs_into_the_loss():
    """residual = mean over kept rows of head increment^2; loss adds residual_weight x it."""
    gen = torch.Generator().manual_seed(0)
    b, t = 3, 5
    batch_obs = {"state": torch.randn(b, t, 3, generator=gen)}
    action = torch.rand(b, t, 2, generator=gen) * 2 - 1
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 0] = True

    batch = SimpleNamespace(
        obs=batch_obs,
        action=action,
        reward=torch.zeros(b, t),
        is_first=is_first,
        terminated=torch.zeros(b, t, dtype=torch.bool),
    )
    plain = build_model("obs-mlp", "tiny", VECTOR).eval()
    weighted = build_model("obs-mlp", "tiny", VECTOR, residual_weight=2.0).eval()
    torch.nn.init.normal_(plain.dynamics.head.weight, generator=gen)  # a head that moves
    weighted.load_state_dict(plain.state_dict())
    loss0, terms0 = plain.loss(batch)
    loss2, terms2 = weighted.loss(batch)

    z = plain.encoder({"state": batch_obs["state"].reshape(b * t, 3)}).reshape(b, t, -1)
    mem = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-2]], 1)
    mem = torch.cat([mem, plain.encode_action(action, lead=2)[:, :-1]], -1)
    mem[:, 0] = 0.0  # the first row's memory is reset
    a_in = plain.encode_action(action, lead=2)[:, 1:]

    def rows(x):  # (B, T-1, F) -> (1, B * (T-1), F), one member
        return x.reshape(1, -1, x.shape[-1])

    free, _ = plain.dynamics.increments(rows(z[:, :-1]), rows(mem), rows(a_in))
    torch.testing.assert_close(terms0["head_residual"], free.square().mean())
    assert float(terms0["head_residual"]) > 0
    torch.testing.assert_close(loss2, loss0 + 2.0 * terms0["head_residual"])
    torch.testing.assert_close(terms2["head_residual"], terms0["head_residual"])
