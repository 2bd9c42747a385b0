"""``forethought envs``: the built-in envs (any registered Gymnasium id works too)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("envs", help="list built-in environments")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from forethought.envs import BUILTIN_ENVS

    for env_id, about in BUILTIN_ENVS.items():
        print(f"{env_id:<28} {about}")
    print("\nAny registered Gymnasium id works as well (Pendulum-v1, HalfCheetah-v5, BabyAI-...).")
    return 0
