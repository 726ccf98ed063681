"""One call that writes everything the ranking stage publishes (used by the CLI and the workflow).

Into ``out``: ``leaderboard.tsv``/``.md`` (rule in :mod:`.leaderboard`), ``story.md`` (how the
methods compare with the raters, per center: :mod:`.story`), the challengeR-style analysis
tables (``ranking.tsv``, ``consensus.tsv``, ``scheme_ranks.tsv``, ``significance.tsv``,
``missing.tsv``; with bootstrap ``bootstrap_summary.tsv``, ``kendall_tau.tsv``,
``kendall_tau_summary.tsv``), ``leaderboard_by_<stratum>.tsv`` and, optionally, the figures
(:data:`.options.FIGURES` per analysis metric, plus the Kendall's tau violins and the scheme line plot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .analysis import Analysis, analyse, analysis_tables
from .leaderboard import leaderboard_markdown, mark_sandboxes, msseg_leaderboard, unsandboxed_note
from .options import RankingOptions
from .story import demo_story
from .strata import leaderboard_by_stratum


def run_ranking(table: pd.DataFrame, out: str | Path, options: RankingOptions) -> pd.DataFrame:
    """Write the leaderboard, analysis tables, strata and figures; return the leaderboard."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    board_kw: dict[str, Any] = {
        "reference": options.reference,
        "metrics": list(options.metrics),
        "weights": list(options.weights) if options.weights else None,
        "na_treat": options.na_treat,
        "rater_reference": options.rater_reference,
    }
    sandboxes = dict(options.sandboxes)
    board = mark_sandboxes(msseg_leaderboard(table, **board_kw), sandboxes)
    board.to_csv(out / "leaderboard.tsv", sep="\t", index=False, na_rep="NaN")
    (out / "leaderboard.md").write_text(
        leaderboard_markdown(
            board, title=f"Leaderboard (reference {options.reference})", note=unsandboxed_note(sandboxes)
        )
    )
    (out / "story.md").write_text(
        demo_story(table, reference=options.reference, rater_reference=options.rater_reference or "loo")
    )
    rng = np.random.default_rng(options.seed)
    analysis = analyse(
        table,
        reference=options.reference,
        metrics=list(options.analysis_metrics),
        scheme=options.scheme,
        na_treat=options.na_treat,
        n_boot=options.n_bootstrap,
        rng=rng if options.n_bootstrap > 0 else None,
    )
    for name, frame in analysis_tables(analysis).items():
        frame.to_csv(out / f"{name}.tsv", sep="\t", index=False, na_rep="NaN")
    for stratum in options.strata:
        try:
            by_stratum = leaderboard_by_stratum(table, stratum, **board_kw)
        except ConfigError as exc:
            by_stratum = pd.DataFrame({"stratum": [], "note": [str(exc)]})
        by_stratum.to_csv(out / f"leaderboard_by_{stratum}.tsv", sep="\t", index=False, na_rep="NaN")
    if options.figures:
        draw_figures(table, analysis, options, out / "figures")
    return board


def draw_figures(table: pd.DataFrame, analysis: Analysis, options: RankingOptions, fig_dir: Path) -> None:
    """Every figure of :data:`FIGURES` for each analysis metric, and the summary figures."""
    from . import figures as fg

    rng = np.random.default_rng(options.seed)
    palette = fg.method_palette(table["entry"])
    reference = options.reference
    rater_reference = options.rater_reference or ("loo" if "loo" in set(table["reference"]) else reference)
    for m, ranking in analysis.rankings.items():
        order = list(ranking.to_frame()["entry"])
        task = analysis.tasks[m]
        fg.dot_boxplot(
            table, fig_dir / f"dot_boxplot_{m}.png", metric=m, reference=reference, palette=palette, order=order
        )
        fg.podium_plot(task, fig_dir / f"podium_{m}.png", palette=palette, rng=rng)
        fg.ranking_heatmap(task, fig_dir / f"ranking_heatmap_{m}.png", order=order)
        fg.significance_map(task, analysis.significance[m], ranking.rank, fig_dir / f"significance_map_{m}.png")
        fg.metric_vs_lesion_load(
            table, fig_dir / f"vs_lesion_load_{m}.png", metric=m, reference=reference, palette=palette
        )
        fg.center_heatmap(table, fig_dir / f"center_heatmap_{m}.png", metric=m, reference=reference)
        fg.methods_vs_raters(
            table,
            fig_dir / f"methods_vs_raters_{m}.png",
            metric=m,
            reference=reference,
            palette=palette,
            rater_reference=rater_reference,
        )
        if m in analysis.bootstraps:
            fg.bootstrap_blob_plot(analysis.bootstraps[m], fig_dir / f"bootstrap_blob_{m}.png", palette=palette)
        else:
            reason = analysis.skipped_bootstrap.get(m, "bootstrap disabled (n_bootstrap = 0)")
            _notice(fig_dir / f"bootstrap_blob_{m}.png", f"No bootstrap for {m}: {reason}")
    if analysis.bootstraps:
        fg.kendall_violin(analysis.bootstraps, fig_dir / "kendall_tau_violin.png")
    else:
        _notice(fig_dir / "kendall_tau_violin.png", "No bootstrap was run, so there is no Kendall's tau to show.")
    fg.scheme_lineplot(analysis.scheme_ranks, fig_dir / "scheme_lineplot.png", palette=palette)


def _notice(path: Path, text: str) -> None:
    """A figure that says why it could not be drawn, so the report shows the reason, not a gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
