"""The MPC agent: belief + planner + warm start behind ``reset(obs)`` / ``act(obs, prev_action)``.

A policy any loop can call (ours, a user's, a robot's)::

    obs, info = env.reset()
    agent.reset(obs)
    action = None
    while not done:
        action = agent.act(obs, action)  # folds obs into the belief, replans every k steps
        obs, reward, terminated, truncated, info = env.step(action)

Observations are single-env numpy values (a dict of arrays, or one array, named ``pixels`` when
it is a uint8 image and ``state`` otherwise); the agent adds the batch dimension.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.models.base import Belief, Obs, Rollout, WorldModel
from forethought.planning.adapt import AdaptConfig, EpisodeAdapter
from forethought.planning.base import (
    ActionSpaceInfo,
    Objective,
    PlanCarry,
    Planner,
    PlanResult,
)
from forethought.planning.common import BoxPlannerConfig, DiscretePlannerConfig
from forethought.planning.drift import DriftFreeModel
from forethought.planning.memory import BlockedMoves, MemoryConfig, RememberingModel
from forethought.planning.objectives import Deadline
from forethought.planning.visits import VisitConfig, VisitPenalty, Visits

ObjectiveFactory = Callable[[WorldModel, Obs], Objective]  # (model, first obs as tensors)


def obs_to_tensors(obs: Any, device: torch.device | str = "cpu") -> Obs:
    """One env observation as batch-1 tensors: key -> (1, *shape); text keys are dropped."""
    if not isinstance(obs, dict):
        arr = np.asarray(obs)
        obs = {"pixels" if arr.dtype == np.uint8 and arr.ndim == 3 else "state": arr}
    out: Obs = {}
    for key, value in obs.items():
        arr = np.asarray(value)
        if arr.dtype.kind in "USO":
            continue
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        out[key] = torch.as_tensor(arr, device=device)[None]
    return out


def _action_space(planner: Any, space: Any) -> ActionSpaceInfo:
    if space is not None:
        return ActionSpaceInfo.of(space)
    cfg = getattr(planner, "config", None)
    if isinstance(cfg, BoxPlannerConfig):
        return ActionSpaceInfo(cfg.action_dim, False, cfg.low, cfg.high)
    if isinstance(cfg, DiscretePlannerConfig):
        return ActionSpaceInfo(cfg.n_actions, discrete=True)
    raise ForethoughtError(
        f"MPCAgent cannot tell the action space of {type(planner).__name__}; pass action_space="
    )


def _held_cost(objective: Objective, belief: Belief, steps: int = 1) -> float:
    """``objective``'s cost of the batch-1 ``belief`` held still for ``steps`` steps (latents
    (1, steps, D), no disagreement): standing there, not an imagined zero-action rollout."""
    z = belief.z  # (1, D)
    held = Rollout(latents=z[:, None].expand(1, steps, -1), disagreement=z.new_zeros(1, steps))
    with torch.no_grad():
        return float(objective.cost(held)[0])


@dataclass(frozen=True)
class StopRule:
    """A goal-reached test: :class:`MPCAgent` stands still without planning while
    ``objective`` scores its belief itself below ``below``.

    For a goal cost that cannot resolve the goal's neighbourhood (a temporal-distance head
    counts 2 px as several steps), a search near the goal follows the cost's errors and can
    lead away; a sharper distance (e.g. between the latents themselves) can say "arrived".
    The test runs before each plan; with ``each_step`` also after every real step, so an agent
    that passes the goal in the middle of a plan's executed steps stands there for the rest.
    """

    objective: Objective
    below: float
    each_step: bool = False  # also test after every real step and cut the running plan short

    def __post_init__(self) -> None:
        if not self.below > 0:
            raise ForethoughtError(f"StopRule below must be > 0, got {self.below}")

    def holds(self, belief: Belief) -> bool:
        """Whether the objective scores ``belief`` itself (held still) below the threshold."""
        return _held_cost(self.objective, belief) < self.below


def _device(model: Any) -> torch.device:
    """Where the model's tensors live (CPU for models without any)."""
    if isinstance(model, torch.nn.Module):
        for t in itertools.chain(model.parameters(), model.buffers()):
            return t.device
    return torch.device("cpu")


