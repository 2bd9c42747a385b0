"""Analytic models: TwoRoomSimModel reproduces the real env; LinearModel is what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.envs import make_env
from forethought.envs import two_room as env_module
from forethought.planning import LinearModel, TwoRoomSimModel, sim_models


def test_geometry_matches_the_env_module():
    for name in ("IMG_SIZE", "WALL_HALF", "DOOR_HALF", "MAX_STEP", "ARENA_LO", "ARENA_HI"):
        assert getattr(sim_models, name) == getattr(env_module, name), name
    assert sim_models.CONTACT_EPS == env_module.CONTACT_EPS


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_room_sim_matches_the_env_step_for_step(seed):
    env = make_env("forethought/TwoRoom-v0", obs="state", max_steps=1000)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-4.0, 4.0, size=(300, 2)).astype(np.float32)  # many over the cap
    actions[::7] = 0.0  # standing still
    actions[::11, 0] = 0.0  # axis-aligned moves
    real = np.stack([env.step(a)[0] for a in actions])  # (T, 4)
    model = TwoRoomSimModel()
    belief = model.observe(model.initial(1), {"state": torch.as_tensor(obs)[None]}, None, None)
    imagined = model.imagine(belief, torch.as_tensor(actions)[None]).latents[0].numpy()
    assert np.abs(imagined - real).max() <= 1e-4
    assert np.ptp(real[:, 0]) > 10 and np.ptp(real[:, 1]) > 10  # it really moved around


def test_two_room_sim_is_vectorized_over_candidates_and_layouts():
    model = TwoRoomSimModel()
    z = torch.tensor([[20.0, 10.0, 32.0, 30.0], [40.0, 10.0, 25.0, 50.0]])  # two layouts
    belief = model.observe(model.initial(2), {"state": z}, None, None)
    actions = torch.tensor([[[2.0, 0.0]] * 8, [[-2.0, 0.0]] * 8])  # (2, H, 2): toward the walls
    latents = model.imagine(belief, actions).latents  # (2, 8, 4)
    assert latents[0, -1, 0] == pytest.approx(30.5 - 1e-3, abs=1e-4)  # stopped at the wall face
    assert latents[1, -1, 0] == pytest.approx(26.5 + 1e-3, abs=1e-4)
    assert torch.equal(latents[..., 2:], z[:, None, 2:].expand(2, 8, 2))


def test_sim_models_need_state_and_cannot_train():
    model = TwoRoomSimModel()
    with pytest.raises(ForethoughtError, match="reads the 'state' observation"):
        model.encode_goal({"pixels": torch.zeros(1, 65, 65, 1, dtype=torch.uint8)})
    with pytest.raises(ForethoughtError, match="nothing to train"):
        model.loss(None)
    with pytest.raises(ForethoughtError, match=r"takes \(B, H, 2\) actions"):
        model.imagine(model.initial(1), torch.zeros(1, 3))


def test_linear_model_rolls_out_z_next_equals_az_plus_bu():
    a, b = torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.tensor([[0.0], [1.0]])
    model = LinearModel(a, b)
    belief = model.observe(model.initial(1), {"state": torch.tensor([[0.0, 0.0]])}, None, None)
    latents = model.imagine(belief, torch.ones(3, 2, 1)).latents  # (3, H=2, 2)
    assert latents[0].tolist() == [[0.0, 1.0], [1.0, 2.0]]  # double integrator
    with pytest.raises(ForethoughtError, match="needs A"):
        LinearModel(torch.zeros(2, 3), b)
