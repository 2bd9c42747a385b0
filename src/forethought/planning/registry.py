"""Planners by short name: ``build_planner("cem", env.action_space, horizon=20)``.

Each entry pairs a frozen config class with a planner class and says which action spaces it takes.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

from forethought.core.errors import ForethoughtError
from forethought.planning.base import ActionSpaceInfo, Planner
from forethought.planning.cem import CEMConfig, CEMPlanner
from forethought.planning.common import BoxPlannerConfig, DiscretePlannerConfig
from forethought.planning.discrete import (
    BeamSearchConfig,
    BeamSearchPlanner,
    CategoricalCEMConfig,
    CategoricalCEMPlanner,
)
from forethought.planning.gradient import GradientConfig, GradientPlanner
from forethought.planning.icem import ICEMConfig, ICEMPlanner
from forethought.planning.mppi import MPPIConfig, MPPIPlanner


@dataclass(frozen=True)
class PlannerEntry:
    """One registered planner."""

    name: str
    config_cls: type[BoxPlannerConfig] | type[DiscretePlannerConfig]
    planner_cls: type
    discrete: bool
    summary: str


PLANNERS: dict[str, PlannerEntry] = {
    e.name: e
    for e in (
        PlannerEntry("cem", CEMConfig, CEMPlanner, False, "Gaussian cross-entropy method"),
        PlannerEntry(
            "icem", ICEMConfig, ICEMPlanner, False, "iCEM: colored noise, elite reuse, decay"
        ),
        PlannerEntry("mppi", MPPIConfig, MPPIPlanner, False, "MPPI: softmax-weighted average"),
        PlannerEntry(
            "gradient", GradientConfig, GradientPlanner, False, "Adam on actions through the model"
        ),
        PlannerEntry(
            "cem-discrete",
            CategoricalCEMConfig,
            CategoricalCEMPlanner,
            True,
            "CEM over per-step categorical distributions (discrete actions)",
        ),
        PlannerEntry(
            "beam",
            BeamSearchConfig,
            BeamSearchPlanner,
            True,
            "exhaustive search for short horizons, else beam search (discrete actions)",
        ),
    )
}


def list_planners() -> list[str]:
    """Registered planner names, sorted."""
    return sorted(PLANNERS)


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def get_planner_entry(name: str) -> PlannerEntry:
    """The entry of ``name``, or a one-line error suggesting close names."""
    if name not in PLANNERS:
        raise ForethoughtError(
            f"unknown planner '{name}'{_suggest(name, list_planners())} "
            f"(available: {', '.join(list_planners())})"
        )
    return PLANNERS[name]


def planner_config(name: str, action_space: Any, **overrides: Any) -> Any:
    """The resolved config of planner ``name`` for an action space, with fields replaced.

    Args:
        name: a registered name (see :func:`list_planners`).
        action_space: an :class:`ActionSpaceInfo`, a Gymnasium Box/Discrete, or a ``DataSpec``.
        **overrides: config fields, e.g. ``horizon=20, samples=512``.
    """
    entry = get_planner_entry(name)
    info = ActionSpaceInfo.of(action_space)
    if info.discrete != entry.discrete:
        kind = "discrete" if info.discrete else "continuous"
        fits = [n for n, e in PLANNERS.items() if e.discrete == info.discrete]
        raise ForethoughtError(
            f"planner '{name}' does not plan {kind} actions; use one of {', '.join(sorted(fits))}"
        )
    fields = {f.name for f in dataclasses.fields(entry.config_cls)}
    for key in overrides:
        if key not in fields:
            raise ForethoughtError(
                f"planner '{name}' has no setting '{key}'{_suggest(key, sorted(fields))} "
                f"(settings: {', '.join(sorted(fields))})"
            )
    if info.discrete:
        base: dict[str, Any] = {"n_actions": info.dim}
    else:
        base = {"low": info.low, "high": info.high} if info.bounded else {}
        if not info.bounded and not {"low", "high"} <= set(overrides):
            raise ForethoughtError(
                f"planner '{name}' needs finite action bounds; this action space has none, "
                "pass low=(...) and high=(...)"
            )
    base.update(overrides)
    for key in ("low", "high"):
        if key in base and not isinstance(base[key], tuple):
            v = base[key]
            base[key] = (
                tuple(float(x) for x in v) if hasattr(v, "__len__") else (float(v),) * info.dim
            )
    return entry.config_cls(**base)


def build_planner(name: str, action_space: Any, **overrides: Any) -> Planner:
    """Build a registered planner for an action space.

    Args:
        name: ``cem``, ``icem``, ``mppi``, ``gradient`` (Box actions), ``cem-discrete`` or
            ``beam`` (Discrete actions).
        action_space: an :class:`ActionSpaceInfo`, a Gymnasium Box/Discrete, or a ``DataSpec``.
        **overrides: config fields; scalar ``low``/``high`` apply to every action dimension.

    Raises:
        ForethoughtError: unknown name or setting, wrong kind of action space, invalid values.
    """
    entry = get_planner_entry(name)
    return entry.planner_cls(planner_config(name, action_space, **overrides))
