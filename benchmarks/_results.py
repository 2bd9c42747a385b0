"""What every benchmark records with its numbers: the machine, and one JSON file per result."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def machine() -> dict[str, Any]:
    """The machine a number was measured on."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def write_result(out: Path, result: dict[str, Any]) -> None:
    """Write ``result`` as indented JSON to ``out`` (folders created) and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


def run_main(main: Callable[[], int], name: str) -> None:
    """Exit with ``main()``'s code; bad input (a ``ForethoughtError``) is one line, named
    ``name``, not a traceback."""
    from forethought.core.errors import ForethoughtError

    try:
        raise SystemExit(main())
    except ForethoughtError as e:
        raise SystemExit(f"{name}: {e}") from None
