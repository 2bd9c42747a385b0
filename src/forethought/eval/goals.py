"""Planning to goals in a real env: the task protocols, goal agents, and the models, goal
readouts and planners a closed-loop run is built from.

TwoRoom protocol (PLDM / DINO-WM "Wall"): :func:`two_room_tasks` draws start/goal pairs in
different rooms with a random wall and door from a fixed seed; 200 pairs, 200 steps each.
``true-sim`` (:data:`TRUE_SIM`) stands for TwoRoom's true simulator wherever a run directory is
asked, so the same code measures the ceiling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from forethought.core.errors import ForethoughtError
from forethought.eval.closed_loop import AgentFactory, Policy, Task

# ---------------------------------------------------------------------------- goals


def two_room_tasks(n: int, seed: int = 0) -> list[Task]:
    """The TwoRoom planning protocol: ``n`` start/goal pairs in different rooms.

    One generator seeded with ``seed`` draws the tasks in order, so the first k tasks of any
    larger set are the same (a 10-task pilot is the head of the 200-task benchmark).
    """
    from forethought.envs.two_room import sample_start_goal_in_different_rooms

    if n < 1:
        raise ForethoughtError(f"need at least one task, got {n}")
    rng = np.random.default_rng(seed)
    return [sample_start_goal_in_different_rooms(rng) for _ in range(n)]


FAILURE_KINDS = ("reached_then_left", "goal_room", "start_room_at_wall", "start_room", "doorway")


def two_room_failures(tasks: list[Task], episodes: Any) -> dict[str, int]:
    """Where the failed episodes of a TwoRoom run ended, counted by kind.

    ``reached_then_left``: the goal was reached, but the agent was outside the radius at the
    end. Otherwise by the final position (``EpisodeResult.final_state``): in the goal's room;
    in the start room pressed on the middle wall (within 1 px of its face); elsewhere in the
    start room; or in the doorway.

    Args:
        tasks: the tasks the episodes ran, in order (:func:`two_room_tasks`).
        episodes: one :class:`EpisodeResult` per task.
    """
    from forethought.envs.two_room import WALL_HALF, which_room

    counts = dict.fromkeys(FAILURE_KINDS, 0)
    for task, ep in zip(tasks, episodes, strict=True):
        if ep.success:
            continue
        if ep.steps_to_success is not None:
            counts["reached_then_left"] += 1
            continue
        if ep.final_state is None:
            raise ForethoughtError("the episodes carry no final state (info['state'])")
        x, wall_x = ep.final_state[0], float(task["wall_x"])
        room = which_room(x, wall_x)
        if room == 0:
            counts["doorway"] += 1
        elif room == which_room(float(task["goal"][0]), wall_x):
            counts["goal_room"] += 1
        elif abs(x - wall_x) <= WALL_HALF + 0.5 + 1.0:
            counts["start_room_at_wall"] += 1
        else:
            counts["start_room"] += 1
    return counts


EDGE_DOOR_PX = 14.0
"""A TwoRoom door at least this far from the middle of the doors' range (y = 32 of 10-54)
counts as an edge door: y 10-18 or 46-54, 94 of the protocol's 200 layouts."""


def two_room_door_band(task: Task) -> str:
    """``"edge"`` for a TwoRoom task whose door is an edge door (see :data:`EDGE_DOOR_PX`),
    else ``"centre"``. Edge doors lie far from the straight line between most starts and goals,
    so their paths are the longest detours of the protocol."""
    from forethought.envs.two_room import DOOR_Y_RANGE

    middle = sum(DOOR_Y_RANGE) / 2
    return "edge" if abs(float(task["door_y"]) - middle) >= EDGE_DOOR_PX else "centre"


def two_room_door_bands(tasks: list[Task], successes: list[bool]) -> dict[str, list[int]]:
    """Failed and total episodes per door band (:func:`two_room_door_band`):
    ``{"edge": [failed, n], "centre": [failed, n]}``, from each task's episode's success."""
    bands = {"edge": [0, 0], "centre": [0, 0]}
    for task, success in zip(tasks, successes, strict=True):
        band = bands[two_room_door_band(task)]
        band[0] += int(not success)
        band[1] += 1
    return bands


def goal_observation(env: gym.Env, task: Task) -> Any:
    """The observation the env shows with the agent standing at ``task["goal"]``.

    For envs whose reset takes ``start`` and ``goal`` options (``forethought/TwoRoom-v0``):
    the env is reset with ``start = goal`` and the task's layout; reset it again to run the task.
    """
    if "goal" not in task:
        raise ForethoughtError("the task has no 'goal' to show")
    try:
        obs, _ = env.reset(options={**task, "start": task["goal"]})
    except (ValueError, TypeError) as e:
        name = env.spec.id if env.spec else type(env).__name__
        goal = [round(float(v), 2) for v in np.asarray(task["goal"]).reshape(-1)]
        raise ForethoughtError(
            f"{name} cannot place the agent at the goal {goal} to show it (the env says: {e})"
        ) from e
    return obs


