"""``lesionbench rank``: leaderboard, challengeR-style analysis tables and figures from metrics.tsv.

Reads the long table (:mod:`lesionbench.ranking.table`), writes into ``--out``:
``leaderboard.tsv``/``.md`` (MS-SEG 2016 style), ``ranking.tsv``, ``consensus.tsv``,
``scheme_ranks.tsv``, ``significance.tsv``, ``missing.tsv``, with ``--bootstrap N > 0`` also
``bootstrap_summary.tsv``, ``kendall_tau.tsv``, ``kendall_tau_summary.tsv``; per ``--strata``
``leaderboard_by_<stratum>.tsv``; with ``--figures`` PNGs under ``figures/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError

#: Reference used when ``--reference`` is not given: the first of these present in the table.
REFERENCE_PREFERENCE: tuple[str, ...] = ("consensus_lop-staple", "consensus_staple", "truth", "consensus_majority")


def _na_treat(text: str) -> str | float:
    if text in ("worst", "na.rm", "last"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--na-treat must be worst, na.rm, last or a number, got {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .ranking.leaderboard import DEFAULT_LEADERBOARD_METRICS
    from .ranking.schemes import SCHEMES
    from .ranking.strata import STRATA

    p = subparsers.add_parser("rank", help="rank entries from a long metrics table (leaderboard, challengeR analysis)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("metrics_table", metavar="METRICS.tsv", help="long results table")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--reference", help=f"reference the methods are scored against (default: first present of {', '.join(REFERENCE_PREFERENCE)})")
    p.add_argument("--rater-reference", help="reference of the rater rows (default: --reference if raters have it, else 'loo')")
    p.add_argument("--metrics", nargs="+", default=list(DEFAULT_LEADERBOARD_METRICS), help="leaderboard metrics (default: %(default)s)")
    p.add_argument("--weights", nargs="+", type=float, help="leaderboard weight per metric (default: equal)")
    p.add_argument("--analysis-metrics", nargs="+", help="tasks of the challengeR analysis (default: --metrics)")
    p.add_argument("--scheme", choices=sorted(SCHEMES), default="mean-then-rank", help="scheme of the analysis and bootstrap (default: %(default)s)")
    p.add_argument("--na-treat", type=_na_treat, default="worst", help="missing values: worst, na.rm, last or a number (default: worst)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap samples, 0 = none (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and podium tie-breaks (default: %(default)s)")
    p.add_argument("--strata", nargs="*", choices=STRATA, default=["center", "seen_center", "load_tertile"], help="leaderboards per stratum")
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
    from .ranking import analyse, analysis_tables, leaderboard_markdown, msseg_leaderboard, read_metrics_table
    from .ranking.strata import leaderboard_by_stratum

    table = read_metrics_table(args.metrics_table)
    reference = _pick_reference(table, args.reference)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    board_kw = dict(reference=reference, metrics=args.metrics, weights=args.weights, na_treat=args.na_treat, rater_reference=args.rater_reference)
    board = msseg_leaderboard(table, **board_kw)
    board.to_csv(out / "leaderboard.tsv", sep="\t", index=False, na_rep="NaN")
    (out / "leaderboard.md").write_text(leaderboard_markdown(board, title=f"Leaderboard (reference {reference})"))
    rng = np.random.default_rng(args.seed)
    analysis = analyse(table, reference=reference, metrics=args.analysis_metrics or args.metrics, scheme=args.scheme,
                       na_treat=args.na_treat, n_boot=args.bootstrap, rng=rng if args.bootstrap > 0 else None)
    for name, df in analysis_tables(analysis).items():
        df.to_csv(out / f"{name}.tsv", sep="\t", index=False, na_rep="NaN")
    for stratum in args.strata:
        try:
            leaderboard_by_stratum(table, stratum, **board_kw).to_csv(out / f"leaderboard_by_{stratum}.tsv", sep="\t", index=False, na_rep="NaN")
        except ConfigError as exc:
            print(f"lesionbench rank: stratum {stratum} skipped: {exc}")
    if args.figures:
        _figures(table, analysis, reference, args, out / "figures", np.random.default_rng(args.seed))
    print(f"lesionbench rank: {len(board)} entries, reference {reference}, written to {out}")
    return 0


def _figures(table, analysis, reference, args, fig_dir: Path, rng: np.random.Generator) -> None:
    from .ranking import figures as fg

    palette = fg.method_palette(table["entry"])
    for m, ranking in analysis.rankings.items():
        order = list(ranking.to_frame()["entry"])
        fg.dot_boxplot(table, fig_dir / f"dot_boxplot_{m}.png", metric=m, reference=reference, palette=palette, order=order)
        fg.podium_plot(analysis.tasks[m], fig_dir / f"podium_{m}.png", palette=palette, rng=rng)
        fg.ranking_heatmap(analysis.tasks[m], fig_dir / f"ranking_heatmap_{m}.png", order=order)
        fg.significance_map(analysis.tasks[m], analysis.significance[m], ranking.rank, fig_dir / f"significance_map_{m}.png")
        fg.metric_vs_lesion_load(table, fig_dir / f"vs_lesion_load_{m}.png", metric=m, reference=reference, palette=palette)
        fg.center_heatmap(table, fig_dir / f"center_heatmap_{m}.png", metric=m, reference=reference)
        fg.methods_vs_raters(table, fig_dir / f"methods_vs_raters_{m}.png", metric=m, reference=reference, palette=palette,
                             rater_reference=args.rater_reference or ("loo" if "loo" in set(table["reference"]) else reference))
        if m in analysis.bootstraps:
            fg.bootstrap_blob_plot(analysis.bootstraps[m], fig_dir / f"bootstrap_blob_{m}.png", palette=palette)
    if analysis.bootstraps:
        fg.kendall_violin(analysis.bootstraps, fig_dir / "kendall_tau_violin.png")
    fg.scheme_lineplot(analysis.scheme_ranks, fig_dir / "scheme_lineplot.png", palette=palette)
