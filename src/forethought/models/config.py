"""Configs of the world models and their size presets (plain Python values you can grep).

Every field is documented where it is declared; ``__post_init__`` rejects bad values with a
one-line message that names the field and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from forethought.core.errors import ForethoughtError

REGULARIZERS = ("sigreg", "vicreg")
IMAGE_ENCODERS = ("keypoints", "conv")


class ConfigDict:
    """``to_dict`` / ``from_dict`` for the frozen model configs (checkpoints store them as JSON)."""

    retired_keys: ClassVar[tuple[str, ...]] = ()
    """Fields that no longer exist and had no effect; old checkpoints' values are dropped."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able field values (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)  # the subclasses are dataclasses
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild from :meth:`to_dict` output (unknown keys are an error)."""
        return with_overrides(cls(), **{k: v for k, v in d.items() if k not in cls.retired_keys})


def _require_counts(config: Any, names: tuple[str, ...]) -> None:
    """Each named field is an integer >= 1."""
    for f in names:
        v = getattr(config, f)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ForethoughtError(
                f"{type(config).__name__}: {f} must be an integer >= 1, got {v!r}"
            )


def _require_weights(config: Any, names: tuple[str, ...]) -> None:
    """Each named field is a number >= 0, and the two prediction weights are not both 0."""
    name = type(config).__name__
    for f in names:
        v = getattr(config, f)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0:
            raise ForethoughtError(f"{name}: {f} must be a number >= 0, got {v!r}")
    if config.one_step_weight == 0 and config.open_loop_weight == 0:
        raise ForethoughtError(
            f"{name}: one_step_weight and open_loop_weight are both 0; nothing would be learned"
        )


ACTION_MAP_FITS = ("pooled", "per_dim")
"""How the gated action map's refits pick the steps that moved freely (``gated_mlp.py``)."""
GATE_PERS = ("action", "latent")
"""What one gate of the gated action path stops (``gated_mlp.py``)."""


