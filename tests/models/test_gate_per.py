"""``gate_per``: one gate per action dim (default) or per latent dim (obs-mlp, keypoint-mlp)."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import build_model, check_world_model
from tests.models._specs import PIXELS_AND_VECTOR as PIXELS
from tests.models._specs import VECTOR


def _gated_path_only(gate_logits: list[float], **overrides):
    """An obs-mlp predictor whose head is silenced and whose gates are the constant sigmoids of
    ``gate_logits``, with a known action map W (A, D) = arange and bias 0.5."""
    dyn = build_model("obs-mlp", "tiny", VECTOR, **overrides).dynamics.eval()
    with torch.no_grad():
        dyn.head.weight.zero_()
        dyn.head.bias.zero_()
        dyn.gate.weight.zero_()
        dyn.gate.bias.copy_(torch.tensor(gate_logits))
        dyn.gated.weight.copy_(torch.arange(6.0).reshape(1, 2, 3))
        dyn.gated.bias.fill_(0.5)
    return dyn


def test_per_latent_gates_scale_each_dim_of_the_actions_move():
    """gate_per="latent": the gated move is g_d * (a W)_d + b; a shut dim keeps only the bias."""
    dyn = _gated_path_only([50.0, -50.0, 0.0], gate_per="latent")  # gates 1, 0, 0.5
    z, h, a = torch.zeros(1, 1, 3), torch.zeros(1, 1, 5), torch.tensor([[[1.0, 2.0]]])
    _, gated = dyn.increments(z, h, a)
    # a W = [1 * 0 + 2 * 3, 1 * 1 + 2 * 4, 1 * 2 + 2 * 5] = [6, 9, 12]
    torch.testing.assert_close(gated, torch.tensor([[[6.5, 0.5, 6.5]]]))
    assert dyn.gates(z, h, a).shape == (1, 1, 3)


def test_per_action_gates_scale_each_action_before_the_map():
    """gate_per="action" (the default): the gated move is (g * a) W + b."""
    dyn = _gated_path_only([50.0, -50.0])  # the first action passes, the second is shut
    z, h, a = torch.zeros(1, 1, 3), torch.zeros(1, 1, 5), torch.tensor([[[1.0, 2.0]]])
    _, gated = dyn.increments(z, h, a)
    torch.testing.assert_close(gated, torch.tensor([[[0.5, 1.5, 2.5]]]))  # [1, 0] W + 0.5
    assert dyn.gates(z, h, a).shape == (1, 1, 2)


def test_the_floor_closes_per_latent_gates_in_imagination():
    dyn = _gated_path_only([50.0, -1.0, 0.0], gate_per="latent", gate_floor=0.3)  # 0.27 < 0.3
    z, h, a = torch.zeros(1, 1, 3), torch.zeros(1, 1, 5), torch.tensor([[[1.0, 2.0]]])
    _, gated = dyn.increments(z, h, a)
    torch.testing.assert_close(gated, torch.tensor([[[6.5, 0.5, 6.5]]]))


@pytest.mark.parametrize(("name", "spec"), [("obs-mlp", VECTOR), ("keypoint-mlp", PIXELS)])
def test_per_latent_gates_pass_the_world_model_contract(name, spec):
    check_world_model(build_model(name, "tiny", spec, gate_per="latent"), spec)


def test_an_unknown_gate_per_is_one_line_naming_the_choices():
    with pytest.raises(ForethoughtError, match="gate_per must be one of action, latent"):
        build_model("obs-mlp", "tiny", VECTOR, gate_per="dim")
