"""``forethought data inspect|check|export|import``: look at, validate and convert datasets."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect, check, import or export datasets")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")

    i = dsub.add_parser("inspect", help="summarise a dataset (episodes, keys, coverage)")
    i.add_argument("file", type=Path)
    i.add_argument("--plot", type=Path, default=None, help="save a coverage plot (PNG)")
    i.set_defaults(run=run_inspect)

    c = dsub.add_parser("check", help="validate a dataset; exit 2 and name each problem")
    c.add_argument("file", type=Path)
    c.set_defaults(run=run_check)

    e = dsub.add_parser("export", help="write a dataset as Minari or NPZ")
    e.add_argument("file", type=Path)
    e.add_argument("--to", choices=("minari", "npz"), required=True)
    e.add_argument("--out", required=True, help="Minari dataset id, or .npz path")
    e.add_argument("--minari-path", default=None, help="Minari datasets folder")
    e.set_defaults(run=run_export)

    m = dsub.add_parser("import", help="create a dataset from Minari or NPZ")
    m.add_argument("source", help="Minari dataset id, or .npz path")
    m.add_argument("--from", dest="source_format", choices=("minari", "npz"), required=True)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--env-id", default=None, help="env id to record (NPZ without metadata)")
    m.add_argument("--minari-path", default=None, help="Minari datasets folder")
    m.set_defaults(run=run_import)


def run_inspect(args: argparse.Namespace) -> int:
    from forethought.data.reader import Dataset
    from forethought.data.summary import save_coverage_plot, summarize

    with Dataset(args.file) as ds:
        print(summarize(ds).format())
        if args.plot:
            print(f"coverage plot: {save_coverage_plot(ds, args.plot)}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from forethought.data.check import check_dataset

    problems = check_dataset(args.file)
    for p in problems:
        print(f"forethought: {args.file}: {p}")
    if not problems:
        print(f"{args.file}: ok")
    return 2 if problems else 0


def run_export(args: argparse.Namespace) -> int:
    from forethought.data import interop

    if args.to == "npz":
        path = interop.export_npz(args.file, args.out)
        print(f"wrote {path}")
    else:
        dataset_id = interop.export_minari(args.file, args.out, data_path=args.minari_path)
        print(f"created Minari dataset {dataset_id}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from forethought.data import interop

    if args.source_format == "npz":
        path = interop.import_npz(args.source, args.out, env_id=args.env_id)
    else:
        path = interop.import_minari(
            args.source, args.out, data_path=args.minari_path, env_id=args.env_id
        )
    print(f"wrote {path}")
    return 0
