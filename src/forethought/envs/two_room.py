"""``forethought/TwoRoom-v0``: a point agent in two rooms joined by one door.

Parameters follow the public Two-Rooms / "Wall" task (facts only, no code copied):

- vladisai/PLDM ``pldm_envs/wall/wall.py``, ``data/single.py``, ``data/wall.py``,
  ``data/wall_utils.py``: 65x65 image (``configs/*.yaml``), border 5 px, wall 3 px wide,
  door half-height 4 px, Gaussian dot with std 1.3 px, action norm capped at 2.45,
  wall x in ``range(20, 45)`` (``wall_padding=20``), door y in ``range(10, 55)``
  (``door_padding=10``), start/goal margin ``2 * dot_std`` for the cross-wall eval,
  a step that hits a wall stops at the contact point.
- facebookresearch/eb_jepa ``eb_jepa/datasets/two_rooms/env.py`` (read via a fork):
  same geometry; success when the agent is within 4.5 px of the goal (a threshold
  they take from DINO-WM's wall wrapper).
- gaoyuezhou/dino_wm ``env/wall/envs/wall.py`` (read via a fork): same geometry,
  start and goal drawn in opposite rooms for planning.

Where we differ (by our spec): one uint8 channel (walls at 128, dot peak 255, merged
by max) instead of separate dot and wall channels; wall and door are drawn per
episode; no contact noise, so the dynamics are deterministic; positions are pixel
units with pixel ``i`` covering ``[i - 0.5, i + 0.5]``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

IMG_SIZE = 65
BORDER = 5
WALL_HALF = 1  # wall pixels are wall_x - 1 .. wall_x + 1 (3 px)
DOOR_HALF = 4  # door pixels are door_y - 4 .. door_y + 4
DOT_SIGMA = 1.3
MAX_STEP = 2.45
SUCCESS_RADIUS = 4.5
WALL_X_RANGE = (20, 44)  # inclusive
DOOR_Y_RANGE = (10, 54)  # inclusive
WALL_VALUE = 128
ARENA_LO = BORDER - 0.5  # 4.5: free space is the open square (ARENA_LO, ARENA_HI)^2
ARENA_HI = IMG_SIZE - BORDER - 0.5  # 59.5
CONTACT_EPS = 1e-3  # a blocked step stops this far (px) in front of the wall face
SPAWN_MARGIN = 1.0  # random starts and goals keep this distance (px) from walls
EVAL_MARGIN = 2 * DOT_SIGMA  # margin of the different-rooms protocol (PLDM eval)
_DOT_RADIUS = 4  # 9x9 patch; with uint8 truncation as in PLDM the rest is exactly 0

Rect = tuple[float, float, float, float]  # x0, x1, y0, y1 (closed solid)


def wall_rects(wall_x: int, door_y: int) -> tuple[Rect, Rect]:
    """Return the two solid pieces of the middle wall (below and above the door)."""
    x0, x1 = wall_x - WALL_HALF - 0.5, wall_x + WALL_HALF + 0.5
    return (x0, x1, 0.0, door_y - DOOR_HALF - 0.5), (x0, x1, door_y + DOOR_HALF + 0.5, IMG_SIZE)


def which_room(x: float, wall_x: float) -> int:
    """Return -1 (left room), +1 (right room) or 0 (inside the wall slab, i.e. the door)."""
    if x < wall_x - WALL_HALF - 0.5:
        return -1
    return 1 if x > wall_x + WALL_HALF + 0.5 else 0


def is_free(x: float, y: float, wall_x: int, door_y: int, margin: float = 0.0) -> bool:
    """Return whether ``(x, y)`` is at least ``margin`` px away from every wall."""
    lo, hi = ARENA_LO + margin, ARENA_HI - margin
    if not (lo < x < hi and lo < y < hi):
        return False
    for x0, x1, y0, y1 in wall_rects(wall_x, door_y):
        dx, dy = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)
        if math.hypot(dx, dy) <= margin:
            return False
    return True


def _rect_entry(px: float, py: float, dx: float, dy: float, r: Rect) -> tuple[float, float]:
    """Slab test: (time in [0, 1] the segment enters ``r``, speed along the hit normal)."""
    t0, t1, speed = -math.inf, math.inf, 0.0
    for p, d, lo, hi in ((px, dx, r[0], r[1]), (py, dy, r[2], r[3])):
        if d == 0.0:
            if p < lo or p > hi:
                return math.inf, 0.0
            continue
        ta, tb = (lo - p) / d, (hi - p) / d
        if ta > tb:
            ta, tb = tb, ta
        if ta > t0:
            t0, speed = ta, abs(d)
        t1 = min(t1, tb)
    if t0 > t1 or t1 < 0.0 or t0 > 1.0:
        return math.inf, 0.0
    return max(t0, 0.0), speed


def move(x: float, y: float, dx: float, dy: float, rects: tuple[Rect, ...]) -> tuple[float, float]:
    """Move from ``(x, y)`` by ``(dx, dy)``, stopping in front of the first wall on the way.

    The whole segment is tested (no sub-steps), so no step length can tunnel through a wall;
    a segment through the door opening touches no solid and is taken in full.
    """
    hits = [_rect_entry(x, y, dx, dy, r) for r in rects]
    for p, d in ((x, dx), (y, dy)):  # leaving the arena square
        if d > 0.0:
            hits.append(((ARENA_HI - p) / d, d))
        elif d < 0.0:
            hits.append(((ARENA_LO - p) / d, -d))
    t_hit, speed = min(hits, default=(math.inf, 0.0))
    if t_hit > 1.0:
        return x + dx, y + dy
    t = max(t_hit - CONTACT_EPS / speed, 0.0)
    return x + t * dx, y + t * dy


def render_background(wall_x: int, door_y: int) -> np.ndarray:
    """Draw border and middle wall at ``WALL_VALUE``; returns (H, W) uint8."""
    img = np.full((IMG_SIZE, IMG_SIZE), WALL_VALUE, dtype=np.uint8)  # (H, W)
    img[BORDER:-BORDER, BORDER:-BORDER] = 0
    cols = slice(wall_x - WALL_HALF, wall_x + WALL_HALF + 1)
    img[:, cols] = WALL_VALUE
    img[door_y - DOOR_HALF : door_y + DOOR_HALF + 1, cols] = 0
    return img


def draw_dot(img: np.ndarray, x: float, y: float) -> None:
    """Merge (max) a Gaussian dot of peak 255 at ``(x, y)`` into ``img`` (H, W) in place."""
    cx, cy = int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
    c0, r0 = max(cx - _DOT_RADIUS, 0), max(cy - _DOT_RADIUS, 0)
    c1, r1 = min(cx + _DOT_RADIUS + 1, img.shape[1]), min(cy + _DOT_RADIUS + 1, img.shape[0])
    k = -0.5 / DOT_SIGMA**2
    gx = np.exp(k * (np.arange(c0, c1) - x) ** 2)  # (w,)
    gy = np.exp(k * (np.arange(r0, r1) - y) ** 2)  # (h,)
    patch = (255.0 * np.outer(gy, gx)).astype(np.uint8)  # (h, w), truncated like PLDM
    np.maximum(img[r0:r1, c0:c1], patch, out=img[r0:r1, c0:c1])


def _sample_free(
    rng: np.random.Generator, wall_x: int, door_y: int, margin: float, side: int = 0
) -> np.ndarray:
    """Rejection-sample a free float32 (x, y); ``side`` -1/+1 restricts it to that room."""
    lo, hi = ARENA_LO + margin, ARENA_HI - margin
    xlo = wall_x + WALL_HALF + 0.5 + margin if side > 0 else lo
    xhi = wall_x - WALL_HALF - 0.5 - margin if side < 0 else hi
    while True:
        p = np.array([rng.uniform(xlo, xhi), rng.uniform(lo, hi)], dtype=np.float32)  # (2,)
        if is_free(float(p[0]), float(p[1]), wall_x, door_y, margin):
            return p


def sample_start_goal_in_different_rooms(
    rng: np.random.Generator, wall_x: int | None = None, door_y: int | None = None
) -> dict[str, Any]:
    """Draw the benchmark task: random layout, start and goal in opposite rooms.

    Start and goal keep ``EVAL_MARGIN`` (2 dot sigmas) from walls, as in PLDM's eval,
    and the start is in either room with equal chance.

    Args:
        rng: source of all randomness (same seed, same task).
        wall_x: fixed wall column, or None to draw it in ``WALL_X_RANGE``.
        door_y: fixed door row, or None to draw it in ``DOOR_Y_RANGE``.

    Returns:
        ``options`` for ``TwoRoomEnv.reset``: ``wall_x``, ``door_y``, ``start``, ``goal``.
    """
    wall_x = int(rng.integers(WALL_X_RANGE[0], WALL_X_RANGE[1] + 1)) if wall_x is None else wall_x
    door_y = int(rng.integers(DOOR_Y_RANGE[0], DOOR_Y_RANGE[1] + 1)) if door_y is None else door_y
    side = -1 if rng.random() < 0.5 else 1
    start = _sample_free(rng, wall_x, door_y, EVAL_MARGIN, side)
    goal = _sample_free(rng, wall_x, door_y, EVAL_MARGIN, -side)
    return {"wall_x": wall_x, "door_y": door_y, "start": start, "goal": goal}


class TwoRoomEnv(gym.Env):
    """Point agent navigating between two rooms; reward is minus the distance to a goal.

    Args:
        obs_mode: ``"state"`` (float32 ``[x, y, wall_x, door_y]``), ``"pixels"``
            ((65, 65, 1) uint8) or ``"both"`` (a Dict of the two).
        max_episode_steps: if set, the env truncates itself after this many steps; leave
            None under ``gymnasium.make``, whose TimeLimit does it instead.
        render_mode: None or ``"rgb_array"``.

    ``reset`` options: ``goal``, ``start`` (x, y), ``wall_x``, ``door_y`` fix those parts;
    ``different_rooms=True`` draws the missing start/goal in opposite rooms.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    _OPTION_KEYS = frozenset({"goal", "start", "wall_x", "door_y", "different_rooms"})

    def __init__(
        self,
        obs_mode: str = "both",
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if obs_mode not in ("state", "pixels", "both"):
            raise ValueError(f"obs_mode must be 'state', 'pixels' or 'both', got {obs_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.obs_mode, self.render_mode = obs_mode, render_mode
        self.max_episode_steps = max_episode_steps
        state = gym.spaces.Box(0.0, IMG_SIZE - 1.0, (4,), np.float32)
        pixels = gym.spaces.Box(0, 255, (IMG_SIZE, IMG_SIZE, 1), np.uint8)
        spaces = {"state": state, "pixels": pixels}
        self.observation_space = spaces[obs_mode] if obs_mode != "both" else gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-MAX_STEP, MAX_STEP, (2,), np.float32)
        self._set_layout(32, 10)  # PLDM's fixed layout until the first reset
        self._pos, self._goal, self._steps = (0.0, 0.0), np.zeros(2, np.float32), 0

    def _set_layout(self, wall_x: int, door_y: int) -> None:
        self.wall_x, self.door_y = wall_x, door_y
        self._rects = wall_rects(wall_x, door_y)
        self._background = render_background(wall_x, door_y)  # (H, W) uint8

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Draw a layout, start and goal (see the class docstring for ``options``)."""
        super().reset(seed=seed)
        opts = dict(options or {})
        if unknown := set(opts) - self._OPTION_KEYS:
            raise ValueError(
                f"unknown reset options {sorted(unknown)}; allowed: {sorted(self._OPTION_KEYS)}"
            )
        rng = self.np_random
        wall_x = _layout_option(opts, "wall_x", WALL_X_RANGE, rng)
        door_y = _layout_option(opts, "door_y", DOOR_Y_RANGE, rng)
        self._set_layout(wall_x, door_y)
        start, goal = self._draw_start_goal(opts, bool(opts.get("different_rooms", False)))
        self._pos, self._goal, self._steps = (float(start[0]), float(start[1])), goal, 0
        return self._observation(), self._info()

    def _draw_start_goal(self, opts: dict[str, Any], rooms: bool) -> tuple[np.ndarray, np.ndarray]:
        rng, wall_x, door_y = self.np_random, self.wall_x, self.door_y
        margin = EVAL_MARGIN if rooms else SPAWN_MARGIN
        if "start" in opts:
            start = _point_option(opts["start"], "start")
            if not is_free(float(start[0]), float(start[1]), wall_x, door_y):
                raise ValueError(f"start {start.tolist()} is inside a wall or outside the arena")
        else:
            side = (-1 if rng.random() < 0.5 else 1) if rooms else 0
            start = _sample_free(rng, wall_x, door_y, margin, side)
        if "goal" in opts:
            return start, _point_option(opts["goal"], "goal")
        side = -which_room(float(start[0]), wall_x) if rooms else 0
        if rooms and side == 0:  # given start in the doorway: either room is "the other"
            side = -1 if rng.random() < 0.5 else 1
        return start, _sample_free(rng, wall_x, door_y, margin, side)

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Move by ``action`` (norm capped at 2.45), stopping at walls."""
        dx, dy = float(action[0]), float(action[1])
        norm = math.hypot(dx, dy)
        if norm > MAX_STEP:
            dx, dy = dx * MAX_STEP / norm, dy * MAX_STEP / norm
        self._pos = move(self._pos[0], self._pos[1], dx, dy, self._rects)
        self._steps += 1
        info = self._info()
        limit = self.max_episode_steps
        truncated = limit is not None and self._steps >= limit
        return self._observation(), -info["distance"], False, truncated, info

    def render(self) -> np.ndarray | None:
        """Return the scene as (4H, 4W, 3) uint8 RGB with the goal as a red cross."""
        if self.render_mode is None:
            return None
        gray = self._pixels()[..., 0]  # (H, W)
        rgb = np.stack([gray, gray, gray], axis=-1)  # (H, W, 3)
        gx, gy = (int(math.floor(float(v) + 0.5)) for v in self._goal)
        for px, py in ((gx, gy), (gx - 1, gy), (gx + 1, gy), (gx, gy - 1), (gx, gy + 1)):
            if 0 <= px < IMG_SIZE and 0 <= py < IMG_SIZE:
                rgb[py, px] = (255, 40, 40)
        return np.repeat(np.repeat(rgb, 4, axis=0), 4, axis=1)

    def _state(self) -> np.ndarray:
        return np.array([*self._pos, self.wall_x, self.door_y], dtype=np.float32)  # (4,)

    def _pixels(self) -> np.ndarray:
        img = self._background.copy()  # (H, W)
        draw_dot(img, *self._pos)
        return img[:, :, None]  # (H, W, 1)

    def _observation(self) -> Any:
        if self.obs_mode == "state":
            return self._state()
        if self.obs_mode == "pixels":
            return self._pixels()
        return {"state": self._state(), "pixels": self._pixels()}

    def _info(self) -> dict[str, Any]:
        distance = math.hypot(
            self._pos[0] - float(self._goal[0]), self._pos[1] - float(self._goal[1])
        )
        return {
            "state": self._state(),
            "goal": self._goal.copy(),
            "distance": distance,
            "is_success": distance < SUCCESS_RADIUS,
        }


def _layout_option(
    opts: dict[str, Any], key: str, bounds: tuple[int, int], rng: np.random.Generator
) -> int:
    if key not in opts:
        return int(rng.integers(bounds[0], bounds[1] + 1))
    value = opts[key]
    if float(value) != int(value) or not bounds[0] <= int(value) <= bounds[1]:
        raise ValueError(f"{key} must be an integer in [{bounds[0]}, {bounds[1]}], got {value!r}")
    return int(value)


def _point_option(value: Any, key: str) -> np.ndarray:
    point = np.asarray(value, dtype=np.float32).reshape(-1)  # (2,)
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise ValueError(f"{key} must be a finite (x, y) pair, got {value!r}")
    return point
