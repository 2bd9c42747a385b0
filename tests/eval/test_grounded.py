"""Grounded open-loop errors on a hand-written world model whose latent IS the state."""

from __future__ import annotations

import json

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.data.sampler import WindowBatch, WindowSampler
from forethought.eval import fit_state_probe, open_loop_errors
from forethought.models import Belief, DataSpec, Rollout, build_model

torch.set_num_threads(1)


class ShiftModel:
    """Latent = state[:2]; imagining adds each action (plus ``bias``) to the latent, which is
    exact for data made by s_{t+1} = s_t + a_{t+1}. Records what ``observe`` was given."""

    latent_dim = 2

    def __init__(self, bias=(0.0, 0.0), disagreement: bool = False) -> None:
        self.bias = torch.tensor(bias)
        self.disagreement = disagreement
        self.observed: list[tuple[torch.Tensor, torch.Tensor]] = []

    def initial(self, batch_size: int) -> Belief:
        return Belief(h=torch.zeros(batch_size, 1), z=torch.zeros(batch_size, 2))

    def observe(self, belief, obs, prev_action, is_first) -> Belief:
        self.observed.append((prev_action.clone(), is_first.clone()))
        return Belief(h=belief.h + 1, z=obs["state"][:, :2].float())

    def imagine(self, belief, actions) -> Rollout:
        z = belief.z[:, None] + (actions + self.bias).cumsum(1)  # (B, H, 2)
        b, h = actions.shape[:2]
        dis = torch.arange(1.0, h + 1).expand(b, h) if self.disagreement else None
        return Rollout(latents=z, disagreement=dis)

    def encode_goal(self, obs) -> torch.Tensor:
        return obs["state"][:, :2].float()

    def loss(self, batch):
        raise NotImplementedError


def make_windows(b: int = 5, t: int = 7) -> WindowBatch:
    g = torch.Generator().manual_seed(0)
    action = torch.randn(b, t, 2, generator=g)
    xy = torch.randn(b, 1, 2, generator=g) + torch.cat(
        [torch.zeros(b, 1, 2), action[:, 1:].cumsum(1)], dim=1
    )  # s_t = s_0 + a_1 + ... + a_t
    state = torch.cat([xy, torch.randn(b, t, 1, generator=g)], dim=-1)  # a 3rd, unused dim
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 0] = True
    return WindowBatch(
        obs={"state": state},
        action=action,
        reward=torch.zeros(b, t),
        is_first=is_first,
        terminated=torch.zeros(b, t, dtype=torch.bool),
        start=torch.arange(b),
    )


def identity(z: torch.Tensor) -> torch.Tensor:
    return z


def test_exact_dynamics_have_zero_error_and_copy_last_is_the_true_displacement():
    w, model = make_windows(), ShiftModel()
    r = open_loop_errors(model, w, identity, context=3)
    assert r.horizon == 4 and r.context == 3
    torch.testing.assert_close(r.error.mean, torch.zeros(4, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(r.encoder_error.mean, torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(
        r.latent.mean, torch.zeros(4, dtype=torch.float64), atol=1e-10, rtol=0
    )
    xy = w.obs["state"][..., :2].double()
    copy = (xy[:, 3:] - xy[:, 2:3]).norm(dim=-1).mean(0)
    torch.testing.assert_close(r.copy_last.mean, copy)
    assert r.error.count.tolist() == [5] * 4
    assert r.disagreement is None and r.calibration() is None
    json.dumps(r.to_dict())  # JSON-ready


def test_observe_gets_each_context_row_with_is_first_on_row_zero_only():
    w, model = make_windows(), ShiftModel()
    open_loop_errors(model, w, identity, context=3)
    assert len(model.observed) == 3
    for i, (action, first) in enumerate(model.observed):
        torch.testing.assert_close(action, w.action[:, i])
        assert first.tolist() == [i == 0] * 5


def test_biased_dynamics_have_the_known_error_per_step():
    w = make_windows()
    model = ShiftModel(bias=(0.3, 0.4), disagreement=True)  # |bias| = 0.5 per step
    r = open_loop_errors(model, w, identity, context=2)
    k = torch.arange(1, 6, dtype=torch.float64)
    torch.testing.assert_close(r.error.mean, 0.5 * k, atol=1e-5, rtol=0)
    torch.testing.assert_close(r.error.std, torch.zeros(5, dtype=torch.float64), atol=1e-5, rtol=0)
    target = w.obs["state"][:, 2:, :2].double().reshape(-1, 2)
    total_var = target.var(0, unbiased=False).sum()
    torch.testing.assert_close(r.latent.mean, 0.25 * k**2 / total_var, atol=1e-5, rtol=1e-5)
    # disagreement grows with k exactly like the error: perfectly calibrated
    assert r.disagreement.shape == (5, 5)
    cal = r.calibration()
    assert cal.pearson == pytest.approx(1.0, abs=1e-5)
    assert cal.spearman > 0.95  # not exactly 1: float noise breaks the errors' ties within a k
    assert r.to_dict()["calibration"]["n"] == 25


def test_probe_reads_states_in_the_chosen_dims():
    w = make_windows()
    r = open_loop_errors(ShiftModel(), w, lambda z: z[..., :1], context=1, dims=(0,))
    torch.testing.assert_close(r.error.mean, torch.zeros(6, dtype=torch.float64), atol=1e-6, rtol=0)


def test_open_loop_errors_rejects_bad_arguments():
    w, model = make_windows(t=4), ShiftModel()
    for context in (0, 4):
        with pytest.raises(ForethoughtError, match="context"):
            open_loop_errors(model, w, identity, context=context)
    with pytest.raises(ForethoughtError, match="missing"):
        open_loop_errors(model, w, identity, context=1, state_key="pos")
    with pytest.raises(ForethoughtError, match="probe"):
        open_loop_errors(model, w, identity, context=1, dims=(0, 1, 2))
    with pytest.raises(ForethoughtError, match="out of range"):
        open_loop_errors(model, w, identity, context=1, dims=(0, 5))


def test_fit_state_probe_on_windows_recovers_a_linear_encoder():
    class ScaledModel(ShiftModel):
        def encode_goal(self, obs):
            return 2.0 * obs["state"][:, :2].float() + 1.0

    probe = fit_state_probe(ScaledModel(), make_windows(b=8), kind="linear")
    z = torch.tensor([[3.0, 5.0]])
    torch.testing.assert_close(probe(z), torch.tensor([[1.0, 2.0]]), atol=1e-4, rtol=0)
    with pytest.raises(ForethoughtError, match="kind"):
        fit_state_probe(ShiftModel(), make_windows(), kind="tree")


def test_jepa_end_to_end_on_a_dataset(small_dataset):
    """fit_state_probe from a Dataset (mlp) and open_loop_errors on a tiny JEPA ensemble;
    the model's training flag comes back as it was."""
    with Dataset(small_dataset) as ds:
        spec = DataSpec.from_dataset(ds)
        model = build_model("jepa-ensemble", "tiny", spec, obs_keys=("state",))
        model.train()
        probe = fit_state_probe(model, ds, rows=256, obs_keys=("state",), steps=20, width=16)
        windows = WindowSampler(ds, 5, 8, obs_keys=("state",), seed=1).sample()
    assert model.training
    r = open_loop_errors(model, windows, probe, context=2)
    assert model.training
    assert r.horizon == 3 and r.disagreement.shape == (8, 3)
    assert torch.isfinite(r.error.mean).all() and torch.isfinite(r.latent.mean).all()
    assert r.calibration() is not None
    json.dumps(r.to_dict())
