"""Scripted exploration policy for ``forethought/TwoRoom-v0`` (the data-collection recipe).

Follows the random-walk recipe of the public Two-Rooms data (vladisai/PLDM
``pldm_envs/wall/data/single.py`` and ``data/wall.py``; facts only, no code copied):
a random initial heading, then at each step the heading turns by a von Mises angle
(PLDM: concentration ``1 / action_angle_noise``, 5.0 in ``configs/good_quality_data.yaml``),
and a share of the trajectories is forced through the door (PLDM ``cross_wall_rate``,
0.1 by default, 0.6 in ``good_quality_data.yaml``). Differences, by our spec: step
lengths are uniform in ``[0, 2.45]`` (PLDM: truncated normal, mean 1, in ``[0.2, 1.8]``);
door crossers steer in closed loop toward two waypoints on either side of the door
(PLDM stitches pre-drawn action sequences through a door point); a walker blocked by
a wall turns around (PLDM's walkers stay stuck until their heading drifts away).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from forethought.envs.two_room import DOOR_HALF, MAX_STEP, which_room


class TwoRoomExplorer:
    """Von Mises random walker, a share of which walks through the door first.

    Matches the collection ``Policy`` protocol (``reset(obs, info, rng)`` then
    ``act(obs, info)``); all randomness comes from the ``rng`` given to ``reset``.
    Positions are read from ``info["state"]`` (x, y, wall x, door y), so any
    observation mode works.

    Args:
        crosser_share: probability that an episode is a door crosser (default 0.3).
        kappa: von Mises concentration of the per-step heading turn while wandering
            (default 5.0, PLDM's ``1 / 0.2``; turn std about 0.47 rad).
        steer_kappa: concentration of the heading noise around the waypoint
            direction while crossing (default 20.0, std about 0.23 rad).
        max_step: largest step length; lengths are uniform in ``[0, max_step]``.
        waypoint_offset: the crossing waypoints are this far (px) left and right of
            the wall centre, at a door row jittered by up to ``DOOR_HALF - 2`` px.
        waypoint_tol: a waypoint counts as reached within this distance (px).
        give_up_steps: a crosser that has not finished after this many steps wanders.
        bounce: turn around (plus von Mises noise) when a wall blocks most of a step.
        box_steps: wandering step lengths are uniform up to the edge of the action box in the
            heading's direction (up to ``max_step * sqrt(2)`` on diagonals, which the env caps
            to its largest step) instead of up to ``max_step``: the data then covers every
            action a planner samples from the box, not only the disc a walker uses.
        full_step_share: with ``box_steps``, the share of wandering steps that go all the way
            to the box edge (full speed, the actions planners converge to).
        edge_row_share: the share of crossers whose door row is drawn within 2 px of a door
            edge (either side of it) instead of near the door's middle: they press on the wall
            face beside the opening, or on the opening's edge, until they give up. Shortest
            paths through the door pass there, and a model must learn where exactly it opens.
        wall_follow_share: the share of wandering walkers' wall hits after which the walker
            follows the wall instead of turning around: for ``follow_steps`` steps its heading
            is the wall's direction (the axis across the blocked heading's main axis) with
            ``steer_kappa`` noise, so about half the steps slide along the wall and half press
            slightly into it (and stop: a blocked step stops at the contact point). Planned
            paths slide along the middle wall to the door; a bouncing walker rarely does.
        follow_steps: steps of one wall-following stretch.

    Attributes:
        is_crosser: whether the current episode was drawn as a door crosser.
    """

    def __init__(
        self,
        crosser_share: float = 0.3,
        kappa: float = 5.0,
        steer_kappa: float = 20.0,
        max_step: float = MAX_STEP,
        waypoint_offset: float = 5.0,
        waypoint_tol: float = 1.0,
        give_up_steps: int = 80,
        bounce: bool = True,
        box_steps: bool = False,
        full_step_share: float = 0.0,
        edge_row_share: float = 0.0,
        wall_follow_share: float = 0.0,
        follow_steps: int = 20,
    ) -> None:
        if not 0.0 <= crosser_share <= 1.0:
            raise ValueError(f"crosser_share must be in [0, 1], got {crosser_share}")
        if not 0.0 <= full_step_share <= 1.0:
            raise ValueError(f"full_step_share must be in [0, 1], got {full_step_share}")
        if not 0.0 <= edge_row_share <= 1.0:
            raise ValueError(f"edge_row_share must be in [0, 1], got {edge_row_share}")
        if not 0.0 <= wall_follow_share <= 1.0:
            raise ValueError(f"wall_follow_share must be in [0, 1], got {wall_follow_share}")
        if follow_steps < 1:
            raise ValueError(f"follow_steps must be >= 1, got {follow_steps}")
        self.crosser_share, self.kappa, self.steer_kappa = crosser_share, kappa, steer_kappa
        self.max_step, self.waypoint_offset, self.waypoint_tol = (
            max_step,
            waypoint_offset,
            waypoint_tol,
        )
        self.give_up_steps, self.bounce = give_up_steps, bounce
        self.box_steps, self.full_step_share = box_steps, full_step_share
        self.edge_row_share = edge_row_share
        self.wall_follow_share, self.follow_steps = wall_follow_share, follow_steps
        self._follow_heading = 0.0  # the wall's direction while following
        self._follow_left = 0  # steps of the current wall-following stretch still to go
        self._rng = np.random.default_rng(0)
        self._heading, self._steps, self._last = 0.0, 0, None
        self._waypoints: list[tuple[float, float]] = []
        self.is_crosser = False

    def reset(self, obs: Any, info: dict[str, Any], rng: np.random.Generator) -> None:
        """Start an episode: draw the heading and whether this episode crosses the door."""
        self._rng, self._steps, self._last = rng, 0, None
        self._follow_left = 0
        self._heading = float(rng.uniform(-math.pi, math.pi))
        self.is_crosser = bool(rng.random() < self.crosser_share)
        self._waypoints = self._door_waypoints(info["state"]) if self.is_crosser else []

    def act(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        """Return the next displacement, float32 (2,): norm <= ``max_step``, or inside the box
        ``[-max_step, max_step]^2`` with ``box_steps``."""
        x, y = float(info["state"][0]), float(info["state"][1])
        self._steps += 1
        if self._steps > self.give_up_steps:
            self._waypoints = []
        target = self._next_waypoint(x, y)
        step = float(self._rng.uniform(0.0, self.max_step))
        if target is not None:
            dist = math.hypot(target[0] - x, target[1] - y)
            noise = self._rng.vonmises(0.0, self.steer_kappa)
            self._heading = math.atan2(target[1] - y, target[0] - x) + noise
            step = min(step, dist)
        else:
            if (
                self.wall_follow_share
                and self._follow_left == 0
                and self._blocked(x, y)
                and self._rng.random() < self.wall_follow_share
            ):
                self._follow_heading, self._follow_left = self._along_wall(), self.follow_steps
            if self._follow_left > 0:
                self._follow_left -= 1
                noise = self._rng.vonmises(0.0, self.steer_kappa)
                self._heading = self._follow_heading + noise
            else:
                turn = self._rng.vonmises(0.0, self.kappa)
                if self.bounce and self._blocked(x, y):
                    turn += math.pi
                self._heading = (self._heading + turn + math.pi) % (2 * math.pi) - math.pi
            if self.box_steps:
                step = self._box_step(step)
        self._last = (x, y, min(step, self.max_step))  # the env caps longer steps
        action = np.array([step * math.cos(self._heading), step * math.sin(self._heading)])
        return np.clip(action, -self.max_step, self.max_step).astype(np.float32)  # (2,)

    def _along_wall(self) -> float:
        """A heading along the wall just hit (the walls are axis-aligned): across the blocked
        heading's main axis, on the side it was already drifting to (random when square on)."""
        cx, sy = math.cos(self._heading), math.sin(self._heading)
        if abs(cx) >= abs(sy):  # mostly along x: a vertical wall, follow it up or down
            sign = math.copysign(1.0, sy) if abs(sy) > 1e-3 else self._rng.choice([-1.0, 1.0])
            return sign * math.pi / 2
        if abs(cx) > 1e-3:
            return 0.0 if cx > 0 else math.pi
        return float(self._rng.choice([0.0, math.pi]))

    def _box_step(self, step: float) -> float:
        """Rescale a step drawn in ``[0, max_step]`` to ``[0, edge]``, the box edge along the
        heading; a ``full_step_share`` of steps go to the edge."""
        edge = self.max_step / max(abs(math.cos(self._heading)), abs(math.sin(self._heading)))
        if self.full_step_share and self._rng.random() < self.full_step_share:
            return edge
        return step / self.max_step * edge

    def _door_waypoints(self, state: np.ndarray) -> list[tuple[float, float]]:
        """Two points on the door row: one in front of the door, one past it."""
        x, wall_x, door_y = float(state[0]), float(state[2]), float(state[3])
        side = which_room(x, wall_x) or (-1 if x < wall_x else 1)
        if self.edge_row_share and self._rng.random() < self.edge_row_share:
            edge = DOOR_HALF + 0.5 + float(self._rng.uniform(-2.0, 2.0))  # from the door row
            row = door_y + (edge if self._rng.random() < 0.5 else -edge)
        else:
            row = door_y + float(self._rng.uniform(-(DOOR_HALF - 2), DOOR_HALF - 2))
        near, far = wall_x + side * self.waypoint_offset, wall_x - side * self.waypoint_offset
        return [(near, row), (far, row)]

    def _next_waypoint(self, x: float, y: float) -> tuple[float, float] | None:
        while self._waypoints:
            wx, wy = self._waypoints[0]
            if math.hypot(wx - x, wy - y) > self.waypoint_tol:
                return wx, wy
            self._waypoints.pop(0)
        return None

    def _blocked(self, x: float, y: float) -> bool:
        """Whether the last step moved less than half of what was asked (hit a wall)."""
        if self._last is None or self._last[2] < 0.2:
            return False
        lx, ly, asked = self._last
        return math.hypot(x - lx, y - ly) < 0.5 * asked


