"""Test-time adaptation: a private predictor copy learns the episode's real rows; the agent's
model never changes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import build_model
from forethought.planning import (
    AdaptConfig,
    CallableObjective,
    EpisodeAdapter,
    MPCAgent,
    build_planner,
)
from tests.models._specs import PIXELS_AND_VECTOR, VECTOR


def _untrained_obs_mlp():
    torch.manual_seed(0)
    return build_model("obs-mlp", "tiny", VECTOR).eval()


def _params(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _record_blocked_rows(adapter, n):
    """n rows of a world where the agent never moves, whatever it is told (a wall)."""
    gen = torch.Generator().manual_seed(1)
    still = adapter.base.encode_goal({"state": torch.tensor([[0.5, -0.2, 1.0]])})  # (1, D)
    adapter.record(still, torch.zeros(1, 2), first=True)
    for _ in range(n - 1):
        adapter.record(still, torch.rand(1, 2, generator=gen) * 2 - 1, first=False)


def test_adapter_learns_the_rows_on_a_copy_and_forgets_them_at_reset():
    model = _untrained_obs_mlp().requires_grad_(False)  # as a frozen, loaded model may be
    before = _params(model)
    adapter = EpisodeAdapter(model, AdaptConfig(steps=50, lr=1e-2, window=8, threshold=0.0))
    _record_blocked_rows(adapter, 10)  # keeps the latest 8
    error = adapter.surprise()
    assert error is not None and error > 1e-3  # its random action map moves the agent
    assert adapter.maybe_adapt() and adapter.adaptations == 1
    assert adapter.model is not model
    assert adapter.surprise() < 0.2 * error  # the copy learned that nothing moves here
    for key, value in _params(model).items():  # the agent's own model is untouched
        torch.testing.assert_close(value, before[key])
    adapter.reset()
    assert adapter.model is model and adapter.adaptations == 0 and adapter.surprise() is None


def test_adapter_does_nothing_below_its_threshold_or_with_too_few_rows():
    model = _untrained_obs_mlp()
    adapter = EpisodeAdapter(model, AdaptConfig(steps=5, threshold=1e9))
    _record_blocked_rows(adapter, 2)
    assert adapter.surprise() is None and not adapter.maybe_adapt()
    _record_blocked_rows(adapter, 6)
    assert not adapter.maybe_adapt() and adapter.model is model


def test_adapt_errors_are_one_line():
    with pytest.raises(ForethoughtError, match="obs-mlp or keypoint-mlp"):
        EpisodeAdapter(build_model("jepa", "tiny", VECTOR), AdaptConfig())
    with pytest.raises(ForethoughtError, match="window >= 3"):
        AdaptConfig(window=2)
    with pytest.raises(ForethoughtError, match="lr must be > 0"):
        AdaptConfig(lr=0.0)


def test_agent_adapts_before_planning_and_keeps_its_model():
    model = _untrained_obs_mlp()
    before = _params(model)
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    planner = build_planner("cem", box, horizon=4, samples=16, iterations=1, elites=4)
    objective = CallableObjective(lambda rollout: rollout.latents[:, -1].square().sum(-1))
    agent = MPCAgent(
        model,
        planner,
        lambda m, o: objective,
        execute_steps=2,
        adapt=AdaptConfig(steps=3, threshold=0.0),
    )
    obs = np.array([0.5, -0.2, 1.0], np.float32)
    for episode in range(2):
        agent.reset(obs)
        action = agent.act(obs)  # plan 1: one row only, nothing to adapt on
        for _ in range(5):  # plans 2 and 3 adapt: the agent never moves
            action = agent.act(obs, action)
        assert agent.adaptations == 2 * (episode + 1)
    assert len(agent.plan_times) == 6
    for key, value in _params(model).items():
        torch.testing.assert_close(value, before[key])


def test_a_pixel_model_adapts_its_predictor_on_latents():
    """keypoint-mlp: rows are the belief's latents, so adapting never runs the encoder."""
    torch.manual_seed(0)
    model = build_model("keypoint-mlp", "tiny", PIXELS_AND_VECTOR).eval()
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    frame = {
        "pixels": torch.zeros(1, 16, 16, 3, dtype=torch.uint8),
        "state": torch.zeros(1, 4),
        "agent/pos": torch.zeros(1, 2),
    }
    adapter = EpisodeAdapter(model, AdaptConfig(steps=30, lr=1e-2, window=6, threshold=0.0))
    with torch.no_grad():
        still = model.encode_goal(frame)  # (1, D)
    adapter.record(still, torch.zeros(1, 3), first=True)
    for _ in range(5):
        adapter.record(still, torch.tensor([[1.5, -1.0, 0.5]]), first=False)
    error = adapter.surprise()
    assert adapter.maybe_adapt() and adapter.surprise() < 0.5 * error
    for key, value in adapter.model.encoder.state_dict().items():
        torch.testing.assert_close(value, encoder_before[key])
