"""Model families by short name: ``build_model("jepa", "tiny", spec, latent_dim=64)``.

Each entry has a frozen config class, size presets (``tiny``, ``small``, ``base``) and a builder.
Building is seeded by the config's ``seed`` and leaves torch's global RNG untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from forethought.core.errors import ForethoughtError
from forethought.models.config import (
    JEPA_ENSEMBLE_PRESETS,
    JEPA_PRESETS,
    KEYPOINT_MLP_PRESETS,
    OBS_MLP_PRESETS,
    JEPAConfig,
    JEPAEnsembleConfig,
    KeypointMLPConfig,
    ModelConfig,
    ObsMLPConfig,
    with_overrides,
)
from forethought.models.jepa import JEPAWorldModel
from forethought.models.keypoint_mlp import KeypointMLPWorldModel
from forethought.models.obs_mlp import ObsMLPWorldModel
from forethought.models.spec import DataSpec


@dataclass(frozen=True)
class ModelEntry:
    """One registered model family."""

    name: str
    config_cls: type[ModelConfig]
    presets: dict[str, ModelConfig]
    build: Callable[[Any, DataSpec, str], nn.Module]  # (config, spec, name) -> model
    summary: str


MODELS: dict[str, ModelEntry] = {
    "jepa": ModelEntry(
        "jepa",
        JEPAConfig,
        JEPA_PRESETS,
        JEPAWorldModel,
        "JEPA latent predictor: per-key encoders, GRU dynamics, SIGReg or VICReg+IDM",
    ),
    "jepa-ensemble": ModelEntry(
        "jepa-ensemble",
        JEPAEnsembleConfig,
        JEPA_ENSEMBLE_PRESETS,
        JEPAWorldModel,
        "JEPA with M predictor members on one encoder; imagine() reports their disagreement",
    ),
    "obs-mlp": ModelEntry(
        "obs-mlp",
        ObsMLPConfig,
        OBS_MLP_PRESETS,
        ObsMLPWorldModel,
        "vector observations as the latent, MLP members with a gated action path (PETS-style)",
    ),
    "keypoint-mlp": ModelEntry(
        "keypoint-mlp",
        KeypointMLPConfig,
        KEYPOINT_MLP_PRESETS,
        KeypointMLPWorldModel,
        "learned image keypoints as the latent, obs-mlp's gated predictor, IDM + variance",
    ),
}


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(MODELS)


def get_entry(name: str) -> ModelEntry:
    """The registry entry of ``name`` (a clear error listing the known names otherwise)."""
    if name not in MODELS:
        raise ForethoughtError(f"unknown model '{name}'; available models: {list_models()}")
    return MODELS[name]


def make_config(name: str, preset: str = "tiny", **overrides: Any) -> ModelConfig:
    """The resolved config of a preset with some fields replaced."""
    entry = get_entry(name)
    if preset not in entry.presets:
        raise ForethoughtError(
            f"model '{name}' has no preset '{preset}'; presets: {list(entry.presets)}"
        )
    return with_overrides(entry.presets[preset], **overrides)


def build_from_config(name: str, config: ModelConfig, data_spec: DataSpec) -> nn.Module:
    """Build a model from an already resolved config (e.g. one read back from a checkpoint)."""
    entry = get_entry(name)
    if not isinstance(config, entry.config_cls):
        raise ForethoughtError(
            f"model '{name}' takes a {entry.config_cls.__name__}, got {type(config).__name__}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return entry.build(config, data_spec, name)


def build_model(name: str, preset: str, data_spec: DataSpec, **overrides: Any) -> nn.Module:
    """Build a registered world model for the data described by ``data_spec``.

    Args:
        name: a registered name (see :func:`list_models`).
        preset: ``tiny``, ``small`` or ``base``.
        data_spec: observation keys / action space of the dataset (``DataSpec.from_dataset``).
        **overrides: config fields to replace, e.g. ``regularizer="vicreg"``.

    Raises:
        ForethoughtError: unknown name, preset or field, a bad value, or data the model cannot
            read (missing keys, unsupported action space).
    """
    return build_from_config(name, make_config(name, preset, **overrides), data_spec)