def make_explorer(observation_space: gym.Space, action_space: gym.Space) -> TwoRoomExplorer:
    """Factory for ``--policy forethought.envs.exploration:make_explorer``.

    Args:
        observation_space: the env's observation space (unused; positions come from info).
        action_space: must be the TwoRoom ``Box`` of shape (2,); its bound sets ``max_step``.

    Returns:
        A ``TwoRoomExplorer`` with default parameters.
    """
    if not isinstance(action_space, gym.spaces.Box) or action_space.shape != (2,):
        raise ValueError(
            f"TwoRoomExplorer needs a Box action space of shape (2,), got {action_space}"
        )
    return TwoRoomExplorer(max_step=float(np.min(action_space.high)))


def make_contact_explorer(observation_space: gym.Space, action_space: gym.Space) -> TwoRoomExplorer:
    """Factory for ``--policy forethought.envs.exploration:make_contact_explorer``: walkers that
    stay at a wall until their heading drifts away (``bounce=False``, as in PLDM's recipe).

    The data then holds sustained wall contact (39% of steps blocked, against 4.9% with
    :func:`make_explorer`), which models need to learn that walls stop the agent for many steps
    in a row (``benchmarks/bench_wall_contact.py``).
    """
    explorer = make_explorer(observation_space, action_space)
    explorer.bounce = False
    return explorer


