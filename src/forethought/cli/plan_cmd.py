"""``forethought plan RUN --env ENV_ID``: one closed-loop episode to a goal, planned ahead."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_HORIZON = 25
DEFAULT_SAMPLES = 256
DEFAULT_ITERATIONS = 4
DEFAULT_EXECUTE = 4


def add_goal_cost_args(p: argparse.ArgumentParser) -> None:
    """Where the goal distance is measured and what is added to it; shared with the planning
    benchmark (``benchmarks/bench_tworoom_planning.py``)."""
    from forethought.eval.goals import GOAL_SPACES

    p.add_argument(
        "--goal-space",
        default="latent",
        choices=GOAL_SPACES,
        help="measure the goal distance between latents; between positions a state probe "
        "reads from them (fitted on the training data's true states); or in a temporal-distance "
        "embedding fitted on the training episodes, where distance counts steps and walls are "
        "no short cuts (default latent)",
    )
    p.add_argument("--probe-steps", type=int, default=2000, help="probe fit steps (default 2000)")
    p.add_argument(
        "--temporal-steps",
        type=int,
        default=None,
        help="temporal-distance fit steps (default 16000; cached in RUN/heads/)",
    )
    p.add_argument(
        "--temporal-data",
        default=None,
        help="for true-sim with --goal-space temporal: the dataset whose states it is fitted on",
    )
    p.add_argument(
        "--temporal-extra-data",
        nargs="+",
        default=[],
        metavar="DATA",
        help="for a run with --goal-space temporal: fit its head on these datasets' episodes "
        "too (the same env and --obs as the run's data; more layouts for the head; cached)",
    )
    p.add_argument(
        "--uncertainty-weight",
        type=float,
        default=0.0,
        help="add this times the ensemble's disagreement summed over the horizon (needs an "
        "ensemble model such as jepa-ensemble; never applied to the true simulator; default 0)",
    )


def add_adapt_args(p: argparse.ArgumentParser) -> None:
    """The agent's flags around its planner: test-time adaptation (``MPCAgent(adapt=...)``),
    the blocked-move memory, the stay check, the stop test and drift-free imagination."""
    p.add_argument(
        "--adapt-steps",
        type=int,
        default=0,
        help="before each plan, when the model mispredicted the episode's latest real rows, "
        "take this many Adam steps on them with a private copy of its predictor (default 0: "
        "never; obs-mlp and keypoint-mlp)",
    )
    p.add_argument(
        "--adapt-threshold",
        type=float,
        default=1e-2,
        help="adapt when the rows' one-step + open-loop error (the model's loss units) is above "
        "this (default 1e-2)",
    )
    p.add_argument("--adapt-lr", type=float, default=3e-4, help="its learning rate (3e-4)")
    p.add_argument("--adapt-window", type=int, default=12, help="latest real rows (12)")
    p.add_argument(
        "--memory-radius",
        type=float,
        default=0.0,
        help="remember the episode's real steps that moved less than half as far as the model "
        "said, and imagine moves in their direction blocked within this many unit-action moves "
        "of those places (default 0: no memory; obs-mlp and keypoint-mlp)",
    )
    p.add_argument(
        "--memory-min-move",
        type=float,
        default=0.1,
        help="... remembering only steps on which the model predicted a move of at least this "
        "many unit-action moves (default 0.1)",
    )
    p.add_argument(
        "--memory-forget",
        action="store_true",
        help="... and forgetting a remembered failure once a real step from near its place, in "
        "its direction, moves as the model said",
    )
    p.add_argument(
        "--memory-quiet-cost",
        type=float,
        default=0.0,
        help="... and remembering nothing while the goal cost of the agent's belief is below "
        "this (the objective's units; default 0: everywhere)",
    )
    p.add_argument(
        "--stay-check",
        action="store_true",
        help="after each plan, score standing still (the belief held over the plan's horizon) "
        "and do that instead when it scores lower than the plan (actions whose zero stands "
        "still)",
    )
    p.add_argument(
        "--stop-latent",
        type=float,
        default=0.0,
        help="stand still without planning while the belief's latent is within this L2 "
        "distance of the goal's latent (sharper near the goal than a temporal head; actions "
        "whose zero stands still; default 0: never)",
    )
    p.add_argument(
        "--stop-each-step",
        action="store_true",
        help="with --stop-latent: run the stop test after every real step too, and stand for "
        "the rest of a plan when it holds (by default it runs before each plan only)",
    )
    p.add_argument(
        "--visit-weight",
        type=float,
        default=0.0,
        help="count the episode's real steps by place and add this much cost per step counted "
        "near a plan's end, so waiting where the goal cost is wrong grows dearer (the "
        "objective's units; default 0: never; obs-mlp and keypoint-mlp)",
    )
    p.add_argument(
        "--visit-radius",
        type=float,
        default=1.0,
        help="... counting steps within about this many unit-action moves (default 1)",
    )
    p.add_argument(
        "--visit-after",
        type=float,
        default=0.0,
        help="... and only the steps beyond this many at a place (default 0)",
    )
    p.add_argument(
        "--drift-free",
        action="store_true",
        help="plan with the model's zero-action drift removed from every imagined rollout, so "
        "that standing still stays put in imagination (actions whose zero stands still)",
    )


def visit_config(args: argparse.Namespace) -> Any:
    """The ``VisitConfig`` the flags ask for, or None (``--visit-weight 0``)."""
    from forethought.planning import VisitConfig

    if args.visit_weight == 0:
        return None
    return VisitConfig(args.visit_weight, args.visit_radius, args.visit_after)


def adapt_config(args: argparse.Namespace) -> Any:
    """The ``AdaptConfig`` the flags ask for, or None (``--adapt-steps 0``)."""
    from forethought.planning import AdaptConfig

    if args.adapt_steps == 0:
        return None
    return AdaptConfig(args.adapt_steps, args.adapt_lr, args.adapt_window, args.adapt_threshold)


def memory_config(args: argparse.Namespace) -> Any:
    """The blocked-move ``MemoryConfig`` the flags ask for, or None (``--memory-radius 0``)."""
    from forethought.planning import MemoryConfig

    if args.memory_radius == 0:
        return None
    return MemoryConfig(
        radius=args.memory_radius,
        min_move=args.memory_min_move,
        forget=args.memory_forget,
        quiet_cost=args.memory_quiet_cost,
    )


def add_planner_args(p: argparse.ArgumentParser) -> None:
    """The planner flags ``plan`` and ``evaluate --planning`` share."""
    p.add_argument("--planner", default="cem", help="planner name: cem, icem, mppi, gradient")
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help="steps planned ahead")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="candidates/iteration")
    p.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help="per plan")
    p.add_argument(
        "--execute-steps", type=int, default=DEFAULT_EXECUTE, help="actions run per plan"
    )
    p.add_argument(
        "--hold", type=int, default=1, help="steps each planned action is held (default 1)"
    )
    p.add_argument(
        "--objective",
        default="sum",
        choices=("sum", "last"),
        help="goal cost: summed over the horizon or at the last step (default sum)",
    )
    p.add_argument(
        "--goal-distance",
        default="squared",
        choices=("squared", "l2"),
        help="distance to the goal (default squared)",
    )
    p.add_argument(
        "--mean-weight",
        type=float,
        default=0.0,
        help="add this times the mean goal distance over the horizon (default 0)",
    )
    p.add_argument(
        "--goal-stride",
        type=int,
        default=1,
        help="read the goal distance at every K-th imagined step, ending at the last (default "
        "1; with --hold K the skipped steps lie between decisions and the cost is K times "
        "cheaper)",
    )
    add_goal_cost_args(p)
    add_adapt_args(p)
    p.add_argument("--max-steps", type=int, default=200, help="step budget per episode")
    p.add_argument(
        "--deadline",
        action="store_true",
        help="the task is scored after --max-steps: plans count only the steps left (default: "
        "every plan counts its whole horizon)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``plan``."""
    p = sub.add_parser("plan", help="run one episode to a goal with a trained model and a planner")
    p.add_argument(
        "run_dir", metavar="RUN", help="run directory (or 'true-sim': TwoRoom's true simulator)"
    )
    p.add_argument("--env", required=True, help="env id, e.g. forethought/TwoRoom-v0")
    p.add_argument("--goal", default=None, help="goal position x,y (default: the task's)")
    p.add_argument("--seed", type=int, default=0, help="which task of the protocol (default 0)")
    p.add_argument("--video", type=Path, default=None, help="write the episode as a GIF")
    add_planner_args(p)
    p.set_defaults(run=run)


