"""The cohort verbs: ``lesionbench import`` writes a case sheet (cases.tsv + raters.tsv) from a
dataset folder; ``lesionbench qc`` checks every file of every case in a sheet (:mod:`.qc`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .layout import LAYOUTS


def add_import_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="write cases.tsv/raters.tsv from an MS-SEG 2016, MSSEG-2 or BIDS folder",
        description="Scan a dataset folder and write the case sheet the workflow reads. "
        "Paths in the sheet are relative to --root.",
    )
    parser.add_argument("--layout", choices=LAYOUTS, required=True)
    parser.add_argument("--root", type=Path, required=True, help="dataset root folder")
    parser.add_argument("--cases-out", type=Path, required=True, help="cases.tsv to write")
    parser.add_argument("--raters-out", type=Path, required=True, help="raters.tsv to write")
    parser.add_argument("--preprocessed", action="store_true", help="MS-SEG 2016: use Preprocessed_Data images")
    parser.add_argument(
        "--split", choices=("train", "test"), default=None, help="split for layouts that do not record one"
    )
    parser.add_argument(
        "--require", nargs="+", default=["flair"], metavar="MODALITY", help="modalities every case must have"
    )
    parser.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from .importers import import_dataset
    from .layout import MSSEG2016_CENTERS
    from .sheet import validate_case_sheet, write_case_sheet

    options: dict[str, object] = {}
    if args.layout == "msseg2016":
        options["use_preprocessed"] = args.preprocessed
        if args.split:
            options["flat_split"] = args.split
    elif args.layout == "msseg2" and args.split:
        options["split"] = args.split
    sheet = import_dataset(args.layout, args.root, **options)
    centers = MSSEG2016_CENTERS if args.layout == "msseg2016" else None
    sheet = validate_case_sheet(sheet, required_modalities=args.require, centers=centers)
    write_case_sheet(sheet, args.cases_out, args.raters_out)
    summary = {
        "cases": len(sheet.cases),
        "by_split": sheet.cases["split"].value_counts().sort_index().to_dict(),
        "by_center": sheet.cases["center"].value_counts().sort_index().to_dict(),
        "rater_masks": len(sheet.raters),
    }
    print(json.dumps(summary, indent=2))
    return 0


def add_qc_parser(subparsers: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(func=run_qc)


def run_qc(args: argparse.Namespace) -> int:
    import pandas as pd

    from .qc import case_summary, first_error, inspect_task_case, records_table
    from .sheet import read_case_sheet, required_columns, validate_case_sheet

    sheet = validate_case_sheet(
        read_case_sheet(args.cases, args.raters, root=args.root), required_modalities=args.require
    )
    tables = []
    for case_id in sheet.case_ids:
        images, masks = sheet.qc_inputs(case_id)
        records = inspect_task_case(
            case_id,
            images,
            masks,
            task=sheet.task,
            required=required_columns(sheet.task, args.require),
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
