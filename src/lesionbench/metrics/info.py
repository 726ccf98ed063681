"""What each metric key means, which way is better, and how undefined values are aggregated.

``METRIC_INFO[key]`` gives the direction (``higher``/``lower`` is better, ``zero`` = closer to 0 is
better, ``none`` = descriptive only), the unit, a one-line definition, when the value is undefined
(JSON ``null``), and the ``best``/``worst`` values used by :func:`apply_worst_value_policy`.

Worst-value policy (for aggregation and ranking; the per-case JSON keeps ``null``):

* a ``null`` whose cause is that *both* sides are empty (no voxels for voxel and surface metrics,
  no kept lesions for lesion-wise metrics) means there was nothing to find and nothing was found:
  it becomes the metric's ``best`` value;
* any other ``null`` (one side empty) becomes the ``worst`` value: 0 for overlap and detection
  scores, :data:`DISTANCE_CAP_MM` for distances;
* metrics with ``worst=None`` (volumes, counts, the signed volume error) are not imputed.

The distance cap is a fixed 373 mm, the convention of the BraTS 2025 evaluation (the diagonal of
the 240x240x155 mm SRI-24 box, larger than any distance inside an adult head; the MNI 2009
197x233x189 mm box has a 359 mm diagonal), so capped values are comparable across cases and
centres whatever their field of view. Metrics Reloaded uses 1000 mm; the choice only moves
aggregated means, never the order of two methods on a case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: Value given to an undefined distance by the worst-value policy (mm).
DISTANCE_CAP_MM = 373.0

Direction = Literal["higher", "lower", "zero", "none"]
Group = Literal["voxel", "surface", "lesion", "lesion_matched"]


@dataclass(frozen=True)
class MetricInfo:
    key: str
    group: Group
    direction: Direction
    unit: str
    definition: str
    undefined_when: str
    best: float | None
    worst: float | None


def _m(key, group, direction, unit, definition, undefined_when, best, worst) -> MetricInfo:
    return MetricInfo(key, group, direction, unit, definition, undefined_when, best, worst)


_ONE_EMPTY = "reference or prediction has no voxels"
_DIST = DISTANCE_CAP_MM

METRIC_INFO: dict[str, MetricInfo] = {
    m.key: m
    for m in [
        _m("dice", "voxel", "higher", "1", "2|P∩R| / (|P|+|R|)", "both masks empty (0/0)", 1.0, 0.0),
        _m("jaccard", "voxel", "higher", "1", "|P∩R| / |P∪R|", "both masks empty (0/0)", 1.0, 0.0),
        _m("sensitivity", "voxel", "higher", "1", "|P∩R| / |R|", "reference empty", 1.0, 0.0),
        _m("precision", "voxel", "higher", "1", "|P∩R| / |P| (PPV)", "prediction empty", 1.0, 0.0),
        _m("specificity", "voxel", "higher", "1", "TN / (TN+FP), TN counted over the whole image grid (Anima)",
           "never (the grid always has background unless the reference fills it)", 1.0, 0.0),
        _m("relative_volume_error_pct", "voxel", "zero", "%",
           "100·(|P|−|R|)/|R|, signed, voxel counts (Anima RelativeVolumeError)", "reference empty", 0.0, None),
        _m("volume_reference_ml", "voxel", "none", "ml", "|R| · voxel volume / 1000", "never", None, None),
        _m("volume_prediction_ml", "voxel", "none", "ml", "|P| · voxel volume / 1000", "never", None, None),
        _m("hausdorff_mm", "surface", "lower", "mm", "max of both directed border-to-border maxima",
           _ONE_EMPTY, 0.0, _DIST),
        _m("hausdorff95_mm", "surface", "lower", "mm",
           "max of the two directed 95th percentiles (MONAI, Metrics Reloaded)", _ONE_EMPTY, 0.0, _DIST),
        _m("hausdorff95_pooled_mm", "surface", "lower", "mm",
           "95th percentile of both directed distance sets pooled (medpy hd95)", _ONE_EMPTY, 0.0, _DIST),
        _m("assd_mm", "surface", "lower", "mm", "mean of both directed distance sets pooled (medpy assd, MONAI)",
           _ONE_EMPTY, 0.0, _DIST),
        _m("masd_mm", "surface", "lower", "mm", "mean of the two directed means (Metrics Reloaded masd)",
           _ONE_EMPTY, 0.0, _DIST),
        _m("nsd", "surface", "higher", "1",
           "normalized surface Dice: share of both borders within the tolerance of the other (Metrics Reloaded)",
           "both masks empty; 0 when exactly one is empty", 1.0, 0.0),
        _m("asd_anima_mm", "surface", "lower", "mm",
           "Anima SurfaceDistance as coded (running minimum never reset; biased low; compatibility only)",
           _ONE_EMPTY, 0.0, _DIST),
        _m("lesion_sensitivity", "lesion", "higher", "1", "MS-SEG 2016 SensL: detected reference lesions / N_R",
           "no kept reference lesion", 1.0, 0.0),
        _m("lesion_precision", "lesion", "higher", "1",
           "MS-SEG 2016 PPVL: true-positive predicted lesions / N_P (0 when N_P = 0 < N_R, as Anima)",
           "no kept lesion on either side", 1.0, 0.0),
        _m("lesion_f1", "lesion", "higher", "1",
           "MS-SEG 2016 F1: 2·SensL·PPVL/(SensL+PPVL); 0 when exactly one side has no kept lesion",
           "no kept lesion on either side", 1.0, 0.0),
        _m("n_reference_lesions", "lesion", "none", "count",
           "6-connected reference lesions with volume > the minimum", "never", None, None),
        _m("n_prediction_lesions", "lesion", "none", "count",
           "6-connected predicted lesions with volume > the minimum", "never", None, None),
        _m("lesion_matched_tp", "lesion_matched", "none", "count",
           "one-to-one greedy matches with lesion Dice > threshold", "never", None, None),
        _m("lesion_matched_fp", "lesion_matched", "lower", "count", "predicted lesions left unmatched",
           "never", None, None),
        _m("lesion_matched_fn", "lesion_matched", "lower", "count", "reference lesions left unmatched",
           "never", None, None),
        _m("lesion_matched_sensitivity", "lesion_matched", "higher", "1", "matched TP / N_R",
           "no kept reference lesion", 1.0, 0.0),
        _m("lesion_matched_precision", "lesion_matched", "higher", "1",
           "matched TP / N_P (0 when N_P = 0 < N_R)", "no kept lesion on either side", 1.0, 0.0),
        _m("lesion_matched_f1", "lesion_matched", "higher", "1", "2TP / (2TP+FP+FN)",
           "no kept lesion on either side", 1.0, 0.0),
        _m("lesion_matched_dice_mean", "lesion_matched", "higher", "1", "mean lesion Dice over the matched pairs",
           "no matched pair", 1.0, 0.0),
    ]
}

#: Keys of :meth:`MetricsResult.as_dict`, in output order.
METRIC_KEYS: tuple[str, ...] = tuple(METRIC_INFO)


def apply_worst_value_policy(row: Mapping[str, float | int | None]) -> dict[str, float | int | None]:
    """Replace ``null`` metric values of one (case, method, reference) row per the module policy.

    Emptiness is read from the row itself: ``volume_reference_ml``/``volume_prediction_ml`` for
    voxel and surface metrics, ``n_reference_lesions``/``n_prediction_lesions`` for lesion-wise ones.
    Keys not in :data:`METRIC_INFO` pass through unchanged.
    """
    out = dict(row)
    voxels_both_empty = not row.get("volume_reference_ml") and not row.get("volume_prediction_ml")
    lesions_both_empty = not row.get("n_reference_lesions") and not row.get("n_prediction_lesions")
    for key, value in row.items():
        info = METRIC_INFO.get(key)
        if info is None or value is not None:
            continue
        both_empty = voxels_both_empty if info.group in ("voxel", "surface") else lesions_both_empty
        out[key] = info.best if both_empty else info.worst
    return out
