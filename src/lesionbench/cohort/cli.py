"""``lesionbench import``: write a case sheet (cases.tsv + raters.tsv) from a dataset folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: The importers' layouts (:data:`lesionbench.cohort.importers.LAYOUTS`), written out so that
#: building the parser imports no science; tests/test_cli_startup.py checks they agree.
LAYOUTS: tuple[str, ...] = ("msseg2016", "msseg2", "bids")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--require", nargs="+", default=["flair"], metavar="MODALITY", help="modalities every case must have")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
