"""A rich progress bar with a rate and an ETA, quiet when output is not a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@dataclass
class Bar:
    progress: Progress
    task: int
    unit: str
    steps: int = 0
    t0: float = field(default_factory=time.perf_counter)
    _last_print: float = 0.0

    def update(self, completed: int, steps: int = 0) -> None:
        self.steps += steps
        rate = self.steps / max(time.perf_counter() - self.t0, 1e-9)
        self.progress.update(self.task, completed=completed, rate=f"{rate:,.0f} steps/s")
        if self.progress.disable and time.perf_counter() - self._last_print > 10:
            self._last_print = time.perf_counter()
            total = self.progress.tasks[0].total
            print(f"  {completed}/{total} {self.unit} ({rate:,.0f} steps/s)", file=sys.stderr)


@contextmanager
def progress_bar(label: str, total: int, unit: str) -> Iterator[Bar]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task(label, total=total, rate="")
        yield Bar(progress, task, unit)
