"""The long results table (``results/metrics/metrics.tsv``): contract, metric directions, loading.

One row per case x entry x reference x metric, as in challengeR's data model (Wiesenfarth et
al., Sci Rep 11:2369, 2021, ``as.challenge``): the long table is the single source of every
ranking and figure, and a missing result is an explicit row (``status != "ok"``, value NaN),
never an absent one. Where a cell is absent anyway, :func:`task_matrix` inserts it as missing
and counts it, like challengeR's ``tidyr::complete``.

Metric directions, best and worst values come from the one registry,
:mod:`lesionbench.metrics.info` (:class:`MetricSpec` is the ranking's view of a record). A row's
``status`` says which scoring rule gives the value a ranking uses (:func:`cell_values`):
``ok`` the raw value, ``both_empty`` the metric's best, ``empty_reference`` its worst (the
Anima/MSSEG-2 convention for a reference without lesion), ``missing``/``failed``/``undefined``
NaN (left to ``na_treat``); ``not_applicable`` rows are left out of the task altogether.
:func:`task_matrix` is the single place where these rules are applied, so means and ranks
computed from a :class:`TaskMatrix` use the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, MissingFileError, SheetError
from ..metrics.info import (
    METRIC_INFO,
    NAN_STATUSES,
    NOT_APPLICABLE,
    STATUSES,
    base_metric,
    metric_info,
    ranking_value,
)

#: Column order of the long table; every column is required.
METRICS_COLUMNS: tuple[str, ...] = (
    "case_id",  # str, e.g. "01016SACH" or a synthetic id
    "center",  # str, acquisition centre ("01", "03", ...)
    "split",  # str, "train" | "test" | ...
    "seen_center",  # bool, False for a centre absent from training (MS-SEG 2016: centre 03)
    "lesion_load_ml",  # float, lesion volume of the *reference* in ml
    "entry",  # str, method, ensemble or rater name
    "entry_kind",  # "method" | "ensemble" | "rater"
    "reference",  # str, e.g. "consensus_lop-staple", "consensus_majority", "truth", "loo"
    "metric",  # str, e.g. "dice", "lesion_f1", "hausdorff95_mm"; "name@bin" for size bins
    "value",  # float, NaN when missing/undefined
    "status",  # "ok" | "both_empty" | "empty_reference" | "not_applicable" | "undefined" | "missing" | "failed"
)
ENTRY_KINDS: frozenset[str] = frozenset({"method", "ensemble", "rater"})
#: Entry kinds ranked by default; raters are scored but never ranked among methods.
RANKED_KINDS: tuple[str, ...] = ("method", "ensemble")


@dataclass(frozen=True)
class MetricSpec:
    """How to rank one metric (the ranking's view of a :class:`~lesionbench.metrics.info.MetricInfo`).

    ``worst`` is the value substituted for a missing result under ``na_treat="worst"``;
    ``None`` means "the worst value observed in that task" (challengeR ``na.treat=max``).
    ``rank_absolute`` ranks on ``|value|`` (signed errors such as the relative volume error).
    """

    higher_is_better: bool
    worst: float | None
    rank_absolute: bool = False


def _spec_of(info: Any) -> MetricSpec:
    return MetricSpec(higher_is_better=info.higher_is_better, worst=info.worst, rank_absolute=info.rank_absolute)


#: Ranking view of every rankable metric of the registry (read-only; built from it, not a second table).
DEFAULT_METRIC_INFO: Mapping[str, MetricSpec] = {k: _spec_of(m) for k, m in METRIC_INFO.items() if m.ranked}


def metric_spec(metric: str, info: Mapping[str, Any] | None = None) -> MetricSpec:
    """The :class:`MetricSpec` of ``metric``, looked up in the registry (a size-bin name
    resolves to its base metric).

    ``info`` may override the registry for some names (values: :class:`MetricSpec`, objects
    with ``higher_is_better``/``worst`` attributes, or mappings with those keys). An unknown
    name, or a descriptive metric without direction, raises
    :class:`~lesionbench.errors.ConfigError` listing the known names.
    """
    name = base_metric(metric)
    raw = None if info is None else info.get(name)
    if raw is None:
        record = metric_info(metric)
        if not record.ranked:
            known = ", ".join(sorted(DEFAULT_METRIC_INFO))
            raise ConfigError(f"metric {metric!r} is descriptive and cannot be ranked; rankable metrics: {known}")
        return _spec_of(record)
    if isinstance(raw, MetricSpec):
        return raw
    get = raw.get if isinstance(raw, Mapping) else lambda k, d=None: getattr(raw, k, d)
    worst = get("worst", None)
    return MetricSpec(
        higher_is_better=bool(get("higher_is_better")),
        worst=None if worst is None or (isinstance(worst, float) and np.isnan(worst)) else float(worst),
        rank_absolute=bool(get("rank_absolute", False)),
    )


_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _as_bool(series: pd.Series, where: str) -> pd.Series:
    if series.dtype == bool:
        return series
    text = series.astype(str).str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SheetError(f"column seen_center, row {row + 2}: {series.iloc[row]!r} is not a boolean", path=where)
    return text.isin(_TRUE)


def validate_metrics_table(df: pd.DataFrame, *, path: str | Path | None = None) -> pd.DataFrame:
    """Check the long table against :data:`METRICS_COLUMNS` and return a typed copy.

    Raises :class:`~lesionbench.errors.SheetError` naming the file, the row (1-based line in
    the TSV, header = line 1) and the case for: missing columns, empty ids, unknown
    ``entry_kind``/``status``, non-numeric values, ``status == "ok"`` with a non-finite value,
    duplicate case x entry x reference x metric rows, and a case with two centres/splits.
    Values of ``not_applicable``/``undefined``/``missing``/``failed`` rows are set to NaN (there
    is no value, whatever the producer wrote); ``both_empty``/``empty_reference`` rows keep
    their raw value (NaN or finite).
    """
    where = "<metrics table>" if path is None else str(path)
    missing = [c for c in METRICS_COLUMNS if c not in df.columns]
    if missing:
        raise SheetError(f"missing column(s) {', '.join(missing)}", path=where)
    out = df.loc[:, list(METRICS_COLUMNS)].copy().reset_index(drop=True)

    def fail(mask: np.ndarray, problem: str) -> None:
        row = int(np.flatnonzero(mask)[0])
        case = str(out["case_id"].iloc[row])
        raise SheetError(f"line {row + 2}: {problem}", case=case, path=where)

    for col in ("case_id", "center", "split", "entry", "entry_kind", "reference", "metric", "status"):
        text = out[col].astype(str).str.strip()
        empty = out[col].isna().to_numpy() | (text == "").to_numpy() | (text.str.lower() == "nan").to_numpy()
        if empty.any():
            fail(empty, f"empty {col}")
        out[col] = text
    bad_kind = ~out["entry_kind"].isin(ENTRY_KINDS).to_numpy()
    if bad_kind.any():
        fail(bad_kind, f"entry_kind {out['entry_kind'][bad_kind].iloc[0]!r} not in {sorted(ENTRY_KINDS)}")
    bad_status = ~out["status"].isin(STATUSES).to_numpy()
    if bad_status.any():
        fail(bad_status, f"status {out['status'][bad_status].iloc[0]!r} not in {sorted(STATUSES)}")
    out["seen_center"] = _as_bool(out["seen_center"], where)
    for col in ("value", "lesion_load_ml"):
        num = pd.to_numeric(out[col], errors="coerce")
        unparsable = (
            num.isna() & out[col].notna() & (out[col].astype(str).str.strip().str.lower() != "nan")
        ).to_numpy()
        if unparsable.any():
            fail(unparsable, f"{col} {out[col][unparsable].iloc[0]!r} is not a number")
        out[col] = num.astype(float)
    ok = (out["status"] == "ok").to_numpy()
    not_finite = ok & ~np.isfinite(out["value"].to_numpy())
    if not_finite.any():
        fail(
            not_finite,
            f"status 'ok' but value {out['value'][not_finite].iloc[0]} (use a non-ok status for missing results)",
        )
    out.loc[out["status"].isin(NAN_STATUSES).to_numpy(), "value"] = np.nan
    dup = out.duplicated(["case_id", "entry", "reference", "metric"], keep="first").to_numpy()
    if dup.any():
        r = int(np.flatnonzero(dup)[0])
        fail(
            dup,
            f"duplicate row for entry {out['entry'].iloc[r]!r}, reference {out['reference'].iloc[r]!r}, metric {out['metric'].iloc[r]!r}",
        )
    for col in ("center", "split", "seen_center"):
        n = out.groupby("case_id")[col].nunique()
        if (n > 1).any():
            case = str(n.index[(n > 1).to_numpy()][0])
            raise SheetError(f"more than one {col} across rows", case=case, path=where)
    return out


def read_metrics_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a ``metrics.tsv``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError("metrics table not found", path=path)
    try:
        df = pd.read_csv(path, sep="\t", dtype={"case_id": str, "center": str, "split": str}, keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SheetError(f"not a readable TSV ({exc.__class__.__name__}: {exc})", path=path) from None
    return validate_metrics_table(df, path=path)


def cell_values(rows: pd.DataFrame) -> pd.Series:
    """The value a ranking uses for each row of a validated table (same index): the raw value
    for ``ok``, the metric's best for ``both_empty``, its worst for ``empty_reference``, NaN
    otherwise (:func:`lesionbench.metrics.info.ranking_value`). Use it wherever rows of the long
    table are averaged or plotted next to a ranking, so every number agrees with the ranks."""
    values = [
        ranking_value(m, s, v)
        for m, s, v in zip(rows["metric"].to_numpy(), rows["status"].to_numpy(), rows["value"].to_numpy(dtype=float))
    ]
    return pd.Series(np.asarray(values, dtype=float), index=rows.index, name="value")


@dataclass(frozen=True)
class TaskMatrix:
    """One ranking task (metric x reference) as an entries x cases value matrix.

    ``values[k, n]`` is entry ``entries[k]`` on case ``cases[n]``; NaN is missing (a non-ok
    row, or a cell absent from the table, counted in ``n_inserted``).
    """

    metric: str
    reference: str
    entries: tuple[str, ...]
    cases: tuple[str, ...]
    values: np.ndarray
    spec: MetricSpec
    n_inserted: int

    @property
    def n_missing(self) -> int:
        return int(np.isnan(self.values).sum())


def task_matrix(
    table: pd.DataFrame,
    metric: str,
    reference: str,
    *,
    kinds: Iterable[str] = RANKED_KINDS,
    entries: Iterable[str] | None = None,
    cases: Iterable[str] | None = None,
    metric_info: Mapping[str, Any] | None = None,
) -> TaskMatrix:
    """Pivot one metric x reference of a validated table into a :class:`TaskMatrix`.

    Cell values follow the rows' status (:func:`cell_values`): ``both_empty`` and
    ``empty_reference`` cells hold the rule's value, ``missing``/``failed``/``undefined`` cells
    NaN (``na_treat`` decides later); ``not_applicable`` rows are dropped first, so a case
    where the metric does not apply is not in the task. Entries default to every entry of the
    given ``kinds`` seen anywhere in ``table`` for this reference (so a method missing a whole
    case, or the whole metric, still appears with NaN); cases to every case with an applicable
    row for this metric and reference. Both are sorted for determinism.
    """
    kinds = tuple(kinds)
    spec = metric_spec(metric, metric_info)
    ref_rows = table[(table["reference"] == reference) & table["entry_kind"].isin(kinds)]
    applicable = table["status"] != NOT_APPLICABLE
    rows = ref_rows[(ref_rows["metric"] == metric) & (ref_rows["status"] != NOT_APPLICABLE)]
    entry_list = sorted(ref_rows["entry"].unique()) if entries is None else list(entries)
    if cases is None:
        on_task = (table["reference"] == reference) & (table["metric"] == metric) & applicable
        case_list = sorted(table.loc[on_task, "case_id"].unique())
    else:
        case_list = list(cases)
    if not entry_list or not case_list:
        raise ConfigError(f"no rows for metric {metric!r}, reference {reference!r}, entry kinds {list(kinds)}")
    rows = rows.assign(value=cell_values(rows))
    wide = rows.pivot(index="entry", columns="case_id", values="value").reindex(index=entry_list, columns=case_list)
    present = rows.pivot(index="entry", columns="case_id", values="status").reindex(index=entry_list, columns=case_list)
    values = wide.to_numpy(dtype=float)
    return TaskMatrix(
        metric=metric,
        reference=reference,
        entries=tuple(entry_list),
        cases=tuple(case_list),
        values=values,
        spec=spec,
        n_inserted=int(present.isna().to_numpy().sum()),
    )
