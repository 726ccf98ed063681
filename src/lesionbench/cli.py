"""The ``lesionbench`` command line: one verb per stage, each defined next to its science.

Each verb lives in its own module, which exposes ``add_parser(subparsers)`` registering a
sub-parser whose ``func`` default takes the parsed arguments and returns an exit code.
Errors from :mod:`lesionbench.errors` are printed as one line (no traceback) with exit code 2.

Start-up stays fast: the top-level parser lists every verb with the one-line summary in
:data:`VERBS` without importing any verb module; only the verb named on the command line is
imported, and the verb modules import their science inside the functions that run the verb.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import LesionbenchError

#: verb -> (``module:function`` registering its sub-parser, one-line summary shown by ``lesionbench --help``);
#: the order is the order of ``--help``. Each summary equals the ``help`` its module registers
#: (tests/test_cli_startup.py checks this).
VERBS: dict[str, tuple[str, str]] = {
    "import": (
        "lesionbench.cohort.cli:add_import_parser",
        "write cases.tsv/raters.tsv from an MS-SEG 2016, MSSEG-2 or BIDS folder",
    ),
    "qc": (
        "lesionbench.cohort.cli:add_qc_parser",
        "input QC of a case sheet: files open, 3-D, finite, masks on the FLAIR grid and binary",
    ),
    "synth": (
        "lesionbench.synth.cli:add_parser",
        "generate a synthetic multi-center MS cohort with known truth (MS-SEG 2016 layout)",
    ),
    "synth-longitudinal": (
        "lesionbench.synth.cli:add_longitudinal_parser",
        "generate a synthetic two-visit MS cohort with known new lesions (MSSEG-2 layout)",
    ),
    "metrics": ("lesionbench.metrics.cli:add_parser", "evaluation metrics of one (reference, prediction) pair as JSON"),
    "consensus": (
        "lesionbench.consensus.cli:add_parser",
        "fuse rater masks (STAPLE, MAP-/LOP-STAPLE, majority vote) and report rater performance",
    ),
    "rank": (
        "lesionbench.ranking.cli:add_parser",
        "rank entries from a long metrics table (leaderboard, challengeR analysis)",
    ),
    "methods": ("lesionbench.methods.cli:add_parser", "segmentation methods: check a submission folder"),
}


def chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb named on the command line (the first argument not starting with ``-``), if known.

    The top-level parser has only flag options (``--help``, ``--version``), so the first
    positional argument is the verb.
    """
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in VERBS else None
    return None


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser, with the full sub-parser of ``verb`` only (None: none of them).

    Every other verb gets a placeholder sub-parser carrying just its summary, so ``--help``
    lists all verbs while importing none of their modules.
    """
    parser = argparse.ArgumentParser(
        prog="lesionbench",
        description="Multi-center lesion segmentation challenge toolkit (MS-SEG 2016 style).",
    )
    parser.add_argument("--version", action="version", version=f"lesionbench {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name, (target, summary) in VERBS.items():
        if name == verb:
            module, function = target.split(":")
            getattr(importlib.import_module(module), function)(sub)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(chosen_verb(argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LesionbenchError as exc:
        print(f"lesionbench {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
