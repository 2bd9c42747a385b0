"""Training: the trainer loop, optimizer and schedule, checkpoints, run directories, logging.

The usual entry point is :func:`train` (a dataset path, a run directory, a :class:`TrainConfig`
and a model factory); :class:`Trainer` is the loop itself for callers that build their own
samplers, and :func:`load_checkpoint` reads a run's weights back without unpickling anything.
"""

from __future__ import annotations

from forethought.training.checkpoint import (
    Checkpoint,
    CheckpointInfo,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from forethought.training.config import TrainConfig, parse_duration
from forethought.training.device import default_threads, resolve_device, set_threads
from forethought.training.load import LoadedRun, load_run
from forethought.training.optim import EmaWeights, build_optimizer, lr_at
from forethought.training.run import ModelFactory, resume_config, train
from forethought.training.rundir import RunConfig, RunDir
from forethought.training.sampling import EpisodeSplit, split_episodes
from forethought.training.trainer import RunIdentity, Trainer, TrainResult

__all__ = [
    "Checkpoint",
    "LoadedRun",
    "CheckpointInfo",
    "EmaWeights",
    "EpisodeSplit",
    "ModelFactory",
    "RunConfig",
    "RunDir",
    "RunIdentity",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "build_optimizer",
    "default_threads",
    "latest_checkpoint",
    "load_checkpoint",
    "load_run",
    "lr_at",
    "parse_duration",
    "resolve_device",
    "resume_config",
    "save_checkpoint",
    "set_threads",
    "split_episodes",
    "train",
]
