"""``lesionbench rank``: leaderboard, challengeR-style analysis tables and figures from metrics.tsv.

Reads the long table (:mod:`lesionbench.ranking.table`), writes into ``--out``:
``leaderboard.tsv``/``.md`` (mean per-case rank, weighted over metrics; MS-SEG 2016's own rule
was not published), ``ranking.tsv``, ``consensus.tsv``,
``scheme_ranks.tsv``, ``significance.tsv``, ``missing.tsv``, with ``--bootstrap N > 0`` also
``bootstrap_summary.tsv``, ``kendall_tau.tsv``, ``kendall_tau_summary.tsv``; per ``--strata``
``leaderboard_by_<stratum>.tsv``; with ``--figures`` PNGs under ``figures/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .. import DEFAULT_SEED
from ..consensus.options import DEFAULT_REFERENCE
from ..consensus.options import METHODS as CONSENSUS_METHODS
from ..errors import ConfigError
from .options import DEFAULT_LEADERBOARD_METRICS, DEFAULT_SCHEME, DEFAULT_STRATA, SCHEMES, STRATA, RankingOptions

if TYPE_CHECKING:
    import pandas as pd

SCHEME_NAMES: tuple[str, ...] = tuple(sorted(SCHEMES))

#: Reference used when ``--reference`` is not given: the first of these present in the table (the
#: workflow's default consensus, then the other fusions in the consensus stage's order, then the
#: synthetic truth).
REFERENCE_PREFERENCE: tuple[str, ...] = (
    f"consensus_{DEFAULT_REFERENCE}",
    *(f"consensus_{m}" for m in CONSENSUS_METHODS if m != DEFAULT_REFERENCE),
    "truth",
)


def _na_treat(text: str) -> str | float:
    if text in ("worst", "na.rm", "last"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--na-treat must be worst, na.rm, last or a number, got {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "rank",
        help="rank entries from a long metrics table (leaderboard, challengeR analysis)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("metrics_table", metavar="METRICS.tsv", help="long results table")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument(
        "--reference",
        help=f"reference the methods are scored against (default: first present of {', '.join(REFERENCE_PREFERENCE)})",
    )
    p.add_argument(
        "--rater-reference", help="reference of the rater rows (default: --reference if raters have it, else 'loo')"
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        default=list(DEFAULT_LEADERBOARD_METRICS),
        help="leaderboard metrics (default: %(default)s)",
    )
    p.add_argument("--weights", nargs="+", type=float, help="leaderboard weight per metric (default: equal)")
    p.add_argument("--analysis-metrics", nargs="+", help="tasks of the challengeR analysis (default: --metrics)")
    p.add_argument(
        "--scheme",
        choices=SCHEME_NAMES,
        default=DEFAULT_SCHEME,
        help="scheme of the analysis and bootstrap (default: %(default)s)",
    )
    p.add_argument(
        "--na-treat",
        type=_na_treat,
        default="worst",
        help="missing values: worst, na.rm, last or a number (default: worst)",
    )
    p.add_argument(
        "--bootstrap", type=int, default=1000, metavar="N", help="bootstrap samples, 0 = none (default: %(default)s)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of the bootstrap and podium tie-breaks (default: %(default)s, the config's seed)",
    )
    p.add_argument("--strata", nargs="*", choices=STRATA, default=list(DEFAULT_STRATA), help="leaderboards per stratum")
    p.add_argument("--figures", action="store_true", help="also draw the figures (PNG) into OUT/figures")
    p.set_defaults(func=run)


def _pick_reference(table: pd.DataFrame, requested: str | None) -> str:
    refs = set(table["reference"])
    if requested is not None:
        if requested not in refs:
            raise ConfigError(f"--reference {requested!r} not in the table (available: {', '.join(sorted(refs))})")
        return requested
    for r in REFERENCE_PREFERENCE:
        if r in refs:
            return r
    others = sorted(refs - {"loo"})
    if not others:
        raise ConfigError("the table has no reference other than 'loo'; pass --reference")
    return others[0]


def run(args: argparse.Namespace) -> int:
    from .pipeline import run_ranking
    from .table import read_metrics_table

    table = read_metrics_table(args.metrics_table)
    options = RankingOptions(
        reference=_pick_reference(table, args.reference),
        rater_reference=args.rater_reference,
        metrics=tuple(args.metrics),
        weights=tuple(args.weights) if args.weights else None,
        analysis_metrics=tuple(args.analysis_metrics or args.metrics),
        scheme=args.scheme,
        na_treat=args.na_treat,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        strata=tuple(args.strata),
        figures=args.figures,
    )
    board = run_ranking(table, args.out, options)
    print(f"lesionbench rank: {len(board)} entries, reference {options.reference}, written to {args.out}")
    return 0
