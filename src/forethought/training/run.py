"""``train()``: everything between a dataset path and a finished run directory.

It checks the output folder, the dataset and the model before creating anything, so a refused run
leaves no half-made folder behind, and a resumed run continues from ``checkpoints/latest`` exactly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.training.checkpoint import discard_newer, latest_checkpoint, load_checkpoint
from forethought.training.config import TrainConfig
from forethought.training.device import resolve_device, set_threads
from forethought.training.latent_phase import require_latent_phase, require_latent_windows
from forethought.training.metrics import Note, print_note
from forethought.training.rng import seed_everything
from forethought.training.rundir import RunConfig, RunDir
from forethought.training.sampling import make_samplers, split_episodes
from forethought.training.trainer import RunIdentity, Trainer, TrainResult

ModelFactory = Callable[[Dataset], nn.Module]  # builds a model for an open dataset
BUDGET_FIELDS = ("steps", "time_budget_s")  # the only settings a resume may change


def train(
    data: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    model_factory: ModelFactory,
    *,
    model_name: str = "custom",
    preset: str = "custom",
    resume: bool = False,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    stop_at: int | None = None,
    note: Note = print_note,
) -> TrainResult:
    """Train ``model_factory(dataset.meta)`` on ``data`` into the run directory ``out``.

    Args:
        data: the dataset file.
        out: the run directory (new, or an existing run with ``resume``).
        cfg: the training configuration; on resume it must equal the run's except its budget.
        model_factory: builds the model for the open dataset (torch is seeded with ``cfg.seed``
            just before the call).
        model_name: registry name recorded in the run (a free label for a custom model).
        preset: preset name recorded in the run.
        resume: continue the run in ``out`` from its latest checkpoint.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        threads: torch CPU threads (None: :func:`~forethought.training.device.default_threads`).
        progress: show a progress bar on stderr.
        stop_at: stop after this many steps in total, as if interrupted (the schedule still
            follows ``cfg``); resuming later continues exactly.
        note: prints one-line messages to the user.

    Raises:
        ForethoughtError: any user-facing problem, as one line.
    """
    n_threads = set_threads(threads)
    dev = resolve_device(device)
    run = RunDir.prepare(Path(out), resume)
    stored = run.read_config() if resume else None
    if stored is not None:
        _check_resume(run, stored, cfg, model_name, preset)
    with Dataset(data) as dataset:
        fingerprint = dataset.fingerprint()
        if stored is not None:
            _check_fingerprint(run, dataset, fingerprint)
        split = split_episodes(dataset.n_episodes, cfg.val_fraction, cfg.seed)
        seed_everything(cfg.seed)
        model = build_model_with(model_factory, dataset, model_name, preset)
        if cfg.encoder_share is not None:
            require_latent_phase(model, model_name)
        model_config = model_config_json(model)
        data_spec = _json_of(getattr(model, "spec", None))
        if stored is not None and (stored.model_config, stored.data_spec) != (
            model_config,
            data_spec,
        ):
            raise ForethoughtError(
                f"cannot resume {out}: the model '{model_name}' (preset '{preset}') now builds "
                "with a different config or data spec than the run's; resume with the same "
                "forethought version and dataset, or start a new --out"
            )
        obs_keys = model_obs_keys(model, dataset)
        train_sampler, val_sampler = make_samplers(dataset, cfg, split, obs_keys)
        if cfg.encoder_share is not None and cfg.latent_window is not None:
            require_latent_windows(dataset, train_sampler.episodes, cfg.latent_window)
        identity = RunIdentity(model_name, preset, model_config, data_spec, fingerprint)
        ckpt = load_checkpoint(latest_checkpoint(run.checkpoints)) if resume else None
        if not resume:
            run.create()
            run.write_dataset(dataset, split, obs_keys)
        run.write_config(RunConfig(model_name, preset, model_config, data_spec, cfg))
        run.write_env(dev, n_threads, resumed_at=ckpt.info.step if ckpt else None)
        trainer = Trainer(
            model, cfg, run, train_sampler, val_sampler, identity, dev, progress, note
        )
        if ckpt is not None:
            discard_newer(run.checkpoints, ckpt.info.step)
            trainer.load(ckpt)
        return trainer.fit(stop_at)


def resume_config(
    run_dir: str | Path, steps: int | None = None, time_budget_s: float | None = None
) -> TrainConfig:
    """The run's stored TrainConfig, with a new budget when ``steps`` or ``time_budget_s`` is given.

    Raises:
        ForethoughtError: ``run_dir`` is not a resumable run, or both budgets are given.
    """
    stored = RunDir.prepare(Path(run_dir), resume=True).read_config().train
    if steps is None and time_budget_s is None:
        return stored
    return dataclasses.replace(stored, steps=steps, time_budget_s=time_budget_s)


def build_model_with(
    factory: ModelFactory, dataset: Dataset, model_name: str, preset: str
) -> nn.Module:
    """Call the factory, turning its complaints about the data into one clear line."""
    try:
        model = factory(dataset)
    except ForethoughtError as e:
        if "\n" in str(e):
            raise ForethoughtError(" ".join(str(e).split())) from e
        raise
    except (KeyError, ValueError) as e:
        raise ForethoughtError(
            f"cannot build model '{model_name}' (preset '{preset}') for {dataset.path}: "
            f"{' '.join(str(e).split())}"
        ) from e
    if not callable(getattr(model, "loss", None)):
        raise ForethoughtError(f"model '{model_name}' has no loss(batch) method; cannot train it")
    return model


def model_config_json(model: nn.Module) -> dict[str, Any]:
    """The model's resolved config as JSON-ready data ({} when the model has no ``config``)."""
    return _json_of(getattr(model, "config", None)) or {}