def model_obs_keys(model: Any) -> tuple[str, ...] | None:
    """The observation keys a model reads (``model.encoder.keys``), or None when unknown."""
    keys = getattr(getattr(model, "encoder", None), "keys", None)
    return tuple(keys) if keys is not None else None


def check_model_fits_env(model: Any, obs: Any, action_space: gym.Space, env_id: str) -> None:
    """Raise a one-line error when the env's observations or actions do not fit the model.

    Checks the keys the model reads (``model.encoder.keys``), their shapes and the action size
    against the model's ``spec`` (a ``DataSpec``) when the model has them.
    """
    from forethought.planning import ActionSpaceInfo, obs_to_tensors

    have = {k: tuple(v.shape[1:]) for k, v in obs_to_tensors(obs).items()}
    keys = model_obs_keys(model)
    if keys is not None:
        if missing := [k for k in keys if k not in have]:
            raise ForethoughtError(
                f"the model reads observation keys {list(keys)} but {env_id} gives "
                f"{sorted(have)} (missing {missing}); was it trained on another env?"
            )
    spec = getattr(model, "spec", None)
    if spec is None or not hasattr(spec, "obs"):
        return
    for o in spec.obs:
        if (keys is None or o.key in keys) and o.key in have and have[o.key] != tuple(o.shape):
            raise ForethoughtError(
                f"the model reads '{o.key}' of shape {tuple(o.shape)} but {env_id} gives "
                f"{have[o.key]}; was it trained on another env?"
            )
    info = ActionSpaceInfo.of(action_space)
    if info.dim != spec.action_dim or info.discrete != spec.discrete:
        raise ForethoughtError(
            f"the model takes {spec.action_dim} {'discrete' if spec.discrete else 'continuous'} "
            f"actions but {env_id} has {info.dim} {'discrete' if info.discrete else 'continuous'}"
        )


def goal_agent_factory(
    model: Any,
    planner: Any,
    execute_steps: int = 1,
    objective: Callable[[torch.Tensor], Any] | None = None,
    step_budget: int | None = None,
    adapt: Any = None,
    memory: Any = None,
    stay_check: bool = False,
    drift_free: bool = False,
    stop_latent: float = 0.0,
    stop_each_step: bool = False,
    visits: Any = None,
) -> AgentFactory:
    """``(env, task) -> MPCAgent`` planning to the latent of the task's goal observation.

    Args:
        model: any world model; the goal is ``model.encode_goal`` of :func:`goal_observation`.
        planner: any planner (shared across episodes; plans are seeded per call).
        execute_steps: actions executed per plan.
        objective: goal latent (D,) -> objective; default :func:`goal_objective` ``()`` (squared
            latent distance summed over the horizon).
        step_budget: the episode's length when the task is scored at its end (the TwoRoom
            protocol: after step 200); plans then only count the steps left (``MPCAgent``).
        adapt: an ``AdaptConfig``: each episode's agent fine-tunes a private copy of the
            predictor on its real rows when they surprise it (``MPCAgent``); None: never.
        memory: a ``MemoryConfig``: each episode's agent imagines moves blocked where real ones
            were (``MPCAgent``); None: never.
        stay_check: each agent stands still when its objective scores the belief held still
            lower than its plan (``MPCAgent``).
        drift_free: each agent plans with the model's zero-action drift removed (``MPCAgent``).
        stop_latent: each agent stands still without planning while its belief's latent is
            within this L2 distance of the goal's latent (``StopRule``: a goal-reached test,
            sharper near the goal than a temporal-distance head); 0: never.
        stop_each_step: the stop test also runs after every real step and cuts the running
            plan short (``StopRule(each_step=True)``); before each plan only by default.
        visits: a ``VisitConfig``: each agent's plans cost more where they end near places its
            episode already spent steps at (``MPCAgent``); None: never.
    """
    from forethought.planning import GoalObjective, MPCAgent, StopRule, obs_to_tensors

    if stop_each_step and not stop_latent:
        raise ForethoughtError("--stop-each-step runs the stop test; give --stop-latent E too")
    make_objective = objective or goal_objective()
    device = next((t.device for t in getattr(model, "parameters", lambda: [])()), None)

    def make(env: gym.Env, task: Task | None) -> Policy:
        if task is None:
            raise ForethoughtError("planning to a goal needs tasks with a 'goal'")
        goal_obs = goal_observation(env, task)
        env_id = env.spec.id if env.spec else type(env).__name__
        check_model_fits_env(model, goal_obs, env.action_space, env_id)
        with torch.no_grad():
            goal = model.encode_goal(obs_to_tensors(goal_obs, device or "cpu"))[0]  # (D,)
        target = make_objective(goal)
        stop = None
        if stop_latent:
            latent_distance = GoalObjective(goal, mode="last", distance="l2")
            stop = StopRule(latent_distance, stop_latent, each_step=stop_each_step)
        return MPCAgent(
            model,
            planner,
            lambda _m, _o: target,
            execute_steps=execute_steps,
            action_space=env.action_space,
            step_budget=step_budget,
            adapt=adapt,
            memory=memory,
            stay_check=stay_check,
            drift_free=drift_free,
            stop=stop,
            visits=visits,
        )

    return make


