"""MS-SEG 2016-style leaderboard (Commowick et al., Sci Rep 8:13650, 2018, "Evaluation" section).

For each chosen metric, the methods are ranked on every test case (ties ``"min"``), the
per-case ranks are averaged over cases, and the metrics are combined by a weighted mean of
those mean ranks (default: Dice and lesion-wise F1, equal weights); the final rank is the
rank of that combined score (smaller better, ties min). This is challengeR's
rank-then-aggregate (mean) per metric followed by a mean-rank consensus.

Missing results follow ``na_treat`` as in :mod:`.schemes` (default: worst value, so a method
without an output on a case is ranked last-equal there). Raters are reference rows: their
mean metric values are reported (against ``rater_reference``, usually the leave-one-rater-out
consensus "loo") but they are not ranked and do not change the methods' ranks.
Reported ``<metric>_mean`` values average the available (non-missing) cases;
``n_missing`` says how many were missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .schemes import TIE_DECIMALS, NaTreat, apply_na_treat, check_na_treat, rank_min, rank_then_aggregate
from .table import RANKED_KINDS, task_matrix

DEFAULT_LEADERBOARD_METRICS: tuple[str, ...] = ("dice", "lesion_f1")


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
    mean_ranks = []
    n_cases = np.zeros(len(entries), dtype=int)
    n_missing = np.zeros(len(entries), dtype=int)
    for m in metrics:
        task = task_matrix(table, m, reference, kinds=ranked_kinds, entries=entries, metric_info=metric_info)
        loss = apply_na_treat(task.values, task.spec, na_treat)
        mean_rank, _ = rank_then_aggregate(loss, "mean", na_treat)
        mean_ranks.append(mean_rank)
        out[f"{m}_mean_rank"] = mean_rank
        with np.errstate(all="ignore"):
            out[f"{m}_mean"] = pd.DataFrame(task.values).mean(axis=1, skipna=True).to_numpy()
        n_cases = np.maximum(n_cases, task.values.shape[1])
        n_missing += np.isnan(task.values).sum(axis=1)
    score = np.asarray(mean_ranks).T @ w
    out.insert(0, "rank", rank_min(np.round(score, TIE_DECIMALS)))
    out.insert(4, "score", score)
    out["n_cases"] = n_cases
    out["n_missing"] = n_missing

    raters = _rater_rows(table, metrics, reference, rater_reference)
    out = out.sort_values(["rank", "entry"], kind="stable")
    board = pd.concat([out, raters], ignore_index=True) if len(raters) else out.reset_index(drop=True)
    board["rank"] = board["rank"].astype("Int64")
    return board


def _rater_rows(table: pd.DataFrame, metrics: list[str], reference: str, rater_reference: str | None) -> pd.DataFrame:
    raters = table[table["entry_kind"] == "rater"]
    if rater_reference is None:
        rater_reference = reference if (raters["reference"] == reference).any() else "loo"
    raters = raters[(raters["reference"] == rater_reference) & raters["metric"].isin(metrics)]
    if raters.empty:
        return pd.DataFrame()
    rows = []
    for entry, grp in raters.groupby("entry", sort=True):
        row: dict[str, Any] = {"rank": np.nan, "entry": entry, "entry_kind": "rater", "reference": rater_reference, "score": np.nan}
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


def leaderboard_markdown(board: pd.DataFrame, *, title: str | None = None) -> str:
    """A GitHub-flavoured Markdown table of a leaderboard; raters show rank "ref"."""
    cols = list(board.columns)
    lines = [] if title is None else [f"### {title}", ""]
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
    lines.append("Rank: per case and metric ranks (ties min), averaged over cases, weighted mean over metrics. Raters are scored, not ranked.")
    return "\n".join(lines) + "\n"
