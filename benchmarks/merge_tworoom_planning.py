"""Merge planning results that split one task set over processes (``--skip``) into one row.

Each input is a ``bench_tworoom_planning.py --episodes`` JSON; rows with the same label are
joined in the order given (which must cover the tasks in order, e.g. ``--pairs 100`` and
``--skip 100 --pairs 200``). Success gets its Wilson 95% interval over all episodes; plan
times stay per part (each part's median and p95), since the parts ran side by side. Failures
are also counted by door band (``two_room_door_bands``: edge doors against the rest); one part
alone gives those counts for an older result.

Run: python benchmarks/merge_tworoom_planning.py PART.json [PART.json ...] --out MERGED.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from _results import run_main, write_result

from forethought.eval.goals import two_room_door_bands, two_room_tasks
from forethought.eval.metrics import SuccessRate


def merge(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One merged row per label found in every part."""
    spans = [p["protocol"].get("tasks_run", [0, p["protocol"]["pairs"]]) for p in parts]
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start != end:
            raise SystemExit(f"parts do not follow each other: one ends at {end}, next at {start}")
    labels = [r["row"] for r in parts[0]["rows"]]
    seed = parts[0]["protocol"]["task_seed"]
    tasks = two_room_tasks(parts[-1]["protocol"]["pairs"], seed)[spans[0][0] :]
    merged = []
    for label in labels:
        rows = [next((r for r in p["rows"] if r["row"] == label), None) for p in parts]
        if any(r is None or "episodes" not in r for r in rows):
            raise SystemExit(f"row {label!r} is missing, or ran without --episodes, in a part")
        episodes = [e for r in rows for e in r["episodes"]]
        wins = [e["steps_to_success"] for e in episodes if e["success"] and e["steps_to_success"]]
        failures: Counter[str] = Counter()  # update() keeps kinds counted 0
        for r in rows:
            failures.update(r.get("failures") or {})
        merged.append(
            {
                "row": label,
                "success": SuccessRate.from_counts(
                    sum(e["success"] for e in episodes), len(episodes)
                ).to_dict(),
                "steps_to_success_median": float(statistics.median(wins)) if wins else None,
                "failures": dict(failures) or None,
                "failed_by_door": two_room_door_bands(tasks, [e["success"] for e in episodes]),
                "plan_ms_median_per_part": [r["plan_ms_median"] for r in rows],
                "plan_ms_p95_per_part": [r["plan_ms_p95"] for r in rows],
                "episodes": episodes,
            }
        )
    return merged


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("parts", nargs="+", type=Path, help="bench_tworoom_planning.py JSONs, in order")
    p.add_argument("--out", type=Path, required=True, help="merged JSON")
    args = p.parse_args()
    try:
        parts = [json.loads(path.read_text()) for path in args.parts]
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"merge_tworoom_planning: cannot read a part: {e}") from None
    rows = merge(parts)
    for row in rows:
        s = row["success"]
        print(
            f"{row['row']:<40} {s['successes']}/{s['n']} = {100 * s['rate']:.1f}% "
            f"[{100 * s['low']:.1f}, {100 * s['high']:.1f}]; failed by door: "
            + ", ".join(f"{k} {f} of {n}" for k, (f, n) in row["failed_by_door"].items())
        )
    write_result(
        args.out,
        {
            "command": "python benchmarks/merge_tworoom_planning.py " + " ".join(sys.argv[1:]),
            "parts": [p["command"] for p in parts],
            "protocol": {**parts[0]["protocol"], "tasks_run": [0, parts[-1]["protocol"]["pairs"]]},
            "objective": parts[0]["objective"],
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    run_main(main, "merge_tworoom_planning")
