"""``forethought train DATA --model NAME`` and ``forethought models``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

DEFAULT_PRESET = "small"
DEFAULT_STEPS = 2000
# CLI flag -> TrainConfig field, for the settings a user may set on a new run.
SETTINGS = {
    "batch_size": "batch_size",
    "window": "window",
    "seed": "seed",
    "val_fraction": "val_fraction",
    "lr": "lr",
    "warmup": "warmup_steps",
    "grad_clip": "grad_clip",
    "ema_decay": "ema_decay",
    "val_every": "val_every",
    "log_every": "log_every",
    "ckpt_every": "ckpt_every",
    "encoder_share": "encoder_share",
    "latent_batch_size": "latent_batch_size",
    "latent_window": "latent_window",
    "latent_lr": "latent_lr",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``models``."""
    p = sub.add_parser("train", help="train a world model on a dataset")
    p.add_argument("data", type=Path, help="dataset file (.h5)")
    p.add_argument("--model", default=None, help="model name (see: forethought models)")
    p.add_argument("--preset", default=None, help=f"size preset (default {DEFAULT_PRESET})")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help=f"default {DEFAULT_STEPS}")
    budget.add_argument("--time-budget", default=None, help="wall-clock budget: 90s, 10m, 1h")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--seed", type=int, default=None, help="seeds everything (default 0)")
    p.add_argument("--batch-size", type=int, default=None, help="windows per step (default 32)")
    p.add_argument("--window", type=int, default=None, help="rows per window (default 16)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--threads", type=int, default=None, help="CPU threads (min(2, cores))")
    p.add_argument("--val-fraction", type=float, default=None, help="held-out episodes (0.1)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (1e-3)")
    p.add_argument("--warmup", type=int, default=None, help="warmup steps (100)")
    p.add_argument("--grad-clip", type=float, default=None, help="max gradient norm (1.0)")
    p.add_argument("--ema-decay", type=float, default=None, help="EMA of weights, e.g. 0.999")
    p.add_argument("--val-every", type=int, default=None, help="validate every N steps (500)")
    p.add_argument("--log-every", type=int, default=None, help="log every N steps (50)")
    p.add_argument("--ckpt-every", type=int, default=None, help="checkpoint every N steps")
    p.add_argument(
        "--encoder-share",
        type=float,
        default=None,
        help="train end to end for this share of the budget, then freeze the encoder and train "
        "the predictor on cached latents (keypoint-mlp, jepa; e.g. 0.33 or 0.5)",
    )
    p.add_argument(
        "--latent-batch-size", type=int, default=None, help="windows per step once frozen (512)"
    )
    p.add_argument(
        "--latent-window",
        type=int,
        default=None,
        help="rows per window once frozen (default: --window); longer open-loop rollouts",
    )
    p.add_argument(
        "--latent-lr",
        type=float,
        default=None,
        help="peak learning rate once frozen (default: --lr); open-loop rollouts on cached "
        "latents can diverge at a rate the end-to-end phase takes",
    )
    p.add_argument(
        "--obs-keys", default=None, help="observation keys the model reads, e.g. pixels (all)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="model config field and JSON value, repeatable (e.g. --set latent_dim=16)",
    )
    p.set_defaults(run=run)
    m = sub.add_parser("models", help="list the world models 'forethought train' can build")
    m.set_defaults(run=run_models)


def run(args: argparse.Namespace) -> int:
    from forethought.core.errors import ForethoughtError
    from forethought.training import RunDir, TrainConfig, parse_duration, train

    time_budget_s = parse_duration(args.time_budget) if args.time_budget else None
    given = {SETTINGS[k]: v for k, v in vars(args).items() if k in SETTINGS and v is not None}
    model_overrides: dict[str, Any] = {}
    if args.resume:
        if args.overrides or args.obs_keys:
            raise ForethoughtError("--set and --obs-keys apply to a new run; drop them to resume")
        stored = RunDir.prepare(args.out, resume=True).read_config()
        name, preset = args.model or stored.model_name, args.preset or stored.preset
        model_overrides = stored.model_config
        cfg = stored.train
        if args.steps is not None or time_budget_s is not None:
            cfg = dataclasses.replace(cfg, steps=args.steps, time_budget_s=time_budget_s)
        cfg = dataclasses.replace(cfg, **given)  # train() refuses any change but the budget
    else:
        if not args.model:
            raise ForethoughtError("--model is required for a new run (see: forethought models)")
        RunDir.prepare(args.out, resume=False)  # refuse an occupied --out before anything else
        name, preset = args.model, args.preset or DEFAULT_PRESET
        model_overrides = parse_overrides(args.overrides, args.obs_keys)
        steps = DEFAULT_STEPS if args.steps is None and time_budget_s is None else args.steps
        cfg = TrainConfig(steps=steps, time_budget_s=time_budget_s, **given)
    budget = f"{cfg.steps} steps" if cfg.steps is not None else f"{cfg.time_budget_s:g}s"
    verb = "resuming" if args.resume else "training"
    print(f"{verb} {name} ({preset}) on {args.data} for {budget} -> {args.out}")
    result = train(
        args.data,
        args.out,
        cfg,
        lambda dataset: resolve_model(name, preset, dataset, cfg.seed, model_overrides),
        model_name=name,
        preset=preset,
        resume=args.resume,
        device=args.device,
        threads=args.threads,
    )
    val = f", val loss {result.val_loss:.4g}" if result.val_loss is not None else ""
    loss = f"train loss {result.train_loss:.4g}" if result.train_loss is not None else "no steps"
    print(
        f"trained {result.step} steps in {result.elapsed_s:.1f}s ({loss}{val}); "
        f"checkpoint {result.checkpoint}"
    )
    return 0


def resolve_model(
    name: str, preset: str, dataset: Any, seed: int, overrides: dict[str, Any] | None = None
) -> Any:
    """Build a registered model for an open dataset (tests monkeypatch this).

    The model's own ``seed`` field (when its config has one) follows ``--seed``; ``overrides``
    replace config fields (``--set``, ``--obs-keys``, or a resumed run's whole stored config).
    """
    from forethought.models.registry import build_model, make_config
    from forethought.models.spec import DataSpec

    fields = dict(overrides or {})
    if hasattr(make_config(name, preset), "seed"):
        fields["seed"] = seed
    return build_model(name, preset, DataSpec.from_dataset(dataset), **fields)


def parse_overrides(pairs: list[str], obs_keys: str | None) -> dict[str, Any]:
    """``--set FIELD=JSON`` pairs (a bare word is taken as a string) and ``--obs-keys a,b``."""
    import json

    from forethought.core.errors import ForethoughtError

    out: dict[str, Any] = {}
    for pair in pairs:
        field, sep, text = pair.partition("=")
        if not sep or not field:
            raise ForethoughtError(f"--set wants FIELD=VALUE, got {pair!r}")
        try:
            out[field] = json.loads(text)
        except json.JSONDecodeError:
            out[field] = text
    if obs_keys:
        out["obs_keys"] = tuple(k for k in obs_keys.split(",") if k)
    return out


def run_models(args: argparse.Namespace) -> int:
    from forethought.models import registry

    for name in registry.list_models():
        entry = registry.get_entry(name) if hasattr(registry, "get_entry") else None
        presets = ", ".join(getattr(entry, "presets", {}) or ())
        summary = getattr(entry, "summary", "")
        print(f"{name:<16} {summary}" + (f" (presets: {presets})" if presets else ""))
    print(
        f"\nTrain one with: forethought train DATA --model NAME --preset {DEFAULT_PRESET} --out RUN"
    )
    return 0
