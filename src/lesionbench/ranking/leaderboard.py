"""A leaderboard in the spirit of MS-SEG 2016 (Commowick et al., Sci Rep 8:13650, 2018).

MS-SEG 2016 combined per-metric rankings of the methods into one ranking, but the exact
rank-aggregation rule it used was not published; this leaderboard is *not* a reproduction
of the official MS-SEG 2016 ranking. The rule implemented here (:data:`LEADERBOARD_RULE`;
``docs/ranking.md``):

1. per leaderboard metric and test case, rank the methods (1 = best, ties ``"min"``),
   after the missing-value treatment ``na_treat`` of :mod:`.schemes`;
2. per metric, average each method's per-case ranks over the cases (challengeR's
   rank-then-aggregate with the mean, before its final ranking step);
3. combine the metrics by the weighted mean of those mean ranks (default: Dice and
   lesion-wise F1, equal weights), computed in exact rational arithmetic, so equal scores
   are exact ties;
4. rank that combined score, smaller better, ties ``"min"``.

Raters are reference rows: their mean metric values are reported (against
``rater_reference``, usually the leave-one-rater-out consensus "loo") but they are not
ranked and do not change the methods' ranks. ``<metric>_mean`` is the mean of the same
values the ranks use: missing cells replaced by the ``na_treat`` substitute (``worst`` or a
number); with ``na.rm`` or ``last`` (no substitute) the mean of the observed cases.
``n_missing`` says how many cells were missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, cast

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .options import DEFAULT_LEADERBOARD_METRICS, NaTreat
from .ranks import per_case_ranks, r_mean
from .schemes import apply_na_treat, check_na_treat
from .table import NOT_APPLICABLE, RANKED_KINDS, TaskMatrix, cell_values, task_matrix

#: The rank-aggregation rule, in one sentence, for the Markdown table and the report.
LEADERBOARD_RULE = (
    "Rank: per test case and metric the methods are ranked (1 = best, ties share the best rank), the ranks "
    "are averaged over cases, the per-metric mean ranks are combined by a weighted mean, and that score "
    "is ranked (smaller better). MS-SEG 2016 did not publish its exact rank-aggregation rule; this is "
    "lesionbench's rule, not a reproduction of the official MS-SEG 2016 ranking. Raters are scored, not ranked."
)


def _weights(metrics: Sequence[str], weights: Sequence[float] | Mapping[str, float] | None) -> np.ndarray:
    if weights is None:
        w = np.ones(len(metrics))
    elif isinstance(weights, Mapping):
        unknown = set(weights) - set(metrics)
        if unknown:
            raise ConfigError(f"weights given for metric(s) not in the leaderboard: {sorted(unknown)}")
        w = np.array([float(weights.get(m, 0.0)) for m in metrics])
    else:
        w = np.asarray(list(weights), dtype=float)
        if w.shape != (len(metrics),):
            raise ConfigError(f"{len(w)} weights for {len(metrics)} metrics {list(metrics)}")
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(f"weights must be finite, >= 0 and not all 0, got {w.tolist()}")
    return w / w.sum()


def msseg_leaderboard(
    table: pd.DataFrame,
    *,
    reference: str,
    metrics: Sequence[str] = DEFAULT_LEADERBOARD_METRICS,
    weights: Sequence[float] | Mapping[str, float] | None = None,
    na_treat: NaTreat = "worst",
    metric_info: Mapping[str, Any] | None = None,
    ranked_kinds: Sequence[str] = RANKED_KINDS,
    rater_reference: str | None = None,
) -> pd.DataFrame:
    """The leaderboard of a validated long table, one row per entry, ranked rows first.

    Columns: ``rank`` (NaN for raters), ``entry``, ``entry_kind``, ``reference``, ``score``
    (weighted mean of the per-metric mean ranks; NaN for raters), then per metric
    ``<m>_mean_rank`` and ``<m>_mean``, then ``n_cases`` (most cases of any metric) and
    ``n_missing`` (missing case x metric cells, summed over the metrics).
    ``rater_reference`` defaults to ``reference`` if raters are scored against it, else ``"loo"``.
    When raters are scored against another reference than the methods (the leave-one-rater-out
    fusions), ``<m>_mean_<rater_reference>`` gives every row, methods and raters, its mean
    against those same references on the cases the methods are ranked on (methods: the per-case
    mean over the R leave-one-out fusions), so a rater row and a method row can be compared like
    for like.
    """
    metrics = list(dict.fromkeys(metrics))
    if not metrics:
        raise ConfigError("leaderboard needs at least one metric")
    check_na_treat(na_treat)
    w = _weights(metrics, weights)
    present = set(table.loc[table["reference"] == reference, "metric"])
    absent = [m for m in metrics if m not in present]
    if absent:
        raise ConfigError(f"metric(s) {absent} have no rows for reference {reference!r} (available: {sorted(present)})")
    kinds = table.drop_duplicates("entry").set_index("entry")["entry_kind"]
    ref_rows = table[(table["reference"] == reference) & table["entry_kind"].isin(list(ranked_kinds))]
    entries = sorted(ref_rows["entry"].unique())
    if not entries:
        raise ConfigError(f"no entries of kind {list(ranked_kinds)} for reference {reference!r}")

    out = pd.DataFrame({"entry": entries, "entry_kind": kinds.reindex(entries).to_numpy(), "reference": reference})
    exact_score: list[Fraction | None] = [Fraction(0)] * len(entries)
    n_cases = np.zeros(len(entries), dtype=int)
    n_missing = np.zeros(len(entries), dtype=int)
    task_cases: dict[str, tuple[str, ...]] = {}
    for m, w_m in zip(metrics, w):
        task = task_matrix(table, m, reference, kinds=ranked_kinds, entries=entries, metric_info=metric_info)
        task_cases[m] = task.cases
        loss = apply_na_treat(task.values, task.spec, na_treat)
        ranks = per_case_ranks(loss)
        if na_treat == "na.rm":
            ranks = np.where(np.isnan(loss), np.nan, _rank_present(loss))
        # mean rank as an exact fraction: integer rank sum / number of ranked cases
        for k in range(len(entries)):
            r = ranks[k][~np.isnan(ranks[k])]
            if r.size == 0 or exact_score[k] is None:  # no case at all under na.rm: nothing to rank on
                exact_score[k] = None
            else:
                exact_score[k] = cast(Fraction, exact_score[k]) + Fraction(float(w_m)) * Fraction(
                    int(r.sum()), int(r.size)
                )
        with np.errstate(all="ignore"):
            out[f"{m}_mean_rank"] = r_mean(ranks, skip_nan=True)
            out[f"{m}_mean"] = r_mean(_metric_units(loss, task), skip_nan=True)
        n_cases = np.maximum(n_cases, task.values.shape[1])
        n_missing += np.isnan(task.values).sum(axis=1)
    score = np.array([np.nan if f is None else float(f) for f in exact_score])
    out.insert(0, "rank", _rank_exact(exact_score))
    out.insert(4, "score", score)
    out["n_cases"] = n_cases
    out["n_missing"] = n_missing

    raters = _rater_rows(table, metrics, reference, rater_reference)
    like_ref = raters["reference"].iloc[0] if len(raters) else None
    if like_ref is not None and like_ref != reference:
        # Like for like: on the cases the methods are ranked on, the methods' mean against the
        # leave-one-rater-out references the raters are scored on (per case, the mean over the R
        # fusions that each leave one rater out) beside each rater's mean on those same cases.
        like_rows = table[(table["reference"] == like_ref) & table["entry_kind"].isin(list(ranked_kinds))]
        rater_rows = table[
            (table["reference"] == like_ref) & (table["entry_kind"] == "rater") & (table["status"] != NOT_APPLICABLE)
        ]
        for m in metrics:
            column = f"{m}_mean_{like_ref}"
            cases = list(task_cases[m])
            if not (like_rows["metric"] == m).any():
                out[column] = np.nan
            else:
                task = task_matrix(
                    table, m, like_ref, kinds=ranked_kinds, entries=entries, cases=cases, metric_info=metric_info
                )
                loss = apply_na_treat(task.values, task.spec, na_treat)
                with np.errstate(all="ignore"):
                    out[column] = r_mean(_metric_units(loss, task), skip_nan=True)
            mine = rater_rows[(rater_rows["metric"] == m) & rater_rows["case_id"].isin(cases)]
            means = mine.assign(value=cell_values(mine)).groupby("entry")["value"].mean()
            raters[column] = raters["entry"].map(means).astype(float)
    out = out.sort_values(["rank", "entry"], kind="stable")
    board = pd.concat([out, raters], ignore_index=True) if len(raters) else out.reset_index(drop=True)
    board["rank"] = board["rank"].astype("Int64")
    return board


def _rank_present(loss: np.ndarray) -> np.ndarray:
    """Per-case ranks (axis -2) among the entries present (``na.rm``), ties min."""
    from scipy import stats

    return stats.rankdata(loss, method="min", axis=-2, nan_policy="omit")


def _metric_units(loss: np.ndarray, task: TaskMatrix) -> np.ndarray:
    """Loss back in metric units, keeping the sign of observed signed errors."""
    shown = -loss if task.spec.higher_is_better else loss
    observed = ~np.isnan(task.values)
    return np.where(observed, task.values, shown)


def _rank_exact(scores: Sequence[Fraction | None]) -> np.ndarray:
    """Ranks of exact scores, smaller better, ties min; an undefined score is ranked last
    (challengeR's ``rankNA2``: max(rank) + 1)."""
    defined = [f for f in scores if f is not None]
    ranks = np.array([np.nan if f is None else 1.0 + sum(g < f for g in defined) for f in scores])
    if np.isnan(ranks).any():
        ranks[np.isnan(ranks)] = (np.nanmax(ranks) if len(defined) else 0.0) + 1.0
    return ranks


def _rater_rows(table: pd.DataFrame, metrics: list[str], reference: str, rater_reference: str | None) -> pd.DataFrame:
    raters = table[table["entry_kind"] == "rater"]
    if rater_reference is None:
        rater_reference = reference if (raters["reference"] == reference).any() else "loo"
    raters = raters[
        (raters["reference"] == rater_reference) & raters["metric"].isin(metrics) & (raters["status"] != NOT_APPLICABLE)
    ]
    raters = raters.assign(value=cell_values(raters))  # both-empty cases at the best value, as for methods
    if raters.empty:
        return pd.DataFrame()
    rows = []
    for entry, grp in raters.groupby("entry", sort=True):
        row: dict[str, Any] = {
            "rank": np.nan,
            "entry": entry,
            "entry_kind": "rater",
            "reference": rater_reference,
            "score": np.nan,
        }
        for m in metrics:
            vals = grp.loc[grp["metric"] == m, "value"]
            row[f"{m}_mean_rank"] = np.nan
            row[f"{m}_mean"] = float(vals.mean()) if vals.notna().any() else np.nan
        row["n_cases"] = int(grp["case_id"].nunique())
        row["n_missing"] = int(grp["value"].isna().sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)


#: The ``sandbox`` value of a participant's command that ran without isolation.
UNSANDBOXED = "none"


def mark_sandboxes(board: pd.DataFrame, sandboxes: Mapping[str, str]) -> pd.DataFrame:
    """The leaderboard with a ``sandbox`` column after ``entry_kind`` giving, for each
    participant's ``command`` entry, the tool that isolated it (``none``: unsandboxed; its code
    could read the reference masks); empty for other entries. Unchanged without such entries."""
    if not sandboxes:
        return board
    marked = board.copy()
    tools = board["entry"].map(dict(sandboxes)).fillna("")
    marked.insert(list(board.columns).index("entry_kind") + 1, "sandbox", tools)
    return marked


def unsandboxed_note(sandboxes: Mapping[str, str]) -> str:
    """A warning naming the entries whose command ran unsandboxed ("" when none did)."""
    names = sorted(name for name, tool in sandboxes.items() if tool == UNSANDBOXED)
    if not names:
        return ""
    return (
        f"**Unsandboxed:** {', '.join(names)} ran with `sandbox: none`: the command could read everything "
        "the workflow reads, the reference masks included, so its scores are not evidence of its performance."
    )


def leaderboard_markdown(board: pd.DataFrame, *, title: str | None = None, note: str = "") -> str:
    """A GitHub-flavoured Markdown table of a leaderboard; raters show rank "ref". ``note``
    (e.g. :func:`unsandboxed_note`) goes above the table."""
    cols = list(board.columns)
    lines = [] if title is None else [f"### {title}", ""]
    if note:
        lines += [note, ""]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---:" if pd.api.types.is_numeric_dtype(board[c]) else "---" for c in cols) + "|")
    for _, row in board.iterrows():
        cells = []
        for c in cols:
            if c == "rank" and row["entry_kind"] == "rater":
                cells.append("ref")
            else:
                cells.append(_fmt(row[c]))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(LEADERBOARD_RULE)
    return "\n".join(lines) + "\n"
