"""Collection: run a policy in an env for N episodes and append them to a dataset file.

Episode ``i`` is reset with a seed derived from ``(seed, i)`` only, and its policy gets a
generator derived the same way, so a dataset is the same whatever the number of worker processes
and however often collection was interrupted and resumed.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from forethought.core.errors import ForethoughtError
from forethought.core.spaces import action_field, obs_fields, space_to_json, split_obs
from forethought.data.episode import Episode, EpisodeBuilder
from forethought.data.meta import DatasetMeta
from forethought.data.reader import Dataset
from forethought.data.writer import DatasetWriter
from forethought.envs.factory import make_env
from forethought.envs.policies import Policy, resolve_policy


@dataclass(frozen=True)
class CollectConfig:
    """What to collect. ``episodes`` is the total the file should hold when done."""

    env_id: str
    out: Path
    episodes: int = 100
    max_steps: int | None = None
    policy: str = "auto"
    obs: str = "state"
    image_size: int = 64
    seed: int = 0
    workers: int = 0  # 0: one per CPU core
    resume: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ForethoughtError(f"--episodes must be at least 1 (got {self.episodes})")
        if self.max_steps is not None and self.max_steps < 1:
            raise ForethoughtError(f"--max-steps must be at least 1 (got {self.max_steps})")
        if self.image_size < 8:
            raise ForethoughtError(f"--image-size must be at least 8 (got {self.image_size})")


@dataclass(frozen=True)
class CollectResult:
    path: Path
    episodes_added: int
    episodes_total: int
    steps_total: int


def episode_seed(seed: int, index: int) -> int:
    """The env reset seed of episode ``index``: a function of (seed, index) only."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _make(cfg: CollectConfig) -> gym.Env:
    return make_env(cfg.env_id, obs=cfg.obs, image_size=cfg.image_size, max_steps=cfg.max_steps)


def run_episode(
    env: gym.Env, policy: Policy, env_seed: int, rng: np.random.Generator, max_steps: int
) -> Episode:
    """Play one episode of at most ``max_steps`` steps and return it in the stored layout."""
    space = env.observation_space
    builder = EpisodeBuilder(action_field(env.action_space), seed=env_seed)
    with contextlib.redirect_stdout(io.StringIO()):  # BabyAI prints while it samples a layout
        obs, info = env.reset(seed=env_seed)
    policy.reset(obs, info, rng)
    builder.start(split_obs(space, obs))
    for step in range(1, max_steps + 1):
        action = policy.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        builder.add(action, float(reward), split_obs(space, obs))
        if terminated or truncated or step == max_steps:
            return builder.finish(bool(terminated), bool(truncated) or not terminated)
    raise AssertionError("unreachable")


def _episode_limit(env: gym.Env, cfg: CollectConfig) -> int:
    limit = cfg.max_steps or (env.spec.max_episode_steps if env.spec else None)
    if not limit and hasattr(env.unwrapped, "max_steps"):  # MiniGrid sets its own on reset
        with contextlib.redirect_stdout(io.StringIO()):
            env.reset(seed=0)
        limit = env.unwrapped.max_steps
    if limit is None:
        raise ForethoughtError(f"{cfg.env_id} has no time limit; pass --max-steps")
    return int(limit)


def _collect_chunk(cfg: CollectConfig, indices: list[int]) -> list[Episode]:
    """Worker task: make the env and policy, play the given episodes in order."""
    env = _make(cfg)
    try:
        _, factory = resolve_policy(cfg.policy, cfg.env_id)
        policy = factory(env.observation_space, env.action_space)
        limit = _episode_limit(env, cfg)
        out = []
        for i in indices:
            rng = np.random.default_rng([cfg.seed, i, 1])
            try:
                out.append(run_episode(env, policy, episode_seed(cfg.seed, i), rng, limit))
            except ForethoughtError:
                raise
            except Exception as e:  # a user's env or policy failing: say where, keep the data
                raise ForethoughtError(
                    f"episode {i} failed in {cfg.env_id} with policy {cfg.policy}: "
                    f"{type(e).__name__}: {e}"
                ) from None
        return out
    finally:
        env.close()


