"""The new-lesion track's leaderboard, in the shape of MSSEG-2 (MICCAI 2021).

MSSEG-2 scored two kinds of test cases apart (``docs/metrics.md``, "New lesions"): on cases
whose reference has a new lesion, lesion-wise F1 and Dice; on cases without one, the number and
the volume of the lesions a method reports (0 is perfect). A case without new lesions is never
turned into a worst F1 or Dice: the long table marks those metrics ``not_applicable`` there
(:func:`lesionbench.metrics.newlesions.new_lesion_rows`) and a table that instead gives them a
rule value (``empty_reference``, ``both_empty``, as the cross-sectional scoring does) is refused.

The leaderboard (:func:`new_lesion_leaderboard`), one row per entry:

* ``rank`` and ``score``: F1 and Dice on the cases with new lesions, combined as in
  :func:`.leaderboard.msseg_leaderboard` (per-case ranks, mean over cases, weighted mean over the
  metrics, ranked; columns ``<m>_mean_rank``, ``<m>_mean``, ``n_cases_new``);
* per empty-reference metric, ranked on its own on the cases without new lesions, lower better:
  ``<m>_mean`` and ``<m>_rank`` (the scheme of :mod:`.schemes`, default mean-then-rank; ties
  ``"min"``), and ``n_cases_empty``;
* rater rows (each rater against ``rater_reference``, e.g. the leave-one-rater-out consensus)
  beside the methods with their means, never ranked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..metrics.info import BOTH_EMPTY, EMPTY_REFERENCE
from .leaderboard import msseg_leaderboard
from .options import NaTreat
from .ranks import r_mean
from .schemes import apply_na_treat, rank_task
from .table import NOT_APPLICABLE, RANKED_KINDS, cell_values, task_matrix

#: The detection metrics ranked together on cases with new lesions (MSSEG-2's two scores).
NEW_LESION_LEADERBOARD_METRICS: tuple[str, ...] = ("lesion_f1", "dice")
#: The metrics of cases without new lesions, each ranked on its own.
EMPTY_CASE_METRICS: tuple[str, ...] = ("n_tested_lesions", "tested_lesion_volume_mm3")

#: The rule of the new-lesion leaderboard, in one sentence, for the Markdown table and the report.
NEW_LESION_RULE = (
    "Rank: F1 and Dice on the cases with new lesions (per case ranks, averaged, then combined); the "
    "number and volume of reported lesions on the cases without new lesions are ranked on their own "
    "(lower is better) and never turned into an F1 or Dice. Raters are scored, not ranked."
)


def _refuse_rule_values(table: pd.DataFrame, reference: str, metrics: Sequence[str]) -> None:
    rows = table[(table["reference"] == reference) & table["metric"].isin(list(metrics))]
    ruled = rows[rows["status"].isin([EMPTY_REFERENCE, BOTH_EMPTY])]
    if not ruled.empty:
        row = ruled.iloc[0]
        raise ConfigError(
            f"case {row['case_id']}: {row['metric']} of {row['entry']} has status {row['status']} (a case without "
            "new lesions scored as a rule value); the new-lesion track leaves F1 and Dice out of such cases: "
            "score them with lesionbench.metrics.newlesions"
        )


def _empty_case_columns(
    table: pd.DataFrame,
    metric: str,
    reference: str,
    entries: Sequence[str],
    scheme: str,
    na_treat: NaTreat,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(mean, rank, number of cases) of one empty-reference metric for the ranked entries."""
    applicable = (table["reference"] == reference) & (table["metric"] == metric) & (table["status"] != NOT_APPLICABLE)
    if not applicable.any():
        nan = np.full(len(entries), np.nan)
        return nan, nan, 0
    task = task_matrix(table, metric, reference, kinds=RANKED_KINDS, entries=entries)
    ranking = rank_task(task, scheme, na_treat)
    loss = apply_na_treat(task.values, task.spec, na_treat)
    shown = -loss if task.spec.higher_is_better else loss
    with np.errstate(all="ignore"):
        means = r_mean(shown, skip_nan=True)
    return means, ranking.rank.astype(float), len(task.cases)