# ---------------------------------------------------------------------------- registries

TRUE_SIM = "true-sim"  # stands for TwoRoom's true simulator wherever a run directory is asked
TWO_ROOM = "forethought/TwoRoom-v0"
# Envs that can show a goal observation, with their task protocol: (n, seed) -> tasks.
GOAL_TASKS: dict[str, Callable[[int, int], list[Task]]] = {TWO_ROOM: two_room_tasks}


def goal_tasks(env_id: str, n: int, seed: int = 0) -> list[Task]:
    """The planning task protocol of ``env_id``, or a one-line error for envs without one."""
    if env_id not in GOAL_TASKS:
        raise ForethoughtError(
            f"planning to a goal needs an env that can show its goal; {env_id} cannot "
            f"(supported: {', '.join(sorted(GOAL_TASKS))})"
        )
    return GOAL_TASKS[env_id](n, seed)


def load_planning_model(run: str, env_id: str) -> Any:
    """The world model of a run directory, or TwoRoom's true simulator for ``run == "true-sim"``.

    Raises:
        ForethoughtError: not a run directory, or ``true-sim`` for another env.
    """
    if run == TRUE_SIM:
        if env_id != TWO_ROOM:
            raise ForethoughtError(f"'{TRUE_SIM}' is the true simulator of {TWO_ROOM} only")
        from forethought.planning import TwoRoomSimModel

        return TwoRoomSimModel()
    from forethought.training.load import load_run

    return load_run(run).model


# The state dims a goal probe reads, per env: TwoRoom's agent position (x, y).
GOAL_STATE_DIMS: dict[str, tuple[int, ...]] = {TWO_ROOM: (0, 1)}


Readout = Callable[[torch.Tensor], torch.Tensor]  # latents (..., D) -> goal points (..., G)
GOAL_SPACES = ("latent", "probe", "temporal")  # where a goal distance is measured


def load_goal_model(
    run: str,
    env_id: str,
    goal_space: str = "latent",
    probe_steps: int = 2000,
    temporal_steps: int | None = None,
    temporal_data: str | None = None,
    temporal_extra: tuple[str, ...] = (),
) -> tuple[Any, Readout | None]:
    """The planning model and the readout its goal cost is measured through.

    ``goal_space="latent"``: no readout (distances between latents). ``"probe"``: a state probe
    for a goal cost in the world's units. For a run, the probe (latent -> the env's goal dims,
    e.g. TwoRoom's x, y) is fitted on frozen latents of the run's training episodes, so it uses
    the true states the training data carries (``--obs both``), with ``probe_steps`` Adam steps;
    for ``true-sim`` it reads those dims of the exact state. ``"temporal"``: a temporal-distance
    embedding (:mod:`forethought.models.temporal_distance`), so the distance counts steps along
    paths the data took and walls are not short cuts; for a run it is fitted on the latents of
    its training episodes (``temporal_steps`` Adam steps, default the config's), for
    ``true-sim`` on the exact states of ``temporal_data`` (a dataset path). ``temporal_extra``:
    datasets of the same env whose episodes a run's head is fitted on as well.

    Returns:
        (model, readout) with readout None or mapping latents (..., D) to goal points (..., G).

    Raises:
        ForethoughtError: an unknown goal space, an env without goal dims, or a training
            dataset without a state.
    """
    if goal_space not in GOAL_SPACES:
        raise ForethoughtError(
            f"goal space must be one of {', '.join(GOAL_SPACES)}, got {goal_space!r}"
        )
    if goal_space == "latent":
        return load_planning_model(run, env_id), None
    if goal_space == "temporal":
        return _temporal_goal_model(run, env_id, temporal_steps, temporal_data, temporal_extra)
    if env_id not in GOAL_STATE_DIMS:
        raise ForethoughtError(
            f"a probe goal cost needs the env's goal state dims; {env_id} has none "
            f"(supported: {', '.join(sorted(GOAL_STATE_DIMS))}); use --goal-space latent"
        )
    dims = GOAL_STATE_DIMS[env_id]
    if run == TRUE_SIM:
        index = torch.tensor(dims)
        return load_planning_model(run, env_id), lambda z: z.index_select(-1, index.to(z.device))
    from forethought.eval.offline import fit_run_probe
    from forethought.training.load import load_run

    loaded = load_run(run)
    probe = fit_run_probe(loaded, dims=dims, steps=probe_steps).eval().requires_grad_(False)
    return loaded.model, probe