def _json_of(obj: Any) -> dict[str, Any] | None:
    """JSON-ready data of a config-like object: ``to_dict()``, ``to_json()`` or a dataclass."""
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        value = obj.to_dict()
    elif hasattr(obj, "to_json"):
        value = obj.to_json()
        value = json.loads(value) if isinstance(value, str) else value
    elif dataclasses.is_dataclass(obj):
        value = dataclasses.asdict(obj)
    else:
        value = {"repr": repr(obj)}
    return json.loads(json.dumps(value, default=str))


def model_obs_keys(model: nn.Module, dataset: Dataset) -> tuple[str, ...]:
    """The observation keys to load: the model's ``obs_keys``, its config's, its ``spec``'s, else
    every non-text key of the dataset."""
    config, spec = getattr(model, "config", None), getattr(model, "spec", None)
    for keys in (
        getattr(model, "obs_keys", None),
        getattr(config, "obs_keys", None),
        getattr(spec, "keys", None),
    ):
        if keys:
            return tuple(keys)
    return tuple(f.key for f in dataset.meta.obs_fields if not f.is_text)


def _check_resume(
    run: RunDir, stored: RunConfig, cfg: TrainConfig, model_name: str, preset: str
) -> None:
    if (model_name, preset) != (stored.model_name, stored.preset):
        raise ForethoughtError(
            f"cannot resume {run.path}: it trains '{stored.model_name}' preset '{stored.preset}', "
            f"not '{model_name}' preset '{preset}'; drop --model/--preset or choose another --out"
        )
    old, new = stored.train.to_dict(), cfg.to_dict()
    changed = [
        f"{k} {old[k]} -> {new[k]}" for k in old if k not in BUDGET_FIELDS and old[k] != new[k]
    ]
    if changed:
        raise ForethoughtError(
            f"cannot resume {run.path} with changed settings ({', '.join(changed)}); a resume "
            "keeps the run's settings and may change only --steps / --time-budget"
        )


def _check_fingerprint(run: RunDir, dataset: Dataset, fingerprint: str) -> None:
    recorded = run.read_fingerprint()
    if recorded != fingerprint:
        raise ForethoughtError(
            f"cannot resume {run.path}: it was trained on a dataset with fingerprint {recorded}, "
            f"but {dataset.path} has fingerprint {fingerprint}; give the run's dataset or start a "
            "new --out"
        )
