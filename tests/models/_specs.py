"""Data specs the model tests run on: vector only, a Dict of image + vectors, discrete actions."""

from __future__ import annotations

from forethought.models.spec import DataSpec, ObsSpec

VECTOR = DataSpec(
    obs=(ObsSpec("state", (3,), "float32"),),
    action_dim=2,
    action_low=(-1.0, -1.0),
    action_high=(1.0, 1.0),
)

PIXELS_AND_VECTOR = DataSpec(
    obs=(
        ObsSpec("pixels", (16, 16, 3), "uint8"),
        ObsSpec("state", (4,), "float32", mean=(10.0, 0.0, 0.0, 1.0), std=(5.0, 1.0, 2.0, 0.5)),
        ObsSpec("agent/pos", (2,), "float32"),
    ),
    action_dim=3,
    action_low=(-2.0, -2.0, 0.0),
    action_high=(2.0, 2.0, 1.0),
)

DISCRETE = DataSpec(
    obs=(ObsSpec("image", (7, 7, 3), "uint8"), ObsSpec("direction", (), "int64")),
    action_dim=4,
    discrete=True,
)

SPECS = {"vector": VECTOR, "pixels+vector": PIXELS_AND_VECTOR, "discrete": DISCRETE}
