"""Evaluation metrics of the challenge: voxel overlap, surface distances, MS-SEG 2016 lesion detection.

``compute_metrics(reference, prediction, spacing)`` returns a :class:`MetricsResult` whose
``as_dict()`` is the flat row the workflow stores per case x (method or rater) x reference;
:data:`METRIC_INFO` documents every key (direction, unit, definition, empty-mask convention,
worst value for aggregation). The CLI verb ``lesionbench metrics`` lives in :mod:`.cli`.
"""

from __future__ import annotations

from .engine import LesionRecord, MetricsResult, as_binary_mask, compute_metrics
from .geometry import border_mask, lesion_labels
from .info import DISTANCE_CAP_MM, METRIC_INFO, METRIC_KEYS, MetricInfo, apply_worst_value_policy

__all__ = [
    "DISTANCE_CAP_MM",
    "METRIC_INFO",
    "METRIC_KEYS",
    "LesionRecord",
    "MetricInfo",
    "MetricsResult",
    "apply_worst_value_policy",
    "as_binary_mask",
    "border_mask",
    "compute_metrics",
    "lesion_labels",
]
