"""The ``lesionbench`` command line: one verb per stage, each defined next to its science.

Each verb lives in its own module, which exposes ``add_parser(subparsers)`` registering a
sub-parser whose ``func`` default takes the parsed arguments and returns an exit code.
Errors from :mod:`lesionbench.errors` are printed as one line (no traceback) with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import LesionbenchError

#: verb -> module providing ``add_parser``; the order is the order of ``--help``.
VERBS: dict[str, str] = {
    "import": "lesionbench.cohort.cli",
    "qc": "lesionbench.qc_cli",
    "synth": "lesionbench.synth.cli",
    "metrics": "lesionbench.metrics.cli",
    "consensus": "lesionbench.consensus_cli",
    "rank": "lesionbench.ranking_cli",
    "methods": "lesionbench.methods.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lesionbench",
        description="Multi-center lesion segmentation challenge toolkit (MS-SEG 2016 style).",
    )
    parser.add_argument("--version", action="version", version=f"lesionbench {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for module_name in VERBS.values():
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LesionbenchError as exc:
        print(f"lesionbench {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
