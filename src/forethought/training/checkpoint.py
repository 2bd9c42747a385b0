"""Checkpoints: safetensors weights plus a JSON header, written atomically, loaded without pickle.

A checkpoint is two files in ``checkpoints/``: ``step_00001000.safetensors`` (model weights under
``model/``, the EMA shadow under ``ema/``, the optimizer's tensors under ``optim/<param>/<name>``)
and ``step_00001000.json`` (step, configs, dataset fingerprint, RNG and sampler states, the
optimizer's non-tensor state, the weights file's sha256). The ``latest`` file names the newest
complete checkpoint and is replaced last, so a crash at any point leaves the previous checkpoint
in force. Loading reads JSON and safetensors only; pickle files are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
from torch import Tensor

from forethought.core.errors import ForethoughtError
from forethought.training.atomic import atomic_write, atomic_write_text, remove_stale_temps

FORMAT = "forethought-checkpoint"
FORMAT_VERSION = 1
LATEST = "latest"
_NAME = re.compile(r"^step_(\d{8,})\.json$")


@dataclass(frozen=True)
class CheckpointInfo:
    """The JSON side of a checkpoint: where training stood and how to rebuild everything."""

    step: int  # optimizer steps taken
    elapsed_s: float  # wall-clock seconds trained so far, over all sessions
    model_name: str
    preset: str
    model_config: dict[str, Any]  # the resolved model config, JSON form
    data_spec: dict[str, Any] | None  # what the model was built for (model.spec), JSON form
    train_config: dict[str, Any]  # TrainConfig.to_dict()
    dataset_fingerprint: str
    rng: dict[str, Any]  # rng.capture_rng()
    sampler: dict[str, Any]  # the training sampler's state (the latent sampler's in that phase)
    latent_phase_from: tuple[int, float] | None = None  # (step, elapsed s) the encoder froze at


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: its info and the state dicts to load into model, EMA and optimizer."""

    path: Path  # the .json file
    info: CheckpointInfo
    model: dict[str, Tensor]
    ema: dict[str, Tensor] | None
    optimizer: dict[str, Any] | None  # torch ``Optimizer.state_dict()`` form


def save_checkpoint(
    folder: Path,
    info: CheckpointInfo,
    model: dict[str, Tensor],
    ema: dict[str, Tensor] | None = None,
    optimizer: dict[str, Any] | None = None,
    keep: int = 3,
) -> Path:
    """Write one checkpoint atomically, point ``latest`` at it, and keep the newest ``keep``.

    Returns:
        The path of the new checkpoint's JSON file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    name = f"step_{info.step:08d}"
    tensors = {f"model/{k}": v for k, v in model.items()}
    tensors.update({f"ema/{k}": v for k, v in (ema or {}).items()})
    optim_tensors, optim_json = _flatten_optimizer(optimizer) if optimizer else ({}, None)
    tensors.update(optim_tensors)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    weights = folder / f"{name}.safetensors"
    digest: list[str] = []

    def write_weights(tmp: Path) -> None:
        safetensors.torch.save_file(tensors, str(tmp), metadata={"format": FORMAT})
        digest.append(_sha256(tmp))

    atomic_write(weights, write_weights)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "weights": {"file": weights.name, "sha256": digest[0]},
        "has_ema": ema is not None,
        "optimizer": optim_json,
        **{k: getattr(info, k) for k in CheckpointInfo.__dataclass_fields__},
    }
    path = folder / f"{name}.json"
    atomic_write_text(path, _dumps(header))
    atomic_write_text(folder / LATEST, name + "\n")
    _prune(folder, keep, current=name)
    return path


def latest_checkpoint(folder: Path) -> Path | None:
    """The JSON file ``latest`` points to in a checkpoints folder or run directory, or None."""
    folder = Path(folder)
    if (folder / "checkpoints").is_dir():
        folder = folder / "checkpoints"
    pointer = folder / LATEST
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return folder / f"{name}.json"


def load_checkpoint(path: Path) -> Checkpoint:
    """Load a checkpoint from its .json or .safetensors file, a checkpoints folder or a run dir.

    Raises:
        ForethoughtError: a missing, corrupt, mismatched, pickled or foreign file (one line).
    """
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise ForethoughtError(f"{path}: no checkpoint found (no checkpoints/latest file)")
        path = found
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    header = _read_header(path)
    weights = path.parent / str(header["weights"]["file"])
    if not weights.is_file():
        raise ForethoughtError(f"{path}: its weights file {weights.name} is missing")
    _refuse_pickle(weights)
    if _sha256(weights) != header["weights"]["sha256"]:
        raise ForethoughtError(f"{weights}: checksum mismatch; the file is corrupt or was replaced")
    try:
        tensors = safetensors.torch.load_file(str(weights), device="cpu")
    except Exception as e:  # safetensors raises its own error types for malformed files
        raise ForethoughtError(
            f"{weights}: not a readable safetensors file ({_one_line(e)})"
        ) from e
    try:
        info = CheckpointInfo(**{k: header[k] for k in _REQUIRED}, **_optional(header))
    except KeyError as e:
        raise ForethoughtError(f"{path}: checkpoint header lacks {e}; the file is corrupt") from e
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema/")}
    optim = _unflatten_optimizer(tensors, header["optimizer"]) if header["optimizer"] else None
    return Checkpoint(path, info, model, ema if header["has_ema"] else None, optim)


_REQUIRED = [f.name for f in dataclasses.fields(CheckpointInfo) if f.default is dataclasses.MISSING]


def _optional(header: dict[str, Any]) -> dict[str, Any]:
    """The header's optional fields (older checkpoints lack them), in their Python types."""
    phase = header.get("latent_phase_from")
    return {"latent_phase_from": (int(phase[0]), float(phase[1])) if phase else None}


