"""Dataset metadata: what a dataset holds and where it came from (stored as JSON in the file)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from forethought.core.errors import DatasetError
from forethought.core.spaces import FieldSpec

FORMAT = "forethought-dataset"
FORMAT_VERSION = 1


def package_version() -> str:
    from forethought import __version__

    return __version__


@dataclass(frozen=True)
class DatasetMeta:
    """Everything a reader needs to know about a dataset besides its arrays."""

    env_id: str
    obs_fields: tuple[FieldSpec, ...]
    action: FieldSpec
    observation_space: dict[str, Any]  # space_to_json(...)
    action_space: dict[str, Any]
    policy: str = "unknown"
    seed: int | None = None
    obs_mode: str = "state"
    max_steps: int | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    forethought_version: str = field(default_factory=package_version)
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )

    def field_for(self, key: str) -> FieldSpec:
        for f in self.obs_fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def obs_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.obs_fields)

    def same_layout(self, other: DatasetMeta) -> bool:
        """True when episodes of ``other`` can be appended to a dataset with this metadata."""
        return (
            self.obs_fields == other.obs_fields
            and self.action == other.action
            and self.env_id == other.env_id
        )

    def to_json(self) -> str:
        d = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "env_id": self.env_id,
            "obs_fields": [f.to_json() for f in self.obs_fields],
            "action": self.action.to_json(),
            "observation_space": self.observation_space,
            "action_space": self.action_space,
            "policy": self.policy,
            "seed": self.seed,
            "obs_mode": self.obs_mode,
            "max_steps": self.max_steps,
            "env_kwargs": self.env_kwargs,
            "forethought_version": self.forethought_version,
            "created": self.created,
        }
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(text: str, where: str = "dataset") -> DatasetMeta:
        try:
            d = json.loads(text)
            if d.get("format") != FORMAT:
                raise DatasetError(
                    f"{where}: not a forethought dataset (format={d.get('format')!r})"
                )
            if int(d["format_version"]) > FORMAT_VERSION:
                raise DatasetError(
                    f"{where}: written by a newer forethought (format {d['format_version']}); "
                    "upgrade forethought to read it"
                )
            return DatasetMeta(
                env_id=d["env_id"],
                obs_fields=tuple(FieldSpec.from_json(f) for f in d["obs_fields"]),
                action=FieldSpec.from_json(d["action"]),
                observation_space=d["observation_space"],
                action_space=d["action_space"],
                policy=d.get("policy", "unknown"),
                seed=d.get("seed"),
                obs_mode=d.get("obs_mode", "state"),
                max_steps=d.get("max_steps"),
                env_kwargs=d.get("env_kwargs", {}),
                forethought_version=d.get("forethought_version", "unknown"),
                created=d.get("created", ""),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"{where}: metadata is unreadable ({e}); the file is corrupt") from e