def _chunks(todo: list[int], workers: int) -> list[list[int]]:
    size = max(1, min(16, len(todo) // (4 * max(workers, 1)) or 1))
    return [todo[k : k + size] for k in range(0, len(todo), size)]


def dataset_meta(cfg: CollectConfig) -> DatasetMeta:
    """The metadata a collection with ``cfg`` writes (makes the env once to read its spaces)."""
    env = _make(cfg)
    try:
        policy_name, _ = resolve_policy(cfg.policy, cfg.env_id)
        return DatasetMeta(
            env_id=cfg.env_id,
            obs_fields=tuple(obs_fields(env.observation_space)),
            action=action_field(env.action_space),
            observation_space=space_to_json(env.observation_space),
            action_space=space_to_json(env.action_space),
            policy=policy_name,
            seed=cfg.seed,
            obs_mode=cfg.obs,
            max_steps=_episode_limit(env, cfg),
            env_kwargs={"image_size": cfg.image_size} if cfg.obs != "state" else {},
        )
    finally:
        env.close()


def _open_writer(cfg: CollectConfig, meta: DatasetMeta) -> DatasetWriter:
    if cfg.out.exists() and cfg.resume:
        writer = DatasetWriter.append_to(cfg.out, meta)
        old = writer.meta
        if (old.seed, old.policy, old.obs_mode, old.max_steps) != (
            meta.seed,
            meta.policy,
            meta.obs_mode,
            meta.max_steps,
        ):
            writer.close(compact=False)
            raise ForethoughtError(
                f"{cfg.out}: --resume needs the settings the file was collected with "
                f"(seed {old.seed}, policy {old.policy}, obs {old.obs_mode}, max steps "
                f"{old.max_steps}); got seed {meta.seed}, policy {meta.policy}, obs "
                f"{meta.obs_mode}, max steps {meta.max_steps}"
            )
        return writer
    return DatasetWriter.create(cfg.out, meta, overwrite=cfg.overwrite)


def _episodes_on_disk(cfg: CollectConfig) -> int:
    if not cfg.out.exists() or cfg.overwrite:
        return 0
    if not cfg.resume:
        raise ForethoughtError(
            f"{cfg.out} already exists; pass --resume to append to it, --overwrite to replace it, "
            "or choose another --out"
        )
    with Dataset(cfg.out) as ds:
        return ds.n_episodes


def collect(
    cfg: CollectConfig, on_episode: Callable[[int, int, int], None] | None = None
) -> CollectResult:
    """Collect until ``cfg.out`` holds ``cfg.episodes`` episodes.

    Args:
        cfg: what to collect.
        on_episode: called after each written episode with (episodes done, total, rows in it).
    """
    start = _episodes_on_disk(cfg)  # refuse an existing file before making any env
    meta = dataset_meta(cfg)
    todo = list(range(start, cfg.episodes))
    workers = cfg.workers or os.cpu_count() or 1
    with _episode_stream(cfg, todo, workers) as stream:
        writer = _open_writer(cfg, meta)
        try:
            for batch in stream:
                for ep in batch:
                    writer.append(ep)
                    if on_episode is not None:
                        on_episode(writer.n_episodes, cfg.episodes, ep.rows)
            total_eps, total_steps = writer.n_episodes, writer.n_steps
        finally:
            writer.close()
    return CollectResult(cfg.out, total_eps - start, total_eps, total_steps)


@contextlib.contextmanager
def _episode_stream(
    cfg: CollectConfig, todo: list[int], workers: int
) -> Iterator[Iterator[list[Episode]]]:
    """Chunks of finished episodes, in episode order, from a pool of worker processes.

    Workers are spawned, not forked: a forked child would inherit the parent's renderer state
    (an EGL context for MuJoCo) and the writer's file lock. A worker that dies is reported, not
    waited for forever.
    """
    chunks = _chunks(todo, workers)
    if workers <= 1 or len(chunks) <= 1:
        yield (_collect_chunk(cfg, chunk) for chunk in chunks)
        return
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(chunks)), mp_context=ctx) as pool:
        yield _reporting_worker_death(pool.map(_ChunkTask(cfg), chunks))


def _reporting_worker_death(results: Iterator[list[Episode]]) -> Iterator[list[Episode]]:
    try:
        yield from results
    except BrokenProcessPool as e:
        raise ForethoughtError(
            "a collection worker died (killed, out of memory, or crashed inside the env); "
            "finished episodes are saved: rerun with --resume, or --workers 1 to see the crash"
        ) from e


@dataclass(frozen=True)
class _ChunkTask:
    cfg: CollectConfig

    def __call__(self, indices: list[int]) -> list[Episode]:
        return _collect_chunk(self.cfg, indices)
