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

The track's figures: :func:`empty_case_figure` (lesions reported on the cases without new
lesions) and :func:`new_lesion_detection_by_size_figure` (the share of reference new lesions detected, by
lesion volume, from the per-lesion tables of the scoring, :func:`new_lesion_detection_by_size`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..metrics.info import BOTH_EMPTY, EMPTY_REFERENCE, SIZE_BINS_MM3, size_bin_label
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


def new_lesion_detection_by_size(
    detections: pd.DataFrame,
    *,
    reference: str,
    rater_reference: str | None = "loo",
    bins: Sequence[tuple[float, float]] = SIZE_BINS_MM3,
) -> pd.DataFrame:
    """Per entry and new-lesion volume bin ([low, high) in mm³, by default the bins of the
    cross-sectional detection by size, :data:`lesionbench.metrics.info.SIZE_BINS_MM3`, labelled
    as there), the reference new lesions pooled over the cases
    (``n_lesions``), how many the entry detected (``n_detected``) and their ratio
    (``sensitivity``, NaN in an empty bin). Methods count against ``reference``, raters against
    ``rater_reference`` (each rater's reference lesions are those of the fusion of the others).

    ``detections``: rows as :data:`lesionbench.methods.newlesion_jobs.DETECTION_COLUMNS`.
    """
    pairs = [(float(low), float(high)) for low, high in bins]
    if not pairs or any(high <= low for low, high in pairs):
        raise ConfigError(f"new-lesion size bins need a low below each high, not {pairs}")
    keep = ((detections["entry_kind"] != "rater") & (detections["reference"] == reference)) | (
        (detections["entry_kind"] == "rater") & (detections["reference"] == rater_reference)
    )
    rows = detections[keep]
    volume = rows["volume_mm3"].to_numpy(dtype=float)
    out = []
    entries = rows[["entry", "entry_kind", "reference"]].drop_duplicates()
    for entry, kind, ref in entries.itertuples(index=False):
        mine = (rows["entry"] == entry).to_numpy()
        for lower, upper in pairs:
            inside = mine & (volume >= lower) & (volume < upper)
            found = rows.loc[inside, "detected"].to_numpy(dtype=float)
            out.append(
                {
                    "entry": entry,
                    "entry_kind": kind,
                    "reference": ref,
                    "size_bin": size_bin_label(lower, upper),
                    "lower_mm3": lower,
                    "upper_mm3": upper,
                    "n_lesions": int(found.size),
                    "n_detected": int(found.sum()),
                    "sensitivity": float(found.mean()) if found.size else math.nan,
                }
            )
    columns = [
        "entry",
        "entry_kind",
        "reference",
        "size_bin",
        "lower_mm3",
        "upper_mm3",
        "n_lesions",
        "n_detected",
        "sensitivity",
    ]
    return pd.DataFrame(out, columns=columns)


def new_lesion_detection_by_size_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Sensitivity per new-lesion volume bin (a :func:`new_lesion_detection_by_size` table): one line per
    entry, methods in colour (side by side within a bin), raters in grey; bins without a
    reference lesion left out, the number of the methods' reference lesions of each bin under
    its label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = table.groupby("size_bin", sort=False)["n_lesions"].max()
    bins = [b for b in dict.fromkeys(table["size_bin"]) if counts.get(b, 0) > 0]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(bins) + 2.5), 3.4), dpi=100)
    x = np.arange(len(bins))
    methods = table[table["entry_kind"] != "rater"]
    names = list(dict.fromkeys(methods["entry"]))
    rater_label = "raters (each against the others)"
    for entry, rows in table.groupby("entry", sort=False):
        values = rows.set_index("size_bin")["sensitivity"].reindex(bins).to_numpy(dtype=float)
        if (rows["entry_kind"] == "rater").any():
            ax.plot(x, values, "--", color="0.6", marker=".", lw=1, label=rater_label)
            rater_label = "_"  # one legend entry for the raters
        else:
            # methods side by side within a bin, so equal values stay visible
            shift = 0.05 * (names.index(entry) - (len(names) - 1) / 2)
            ax.plot(x + shift, values, "-o", lw=1.8, ms=4, label=str(entry))
    per_bin = methods.groupby("size_bin", sort=False)["n_lesions"].max()
    ax.set_xticks(x)
    ax.set_xticklabels([f"{b}\n(n = {int(per_bin.get(b, 0))})" for b in bins])
    ax.set_xlabel("new-lesion volume (mm³); n: the methods' reference lesions")
    ax.set_ylabel("lesions detected")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("new-lesion detection by size")
    if ax.lines:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def write_new_lesion_detection_by_size(
    detection_tables: Sequence[str | Path],
    *,
    reference: str,
    table_path: str | Path,
    figure_path: str | Path,
    rater_reference: str | None = "loo",
) -> pd.DataFrame:
    """:func:`new_lesion_detection_by_size` of the per-case detection tables of the scoring, written as a TSV
    and drawn with :func:`new_lesion_detection_by_size_figure`."""
    from ..methods.newlesion_jobs import DETECTION_COLUMNS

    frames = [pd.read_csv(p, sep="\t", dtype={"case_id": str}) for p in detection_tables]
    detections = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(DETECTION_COLUMNS))
    table = new_lesion_detection_by_size(detections, reference=reference, rater_reference=rater_reference)
    Path(table_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(table_path, sep="\t", index=False, float_format="%.6g")
    new_lesion_detection_by_size_figure(table, figure_path)
    return table
