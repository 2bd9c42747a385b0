"""The gated action path's floor: gates below it stop a move outright (obs-mlp, keypoint-mlp)."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import build_model, set_gate_floor
from tests.models._specs import PIXELS_AND_VECTOR as PIXELS
from tests.models._specs import VECTOR


def _dynamics(**overrides):
    return build_model("obs-mlp", "tiny", VECTOR, **overrides).dynamics


GATES = torch.tensor([0.05, 0.19, 0.2, 0.5, 0.95])


def test_no_floor_leaves_the_gates_as_they_are():
    dyn = _dynamics().eval()
    assert torch.equal(dyn.open_gates(GATES), GATES)


def test_in_imagination_gates_below_the_floor_close():
    dyn = _dynamics(gate_floor=0.2).eval()
    assert dyn.open_gates(GATES).tolist() == pytest.approx([0.0, 0.0, 0.2, 0.5, 0.95])


def test_training_sees_the_gates_as_they_are():
    dyn = _dynamics(gate_floor=0.2).train()
    assert torch.equal(dyn.open_gates(GATES), GATES)


def test_a_nearly_closed_gate_stops_the_imagined_move_exactly():
    model = build_model("obs-mlp", "tiny", VECTOR, gate_floor=0.2).eval()
    dyn = model.dynamics
    with torch.no_grad():
        dyn.gate.weight.zero_()
        dyn.gate.bias.fill_(-2.0)  # sigmoid(-2) = 0.12: a leak of 12% per step without the floor
        dyn.gated.weight.fill_(1.0)
    z, h, a = torch.zeros(1, 4, 3), torch.zeros(1, 4, 5), torch.ones(1, 4, 2)
    _, gated = dyn.increments(z, h, a)
    assert torch.count_nonzero(gated) == 0


@pytest.mark.parametrize("bad", [-0.1, 1.0, True])
@pytest.mark.parametrize(("name", "spec"), [("obs-mlp", VECTOR), ("keypoint-mlp", PIXELS)])
def test_a_bad_floor_is_refused_in_one_line(name, spec, bad):
    with pytest.raises(ForethoughtError, match="gate_floor must be a number in"):
        build_model(name, "tiny", spec, gate_floor=bad)


@pytest.mark.parametrize(("name", "spec"), [("obs-mlp", VECTOR), ("keypoint-mlp", PIXELS)])
def test_set_gate_floor_reaches_the_predictor_of_a_built_model(name, spec):
    model = build_model(name, "tiny", spec).eval()
    assert set_gate_floor(model, 0.2) == 1
    assert model.dynamics.open_gates(GATES).tolist() == pytest.approx([0, 0, 0.2, 0.5, 0.95])
    set_gate_floor(model, 0.0)
    assert torch.equal(model.dynamics.open_gates(GATES), GATES)


def test_set_gate_floor_refuses_a_model_without_the_gated_path_and_bad_floors():
    with pytest.raises(ForethoughtError, match="no gated action path"):
        set_gate_floor(build_model("obs-mlp", "tiny", VECTOR, gated_action=False), 0.2)
    with pytest.raises(ForethoughtError, match="gate_floor must be a number in"):
        set_gate_floor(build_model("obs-mlp", "tiny", VECTOR), 1.5)