def parse_goal(text: str) -> tuple[float, float]:
    from forethought.core.errors import ForethoughtError

    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise ForethoughtError(f"--goal wants x,y (two numbers), got {text!r}") from None
    return x, y


def build_agent_factory(args: argparse.Namespace, env: Any) -> Any:
    """Load the model named by ``args.run_dir`` and pair it with the planner flags."""
    from forethought.eval.goals import (
        budget_planner,
        check_uncertainty,
        goal_agent_factory,
        goal_objective,
        load_goal_model,
    )

    planner = budget_planner(
        args.planner, env.action_space, args.horizon, args.samples, args.iterations, args.hold
    )
    model, readout = load_goal_model(
        args.run_dir,
        args.env,
        args.goal_space,
        args.probe_steps,
        args.temporal_steps,
        args.temporal_data,
        tuple(args.temporal_extra_data),
    )
    check_uncertainty(model, args.uncertainty_weight, args.run_dir)
    objective = goal_objective(
        args.objective,
        args.goal_distance,
        args.mean_weight,
        readout,
        args.uncertainty_weight,
        args.goal_stride,
    )
    budget = args.max_steps if args.deadline else None
    return goal_agent_factory(
        model,
        planner,
        args.execute_steps,
        objective,
        step_budget=budget,
        adapt=adapt_config(args),
        memory=memory_config(args),
        stay_check=args.stay_check,
        drift_free=args.drift_free,
        stop_latent=args.stop_latent,
        stop_each_step=args.stop_each_step,
        visits=visit_config(args),
    )


