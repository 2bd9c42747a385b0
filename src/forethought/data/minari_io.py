"""Export to and import from local `Minari <https://minari.farama.org>`_ datasets (minari >= 0.5).

Minari stores an episode of L steps as L + 1 observations and L actions, rewards, terminations
and truncations. Forethought's rows 1..L carry the actions and rewards, so row 0's zero action
and reward are dropped on export and put back on import.

Spaces: a bare Box observation (our single key ``state`` or ``pixels``) is exported as that Box;
anything else as a Dict with our keys (``a/b`` keys become nested Dicts). Text fields are exported
as :class:`gymnasium.spaces.Text` whose charset covers the data: Minari cannot serialise custom
text spaces such as MiniGrid's ``MissionSpace``. Images are stored losslessly
(``jpeg_encoding=False``; Minari 0.5.4 JPEG-encodes uint8 images of 32x32 and up by default).

Only local datasets are read and written; nothing is downloaded. ``minari`` is an optional extra
(``pip install 'forethought[minari]'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np

from forethought.core import spaces as sp
from forethought.core.errors import DatasetError, MissingExtraError
from forethought.data.episode import Episode
from forethought.data.interop import dataset_obs_space, nested_obs, opened, write_new
from forethought.data.meta import DatasetMeta
from forethought.data.reader import Dataset

__all__ = ["export_minari", "import_minari"]

CHUNK_BYTES = 128 << 20  # episodes are handed to Minari in batches of about this size
INT64_MAX = 2**63 - 1
ROOT_VAR = "MINARI_DATASETS_PATH"
META_KEY = "forethought_metadata"  # key of our DatasetMeta JSON in an exported Minari dataset


def _minari() -> ModuleType:
    try:
        import minari
    except ImportError as e:
        raise MissingExtraError("minari", "minari", "Minari import/export") from e
    return minari


@contextlib.contextmanager
def _datasets_path(data_path: str | os.PathLike[str] | None) -> Iterator[Path]:
    """Point ``MINARI_DATASETS_PATH`` at ``data_path`` for the duration; yield the root in use."""
    old = os.environ.get(ROOT_VAR)
    if data_path is not None:
        os.environ[ROOT_VAR] = str(data_path)
    try:
        yield Path(os.environ.get(ROOT_VAR) or "~/.minari/datasets").expanduser()
    finally:
        if data_path is not None and old is None:
            os.environ.pop(ROOT_VAR, None)
        elif data_path is not None:
            os.environ[ROOT_VAR] = old


# ------------------------------------------------------------- export


def export_minari(
    dataset: Dataset | str | os.PathLike[str],
    dataset_id: str,
    *,
    data_path: str | os.PathLike[str] | None = None,
) -> str:
    """Create a local Minari dataset holding every episode of a forethought dataset.

    Episodes without a step (a lone reset row) are left out: Minari cannot hold them.

    Args:
        dataset: An open :class:`Dataset` or the path of a dataset file.
        dataset_id: Minari id, ``(namespace/)name-v<version>``; must not exist yet.
        data_path: Minari's datasets root (default: ``$MINARI_DATASETS_PATH``, else
            ``~/.minari/datasets``).

    Returns:
        The id of the new Minari dataset (load it with ``minari.load_dataset``).

    Raises:
        MissingExtraError: ``minari`` is not installed.
        DatasetError: The id is malformed or taken, or the dataset cannot be converted.
    """
    minari = _minari()
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        parse_dataset_id(dataset_id)
    except ValueError as e:
        raise DatasetError(
            f"bad Minari dataset id '{dataset_id}'; use (namespace/)name-v<version>, e.g. "
            "forethought/cartpole-random-v0"
        ) from e
    with _datasets_path(data_path) as root, opened(dataset) as ds:
        target = root / dataset_id
        if target.exists():
            raise DatasetError(
                f"Minari dataset '{dataset_id}' already exists in {root}; choose another id or "
                f"remove it (minari delete {dataset_id})"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Minari nags about author e-mail, eval_env, ...
                _create(minari, dataset_id, ds)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
    return dataset_id


def _create(minari: ModuleType, dataset_id: str, ds: Dataset) -> None:
    meta, mds = ds.meta, None
    obs_space, act_space = dataset_obs_space(ds), sp.space_from_json(meta.action_space)
    kwargs: dict[str, Any] = {
        "algorithm_name": meta.policy,
        "description": f"Exported by forethought from {ds.path.name} (env {meta.env_id}).",
    }
    if "jpeg_encoding" in inspect.signature(minari.create_dataset_from_buffers).parameters:
        kwargs["jpeg_encoding"] = False  # lossless images
    for chunk in _buffer_chunks(ds, act_space):
        if mds is None:
            mds = minari.create_dataset_from_buffers(
                dataset_id, chunk, action_space=act_space, observation_space=obs_space, **kwargs
            )
        else:
            mds.update_dataset_from_buffer(chunk)
    if mds is None:
        raise DatasetError(f"{ds.path}: has no episodes with steps; nothing to export")
    # our own metadata rides along so that import_minari can restore the env id and details
    mds.storage.update_metadata({META_KEY: meta.to_json()})
    _attach_env_spec(mds, meta)


def _buffer_chunks(ds: Dataset, act_space: gym.Space) -> Iterator[list]:
    from minari.data_collector.episode_buffer import EpisodeBuffer

    chunk: list = []
    size = 0
    for i in range(ds.n_episodes):
        ep = ds.episode(i)
        if ep.steps == 0:
            continue  # Minari cannot hold an episode without a step
        last = np.arange(ep.steps) == ep.steps - 1
        chunk.append(
            EpisodeBuffer(
                id=None,
                seed=ep.seed if ep.seed >= 0 else None,
                observations=nested_obs(ep.obs, ds.meta.observation_space["type"] == "Dict"),
                actions=ep.action[1:].astype(act_space.dtype),
                rewards=ep.reward[1:],
                terminations=last & ep.terminated,
                truncations=last & ep.truncated,
            )
        )
        size += sum(v.nbytes for v in ep.obs.values()) + ep.action.nbytes
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _attach_env_spec(mds: Any, meta: DatasetMeta) -> None:
    """Record the env's spec (for ``recover_environment``) if it is registered locally."""
    # after creation, so that Minari does not build the env; not for pixel observation modes
    # (the registered env would not produce the stored observations)
    if meta.obs_mode != "state" or meta.env_id not in gym.registry:
        return
    spec = gym.spec(meta.env_id)
    steps = meta.max_steps if meta.max_steps is not None else spec.max_episode_steps
    spec = dataclasses.replace(
        spec, kwargs={**spec.kwargs, **meta.env_kwargs}, max_episode_steps=steps
    )
    try:
        text = spec.to_json()
    except (TypeError, ValueError):
        return  # kwargs that JSON cannot hold
    mds.storage.update_metadata({"env_spec": text})


