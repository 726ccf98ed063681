"""From masks to rows of the long results table (``results/metrics/metrics.tsv``).

For one case, every entry (a method's prediction, an ensemble, a rater) is scored against every
reference (the reference consensus, the synthetic truth, a rater's leave-one-out fusion) with
:func:`lesionbench.metrics.compute_metrics`, and each metric becomes one row in the format of
:data:`lesionbench.ranking.table.METRICS_COLUMNS`. A missing or failed prediction still gives one
row per metric (value NaN, status ``missing`` or ``failed``): results are never silently absent.
Undefined values (e.g. a distance with an empty mask) have status ``undefined``.

Lesion-wise detection is also reported per reference lesion size bin (``lesion_sensitivity@<bin>``)
so that the report can show where methods miss lesions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import METRIC_INFO, compute_metrics
from .metrics.engine import MetricsResult
from .metrics.info import METRIC_KEYS

#: Reference lesion size bins (mm³) for detection by size: [low, high).
SIZE_BINS_MM3: tuple[tuple[float, float], ...] = ((3.0, 10.0), (10.0, 50.0), (50.0, 500.0), (500.0, math.inf))


def size_bin_label(low: float, high: float) -> str:
    """Same labels as :func:`lesionbench.ranking.strata.lesion_size_bin_labels` (``3-10mm3``, ``>=500mm3``)."""
    return f"{low:g}-{high:g}mm3" if math.isfinite(high) else f">={low:g}mm3"


@dataclass(frozen=True)
class CaseInfo:
    """What the long table records about a case besides the metric."""

    case_id: str
    center: str
    split: str
    seen_center: bool


@dataclass(frozen=True)
class MetricParameters:
    nsd_tolerance_mm: float = 1.0
    min_lesion_volume_mm3: float = 3.0
    match_threshold: float = 0.1


def detection_by_size(result: MetricsResult, bins: Sequence[tuple[float, float]] = SIZE_BINS_MM3) -> dict[str, float | None]:
    """MS-SEG 2016 detection rate of the reference lesions in each size bin (None: no lesion there)."""
    seen: dict[int, tuple[float, bool]] = {}
    for record in result.lesions:
        if record.reference_lesion is not None and record.reference_volume_mm3 is not None:
            seen[record.reference_lesion] = (float(record.reference_volume_mm3), bool(record.reference_detected))
    volumes = np.array([v for v, _ in seen.values()], dtype=float)
    detected = np.array([d for _, d in seen.values()], dtype=bool)
    out: dict[str, float | None] = {}
    for low, high in bins:
        in_bin = (volumes >= low) & (volumes < high)
        key = f"lesion_sensitivity@{size_bin_label(low, high)}"
        out[key] = float(detected[in_bin].mean()) if in_bin.any() else None
    return out


def _rows(info: CaseInfo, entry: str, kind: str, reference: str, load_ml: float, values: Mapping[str, float | None], status: str | None) -> list[dict[str, object]]:
    rows = []
    for metric, value in values.items():
        if status is not None:
            row_status, row_value = status, math.nan
        elif value is None:
            row_status, row_value = "undefined", math.nan
        else:
            row_status, row_value = "ok", float(value)
        rows.append(
            {
                "case_id": info.case_id,
                "center": info.center,
                "split": info.split,
                "seen_center": info.seen_center,
                "lesion_load_ml": load_ml,
                "entry": entry,
                "entry_kind": kind,
                "reference": reference,
                "metric": metric,
                "value": row_value,
                "status": row_status,
            }
        )
    return rows


def score_entry(
    info: CaseInfo,
    *,
    entry: str,
    kind: str,
    reference_name: str,
    reference: np.ndarray,
    prediction: np.ndarray | None,
    spacing: tuple[float, float, float],
    parameters: MetricParameters = MetricParameters(),
    status: str | None = None,
) -> list[dict[str, object]]:
    """Rows of the long table for one (entry, reference) pair of a case.

    ``prediction`` None means the entry has no result for this case; ``status`` then says why
    (``missing`` or ``failed``) and every metric gets a NaN row.
    """
    load_ml = float(np.count_nonzero(reference)) * float(np.prod(spacing)) / 1000.0
    bins = {f"lesion_sensitivity@{size_bin_label(lo, hi)}": None for lo, hi in SIZE_BINS_MM3}
    if prediction is None:
        return _rows(info, entry, kind, reference_name, load_ml, {**{k: None for k in METRIC_KEYS}, **bins}, status or "missing")
    result = compute_metrics(
        reference,
        prediction,
        spacing,
        nsd_tolerance_mm=parameters.nsd_tolerance_mm,
        min_lesion_volume_mm3=parameters.min_lesion_volume_mm3,
        match_threshold=parameters.match_threshold,
        case=info.case_id,
    )
    values = {**result.as_dict(), **detection_by_size(result)}
    return _rows(info, entry, kind, reference_name, load_ml, values, None)


def rows_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    from .ranking.table import METRICS_COLUMNS

    return pd.DataFrame(rows, columns=list(METRICS_COLUMNS))


__all__ = ["CaseInfo", "MetricParameters", "SIZE_BINS_MM3", "detection_by_size", "rows_frame", "score_entry", "METRIC_INFO"]
