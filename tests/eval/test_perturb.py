"""Perturbations: deterministic under a generator, the right size, inside the bounds."""

from __future__ import annotations

import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.eval import action_noise, drop_frames, feature_noise, occlude, pixel_noise

torch.set_num_threads(1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_pixel_noise_is_deterministic_sized_and_stays_uint8():
    img = torch.full((4, 32, 32, 3), 128, dtype=torch.uint8)
    a, b = pixel_noise(img, 10.0, gen()), pixel_noise(img, 10.0, gen())
    assert a.dtype == torch.uint8 and a.shape == img.shape and torch.equal(a, b)
    assert not torch.equal(a, pixel_noise(img, 10.0, gen(1)))
    diff = a.float() - 128
    assert diff.std().item() == pytest.approx(10.0, rel=0.05)
    assert torch.equal(pixel_noise(img, 0.0, gen()), img)


def test_pixel_noise_clips_instead_of_wrapping():
    white = torch.full((2, 8, 8, 1), 255, dtype=torch.uint8)
    out = pixel_noise(white, 50.0, gen())
    assert out.float().mean() > 200  # uint8 wrap-around would give values near 0 too
    assert out.min() > 50
    with pytest.raises(ForethoughtError):
        pixel_noise(white.float(), 1.0, gen())
    with pytest.raises(ForethoughtError):
        pixel_noise(white, -1.0, gen())


def test_feature_noise_in_units_of_each_features_std():
    x = torch.zeros(20000, 3)
    std = torch.tensor([1.0, 10.0, 0.0])
    out = feature_noise(x, 0.5, gen(), std=std)
    torch.testing.assert_close(out.std(0), torch.tensor([0.5, 5.0, 0.0]), atol=0.1, rtol=0.02)
    assert torch.equal(out, feature_noise(x, 0.5, gen(), std=std))
    # default std: the data's own, per feature
    data = torch.randn(20000, 2, generator=gen(3)) * torch.tensor([2.0, 0.1])
    noise = feature_noise(data, 1.0, gen(), std=None) - data
    torch.testing.assert_close(noise.std(0), torch.tensor([2.0, 0.1]), atol=0, rtol=0.03)
    with pytest.raises(ForethoughtError):
        feature_noise(x, 1.0, gen(), std=torch.ones(2))


def test_occlude_paints_one_square_of_the_given_size_and_value():
    img = torch.full((2, 3, 10, 12, 3), 200, dtype=torch.uint8)
    out = occlude(img, 4, gen(), value=7)
    assert out.shape == img.shape and out.dtype == torch.uint8
    painted = (out == 7).all(-1).reshape(6, 10, 12)  # (N, H, W)
    assert painted.sum((1, 2)).tolist() == [16] * 6
    for m in painted:  # a square: 4 rows x 4 contiguous columns
        rows, cols = m.any(1).nonzero().flatten(), m.any(0).nonzero().flatten()
        assert rows.numel() == 4 and int(rows[-1] - rows[0]) == 3
        assert cols.numel() == 4 and int(cols[-1] - cols[0]) == 3
    assert ((out == 7) | (out == 200)).all()
    assert torch.equal(out, occlude(img, 4, gen(), value=7))
    assert torch.equal(occlude(img, 0, gen()), img)
    with pytest.raises(ForethoughtError):
        occlude(img, 11, gen())


def test_drop_frames_repeats_the_last_kept_frame_never_the_first():
    b, t = 3, 6
    frames = torch.arange(t, dtype=torch.float32).expand(b, t)
    obs = {"state": frames[..., None].repeat(1, 1, 2), "pixels": frames.to(torch.uint8)[..., None]}
    out, dropped = drop_frames(obs, 1.0, gen())
    assert dropped[:, 0].logical_not().all() and dropped[:, 1:].all()
    assert (out["state"] == 0).all() and (out["pixels"] == 0).all()
    same, none = drop_frames(obs, 0.0, gen())
    assert not none.any() and torch.equal(same["state"], obs["state"])
    # episode starts are kept and nothing is copied across them
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 3] = True
    out, dropped = drop_frames(obs, 1.0, gen(), is_first=is_first)
    assert out["state"][0, :, 0].tolist() == [0, 0, 0, 3, 3, 3]
    # p = 0.5: every dropped row shows its predecessor's output
    out, dropped = drop_frames(obs, 0.5, gen(5))
    shown = out["state"][..., 0]
    assert torch.equal(shown[:, 1:][dropped[:, 1:]], shown[:, :-1][dropped[:, 1:]])
    assert torch.equal(shown[~dropped], frames[~dropped])
    again, _ = drop_frames(obs, 0.5, gen(5))
    assert torch.equal(again["pixels"], out["pixels"])


def test_action_noise_relative_to_range_and_clipped():
    actions = torch.zeros(20000, 2)
    low, high = torch.tensor([-1.0, -10.0]), torch.tensor([1.0, 10.0])
    out = action_noise(actions, 0.05, low, high, gen())
    torch.testing.assert_close(out.std(0), torch.tensor([0.1, 1.0]), atol=0, rtol=0.03)
    big = action_noise(actions, 5.0, low, high, gen())
    assert (big >= low).all() and (big <= high).all()
    assert ((big == low) | (big == high)).float().mean() > 0.5
    assert torch.equal(out, action_noise(actions, 0.05, low, high, gen()))
    assert torch.equal(action_noise(actions, 0.0, -1.0, 1.0, gen()), actions)
    with pytest.raises(ForethoughtError):
        action_noise(actions, 0.1, float("-inf"), float("inf"), gen())
    with pytest.raises(ForethoughtError):
        action_noise(actions, 0.1, [0.0, 0.0, 0.0], 1.0, gen())
