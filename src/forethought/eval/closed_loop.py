"""Closed-loop evaluation: drive a real env with a policy, count successes, time the planner.

One loop for every policy (the MPC agent, random actions, a user's own): anything with
``reset(obs)`` and ``act(obs, prev_action) -> action``; a ``plan_times`` list (seconds per plan
call, as :class:`~forethought.planning.MPCAgent` keeps) is read when present.

Success is the env's ``info["is_success"]`` **after the last step** of the episode (the published
TwoRoom protocol: the final distance is below 4.5 px after the budget). The episode runs the full
``max_steps`` unless the env ends it, or ``stop_on_success=True`` stops it at the first success
(then final and first success agree). The first step with success is recorded either way.

Goal tasks (the TwoRoom protocol), goal agents and the models and planners they use are in
:mod:`forethought.eval.goals`.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from forethought.core.errors import ForethoughtError
from forethought.eval.metrics import SuccessRate

Task = dict[str, Any]  # reset options of one episode (TwoRoom: wall_x, door_y, start, goal)


class Policy(Protocol):
    """What the loop calls; ``MPCAgent`` and ``RandomAgent`` fit."""

    def reset(self, obs: Any) -> None: ...

    def act(self, obs: Any, prev_action: Any = None) -> Any: ...


# ---------------------------------------------------------------------------- one episode


@dataclass(frozen=True)
class EpisodeResult:
    """One closed-loop episode.

    Attributes:
        success: ``info["is_success"]`` after the last step taken.
        steps: env steps taken.
        steps_to_success: the first step (1-based) after which ``is_success`` held, else None.
        final_distance: ``info["distance"]`` after the last step, when the env reports one.
        final_state: ``info["state"]`` after the last step (e.g. TwoRoom's x, y, wall x, door
            y), when the env reports one: where a failed episode ended.
        plan_seconds: wall seconds of each plan call made during this episode.
        frames: ``env.render()`` at reset and after every step when recorded, else empty
            (not written by :meth:`to_dict`).
    """

    success: bool
    steps: int
    steps_to_success: int | None
    final_distance: float | None
    plan_seconds: tuple[float, ...]
    final_state: tuple[float, ...] | None = None
    frames: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "steps": self.steps,
            "steps_to_success": self.steps_to_success,
            "final_distance": (
                None if self.final_distance is None else round(self.final_distance, 4)
            ),
            "final_state": (
                None if self.final_state is None else [round(v, 3) for v in self.final_state]
            ),
            "plan_calls": len(self.plan_seconds),
            "plan_ms_mean": (
                round(1000 * statistics.fmean(self.plan_seconds), 3) if self.plan_seconds else None
            ),
        }


def _frame(env: gym.Env) -> np.ndarray:
    frame = env.render()
    if frame is None:
        raise ForethoughtError(
            "recording frames needs an env made with render_mode='rgb_array' "
            "(make_env(..., render_mode='rgb_array'))"
        )
    return np.asarray(frame)


def run_episode(
    env: gym.Env,
    agent: Policy,
    max_steps: int,
    goal: Any = None,
    seed: int | None = None,
    record_frames: bool = False,
    options: Task | None = None,
    stop_on_success: bool = False,
) -> EpisodeResult:
    """Reset ``env`` and let ``agent`` act for up to ``max_steps`` steps.

    Args:
        env: a Gymnasium env whose ``info`` has ``is_success`` (and ``distance`` if known).
        agent: ``reset(obs)`` / ``act(obs, prev_action)``; it must already know its goal.
        max_steps: the step budget (the env's own time limit may end the episode sooner).
        goal: shorthand for ``options["goal"]``.
        seed: passed to ``env.reset``.
        record_frames: keep ``env.render()`` frames (the env needs ``render_mode="rgb_array"``).
        options: ``env.reset`` options, e.g. one of :func:`two_room_tasks`.
        stop_on_success: end the episode at the first success instead of running the budget.

    Returns:
        An :class:`EpisodeResult`; ``success`` is the state after the last step (module doc).
    """
    if max_steps < 1:
        raise ForethoughtError(f"max_steps must be >= 1, got {max_steps}")
    opts = dict(options or {})
    if goal is not None:
        opts["goal"] = goal
    obs, info = env.reset(seed=seed, options=opts or None)
    plan_times = getattr(agent, "plan_times", None)
    calls_before = len(plan_times) if plan_times is not None else 0
    agent.reset(obs)
    frames = [_frame(env)] if record_frames else []
    action, steps, first_success = None, 0, None
    while steps < max_steps:
        action = agent.act(obs, action)
        obs, _, terminated, truncated, info = env.step(action)
        steps += 1
        if record_frames:
            frames.append(_frame(env))
        if "is_success" not in info:
            raise ForethoughtError(
                f"{env.spec.id if env.spec else type(env).__name__} does not report "
                "info['is_success']; closed-loop success needs it"
            )
        if info["is_success"] and first_success is None:
            first_success = steps
            if stop_on_success:
                break
        if terminated or truncated:
            break
    times = tuple(plan_times[calls_before:]) if plan_times is not None else ()
    distance, state = info.get("distance"), info.get("state")
    return EpisodeResult(
        success=bool(info["is_success"]),
        steps=steps,
        steps_to_success=first_success,
        final_distance=None if distance is None else float(distance),
        plan_seconds=times,
        final_state=None if state is None else tuple(float(v) for v in np.ravel(state)),
        frames=tuple(frames),
    )


# ---------------------------------------------------------------------------- many episodes


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


@dataclass(frozen=True)
class PlanningResult:
    """Success over a task set, with its Wilson 95% interval, and planning cost.

    Attributes:
        success: successes (final state, see module doc) out of the episodes, with interval.
        steps_to_success_median: median first-success step over the successful episodes.
        final_distance_median: median final distance, when the env reports distances.
        plan_ms_median / plan_ms_p95: over every plan call of every episode (None: no planner).
        plan_calls: plan calls in all.
        env_steps: env steps in all.
        max_steps: the step budget per episode.
        episodes: one row per task.
    """

    success: SuccessRate
    steps_to_success_median: float | None
    final_distance_median: float | None
    plan_ms_median: float | None
    plan_ms_p95: float | None
    plan_calls: int
    env_steps: int
    max_steps: int
    episodes: tuple[EpisodeResult, ...]

    @classmethod
    def from_episodes(cls, episodes: Sequence[EpisodeResult], max_steps: int) -> PlanningResult:
        if not episodes:
            raise ForethoughtError("a planning result needs at least one episode")
        wins = [e.steps_to_success for e in episodes if e.success and e.steps_to_success]
        dists = [e.final_distance for e in episodes if e.final_distance is not None]
        times = [1000 * t for e in episodes for t in e.plan_seconds]
        return cls(
            success=SuccessRate.from_counts(sum(e.success for e in episodes), len(episodes)),
            steps_to_success_median=float(statistics.median(wins)) if wins else None,
            final_distance_median=float(statistics.median(dists)) if dists else None,
            plan_ms_median=_percentile(times, 50) if times else None,
            plan_ms_p95=_percentile(times, 95) if times else None,
            plan_calls=len(times),
            env_steps=sum(e.steps for e in episodes),
            max_steps=max_steps,
            episodes=tuple(episodes),
        )

    def to_dict(self, episodes: bool = True) -> dict[str, Any]:
        """JSON-ready numbers; ``episodes=False`` leaves out the per-episode rows."""

        def r(v: float | None, d: int = 3) -> float | None:
            return None if v is None else round(v, d)

        out: dict[str, Any] = {
            "success": self.success.to_dict(),
            "steps_to_success_median": self.steps_to_success_median,
            "final_distance_median": r(self.final_distance_median),
            "plan_ms_median": r(self.plan_ms_median),
            "plan_ms_p95": r(self.plan_ms_p95),
            "plan_calls": self.plan_calls,
            "env_steps": self.env_steps,
            "max_steps": self.max_steps,
        }
        if episodes:
            out["episodes"] = [e.to_dict() for e in self.episodes]
        return out

    def summary(self) -> str:
        """One line: rate [low, high], steps, plan time."""
        s = self.success
        line = f"{s.successes}/{s.n} = {100 * s.rate:.1f}% [{100 * s.low:.1f}, {100 * s.high:.1f}]"
        if self.steps_to_success_median is not None:
            line += f", median {self.steps_to_success_median:g} steps"
        if self.plan_ms_median is not None:
            line += f", plan {self.plan_ms_median:.1f} ms (p95 {self.plan_ms_p95:.1f})"
        return line


AgentFactory = Callable[[gym.Env, Task | None], Policy]  # (env, task) -> a policy for this task


def evaluate_planning(
    make_env_fn: Callable[[], gym.Env],
    make_agent_fn: AgentFactory,
    tasks: Sequence[Task | None],
    max_steps: int,
    stop_on_success: bool = False,
    on_episode: Callable[[int, EpisodeResult], None] | None = None,
) -> PlanningResult:
    """Run one episode per task and summarize them.

    Args:
        make_env_fn: builds the env (once; closed at the end).
        make_agent_fn: ``(env, task) -> agent``, called per task, so the agent can be built for
            the task's goal (see :func:`goal_agent_factory`).
        tasks: reset options per episode (None: the env draws its own); episode i is reset with
            ``seed=i``.
        max_steps: the step budget per episode.
        stop_on_success: see :func:`run_episode`.
        on_episode: called with (index, result) after each episode (progress lines).
    """
    if not tasks:
        raise ForethoughtError("evaluate_planning needs at least one task")
    env = make_env_fn()
    try:
        results = []
        for i, task in enumerate(tasks):
            agent = make_agent_fn(env, task)
            res = run_episode(
                env, agent, max_steps, seed=i, options=task, stop_on_success=stop_on_success
            )
            results.append(res)
            if on_episode is not None:
                on_episode(i, res)
    finally:
        env.close()
    return PlanningResult.from_episodes(results, max_steps)


# ---------------------------------------------------------------------------- reference agents


class RandomAgent:
    """Uniform random actions from an action space (the floor of the success table).

    Args:
        action_space: a Gymnasium space; Box spaces must be bounded.
        seed: seeds the agent's own generator; each ``reset`` continues the same stream.
    """

    def __init__(self, action_space: gym.Space, seed: int = 0) -> None:
        if isinstance(action_space, gym.spaces.Box) and not action_space.is_bounded():
            raise ForethoughtError("RandomAgent needs a bounded Box action space")
        self.action_space = copy.deepcopy(action_space)  # its own generator, not the env's
        self.action_space.seed(seed)
        self.plan_times: list[float] = []  # no planning

    def reset(self, obs: Any) -> None:
        pass

    def act(self, obs: Any, prev_action: Any = None) -> Any:
        return self.action_space.sample()
