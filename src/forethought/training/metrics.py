"""Where training numbers go: ``metrics.jsonl``, TensorBoard (if installed), a progress bar."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from forethought.training.atomic import atomic_write_text

Note = Callable[[str], None]
_said_no_tensorboard = False


def finite_or_none(v: float | None) -> float | None:
    """``v``, or None for NaN / inf (JSON has no NaN)."""
    return v if v is not None and math.isfinite(v) else None


def print_note(msg: str) -> None:
    """The default way training tells the user something: one line on stderr."""
    print(f"forethought: {msg}", file=sys.stderr)


def log_record(
    step: int,
    elapsed_s: float,
    lr: float,
    values: dict[str, float | None],
    steps_per_s: float,
    frames_per_step: int,
) -> dict[str, Any]:
    """One ``metrics.jsonl`` line: step, times, lr, the values (NaN/inf as null), speeds."""
    return {
        "step": step,
        "time_s": round(elapsed_s, 3),
        "wall": round(time.time(), 3),
        "lr": lr,
        **{k: finite_or_none(v) for k, v in values.items()},
        "steps_per_s": round(steps_per_s, 3),
        "frames_per_s": round(steps_per_s * frames_per_step, 1),
    }


class MetricsLogger:
    """Appends one JSON object per record to ``metrics.jsonl`` and mirrors scalars to TensorBoard.

    Args:
        path: the JSONL file (appended to; on resume, records after ``resume_step`` are dropped so
            the file holds one continuous curve).
        tb_dir: TensorBoard log folder, or None for JSONL only.
        resume_step: the checkpoint step a resumed run continues from.
        note: prints a one-line message (used once, when tensorboard is missing).
    """

    def __init__(
        self,
        path: Path,
        tb_dir: Path | None,
        resume_step: int | None = None,
        note: Note = print_note,
    ) -> None:
        if resume_step is not None and path.is_file():
            _truncate_after(path, resume_step)
        self._file = open(path, "a", encoding="utf-8")
        self._tb = _tensorboard_writer(tb_dir, resume_step, note) if tb_dir else None

    def log(self, record: dict[str, Any]) -> None:
        """Write one record (must hold ``step``); numbers also go to TensorBoard by name."""
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            step = int(record["step"])
            for key, value in record.items():
                if key not in ("step", "wall") and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _tensorboard_writer(tb_dir: Path, resume_step: int | None, note: Note) -> Any:
    global _said_no_tensorboard
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if not _said_no_tensorboard:
            _said_no_tensorboard = True
            note(
                "tensorboard is not installed; metrics go to metrics.jsonl only "
                "(pip install tensorboard for tb/ events)"
            )
        return None
    purge = None if resume_step is None else resume_step + 1
    return SummaryWriter(log_dir=str(tb_dir), purge_step=purge)


def _truncate_after(path: Path, step: int) -> None:
    """Keep only the records up to ``step`` (and drop a torn last line)."""
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line)["step"]) <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


class TrainProgress:
    """A rich progress bar on stderr with loss, lr, speed and ETA; a line every 10 s when stderr
    is not a terminal; nothing at all when ``enabled`` is False.

    ``total`` counts steps, or seconds for a time budget (``by_time``).
    """

    def __init__(self, label: str, total: float, by_time: bool, enabled: bool = True) -> None:
        self.total, self.by_time, self.enabled = total, by_time, enabled
        console = Console(stderr=True)
        self.tty = enabled and console.is_terminal
        self._last_line = time.perf_counter()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.tty,
        )
        self._task = self._progress.add_task(label, total=total, info="")

    def update(
        self,
        step: int,
        elapsed_s: float,
        loss: float,
        lr: float,
        steps_per_s: float,
        finished: bool = False,
    ) -> None:
        """Show the latest numbers (``finished`` fills the bar: the budget is spent)."""
        rate = f"  {steps_per_s:,.1f} steps/s" if steps_per_s else ""
        info = f"step {step}  loss {loss:.4g}  lr {lr:.2e}{rate}"
        completed = self.total if finished else elapsed_s if self.by_time else step
        if self.tty:
            self._progress.update(self._task, completed=completed, info=info)
        elif self.enabled and time.perf_counter() - self._last_line > 10:
            self._last_line = time.perf_counter()
            unit = "s" if self.by_time else " steps"
            print(f"  {completed:,.0f}/{self.total:,.0f}{unit}  {info}", file=sys.stderr)

    def __enter__(self) -> TrainProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)


class IntervalMeans:
    """Sums of the per-step numbers since the last log record."""

    def __init__(self, step: int, t: float) -> None:
        self.sums: dict[str, float] = {}
        self.count, self.step, self.t = 0, step, t
        self.last_loss: float | None = None

    def add(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1

    def flush(self, step: int) -> tuple[dict[str, float | None], float]:
        """Interval means as ``train/<name>`` (``grad_norm`` unprefixed), and steps per second."""
        now = time.perf_counter()
        out: dict[str, float | None] = {
            (k if k == "grad_norm" else f"train/{k}"): v / self.count for k, v in self.sums.items()
        }
        if self.count:
            self.last_loss = out["train/loss"]
        rate = (step - self.step) / max(now - self.t, 1e-9)
        self.sums, self.count, self.step, self.t = {}, 0, step, now
        return out, rate
