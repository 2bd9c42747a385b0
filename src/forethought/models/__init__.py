"""World models: the contract, the JEPA family, the observation-space MLP, heads, the checker.

File tree::

    base.py          Belief, Rollout, the WorldModel and Batch protocols
    spec.py          DataSpec: observation keys / action space / scales, from dataset metadata
    config.py        JEPAConfig, JEPAEnsembleConfig, ObsMLPConfig, KeypointMLPConfig, presets
    encoders.py      per-key MLP / CNN encoders fused into one latent
    dynamics.py      batched GRU predictors for M ensemble members, inverse dynamics head
    windows.py       window masks (episode starts, open-loop validity) and the masked mean of losses
    regularizers.py  SIGReg (Epps-Pulley on random projections), VICReg terms
    jepa.py          JEPAWorldModel: observe / imagine / encode_goal / loss
    gated_mlp.py     GatedMLPDynamics: M gated MLP predictors with a one-step memory
    obs_mlp.py       ObsMLPWorldModel: standardized vector observations as the latent, gated MLPs
    keypoint_mlp.py  KeypointMLPWorldModel: learned image keypoints as the latent, the same MLPs
    registry.py      MODELS, build_model, list_models
    heads.py         probes, image decoder, reward / termination heads fit on frozen latents
    check.py         check_world_model: the contract on any model with random inputs
"""

from forethought.models.base import Batch, Belief, Obs, Rollout, WorldModel
from forethought.models.check import check_world_model
from forethought.models.config import (
    JEPAConfig,
    JEPAEnsembleConfig,
    KeypointMLPConfig,
    ObsMLPConfig,
)
from forethought.models.gated_mlp import set_gate_floor
from forethought.models.heads import (
    ImageDecoder,
    LinearProbe,
    MLPHead,
    fit_image_decoder,
    fit_linear_probe,
    fit_mlp_head,
    fit_probe,
    fit_reward_head,
    fit_termination_head,
)
from forethought.models.jepa import JEPAWorldModel
from forethought.models.keypoint_mlp import KeypointMLPWorldModel
from forethought.models.obs_mlp import ObsMLPWorldModel
from forethought.models.registry import (
    MODELS,
    ModelEntry,
    build_from_config,
    build_model,
    list_models,
    make_config,
)
from forethought.models.spec import DataSpec, ObsSpec

__all__ = [
    "MODELS",
    "Batch",
    "Belief",
    "DataSpec",
    "ImageDecoder",
    "JEPAConfig",
    "JEPAEnsembleConfig",
    "JEPAWorldModel",
    "KeypointMLPConfig",
    "KeypointMLPWorldModel",
    "LinearProbe",
    "MLPHead",
    "ModelEntry",
    "ObsMLPConfig",
    "ObsMLPWorldModel",
    "Obs",
    "ObsSpec",
    "Rollout",
    "WorldModel",
    "build_from_config",
    "build_model",
    "check_world_model",
    "fit_image_decoder",
    "fit_linear_probe",
    "fit_mlp_head",
    "fit_probe",
    "fit_reward_head",
    "fit_termination_head",
    "set_gate_floor",
    "list_models",
    "make_config",
]
