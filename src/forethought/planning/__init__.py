"""Planning in imagination: objectives, planners (pure functions of model, belief, objective), MPC.

File tree::

    base.py        Objective / Planner protocols, PlanCarry, PlanResult, ActionSpaceInfo
    common.py      base configs, seeding, one-call batched evaluation, warm-start shifts
    objectives.py  GoalObjective, RewardObjective, CallableObjective, UncertaintyPenalty,
                   Deadline
    cem.py         Gaussian CEM                                  (cem)
    icem.py        iCEM with colored noise and elite reuse       (icem)
    mppi.py        MPPI                                          (mppi)
    gradient.py    Adam on actions through the model             (gradient)
    discrete.py    categorical CEM, exhaustive / beam search     (cem-discrete, beam)
    hold.py        HeldActionPlanner: one decision per `hold` steps, for long horizons
    registry.py    PLANNERS, build_planner, list_planners
    check.py       check_planner: the contract on any planner
    sim_models.py  TwoRoomSimModel (true simulator), LinearModel
    agent.py       MPCAgent: reset(obs) / act(obs, prev_action), replanning every k steps
    adapt.py       EpisodeAdapter: the agent fine-tunes a copy of its predictor on real rows
    memory.py      BlockedMoves: the agent imagines moves blocked where real ones were
    drift.py       DriftFreeModel: imagination whose zero action stands still
    visits.py      VisitPenalty: plans that end where the episode already waited cost more

Planners never touch a real environment; :class:`MPCAgent` is the policy a loop calls.
"""

from forethought.planning.adapt import AdaptConfig, EpisodeAdapter
from forethought.planning.agent import MPCAgent, StopRule, obs_to_tensors
from forethought.planning.base import (
    ActionSpaceInfo,
    Objective,
    PlanCarry,
    PlanDiagnostics,
    Planner,
    PlanResult,
)
from forethought.planning.cem import CEMConfig, CEMPlanner
from forethought.planning.check import check_planner
from forethought.planning.common import BoxPlannerConfig, DiscretePlannerConfig
from forethought.planning.discrete import (
    BeamSearchConfig,
    BeamSearchPlanner,
    CategoricalCEMConfig,
    CategoricalCEMPlanner,
)
from forethought.planning.drift import DriftFreeModel
from forethought.planning.gradient import GradientConfig, GradientPlanner
from forethought.planning.hold import HeldActionModel, HeldActionPlanner
from forethought.planning.icem import ICEMConfig, ICEMPlanner, colored_noise
from forethought.planning.memory import BlockedMoves, MemoryConfig
from forethought.planning.mppi import MPPIConfig, MPPIPlanner
from forethought.planning.objectives import (
    CallableObjective,
    Deadline,
    GoalObjective,
    RewardObjective,
    UncertaintyPenalty,
)
from forethought.planning.registry import (
    PLANNERS,
    PlannerEntry,
    build_planner,
    list_planners,
    planner_config,
)
from forethought.planning.sim_models import LinearModel, TwoRoomSimModel
from forethought.planning.visits import VisitConfig, VisitPenalty, Visits

__all__ = [
    "AdaptConfig",
    "BlockedMoves",
    "DriftFreeModel",
    "EpisodeAdapter",
    "HeldActionModel",
    "HeldActionPlanner",
    "PLANNERS",
    "ActionSpaceInfo",
    "BeamSearchConfig",
    "BeamSearchPlanner",
    "BoxPlannerConfig",
    "CEMConfig",
    "CEMPlanner",
    "CallableObjective",
    "CategoricalCEMConfig",
    "CategoricalCEMPlanner",
    "Deadline",
    "DiscretePlannerConfig",
    "GoalObjective",
    "GradientConfig",
    "GradientPlanner",
    "ICEMConfig",
    "ICEMPlanner",
    "LinearModel",
    "MPCAgent",
    "MemoryConfig",
    "MPPIConfig",
    "MPPIPlanner",
    "Objective",
    "PlanCarry",
    "PlanDiagnostics",
    "PlanResult",
    "Planner",
    "PlannerEntry",
    "RewardObjective",
    "StopRule",
    "TwoRoomSimModel",
    "UncertaintyPenalty",
    "VisitConfig",
    "VisitPenalty",
    "Visits",
    "build_planner",
    "check_planner",
    "colored_noise",
    "list_planners",
    "obs_to_tensors",
    "planner_config",
]
