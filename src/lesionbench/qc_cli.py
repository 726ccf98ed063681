"""``lesionbench qc``: check every file of every case in a case sheet (see :mod:`lesionbench.qc`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "qc",
        help="input QC of a case sheet: files open, 3-D, finite, masks on the FLAIR grid and binary",
        description="Check every file of every case; stop at the first problem (exit 2, naming the "
        "case and the file) unless --exclude-failing is given.",
    )
    parser.add_argument("--cases", type=Path, required=True)
    parser.add_argument("--raters", type=Path, default=None)
    parser.add_argument("--root", type=Path, default=None, help="dataset root (default: folder of --cases)")
    parser.add_argument("--require", nargs="+", default=["flair"], metavar="MODALITY")
    parser.add_argument("--label-policy", choices=("binary", "nonzero"), default="binary")
    parser.add_argument("--affine-tolerance", type=float, default=1e-3, metavar="MM")
    parser.add_argument("--out", type=Path, default=None, help="QC table (TSV) to write")
    parser.add_argument("--exclude-failing", action="store_true", help="record failing cases instead of stopping")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from .cohort.sheet import read_case_sheet, validate_case_sheet
    from .qc import case_summary, first_error, inspect_case, records_table

    sheet = validate_case_sheet(read_case_sheet(args.cases, args.raters, root=args.root), required_modalities=args.require)
    tables = []
    for case_id in sheet.case_ids:
        images, masks = sheet.qc_inputs(case_id)
        records = inspect_case(
            case_id,
            images,
            masks,
            required=args.require,
            label_policy=args.label_policy,
            affine_tolerance_mm=args.affine_tolerance,
        )
        error = first_error(records)
        if error is not None and not args.exclude_failing:
            raise error
        tables.append(records_table(records))
    table = pd.concat(tables, ignore_index=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, sep="\t", index=False)
    summary = case_summary(table)
    print(summary.to_string(index=False))
    return 0