def discard_newer(folder: Path, step: int) -> None:
    """Delete checkpoints newer than ``step`` (written by a session that crashed before it could
    point ``latest`` at them), so a resumed run never mixes two histories."""
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.iterdir():
            m = _NAME.match(p.name)
            if m and int(m.group(1)) > step:
                p.unlink(missing_ok=True)
                p.with_suffix(".safetensors").unlink(missing_ok=True)


def _read_header(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ForethoughtError(f"{path}: no such checkpoint")
    _refuse_pickle(path)
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ForethoughtError(f"{path}: not a forethought checkpoint ({_one_line(e)})") from e
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ForethoughtError(f"{path}: not a forethought checkpoint (no '{FORMAT}' header)")
    if int(header.get("format_version", 0)) > FORMAT_VERSION:
        raise ForethoughtError(f"{path}: written by a newer forethought; upgrade to load it")
    return header


def _refuse_pickle(path: Path) -> None:
    """Refuse pickle / torch.save files before safetensors sees them.

    A safetensors file opens with its JSON header's length (8 bytes, little-endian) and then
    ``{``; that length's first byte may well be 0x80, the pickle opcode, so the safetensors
    layout is recognized first.
    """
    with open(path, "rb") as f:
        head = f.read(9)
    size = path.stat().st_size
    if len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < size:
        return
    if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
        raise ForethoughtError(
            f"{path}: looks like a pickle / torch.save file; forethought loads only safetensors + "
            "JSON checkpoints and never unpickles"
        )


def _flatten_optimizer(sd: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors: dict[str, Tensor] = {}
    extra: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optim/{idx}/{key}"] = value
            else:
                extra.setdefault(str(idx), {})[key] = value
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in g.items()}
        for g in sd["param_groups"]
    ]
    return tensors, {"param_groups": groups, "extra": extra}


def _unflatten_optimizer(tensors: dict[str, Tensor], header: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim/"):
            _, idx, key = name.split("/", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, values in header["extra"].items():
        state.setdefault(int(idx), {}).update(values)
    groups = [
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
        for g in header["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def _prune(folder: Path, keep: int, current: str) -> None:
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))
    for _, p in found[:-keep]:
        if p.stem != current:
            p.unlink(missing_ok=True)
            p.with_suffix(".safetensors").unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _dumps(d: dict[str, Any]) -> str:
    """JSON with one top-level key per line (readable header, compact RNG lists)."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
