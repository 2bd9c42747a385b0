"""Load a trained model back from a run directory (weights from safetensors, never a pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from forethought.core.errors import ForethoughtError
from forethought.training.checkpoint import CheckpointInfo, load_checkpoint


@dataclass(frozen=True)
class LoadedRun:
    """A trained model in eval mode, with what it was trained as."""

    model: nn.Module
    info: CheckpointInfo  # step, model name/preset/config, data spec, dataset fingerprint
    path: Path  # the run directory
    dataset: dict  # the run's dataset.json (path, fingerprint, held-out episodes)


def read_run_dataset(run_dir: str | Path) -> dict:
    """A run directory's ``dataset.json`` (path, fingerprint, held-out episodes), or ``{}``;
    reads no weights."""
    dataset_json = Path(run_dir) / "dataset.json"
    return json.loads(dataset_json.read_text()) if dataset_json.is_file() else {}


def load_run(run_dir: str | Path, *, use_ema: bool = True) -> LoadedRun:
    """The newest checkpoint of ``run_dir`` rebuilt as its registered model (EMA weights when
    the run kept them and ``use_ema``).

    Raises:
        ForethoughtError: not a run directory, no checkpoint, or a model this version cannot build.
    """
    from forethought.models.registry import build_from_config, get_entry
    from forethought.models.spec import DataSpec

    path = Path(run_dir)
    if not (path / "checkpoints").is_dir():
        raise ForethoughtError(f"{path}: not a run directory (no checkpoints/); give a train --out")
    ckpt = load_checkpoint(path / "checkpoints")
    info = ckpt.info
    if info.data_spec is None:
        raise ForethoughtError(f"{ckpt.path}: the checkpoint records no data spec; cannot rebuild")
    try:
        entry = get_entry(info.model_name)
        config = entry.config_cls.from_dict(info.model_config)
        model = build_from_config(
            info.model_name, config, DataSpec.from_json(json.dumps(info.data_spec))
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ForethoughtError(
            f"{ckpt.path}: cannot rebuild model '{info.model_name}' ({e})"
        ) from e
    weights = ckpt.ema if use_ema and ckpt.ema is not None else ckpt.model
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:  # a tensor of another shape
        first = str(e).strip().splitlines()[-1].strip()
        raise ForethoughtError(
            f"{ckpt.path}: weights do not fit model '{info.model_name}' ({first}); was it "
            "trained by another forethought version?"
        ) from e
    if missing or unexpected:
        raise ForethoughtError(
            f"{ckpt.path}: weights do not fit model '{info.model_name}' (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); was it trained by another forethought version?"
        )
    model.eval()
    return LoadedRun(model, info, path, read_run_dataset(path))
