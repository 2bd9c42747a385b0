"""Image encoders: keypoints land where the response is, and both encoder kinds build."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models import build_model
from forethought.models.encoders import KeypointImageEncoder, SpatialSoftmax
from forethought.models.spec import ObsSpec
from tests.models._specs import PIXELS_AND_VECTOR as PIXELS


def test_spatial_softmax_finds_a_single_peak():
    layer = SpatialSoftmax(5, 9)
    maps = torch.zeros(1, 2, 5, 9)
    maps[0, 0, 0, 0] = 100.0  # top-left corner
    maps[0, 1, 4, 6] = 100.0  # bottom row, x = 6 of 0..8
    xy = layer(maps).reshape(2, 2)  # (K, [x, y]) in [-1, 1]
    torch.testing.assert_close(xy[0], torch.tensor([-1.0, -1.0]))
    torch.testing.assert_close(xy[1], torch.tensor([-1.0 + 2 * 6 / 8, 1.0]))


def test_spatial_softmax_spread_is_zero_on_a_peak_and_the_variance_of_a_split_map():
    layer = SpatialSoftmax(5, 9)
    maps = torch.zeros(1, 2, 5, 9)
    maps[0, 0, 2, 4] = 100.0  # one peak at the centre
    maps[0, 1, 0, 0] = maps[0, 1, 0, 8] = 100.0  # half at the top-left, half at the top-right
    xy, spread = layer.locate_with_spread(maps)
    torch.testing.assert_close(xy, layer(maps))
    torch.testing.assert_close(xy.reshape(2, 2)[1], torch.tensor([0.0, -1.0]))
    torch.testing.assert_close(spread, torch.tensor([[0.0, 1.0]]))  # x = -1 or +1: variance 1


def test_keypoint_encoder_shapes_and_grid():
    enc = KeypointImageEncoder(ObsSpec("pixels", (65, 65, 1), "uint8"), (8, 16, 12), width=64)
    out = enc(torch.randint(0, 256, (3, 65, 65, 1), dtype=torch.uint8))
    assert out.shape == (3, 24) and enc.out_dim == 24
    assert enc.keypoints.grid.shape == (16 * 16, 2)  # 65 -> 32 -> 16, then stride 1
    fine = KeypointImageEncoder(
        ObsSpec("pixels", (65, 65, 1), "uint8"), (8, 16, 12), width=64, grid=32
    )
    assert fine.keypoints.grid.shape == (32 * 32, 2)  # 65 -> 32, then stride 1


def test_keypoint_grid_reaches_the_model_and_is_validated():
    def grid_cells(**overrides) -> int:  # PIXELS images are 16 x 16
        model = build_model("jepa", "tiny", PIXELS, **overrides)
        (net,) = (n for n in model.encoder.nets.values() if isinstance(n, KeypointImageEncoder))
        return net.keypoints.grid.shape[0]

    assert grid_cells() == 16 * 16  # 16 px is already the default grid: no stride
    assert grid_cells(keypoint_grid=4) == 4 * 4  # 16 -> 8 -> 4
    with pytest.raises(ForethoughtError, match="keypoint_grid must be an integer >= 1"):
        build_model("jepa", "tiny", PIXELS, keypoint_grid=0)


def test_keypoint_kernel_reaches_the_strided_convs_and_is_validated():
    model = build_model("jepa", "tiny", PIXELS, keypoint_grid=4, keypoint_kernel=6)
    (net,) = (n for n in model.encoder.nets.values() if isinstance(n, KeypointImageEncoder))
    strided = [m for m in net.conv if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert strided and all(m.kernel_size == (6, 6) for m in strided)
    with pytest.raises(ForethoughtError, match="keypoint_kernel must be an integer >= 1"):
        build_model("jepa", "tiny", PIXELS, keypoint_kernel=0)


@pytest.mark.parametrize("kind", ["keypoints", "conv"])
def test_both_image_encoders_build_a_model(kind):
    model = build_model("jepa", "tiny", PIXELS, image_encoder=kind)
    obs = {
        s.key: torch.zeros(2, *s.shape, dtype=torch.uint8 if s.is_image else torch.float32)
        for s in PIXELS.obs
    }
    assert model.encode_goal(obs).shape == (2, model.latent_dim)


def test_unknown_image_encoder_is_refused():
    with pytest.raises(ForethoughtError, match="image_encoder must be one of"):
        build_model("jepa", "tiny", PIXELS, image_encoder="vit")
