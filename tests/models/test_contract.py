"""Every registered model, at every preset, honours the world-model contract on all data kinds."""

from __future__ import annotations

import pytest
import torch

from forethought.data.reader import Dataset
from forethought.models import (
    MODELS,
    Belief,
    DataSpec,
    build_model,
    check_world_model,
    list_models,
)
from tests.models._specs import SPECS, VECTOR


@pytest.mark.parametrize("spec_name", sorted(SPECS))
@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
@pytest.mark.parametrize("name", list_models())
def test_registry_entry_passes_the_contract(name, preset, spec_name):
    assert preset in MODELS[name].presets
    check_world_model(build_model(name, preset, SPECS[spec_name]), SPECS[spec_name])


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
