"""A stand-in world model and a tiny dataset with known linear dynamics, for training tests."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from forethought.core.errors import DatasetError
from forethought.data.episode import Episode
from forethought.data.reader import Dataset
from forethought.data.writer import DatasetWriter
from forethought.training import TrainConfig
from tests.conftest import make_meta

STATE_SPACE = gym.spaces.Dict({"state": gym.spaces.Box(-10, 10, (3,), np.float32)})
ACTION_SPACE = gym.spaces.Box(-1, 1, (2,), np.float32)
A = np.array([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.7]], np.float32)
B = np.array([[0.5, 0.0], [0.0, 0.5], [0.3, -0.3]], np.float32)


def write_dataset(path: Path, episodes: int = 16, steps: int = 24, seed: int = 0) -> Path:
    """Episodes of ``s' = A s + B a`` with random actions (state only)."""
    rng = np.random.default_rng(seed)
    with DatasetWriter.create(path, make_meta(STATE_SPACE, ACTION_SPACE), initial_steps=64) as w:
        for i in range(episodes):
            action = rng.uniform(-1, 1, (steps + 1, 2)).astype(np.float32)
            action[0] = 0
            state = np.zeros((steps + 1, 3), np.float32)
            state[0] = rng.normal(size=3)
            for t in range(1, steps + 1):
                state[t] = A @ state[t - 1] + B @ action[t]
            reward = np.zeros(steps + 1, np.float32)
            w.append(Episode({"state": state}, action, reward, False, True, seed=i))
    return path


@dataclass(frozen=True)
class TinyConfig:
    hidden: int = 32
    dropout: float = 0.1

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class TinyModel(nn.Module):
    """Predicts ``obs[t]`` from ``obs[t-1]`` and ``action[t]`` with an MLP (dropout exercises the
    torch RNG). ``nan_at`` makes the loss NaN on that call, to test the non-finite guard."""

    obs_keys = ("state",)

    def __init__(self, config: TinyConfig = TinyConfig()) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(
            nn.Linear(5, config.hidden), nn.Tanh(), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 3),
        )  # fmt: skip
        self.calls = 0
        self.nan_at: int | None = None

    def loss(self, batch) -> tuple[Tensor, dict[str, Tensor]]:
        s = batch.obs["state"]  # (B, T, 3)
        x = torch.cat([s[:, :-1], batch.action[:, 1:]], dim=-1)  # (B, T-1, 5)
        pred = s[:, :-1] + self.net(x)
        mse = ((pred - s[:, 1:]) ** 2).mean()
        reg = 1e-4 * sum((p**2).sum() for p in self.net.parameters())
        if self.training:
            self.calls += 1
            if self.nan_at is not None and self.calls >= self.nan_at:
                mse = mse * float("nan")
        return mse + reg, {"mse": mse.detach(), "reg": reg.detach()}


class TinyLatentModel(nn.Module):
    """Encodes the 3-D state to 4 dims and predicts the next latent from (latent, action)."""

    obs_keys = ("state",)

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 4)
        self.predictor = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4))

    def encode_goal(self, obs: dict[str, Tensor]) -> Tensor:
        return self.encoder(obs["state"].float())

    def _prediction_error(self, z: Tensor, action: Tensor) -> Tensor:
        pred = z[:, :-1] + self.predictor(torch.cat([z[:, :-1], action[:, 1:]], -1))
        return (pred - z[:, 1:]).square().mean()

    def loss(self, batch) -> tuple[Tensor, dict[str, Tensor]]:
        z = self.encode_goal(batch.obs)  # (B, T, 4)
        pred = self._prediction_error(z, batch.action)
        var = torch.relu(1 - z.flatten(0, 1).std(0)).mean()  # keeps the encoder from collapsing
        return pred + var, {"pred": pred.detach(), "var": var.detach()}

    def freeze_encoder(self) -> None:
        self.encoder.requires_grad_(False)

    def latent_loss(self, z: Tensor, action: Tensor, is_first: Tensor):
        pred = self._prediction_error(z, action)
        return pred, {"pred": pred.detach()}


def tiny_factory(dataset: Dataset) -> TinyModel:
    keys = dataset.meta.obs_keys
    if "state" not in keys:
        raise DatasetError(f"model 'tiny' needs obs key 'state'; the dataset has {list(keys)}")
    return TinyModel()


def small_cfg(**kw) -> TrainConfig:
    base = dict(
        steps=40, lr=3e-3, warmup_steps=5, batch_size=8, window=6, val_every=10, val_batches=2,
        log_every=5, ckpt_every=20, ckpt_every_s=None, seed=3,
    )  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