def make_full_range_explorer(
    observation_space: gym.Space, action_space: gym.Space
) -> TwoRoomExplorer:
    """Factory for ``--policy forethought.envs.exploration:make_full_range_explorer``: contact
    walkers (as :func:`make_contact_explorer`) whose steps cover the whole action box, half of
    them at full speed.

    Planners sample actions from the box and favour full-speed steps; a model that saw only
    the walkers' shorter steps can let full-speed pushes sink through a wall, and a planner
    finds and exploits that (``benchmarks/bench_wall_contact.py --speed 2.45``).
    """
    explorer = make_contact_explorer(observation_space, action_space)
    explorer.box_steps, explorer.full_step_share = True, 0.5
    return explorer


def make_door_edge_explorer(
    observation_space: gym.Space, action_space: gym.Space
) -> TwoRoomExplorer:
    """Factory for ``--policy forethought.envs.exploration:make_door_edge_explorer``: the
    full-range explorer (:func:`make_full_range_explorer`) with half the episodes crossing,
    half of those at a row near a door edge (``edge_row_share``), so the data holds many
    pushes on the wall beside the opening and on its edges, where planned paths pass.
    """
    explorer = make_full_range_explorer(observation_space, action_space)
    explorer.crosser_share, explorer.edge_row_share = 0.5, 0.5
    return explorer


def make_wall_follow_explorer(
    observation_space: gym.Space, action_space: gym.Space
) -> TwoRoomExplorer:
    """Factory for ``--policy forethought.envs.exploration:make_wall_follow_explorer``: the
    door-edge explorer (:func:`make_door_edge_explorer`) whose wanderers follow the wall after
    half their wall hits (``wall_follow_share``) instead of bouncing off. Models trained on
    bouncing walkers under-predict a slide along a wall (measured: 1.7-2.2 px per full-speed
    step against the true 2.45), so a planned slide to a far door falls short. Measured on
    TwoRoom (``docs/benchmarks.md``): better temporal-distance heads, but ``obs-mlp`` trained
    on it planned worse (92.5% against 97.0% on door-edge data, one seed each).
    """
    explorer = make_door_edge_explorer(observation_space, action_space)
    explorer.wall_follow_share = 0.5
    return explorer