def _temporal_goal_model(
    run: str, env_id: str, steps: int | None, data: str | None, extra: tuple[str, ...] = ()
) -> tuple[Any, Readout]:
    from forethought.eval.temporal import fit_dataset_temporal, fit_run_temporal
    from forethought.models.temporal_distance import TemporalDistanceConfig

    cfg = TemporalDistanceConfig() if steps is None else TemporalDistanceConfig(steps=steps)
    if run == TRUE_SIM:
        if extra:
            raise ForethoughtError(
                f"--temporal-extra-data adds episodes to a run's head; '{TRUE_SIM}' fits its head "
                "on the states of --temporal-data alone"
            )
        model = load_planning_model(run, env_id)
        if data is None:
            raise ForethoughtError(
                f"a temporal goal cost for '{TRUE_SIM}' is fitted on a dataset's states; give "
                "--temporal-data DATA (e.g. the training data of the run it is compared with)"
            )
        phi = fit_dataset_temporal(data, "state", cfg, expect_dim=model.latent_dim)
        return model, phi
    from forethought.training.load import load_run

    loaded = load_run(run)
    return loaded.model, fit_run_temporal(loaded, cfg, extra=extra)


def goal_objective(
    mode: str = "sum",
    distance: str = "squared",
    mean_weight: float = 0.0,
    readout: Readout | None = None,
    uncertainty_weight: float = 0.0,
    stride: int = 1,
) -> Callable[[torch.Tensor], Any]:
    """goal latent (D,) -> ``GoalObjective`` for :func:`goal_agent_factory`; with a readout
    the goal and the imagined latents are both read through it. A non-zero
    ``uncertainty_weight`` adds that times the ensemble's disagreement summed over the horizon
    (:class:`UncertaintyPenalty`; the model must be an ensemble, see :func:`check_uncertainty`).
    ``stride``: read the distance at every ``stride``-th imagined step (``GoalObjective``)."""
    from forethought.planning import GoalObjective, UncertaintyPenalty

    def make(goal_latent: torch.Tensor) -> Any:
        goal = goal_latent if readout is None else readout(goal_latent)
        cost = GoalObjective(
            goal,
            mode=mode,
            distance=distance,
            mean_weight=mean_weight,
            readout=readout,
            stride=stride,
        )
        return UncertaintyPenalty(cost, uncertainty_weight) if uncertainty_weight else cost

    return make


def check_uncertainty(model: Any, weight: float, run: str) -> None:
    """Refuse an uncertainty penalty for a model that reports no disagreement."""
    members = int(getattr(model, "members", 1))
    if weight and members < 2:
        raise ForethoughtError(
            f"an uncertainty penalty needs an ensemble model (e.g. jepa-ensemble); {run} has "
            f"{members} member and reports no disagreement (drop --uncertainty-weight)"
        )


def budget_planner(
    name: str,
    action_space: Any,
    horizon: int,
    samples: int,
    iterations: int,
    hold: int = 1,
    **overrides: Any,
) -> Any:
    """A registered planner at a budget (samples x iterations, horizon in steps); planners with
    elites keep 1/8 of the samples (the default 32 of 256), so small budgets stay valid.
    ``hold > 1`` searches one action per ``hold`` steps (:class:`HeldActionPlanner`) over
    ceil(horizon / hold) decisions."""
    from forethought.planning import HeldActionPlanner, build_planner
    from forethought.planning.hold import decisions
    from forethought.planning.registry import get_planner_entry

    fields = {f.name for f in dataclasses.fields(get_planner_entry(name).config_cls)}
    budget: dict[str, Any] = {"horizon": decisions(horizon, hold)}
    if "samples" in fields:
        budget.update(samples=samples, iterations=iterations)
    if "elites" in fields:
        budget["elites"] = max(2, samples // 8)
    planner = build_planner(name, action_space, **{**budget, **overrides})
    return HeldActionPlanner(planner, hold) if hold > 1 else planner
