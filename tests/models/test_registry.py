"""Configs validate themselves, the registry builds reproducibly, bad data gives clear errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import (
    DataSpec,
    JEPAConfig,
    JEPAEnsembleConfig,
    build_from_config,
    build_model,
    list_models,
    make_config,
)
from tests.conftest import make_meta
from tests.models._specs import PIXELS_AND_VECTOR, VECTOR


def test_list_models():
    assert list_models() == ["jepa", "jepa-ensemble", "keypoint-mlp", "obs-mlp"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: build_model("dreamer", "tiny", VECTOR), "unknown model 'dreamer'"),
        (lambda: build_model("jepa", "huge", VECTOR), "no preset 'huge'"),
        (lambda: build_model("jepa", "tiny", VECTOR, latent=3), r"no field\(s\) \['latent'\]"),
        (lambda: make_config("jepa", "tiny", latent_dim=0), "latent_dim must be an integer >= 1"),
        (lambda: make_config("jepa", "tiny", regularizer="barlow"), "regularizer must be one of"),
        (lambda: make_config("jepa", "tiny", sigreg_knots=16), "odd sigreg_knots"),
        (lambda: make_config("jepa", "tiny", sigreg_weight=-1.0), "sigreg_weight must be"),
        (lambda: make_config("jepa", "tiny", cnn_channels=()), "cnn_channels must be"),
        (lambda: make_config("jepa-ensemble", "tiny", members=1), "members must be >= 2"),
        (lambda: make_config("obs-mlp", "tiny", layers=0), "layers must be an integer >= 1"),
        (
            lambda: make_config("jepa", "tiny", one_step_weight=0.0, open_loop_weight=0.0),
            "nothing would be learned",
        ),
    ],
)
def test_bad_names_and_values_raise_one_line_errors(call, message):
    with pytest.raises(ForethoughtError, match=message) as e:
        call()
    assert "\n" not in str(e.value)


def test_missing_observation_keys_are_named():
    with pytest.raises(
        ForethoughtError, match=r"no observation key\(s\) \['rgb'\].*has \['state'\]"
    ):
        build_model("jepa", "tiny", VECTOR, obs_keys=("rgb",))


@pytest.mark.parametrize(
    "space",
    [gym.spaces.MultiDiscrete([3, 3]), gym.spaces.Box(-1, 1, (2, 2), np.float32)],
)
def test_unsupported_action_spaces_are_refused(space):
    with pytest.raises(ForethoughtError, match="world models take Box actions"):
        DataSpec.from_meta(make_meta(action_space=space))


def test_spec_from_meta_reads_discrete_and_box_actions():
    spec = DataSpec.from_meta(make_meta(action_space=gym.spaces.Discrete(5)))
    assert spec.discrete and spec.action_dim == 5 and set(spec.keys) == {"state", "pixels"}
    spec = DataSpec.from_meta(make_meta())
    assert spec.action_low == (-1.0, -1.0) and spec.action_high == (1.0, 1.0)
    unbounded = DataSpec.from_meta(make_meta(action_space=gym.spaces.Box(-np.inf, np.inf, (3,))))
    assert unbounded.action_low is None and DataSpec.from_json(unbounded.to_json()) == unbounded


def test_regularizer_choice_resolves_the_inverse_dynamics_weight():
    assert make_config("jepa", "tiny").idm_weight == 0.0
    assert make_config("jepa", "tiny", regularizer="vicreg").idm_weight == 1.0
    assert make_config("jepa", "tiny", regularizer="vicreg", idm_weight=0.5).idm_weight == 0.5


def test_config_round_trips_through_a_dict():
    for cls, name in ((JEPAConfig, "jepa"), (JEPAEnsembleConfig, "jepa-ensemble")):
        cfg = make_config(name, "small", obs_keys=("state",), regularizer="vicreg")
        assert cls.from_dict(cfg.to_dict()) == cfg
        old_checkpoint = {**cfg.to_dict(), "gated_action": False}  # a field that was never read
        assert cls.from_dict(old_checkpoint) == cfg
    with pytest.raises(ForethoughtError):
        JEPAConfig.from_dict({**JEPAConfig().to_dict(), "no_such_field": 1})


def test_building_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_model("jepa", "tiny", PIXELS_AND_VECTOR)
    assert torch.equal(torch.rand(3), expected)
    b = build_from_config("jepa", make_config("jepa", "tiny"), PIXELS_AND_VECTOR)
    c = build_model("jepa", "tiny", PIXELS_AND_VECTOR, seed=1)
    for (k, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), k
    assert any(not torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters(), strict=True))


def test_config_of_the_wrong_family_is_refused():
    with pytest.raises(ForethoughtError, match="takes a JEPAEnsembleConfig"):
        build_from_config("jepa-ensemble", make_config("jepa", "tiny"), VECTOR)


def test_windows_too_short_for_the_context_are_refused():
    from forethought.models.check import random_batch

    model = build_model("jepa", "tiny", VECTOR, context=4)
    batch = random_batch(VECTOR, 2, 4, torch.Generator().manual_seed(0))
    with pytest.raises(ForethoughtError, match="at least 5 rows"):
        model.loss(batch)
