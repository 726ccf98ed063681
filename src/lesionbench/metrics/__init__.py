"""Evaluation metrics of the challenge: voxel overlap, surface distances, MS-SEG 2016 lesion detection.

``compute_metrics(reference, prediction, spacing)`` returns a :class:`MetricsResult` whose
``as_dict()`` is the flat row the workflow stores per case x (method or rater) x reference and
whose ``statuses()`` say which scoring rule applies to each value. :data:`METRIC_INFO` (via
:func:`metric_info`) is the one registry of every key: direction, unit, definition, empty-case
convention, best and worst value, source. The CLI verb ``lesionbench metrics`` lives in :mod:`.cli`.
Importing this package imports no submodule: each name below is loaded from its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .engine import LesionRecord, MetricsResult, as_binary_mask, compute_metrics, kept_lesion_volumes
    from .info import (
        DISTANCE_CAP_MM,
        METRIC_INFO,
        METRIC_KEYS,
        SIZE_BIN_METRICS,
        SIZE_BINS_MM3,
        STATUSES,
        MetricInfo,
        classify,
        known_metric_names,
        metric_info,
        metric_label,
        ranking_value,
        validate_config_metrics,
        validate_metric_names,
    )
    from .overlap import dice
    from .sparse import border_mask, lesion_labels

#: Public names by the submodule that defines them; each submodule is imported on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "engine": ("LesionRecord", "MetricsResult", "as_binary_mask", "compute_metrics", "kept_lesion_volumes"),
    "info": (
        "DISTANCE_CAP_MM",
        "METRIC_INFO",
        "METRIC_KEYS",
        "SIZE_BIN_METRICS",
        "SIZE_BINS_MM3",
        "STATUSES",
        "MetricInfo",
        "classify",
        "known_metric_names",
        "metric_info",
        "metric_label",
        "ranking_value",
        "validate_config_metrics",
        "validate_metric_names",
    ),
    "overlap": ("dice",),
    "sparse": ("border_mask", "lesion_labels"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "DISTANCE_CAP_MM",
    "METRIC_INFO",
    "METRIC_KEYS",
    "SIZE_BINS_MM3",
    "SIZE_BIN_METRICS",
    "STATUSES",
    "LesionRecord",
    "MetricInfo",
    "MetricsResult",
    "as_binary_mask",
    "border_mask",
    "classify",
    "compute_metrics",
    "dice",
    "kept_lesion_volumes",
    "known_metric_names",
    "lesion_labels",
    "metric_info",
    "metric_label",
    "ranking_value",
    "validate_config_metrics",
    "validate_metric_names",
]