def check_gate_floor(value: Any, owner: str) -> float:
    """``value`` as a gate floor (a number in [0, 1)), or a one-line error naming ``owner``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ForethoughtError(f"{owner}: gate_floor must be a number in [0, 1), got {value!r}")
    return float(value)


def _require_obs_keys(config: Any) -> None:
    keys = config.obs_keys
    if keys is not None and (not isinstance(keys, tuple) or not keys):
        raise ForethoughtError(
            f"{type(config).__name__}: obs_keys must be None or a non-empty tuple of keys, "
            f"got {keys!r}"
        )


@dataclass(frozen=True)
class JEPAConfig(ConfigDict):
    """A JEPA-style latent predictive world model (encoder + recurrent latent predictor)."""

    retired_keys: ClassVar[tuple[str, ...]] = ("gated_action",)  # 2026-11-29 to 11-30, unread

    # --- sizes
    latent_dim: int = 32
    """D: size of the latent of one observation."""
    hidden_dim: int = 128
    """D_h: GRU state size (per ensemble member)."""
    encoder_width: int = 128
    """Hidden width of the per-key MLP encoders and of the fusion layer."""
    cnn_channels: tuple[int, ...] = (8, 16, 16)
    """Image encoder channels. 'keypoints': conv widths (stride 2 while the map stays >= 16 px),
    the last entry is the number of keypoints K. 'conv': conv widths (stride 2 while >= 8 px)."""
    image_encoder: str = "keypoints"
    """Image keys: 'keypoints' (convs + spatial softmax; cnn_channels[-1] keypoints) or 'conv'
    (strided convs, pooled and flattened)."""
    keypoint_grid: int = 16
    """'keypoints': the strided convs halve the image while the map stays >= this many px, so
    the keypoints' softmax runs on a grid of at least this size (finer grids localize small
    objects better per step but cost more per step)."""
    keypoint_kernel: int = 4
    """'keypoints': kernel of the strided convs (what one keypoint can see; keypoint-mlp uses 6)."""
    obs_keys: tuple[str, ...] | None = None
    """Observation keys to read (None: every non-text key of the dataset)."""
    members: int = 1
    """Predictor heads sharing the encoder; > 1 gives epistemic disagreement."""
    residual: bool = True
    """Predict latent increments (z_next = z + head(h)) instead of absolute latents."""
    direct_action: bool = False
    """Add a linear map of the action to every predicted increment (z_next = z + head(h) + W a)."""

    # --- objective
    context: int = 1
    """K: observed rows before the open-loop rollout over the rest of the window."""
    one_step_weight: float = 1.0
    """Weight of the teacher-forced one-step prediction error."""
    open_loop_weight: float = 1.0
    """Weight of the open-loop multi-step prediction error."""
    stop_grad_target: bool = False
    """Stop gradients through the target latents. Off by default: letting the prediction error
    shape the targets too (as EB-JEPA and LeWM do) halved the 16-step TwoRoom error in our
    ablation (benchmarks/results/jepa_objective.json)."""
    regularizer: str = "sigreg"
    """Anti-collapse term: 'sigreg' (LeJEPA) or 'vicreg' (PLDM: variance, covariance, time, IDM)."""
    sigreg_weight: float = 0.1
    """lambda of SIGReg (LeWM uses 0.1 with a plain MSE prediction loss)."""
    sigreg_time_weight: float = 1.0
    """Weight of the temporal smoothness term ||z_{t+1} - z_t||^2 alongside SIGReg (within
    episodes). SIGReg alone folds a low-dimensional scene into a jagged latent that jumps
    between consecutive frames; this term keeps it smooth (same ablation)."""
    sigreg_slices: int = 256
    """Random 1-D projections per step."""
    sigreg_knots: int = 17
    """Quadrature points of the Epps-Pulley integral on [0, 3] (odd)."""
    vic_var_weight: float = 16.0
    """VICReg std hinge weight (eb_jepa Two Rooms default)."""
    vic_cov_weight: float = 8.0
    """VICReg off-diagonal covariance weight (mean over off-diagonal entries)."""
    vic_time_weight: float = 12.0
    """Temporal smoothness weight ||z_{t+1} - z_t||^2 (PLDM's sim_t)."""
    idm_weight: float | None = None
    """Inverse-dynamics weight; None resolves to 1.0 for 'vicreg' and 0.0 for 'sigreg'."""

    seed: int = 0
    """Seed of the parameter initialization."""

    def __post_init__(self) -> None:
        name = type(self).__name__
        _require_counts(
            self,
            (
                "latent_dim",
                "hidden_dim",
                "encoder_width",
                "members",
                "context",
                "keypoint_grid",
                "keypoint_kernel",
            ),
        )
        chans = self.cnn_channels
        if (
            not isinstance(chans, tuple)
            or not chans
            or any(not isinstance(c, int) or c < 1 for c in chans)
        ):
            raise ForethoughtError(
                f"{name}: cnn_channels must be a non-empty tuple of positive ints, got {chans!r}"
            )
        _require_obs_keys(self)
        if self.image_encoder not in IMAGE_ENCODERS:
            raise ForethoughtError(
                f"{name}: image_encoder must be one of {list(IMAGE_ENCODERS)}, "
                f"got {self.image_encoder!r}"
            )
        if self.regularizer not in REGULARIZERS:
            raise ForethoughtError(
                f"{name}: regularizer must be one of {list(REGULARIZERS)}, got {self.regularizer!r}"
            )
        if self.idm_weight is None:
            object.__setattr__(self, "idm_weight", 1.0 if self.regularizer == "vicreg" else 0.0)
        _require_weights(
            self,
            (
                "one_step_weight",
                "open_loop_weight",
                "sigreg_weight",
                "sigreg_time_weight",
                "vic_var_weight",
                "vic_cov_weight",
                "vic_time_weight",
                "idm_weight",
            ),
        )
        if self.sigreg_slices < 1 or self.sigreg_knots < 3 or self.sigreg_knots % 2 == 0:
            raise ForethoughtError(
                f"{name}: need sigreg_slices >= 1 and an odd sigreg_knots >= 3, got "
                f"{self.sigreg_slices} and {self.sigreg_knots}"
            )


@dataclass(frozen=True)
class JEPAEnsembleConfig(JEPAConfig):
    """A JEPA with several predictor members sharing one encoder (disagreement = uncertainty)."""

    members: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.members < 2:
            raise ForethoughtError(
                f"JEPAEnsembleConfig: members must be >= 2 for an ensemble, got {self.members} "
                "(use model 'jepa' for a single predictor)"
            )


@dataclass(frozen=True)
class GatedPathConfig(ConfigDict):
    """The gated action path's settings, shared by ``obs-mlp`` and ``keypoint-mlp``
    (``gated_mlp.GatedMLPDynamics``)."""

    gate_floor: float = 0.0
    """In imagination (eval mode), gates below this are closed (0): at a wall a gate of 0.2
    would still let a long rollout creep through (``gated_mlp.py``, ``open_gates``). Training
    sees the gates as they are: a run trained with a floor learns as one without."""
    action_map_fit: str = "pooled"
    """How the refits of the gated action map pick the steps that moved freely: "pooled" (one
    ratio of moved to predicted over all dims) or "per_dim" (the median of per-dim ratios, and
    each dim refit without its outlying steps; a 2026-12-03 pixel pilot planned worse with it,
    docs/benchmarks.md)."""
    gate_per: str = "action"
    """What one gate of the action path stops: "action" (one gate per action dim, shared by every
    latent dim the action moves) or "latent" (one gate per latent dim, so a coordinate the action
    map got wrong can close its own gate without closing the agent's; docs/benchmarks.md)."""

    def check_gated_path(self) -> None:
        """A one-line error naming the config for a bad ``gate_floor``, ``action_map_fit`` or
        ``gate_per``."""
        check_gate_floor(self.gate_floor, type(self).__name__)
        for field, choices in (("action_map_fit", ACTION_MAP_FITS), ("gate_per", GATE_PERS)):
            value = getattr(self, field)
            if value not in choices:
                raise ForethoughtError(
                    f"{type(self).__name__}: {field} must be one of {', '.join(choices)}, "
                    f"got {value!r}"
                )


@dataclass(frozen=True)
class ObsMLPConfig(GatedPathConfig):
    """An observation-space model for vector observations (``obs-mlp``, see ``obs_mlp.py``)."""

    width: int = 256
    """Hidden width of each member's MLP."""
    layers: int = 3
    """Hidden layers of each member's MLP."""
    members: int = 1
    """Independent predictors; > 1 gives epistemic disagreement."""
    gated_action: bool = True
    """Add a gated linear map of the action (z_next = z + head(x) + W (g * a), g in [0, 1]), so
    that a blocked move can be predicted exactly (docs/models.md, section on `obs-mlp`)."""
    obs_keys: tuple[str, ...] | None = None
    """Vector observation keys to read (None: every vector key of the dataset)."""
    context: int = 1
    """K: observed rows before the open-loop rollout over the rest of the window."""
    one_step_weight: float = 1.0
    """Weight of the teacher-forced one-step prediction error."""
    open_loop_weight: float = 1.0
    """Weight of the open-loop multi-step prediction error."""
    residual_weight: float = 0.0
    """Weight of the mean square of the MLP head's one-step increments: > 0 makes the gated
    action path, not the head, stop blocked moves, so that long rollouts do not creep through
    walls (docs/models.md, section on `obs-mlp`)."""
    seed: int = 0
    """Seed of the parameter initialization."""

    def __post_init__(self) -> None:
        _require_counts(self, ("width", "layers", "members", "context"))
        _require_obs_keys(self)
        _require_weights(self, ("one_step_weight", "open_loop_weight", "residual_weight"))
        self.check_gated_path()


@dataclass(frozen=True)
class KeypointMLPConfig(GatedPathConfig):
    """Learned image keypoints as the latent, with obs-mlp's gated predictor (``keypoint-mlp``)."""

    keypoints: int = 16
    """K: keypoints per image key (the latent holds 2K coordinates per image)."""
    conv_channels: int = 16
    """Width of the convs in front of the keypoints' 1x1 layer."""
    conv_layers: int = 1
    """Convs in front of the 1x1 layer (strided while the map stays >= keypoint_grid, then 3x3)."""
    keypoint_grid: int = 32
    """The conv halves the image while the map stays >= this many px (65 px -> 32)."""
    conv_kernel: int = 6
    """Kernel of the strided convs (padding (k - 1) // 2). 6 sees a door's edge in TwoRoom: with
    4 the keypoints located the wall worse and the door not at all (docs/models.md)."""
    width: int = 256
    """Hidden width of each member's MLP."""
    layers: int = 3
    """Hidden layers of each member's MLP."""
    members: int = 1
    """Independent predictors; > 1 gives epistemic disagreement."""
    gated_action: bool = True
    """The gated linear action path of ``obs-mlp`` (see ``gated_mlp.py``)."""
    obs_keys: tuple[str, ...] | None = None
    """Observation keys to read (None: every non-text key); at least one must be an image."""
    context: int = 1
    """K: observed rows before the open-loop rollout over the rest of the window."""
    one_step_weight: float = 10.0
    """Weight of the teacher-forced one-step prediction error (10 with the targets' gradient
    stopped put a keypoint on TwoRoom's door; 1 did not, docs/models.md)."""
    open_loop_weight: float = 10.0
    """Weight of the open-loop multi-step prediction error."""
    stop_grad_target: bool = True
    """Score predictions against the encoder's latents with gradients stopped, so the prediction
    error shapes the keypoints only as inputs (find what predicts the next step, such as walls),
    never by making the targets easier to predict (static keypoints)."""
    idm_weight: float = 4.0
    """Weight of the linear inverse-dynamics error (anti-collapse: keypoints must follow moves)."""
    var_weight: float = 1.0
    """Weight of the variance hinge on every keypoint coordinate (anti-collapse)."""
    var_target: float = 0.4
    """Std each scaled keypoint coordinate should reach over a batch (0.4: about 6 px)."""
    spread_weight: float = 0.0
    """Weight of the mean spatial variance of the keypoints' softmax maps (0: off). A diffuse
    map's keypoint is a centroid of many places, which shifts when another object's pixels join
    them (TwoRoom: the agent's dot touching the wall moves the wall's centroids); the penalty
    asks each map for one sharp place (docs/models.md)."""
    refit_every: int = 100
    """Refit the gated action map by least squares every this many training loss calls ..."""
    refit_until: int = 3000
    """... until this many calls (the encoder moves the latent while it learns)."""
    residual_weight: float = 0.0
    """Weight of the mean square of the MLP head's one-step increments (as in ``obs-mlp``)."""
    seed: int = 0
    """Seed of the parameter initialization."""

    def __post_init__(self) -> None:
        _require_counts(
            self,
            ("keypoints", "conv_channels", "conv_layers", "keypoint_grid", "conv_kernel",
             "width", "layers", "members", "context", "refit_every", "refit_until"),
        )  # fmt: skip
        _require_obs_keys(self)
        _require_weights(
            self,
            (
                "one_step_weight",
                "open_loop_weight",
                "idm_weight",
                "var_weight",
                "residual_weight",
                "spread_weight",
            ),
        )
        self.check_gated_path()
        if not self.var_target > 0:
            raise ForethoughtError(
                f"KeypointMLPConfig: var_target must be > 0, got {self.var_target!r}"
            )


ModelConfig = JEPAConfig | ObsMLPConfig | KeypointMLPConfig


def with_overrides(config: Any, **overrides: Any) -> Any:
    """``config`` with some fields replaced; unknown names and bad values raise ForethoughtError."""
    names = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ForethoughtError(
            f"{type(config).__name__} has no field(s) {unknown}; valid fields: {sorted(names)}"
        )
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    if "regularizer" in fixed and "idm_weight" not in fixed:
        fixed["idm_weight"] = None  # re-resolve the regularizer-dependent default
    return replace(config, **fixed)


_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        latent_dim=32, hidden_dim=128, encoder_width=128, cnn_channels=(8, 16, 16),
        sigreg_slices=128,
    ),
    # small: one strided conv to 8 keypoints on a 32 px map, and 3x the temporal smoothness
    # (docs/models.md, "TwoRoom from pixels": 1.33 / 1.90 px at 16 steps against 1.97 / 2.12 px
    # with the old weight of 1, over seeds 0 / 1, with the frozen-encoder phase)
    "small": dict(
        latent_dim=64, hidden_dim=256, encoder_width=256, cnn_channels=(16, 8),
        keypoint_grid=32, sigreg_time_weight=3.0, sigreg_slices=256,
    ),
    "base": dict(
        latent_dim=128, hidden_dim=512, encoder_width=512, cnn_channels=(32, 64, 64, 64),
        sigreg_slices=512,
    ),
}  # fmt: skip

OBS_MLP_PRESETS: dict[str, ObsMLPConfig] = {
    "tiny": ObsMLPConfig(width=128, layers=2),
    "small": ObsMLPConfig(width=256, layers=3),
    "base": ObsMLPConfig(width=512, layers=3),
}
KEYPOINT_MLP_PRESETS: dict[str, KeypointMLPConfig] = {
    "tiny": KeypointMLPConfig(keypoints=8, conv_channels=8, width=128, layers=2),
    "small": KeypointMLPConfig(keypoints=16, conv_channels=16, width=256, layers=3),
    "base": KeypointMLPConfig(keypoints=32, conv_channels=32, width=512, layers=3),
}
JEPA_PRESETS: dict[str, JEPAConfig] = {k: JEPAConfig(**v) for k, v in _SIZES.items()}
JEPA_ENSEMBLE_PRESETS: dict[str, JEPAConfig] = {
    k: JEPAEnsembleConfig(**v, members=m)
    for (k, v), m in zip(_SIZES.items(), (4, 5, 5), strict=True)
}