def new_lesion_leaderboard(
    table: pd.DataFrame,
    *,
    reference: str,
    metrics: Sequence[str] = NEW_LESION_LEADERBOARD_METRICS,
    empty_metrics: Sequence[str] = EMPTY_CASE_METRICS,
    weights: Sequence[float] | Mapping[str, float] | None = None,
    scheme: str = "mean-then-rank",
    na_treat: NaTreat = "worst",
    rater_reference: str | None = None,
) -> pd.DataFrame:
    """The new-lesion leaderboard of a validated long table (see the module docstring)."""
    _refuse_rule_values(table, reference, metrics)
    board = msseg_leaderboard(
        table,
        reference=reference,
        metrics=metrics,
        weights=weights,
        na_treat=na_treat,
        rater_reference=rater_reference,
    )
    board = board.rename(columns={"n_cases": "n_cases_new"})
    ranked = board["entry_kind"] != "rater"
    entries = list(board.loc[ranked, "entry"])
    rater_ref = board.loc[~ranked, "reference"].iloc[0] if (~ranked).any() else None
    n_empty = 0
    for m in empty_metrics:
        means, ranks, n_cases = _empty_case_columns(table, m, reference, entries, scheme, na_treat)
        n_empty = max(n_empty, n_cases)
        board[f"{m}_mean"] = np.nan
        board[f"{m}_rank"] = np.nan
        board.loc[ranked, f"{m}_mean"] = means
        board.loc[ranked, f"{m}_rank"] = ranks
        if rater_ref is not None:
            rows = table[
                (table["reference"] == rater_ref)
                & (table["entry_kind"] == "rater")
                & (table["metric"] == m)
                & (table["status"] != NOT_APPLICABLE)
            ]
            rater_means = rows.assign(value=cell_values(rows)).groupby("entry")["value"].mean()
            board.loc[~ranked, f"{m}_mean"] = board.loc[~ranked, "entry"].map(rater_means).astype(float)
        board[f"{m}_rank"] = board[f"{m}_rank"].astype("Int64")
    board["n_cases_empty"] = n_empty
    return board


def write_new_lesion_leaderboard(
    metrics_path: str | Path,
    *,
    reference: str,
    table_path: str | Path,
    markdown_path: str | Path,
    figure_path: str | Path | None = None,
    rater_reference: str | None = "loo",
) -> pd.DataFrame:
    """The new-lesion leaderboard of a ``metrics.tsv`` (:func:`new_lesion_leaderboard`), written as
    a TSV and as a Markdown table headed by :data:`NEW_LESION_RULE`; rater rows are kept only when
    the table scores raters against ``rater_reference``. With ``figure_path``, also
    :func:`empty_case_figure`."""
    from .leaderboard import leaderboard_markdown
    from .table import read_metrics_table

    table = read_metrics_table(metrics_path)
    has_raters = rater_reference is not None and bool((table["reference"] == rater_reference).any())
    board = new_lesion_leaderboard(table, reference=reference, rater_reference=rater_reference if has_raters else None)
    Path(table_path).parent.mkdir(parents=True, exist_ok=True)
    board.to_csv(table_path, sep="\t", index=False, float_format="%.6g")
    Path(markdown_path).write_text(
        leaderboard_markdown(board, title="New lesions (MSSEG-2)", note=NEW_LESION_RULE) + "\n"
    )
    if figure_path is not None:
        empty_case_figure(table, figure_path, reference=reference, rater_reference=rater_reference)
    return board


def empty_case_figure(
    table: pd.DataFrame, path: str | Path, *, reference: str, rater_reference: str | None = "loo"
) -> Path:
    """Per entry, the number of lesions reported on each case without new lesions (0 is perfect):
    one dot per case, the mean as a bar; methods against ``reference``, raters against
    ``rater_reference``. Entries in leaderboard order of their mean (fewest first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keep = (table["metric"] == "n_tested_lesions") & (table["status"] == "ok")
    keep &= (table["reference"] == reference) | (
        (table["entry_kind"] == "rater") & (table["reference"] == rater_reference)
    )
    rows = table[keep]
    means = rows.groupby("entry")["value"].mean().sort_values(kind="stable")
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(means) + 1.5), 3.2), dpi=100)
    for i, entry in enumerate(means.index):
        values = rows.loc[rows["entry"] == entry, "value"].to_numpy(dtype=float)
        rater = bool((rows.loc[rows["entry"] == entry, "entry_kind"] == "rater").any())
        ax.bar(i, means[entry], color="0.8" if rater else "tab:blue", width=0.6)
        ax.plot(np.full(values.size, i), values, "o", color="k", ms=3)
    ax.set_xticks(range(len(means)))
    ax.set_xticklabels(list(means.index), rotation=30, ha="right")
    ax.set_ylabel("lesions reported")
    n_cases = rows["case_id"].nunique()
    ax.set_title(f"cases without new lesions (n = {n_cases}): false positives")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