# ------------------------------------------------------------- import


def import_minari(
    dataset_id: str,
    out: str | os.PathLike[str],
    *,
    data_path: str | os.PathLike[str] | None = None,
    env_id: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a local Minari dataset as a forethought dataset file.

    Args:
        dataset_id: Id of a Minari dataset present locally (download it first with
            ``minari download <id>``).
        out: The dataset file to create.
        data_path: Minari's datasets root (default: ``$MINARI_DATASETS_PATH``, else
            ``~/.minari/datasets``).
        env_id: Env id to record; defaults to the id in the Minari env spec, else ``"unknown"``.
        overwrite: Replace ``out`` if it exists.

    Returns:
        The path of the new dataset.

    Raises:
        MissingExtraError: ``minari`` is not installed.
        DatasetError: The id is not found locally or the data does not fit its spaces.
        EnvError: The observation or action space cannot be stored by forethought.
    """
    minari = _minari()
    with _datasets_path(data_path) as root:
        try:
            mds = minari.load_dataset(dataset_id)
        except (FileNotFoundError, ValueError) as e:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                listed = ", ".join(sorted(minari.list_local_datasets())) or "none"
            raise DatasetError(
                f"Minari dataset '{dataset_id}' not found in {root} (local datasets: {listed}); "
                "download it with: minari download <id>"
            ) from e
        meta = _import_meta(mds, dataset_id, env_id)
        seeds = [_seed(m) for m in mds.storage.get_episode_metadata(mds.episode_indices)]
        episodes = (
            _from_minari(e, mds.observation_space, meta, seed, f"{dataset_id} episode {e.id}")
            for e, seed in zip(mds.iterate_episodes(), seeds, strict=True)
        )
        return write_new(out, meta, episodes, overwrite)


def _import_meta(mds: Any, dataset_id: str, env_id: str | None) -> DatasetMeta:
    """Metadata for an imported dataset: spaces from Minari; env details from its env spec, or
    from the forethought metadata stored by :func:`export_minari`."""
    obs_space, act_space, spec = mds.observation_space, mds.action_space, mds.env_spec
    fields = tuple(sp.obs_fields(obs_space))
    try:
        env_kwargs = json.loads(json.dumps(spec.kwargs if spec is not None else {}))
    except (TypeError, ValueError):
        env_kwargs = {}
    origin: dict[str, Any] = {
        "env_id": spec.id if spec is not None else "unknown",
        "obs_mode": "pixels" if [f.key for f in fields] == ["pixels"] else "state",
        "max_steps": spec.max_episode_steps if spec is not None else None,
        "env_kwargs": env_kwargs,
        "seed": None,
    }
    ours = mds.storage.metadata.get(META_KEY)
    with contextlib.suppress(DatasetError):  # unreadable: keep what Minari says
        if isinstance(ours, str):
            old = DatasetMeta.from_json(ours, where=dataset_id)
            origin = {k: getattr(old, k) for k in origin}
    if env_id is not None:
        origin["env_id"] = env_id
    return DatasetMeta(
        obs_fields=fields,
        action=sp.action_field(act_space),
        observation_space=sp.space_to_json(obs_space),
        action_space=sp.space_to_json(act_space),
        policy=f"minari:{dataset_id}",
        **origin,
    )


def _seed(episode_metadata: dict[str, Any]) -> int:
    seed = episode_metadata.get("seed")
    return int(seed) if seed is not None and 0 <= int(seed) <= INT64_MAX else -1


def _from_minari(e: Any, space: gym.Space, meta: DatasetMeta, seed: int, where: str) -> Episode:
    steps = len(e.rewards)
    obs = sp.split_obs(space, e.observations)
    for key, value in obs.items():
        if len(value) != steps + 1:
            raise DatasetError(f"Minari {where}: '{key}' has {len(value)} entries, not {steps + 1}")
    spec = meta.action
    zero = np.zeros((1, *spec.shape), dtype=spec.dtype)
    return Episode(
        obs=obs,
        action=np.concatenate([zero, np.asarray(e.actions).astype(spec.dtype)]),
        reward=np.concatenate([[0.0], np.asarray(e.rewards)]).astype(np.float32),
        terminated=bool(steps and e.terminations[-1]),
        truncated=bool(steps and e.truncations[-1]),
        seed=seed,
    )
