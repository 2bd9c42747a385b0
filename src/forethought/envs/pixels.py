"""Pixel observations for any env that can render: a wrapper and fast headless MuJoCo settings."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image


def resize_image(img: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) uint8 -> (size, size, C) uint8, box-filtered (area average) when shrinking."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    squeeze = img.shape[-1] == 1
    pil = Image.fromarray(np.ascontiguousarray(img[..., 0] if squeeze else img))
    out = np.asarray(
        pil.resize((size, size), Image.BOX if img.shape[0] >= size else Image.BILINEAR)
    )
    return out[..., None] if squeeze else out


def prepare_mujoco_rendering(env: gym.Env) -> None:
    """Follow the robot and render fast.

    Uses the model's ``track`` camera when it has one (HalfCheetah, Hopper, Walker2d, Ant, ...:
    the free default camera does not follow the body, which walks out of view) and turns off
    shadows, reflections and multisampling (about 20-30x faster offscreen frames).
    """
    model = getattr(env.unwrapped, "model", None)
    if model is None or not hasattr(model, "vis"):
        return
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    names = [model.camera(i).name for i in range(model.ncam)]
    if renderer is not None and renderer.camera_id in (None, -1) and "track" in names:
        renderer.camera_id = names.index("track")
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0
    if hasattr(model, "mat_reflectance"):
        model.mat_reflectance[:] = 0  # no reflections


class PixelObservation(gym.ObservationWrapper):
    """Adds (or replaces the observation with) the rendered frame at ``size`` x ``size``.

    ``keep_state=False`` gives a Box image observation (stored as key ``pixels``);
    ``keep_state=True`` gives a Dict with the original observation's keys plus ``pixels``
    (a bare original observation is kept as ``state``).
    """

    def __init__(self, env: gym.Env, size: int = 64, keep_state: bool = False) -> None:
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise gym.error.Error("PixelObservation needs an env made with render_mode='rgb_array'")
        self.size = size
        self.keep_state = keep_state
        env.reset(seed=0)
        channels = int(np.asarray(env.render()).shape[-1])
        image = gym.spaces.Box(0, 255, (size, size, channels), np.uint8)
        if not keep_state:
            self.observation_space = image
        elif isinstance(env.observation_space, gym.spaces.Dict):
            self.observation_space = gym.spaces.Dict(
                {**env.observation_space.spaces, "pixels": image}
            )
        else:
            self.observation_space = gym.spaces.Dict(
                {"state": env.observation_space, "pixels": image}
            )

    def observation(self, observation: Any) -> Any:
        frame = resize_image(np.asarray(self.env.render()), self.size)
        if not self.keep_state:
            return frame
        if isinstance(observation, dict):
            return {**observation, "pixels": frame}
        return {"state": observation, "pixels": frame}
