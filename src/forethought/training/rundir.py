"""The run directory: resolved configs, dataset identity, environment, metrics and checkpoints.

::

    RUN/
      config.json     model name, preset and resolved config; the TrainConfig
      dataset.json    path, fingerprint, episodes, steps, keys, the held-out episodes
      env.json        python / torch / numpy / gymnasium / forethought versions, git commit, device
      metrics.jsonl   one JSON object per log step
      tb/             TensorBoard events (when the tensorboard package is installed)
      checkpoints/    step_XXXXXXXX.{safetensors,json} and the ``latest`` pointer
"""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forethought.core.errors import ForethoughtError
from forethought.data.reader import Dataset
from forethought.training.atomic import atomic_write_text
from forethought.training.checkpoint import latest_checkpoint
from forethought.training.config import TrainConfig
from forethought.training.sampling import EpisodeSplit


@dataclass(frozen=True)
class RunConfig:
    """What ``config.json`` holds: the model (by registry name) and how it was trained."""

    model_name: str
    preset: str
    model_config: dict[str, Any]
    data_spec: dict[str, Any] | None  # what the model was built for (model.spec), JSON form
    train: TrainConfig


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory, and reading/writing its JSON files."""

    path: Path

    @property
    def config_json(self) -> Path:
        return self.path / "config.json"

    @property
    def dataset_json(self) -> Path:
        return self.path / "dataset.json"

    @property
    def env_json(self) -> Path:
        return self.path / "env.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def tb(self) -> Path:
        return self.path / "tb"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def is_resumable(self) -> bool:
        """A run with a config and at least one complete checkpoint."""
        ckpt = latest_checkpoint(self.checkpoints)
        return self.config_json.is_file() and ckpt is not None and ckpt.is_file()

    @staticmethod
    def prepare(out: Path, resume: bool) -> RunDir:
        """Check ``out`` against ``resume`` (creates nothing: see :meth:`create`).

        Raises:
            ForethoughtError: a new run into a non-empty folder, or nothing there to resume.
        """
        run = RunDir(Path(out))
        if run.path.exists() and not run.path.is_dir():
            raise ForethoughtError(f"--out {out} is a file; give a directory for the run")
        if resume:
            if not run.path.is_dir():
                raise ForethoughtError(
                    f"nothing to resume: {out} does not exist; drop --resume to start a new run"
                )
            if not run.config_json.is_file():
                raise ForethoughtError(
                    f"cannot resume {out}: not a forethought run (no config.json)"
                )
            if not run.is_resumable():
                raise ForethoughtError(
                    f"cannot resume {out}: it has no checkpoint yet (it stopped before the first "
                    "one); delete it or choose another --out"
                )
            return run
        if run.path.is_dir() and any(run.path.iterdir()):
            if run.is_resumable():
                raise ForethoughtError(
                    f"{out} already holds a training run; pass --resume to continue it or choose "
                    "another --out"
                )
            raise ForethoughtError(
                f"{out} exists and is not a resumable run; choose another --out (or empty it)"
            )
        return run

    def create(self) -> None:
        """Make the run's folders (for a new run, once its inputs have been checked)."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)

    def write_config(self, config: RunConfig) -> None:
        d = {
            "model": {
                "name": config.model_name,
                "preset": config.preset,
                "config": config.model_config,
                "data_spec": config.data_spec,
            },
            "train": config.train.to_dict(),
        }
        atomic_write_text(self.config_json, json.dumps(d, indent=2) + "\n")

    def read_config(self) -> RunConfig:
        try:
            d = json.loads(self.config_json.read_text(encoding="utf-8"))
            m = d["model"]
            train = TrainConfig.from_dict(d["train"])
            return RunConfig(m["name"], m["preset"], m["config"], m.get("data_spec"), train)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ForethoughtError(
                f"{self.config_json}: unreadable ({e}); the run is damaged"
            ) from e

    def write_dataset(
        self, dataset: Dataset, split: EpisodeSplit, obs_keys: tuple[str, ...]
    ) -> str:
        """Record the dataset's identity; returns its fingerprint."""
        fingerprint = dataset.fingerprint()
        d = {
            "path": str(Path(dataset.path).resolve()),
            "fingerprint": fingerprint,
            "env_id": dataset.meta.env_id,
            "episodes": int(dataset.n_episodes),
            "steps": int(dataset.n_steps),
            "keys": list(dataset.keys),
            "obs_keys_used": list(obs_keys),
            "train_episodes": int(split.train.size),
            "val_episodes": split.val.tolist(),
        }
        atomic_write_text(self.dataset_json, json.dumps(d, indent=2) + "\n")
        return fingerprint

    def read_fingerprint(self) -> str | None:
        if not self.dataset_json.is_file():
            return None
        return json.loads(self.dataset_json.read_text(encoding="utf-8")).get("fingerprint")

    def write_env(self, device: torch.device, threads: int, resumed_at: int | None = None) -> None:
        """Record versions, git commit, device and threads; a resume keeps the earlier sessions
        under ``previous``."""
        session: dict[str, Any] = environment(device, threads)
        if resumed_at is not None and self.env_json.is_file():
            try:
                old = json.loads(self.env_json.read_text(encoding="utf-8"))
                session["resumed_at_step"] = resumed_at
                session["previous"] = [*old.pop("previous", []), old]
            except (ValueError, AttributeError):
                pass
        atomic_write_text(self.env_json, json.dumps(session, indent=2) + "\n")


def environment(device: torch.device, threads: int) -> dict[str, Any]:
    """Package versions, git commit, device and thread count of this process."""
    from forethought import __version__

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "gymnasium": _version("gymnasium"),
        "forethought": __version__,
        "git_commit": git_commit(),
        "torch_threads": threads,
        "device": str(device),
    }


def git_commit() -> str:
    """``git rev-parse HEAD`` of the repository holding this package, else ``"unknown"``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