class MPCAgent:
    """Model-predictive control: replan every ``execute_steps`` steps, warm-started.

    Args:
        model: the world model (its belief is updated with every real observation).
        planner: any :class:`~forethought.planning.Planner`.
        objective_factory: builds the episode's objective from (model, first observation); or pass
            ``objective=`` to :meth:`reset`.
        execute_steps: k, actions executed from each plan before replanning.
        action_space: an ``ActionSpaceInfo``, Gymnasium space or ``DataSpec``; by default read
            from the planner's config. Discrete actions are returned as Python ints.
        step_budget: the episode's length in steps, when the task is scored at its end; each
            plan's cost then counts only the steps left (:class:`Deadline`). None: no end.
        adapt: fine-tune a copy of the predictor on the episode's real rows when they surprise
            it (:mod:`forethought.planning.adapt`); None or 0 steps: never.
        memory: remember the episode's real steps that moved much less than the model said,
            and imagine such moves blocked near those places
            (:mod:`forethought.planning.memory`); None or radius 0: never.
        stay_check: after each plan, score standing still: the current belief held over the
            plan's horizon (not imagined: a learned model's zero-action rollout can drift away
            from where it stands). When the objective scores that lower than the plan, execute
            zeros instead and keep the plan's warm start unshifted; on a tie (e.g. the memory
            imagines every move blocked) the plan runs, since the real world may not block it.
            For continuous actions whose zero means "stand still", as in TwoRoom's. Default
            False.
        stop: a :class:`StopRule`: stand still without planning while its objective scores the
            belief itself below its threshold. Continuous actions, as ``stay_check``. None
            (default): never.
        drift_free: plan with the model's zero-action drift removed from every imagined
            rollout (:mod:`forethought.planning.drift`); continuous actions. Default False.
        visits: count the episode's real steps by place and make plans that end near places
            it already spent steps at dearer (:mod:`forethought.planning.visits`); steps on
            which ``stop`` holds are not counted. None or weight 0: never.

    Attributes:
        plan_times: wall seconds of every ``plan`` call since construction, including the
            adaptation before it.
        adaptations: adaptations since construction.
        blocked_steps: real steps remembered as blocked since construction.
        stays: plans replaced by standing still (``stay_check``) since construction.
        stops: plans skipped or cut short to stand still (``stop``) since construction.
        last_result: the latest :class:`PlanResult`.
    """

    def __init__(
        self,
        model: WorldModel,
        planner: Planner,
        objective_factory: ObjectiveFactory | None = None,
        execute_steps: int = 1,
        action_space: Any = None,
        step_budget: int | None = None,
        adapt: AdaptConfig | None = None,
        memory: MemoryConfig | None = None,
        stay_check: bool = False,
        drift_free: bool = False,
        stop: StopRule | None = None,
        visits: VisitConfig | None = None,
    ) -> None:
        if execute_steps < 1:
            raise ForethoughtError(f"MPCAgent execute_steps must be >= 1, got {execute_steps}")
        if step_budget is not None and step_budget < 1:
            raise ForethoughtError(f"MPCAgent step_budget must be >= 1, got {step_budget}")
        hold = int(getattr(planner, "hold", 1))
        if execute_steps % hold:
            # Warm starts shift by whole held decisions: executing part of one leaves the next
            # plan starting mid-decision (TwoRoom: 74.5% against 97% with 3 of 6 steps run).
            raise ForethoughtError(
                f"MPCAgent: {execute_steps} actions per plan with actions held {hold} steps; "
                f"execute a multiple of the hold (e.g. {hold}) so warm starts stay aligned"
            )
        self.model, self.planner = model, planner
        self.objective_factory = objective_factory
        self.execute_steps = execute_steps
        self.action_space = _action_space(planner, action_space)
        self.discrete = self.action_space.discrete
        if (stay_check or drift_free or stop) and self.discrete:
            raise ForethoughtError(
                "MPCAgent stay_check, drift_free and stop read the zero action as standing "
                "still, which only holds for continuous actions; drop them for discrete ones"
            )
        self.stay_check, self.drift_free, self.stop = stay_check, drift_free, stop
        self.stays = self.stops = 0
        self._stayed = False  # the current plan is the stand-still one; its carry is unused
        self.step_budget = step_budget
        self.device = _device(model)
        self.plan_times: list[float] = []
        self.adaptations = 0
        self._adapter = EpisodeAdapter(model, adapt) if adapt and adapt.steps else None
        self.blocked_steps = 0
        self._memory = BlockedMoves(model, memory) if memory and memory.radius > 0 else None
        self._visits = Visits(model, visits) if visits and visits.weight > 0 else None
        self.last_result: PlanResult | None = None
        self._belief: Belief | None = None
        self._objective: Objective | None = None
        self._carry: PlanCarry | None = None
        self._plan: Tensor | None = None  # (H, A) or (H,)
        self._cursor = 0  # actions of the current plan already executed
        self._fresh = False  # the reset observation is folded; the next act must not refold it
        self._steps = 0  # actions returned since reset
        self._arrived: bool | None = None  # the stop test at the current belief, once read

    @property
    def belief(self) -> Belief:
        if self._belief is None:
            raise ForethoughtError("MPCAgent: call reset(obs) before act()")
        return self._belief

    def reset(self, obs: Any, objective: Objective | None = None) -> None:
        """Start an episode at ``obs``: a fresh belief, no plan, the episode's objective."""
        obs_t = obs_to_tensors(obs, self.device)
        with torch.no_grad():
            b0 = self.model.initial(1)
            no_action = self._zero_action()
            self._belief = self.model.observe(
                b0, obs_t, no_action, torch.ones(1, dtype=torch.bool, device=self.device)
            ).detach()
        if self._adapter is not None:
            self._adapter.reset()
            self._adapter.record(self._belief.z, no_action, first=True)
        if self._memory is not None:
            self._memory.reset()
        if self._visits is not None:
            self._visits.reset()
        if objective is None:
            if self.objective_factory is None:
                raise ForethoughtError("MPCAgent.reset needs objective= or an objective_factory")
            objective = self.objective_factory(self.model, obs_t)
        self._objective = objective
        self._carry, self._plan, self._cursor, self._fresh = None, None, 0, True
        self._arrived = None
        self._steps, self._stayed = 0, False

    def _zero_action(self) -> Tensor:
        if self.discrete:
            return torch.zeros(1, dtype=torch.long, device=self.device)  # (1,)
        return torch.zeros(1, self.action_space.dim, device=self.device)  # (1, A)

    def observe(self, obs: Any, prev_action: Any) -> None:
        """Fold a real observation and the action that led to it into the belief."""
        action = torch.as_tensor(np.asarray(prev_action), device=self.device)
        action = action.long().reshape(1) if self.discrete else action.float().reshape(1, -1)
        obs_t = obs_to_tensors(obs, self.device)
        first = torch.zeros(1, dtype=torch.bool, device=self.device)
        before = self.belief
        with torch.no_grad():
            self._belief = self.model.observe(before, obs_t, action, first).detach()
        if self._memory is not None and not self._near_goal(before, self._memory.config):
            planned_with = self._adapter.model if self._adapter is not None else self.model
            self.blocked_steps += self._memory.record(before, action, self._belief.z, planned_with)
        if self._adapter is not None:
            self._adapter.record(self._belief.z, action, first=False)
        self._arrived = None  # a new belief: the stop test has not read it yet
        if self._visits is not None and not self._stop_holds():
            self._visits.record(self._belief.z)

    def _near_goal(self, belief: Belief, config: MemoryConfig) -> bool:
        """Whether the objective scores ``belief`` itself below the memory's ``quiet_cost``."""
        if config.quiet_cost <= 0 or self._objective is None:
            return False
        return _held_cost(self._objective, belief) < config.quiet_cost

    def act(self, obs: Any, prev_action: Any = None) -> np.ndarray | int:
        """The next action, given the latest observation and the action that led to it.

        Right after :meth:`reset`, pass the reset observation with ``prev_action=None`` (it was
        already folded in); afterwards ``prev_action`` is required.
        """
        if prev_action is None:
            if not self._fresh:
                raise ForethoughtError(
                    "MPCAgent.act needs prev_action (the action that led to obs) "
                    "after its first call"
                )
        else:
            self.observe(obs, prev_action)
        self._fresh = False
        if self._plan is None or self._cursor >= min(self.execute_steps, self._plan.shape[0]):
            self._replan()
        elif self._stops_mid_plan():
            self._plan = self._plan.clone()
            self._plan[self._cursor :] = self._zero_action()  # stand for the rest of the plan
            self._stayed = True  # its carry waits, unshifted (a part-run hold would misalign it)
            self.stops += 1
        assert self._plan is not None
        action = self._plan[self._cursor]
        self._cursor += 1
        self._steps += 1
        if self.discrete:
            return int(action)
        return action.detach().cpu().numpy().astype(np.float32)

    def _stops_mid_plan(self) -> bool:
        """Whether a ``StopRule(each_step=True)`` says "arrived" while a plan is running."""
        stop = self.stop
        return stop is not None and stop.each_step and not self._stayed and self._stop_holds()

    def _stop_holds(self) -> bool:
        """Whether the :class:`StopRule` holds at the current belief (read once per belief)."""
        if self._arrived is None:
            self._arrived = self.stop is not None and self.stop.holds(self.belief)
        return self._arrived

    def _replan(self) -> None:
        assert self._objective is not None
        executed = 0 if self._stayed else self._cursor
        carry = self._carry.after(executed) if self._carry is not None else None
        if self._stop_holds():
            self._carry, self._stayed, self._cursor = carry, True, 0  # the carry waits, unshifted
            self._plan = self._zero_action().expand(self.execute_steps, -1)  # (k, A)
            self.stops += 1
            return
        objective: Objective = self._objective
        if self._visits is not None:
            objective = VisitPenalty(objective, self._visits)
        if self.step_budget is not None:  # only the steps left in the episode count
            objective = Deadline(objective, max(1, self.step_budget - self._steps))
        start = time.perf_counter()
        model = self.model
        if self._adapter is not None:
            self.adaptations += self._adapter.maybe_adapt()
            model = self._adapter.model
        if self._memory is not None:
            model = RememberingModel(model, self._memory)
        if self.drift_free:
            model = DriftFreeModel(model)
        result = self.planner.plan(model, self.belief, objective, carry)
        self._stayed = self.stay_check and self._staying_is_better(objective, result)
        self.plan_times.append(time.perf_counter() - start)
        self.last_result, self._carry = result, result.carry
        self._plan = torch.zeros_like(result.actions) if self._stayed else result.actions
        self._cursor = 0
        self.stays += self._stayed

    def _staying_is_better(self, objective: Objective, result: PlanResult) -> bool:
        """Whether ``objective`` scores the belief held still over the plan's horizon lower
        than ``result``'s plan."""
        return _held_cost(objective, self.belief, result.actions.shape[0]) < result.cost