def write_gif(path: Path, frames: tuple, fps: int = 10) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)


def run(args: argparse.Namespace) -> int:
    import torch

    from forethought.envs import make_env
    from forethought.envs.factory import check_env_id
    from forethought.eval.closed_loop import run_episode
    from forethought.eval.goals import goal_tasks

    torch.set_num_threads(max(1, args.threads))
    check_env_id(args.env)
    task = goal_tasks(args.env, 1, args.seed)[0]
    if args.goal is not None:
        task["goal"] = parse_goal(args.goal)
    render = {"render_mode": "rgb_array"} if args.video else {}
    env = make_env(args.env, obs="both", **render)
    try:
        agent = build_agent_factory(args, env)(env, task)
        result = run_episode(
            env, agent, args.max_steps, options=task, record_frames=bool(args.video)
        )
    finally:
        env.close()
    reached = (
        f"first at step {result.steps_to_success}" if result.steps_to_success else "never reached"
    )
    dist = f", final distance {result.final_distance:.2f}" if result.final_distance else ""
    print(f"success: {'yes' if result.success else 'no'} ({reached}; {result.steps} steps{dist})")
    if result.plan_seconds:
        ms = sorted(1000 * t for t in result.plan_seconds)
        print(f"planning: {ms[len(ms) // 2]:.1f} ms per plan (median of {len(ms)} plans)")
    if args.adapt_steps:
        print(f"adapted the predictor before {agent.adaptations} of the plans")
    if args.memory_radius:
        print(f"remembered {agent.blocked_steps} real steps as blocked")
    if args.stay_check:
        print(f"stood still instead of {agent.stays} of the plans")
    if args.stop_latent:
        cut = " or cut a plan short" if args.stop_each_step else ""
        print(f"stood still without planning{cut} {agent.stops} times (the stop test held)")
    if args.video:
        write_gif(args.video, result.frames)
        print(f"wrote {args.video}")
    return 0
