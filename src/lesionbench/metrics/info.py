"""The one metric registry: what each metric key means, which way is better, and how empty cases score.

Every part of lesionbench that needs to know about a metric (the metrics engine's output keys,
the long results table, the ranking, the config validation) reads :data:`METRIC_INFO` through
:func:`metric_info`; there is no other table of directions or worst values.

Per key, :class:`MetricInfo` gives the unit, the direction (``higher``/``lower`` is better,
``zero``: closer to 0 is better, ranked on ``|value|``; ``none``: descriptive, never ranked), the
``best`` value, the ``worst`` value used for a missing result (``None``: the worst value observed
in the ranking task, challengeR's ``na.treat = max``), a one-line definition, when the value is
undefined, and where the definition comes from. Per-size-bin detection rates
(``lesion_sensitivity@3-10mm3``) resolve to their base metric. The same rules in prose, with
the definitions of every metric: ``docs/metrics.md``.

Distance cap
    :data:`DISTANCE_CAP_MM` = 373 mm replaces an undefined surface distance of a missing or
    failed result. It is the value the BraTS 2025 evaluation package (``brats-evaluation``
    0.0.10, panoptica-based) gives an infinite HD95: the diagonal of the 240 x 240 x 155 mm
    SRI-24 box, sqrt(240² + 240² + 155²) = 373.1 mm, longer than any distance inside an adult
    head. A fixed cap keeps capped values comparable across centres whatever their field of
    view; it moves aggregated means, never the order of two methods on one case.

Scoring by meaning (:func:`classify`)
    A computed (reference, prediction) pair gives each metric a status that says which rule
    gives the value used for ranking (:func:`ranking_value`); the long table keeps the raw value.
    Emptiness is judged at the metric's own level: voxels for voxel and surface metrics, kept
    lesions (6-connected, above the minimum volume) for lesion-wise metrics.

    * ``ok``: the value is defined and used as it is.
    * ``both_empty``: nothing to find and nothing found (at the metric's level): the metric's
      ``best`` (Dice 1, distances 0, lesion F1 1). A reference holding only a speck below the
      minimum lesion volume and a prediction without kept lesion is ``both_empty`` for every
      lesion-wise metric.
    * ``empty_reference``: lesion-wise detection scores on a reference without kept lesion while
      the prediction has kept lesions: the score is 0 (its ``worst``). Anima's analyser, in the
      empty-reference mode added for MSSEG-2 (2021), reports no detection score on such a case;
      it scores it by ``n_tested_lesions`` and ``tested_lesion_volume_mm3``, which this table
      also gives.
    * ``not_applicable``: the metric has no meaning on this case and is never ranked there:
      ``n_tested_lesions``/``tested_lesion_volume_mm3`` when the reference has a kept lesion,
      ``lesion_sensitivity@<bin>`` when no reference lesion falls in the bin.
    * ``undefined``: any other undefined value (a distance or the voxel sensitivity with exactly
      one side empty); left for the ranking's ``na_treat``, like a missing result.
    * ``missing``/``failed`` (set by the evaluation, not here): no result; ``na_treat`` applies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, cast

from ..errors import ConfigError

#: Value given to an undefined distance of a missing or failed result (mm); see the module docstring.
DISTANCE_CAP_MM = 373.0

Direction = Literal["higher", "lower", "zero", "none"]
Group = Literal["voxel", "surface", "lesion", "lesion_matched", "empty_reference"]

#: Separator of a per-size-bin metric name, e.g. ``lesion_sensitivity@3-10mm3``.
SIZE_BIN_SEPARATOR = "@"
#: Reference lesion size bins (mm³) for detection by size: [low, high).
SIZE_BINS_MM3: tuple[tuple[float, float], ...] = ((3.0, 10.0), (10.0, 50.0), (50.0, 500.0), (500.0, math.inf))
#: The base metric that size bins split.
SIZE_BIN_BASE = "lesion_sensitivity"

# statuses of a row of the long table
OK = "ok"
BOTH_EMPTY = "both_empty"
EMPTY_REFERENCE = "empty_reference"
NOT_APPLICABLE = "not_applicable"
UNDEFINED = "undefined"
MISSING = "missing"
FAILED = "failed"
#: Every status of the long table, in the order of the module docstring.
STATUSES: tuple[str, ...] = (OK, BOTH_EMPTY, EMPTY_REFERENCE, NOT_APPLICABLE, UNDEFINED, MISSING, FAILED)
#: Statuses whose ranking value is given by a rule (:func:`ranking_value`).
SCORED_STATUSES: frozenset[str] = frozenset({OK, BOTH_EMPTY, EMPTY_REFERENCE})
#: Statuses whose value is always NaN in the long table.
NAN_STATUSES: frozenset[str] = frozenset({NOT_APPLICABLE, UNDEFINED, MISSING, FAILED})

_ANIMA = "Anima animaSegPerfAnalyzer (MS-SEG 2016; Commowick et al., Sci. Rep. 8:13650, 2018)"
_MSSEG2 = "Anima animaSegPerfAnalyzer, empty-reference mode added for MSSEG-2 (2021)"
_MR = "Metrics Reloaded (Maier-Hein et al., Nat. Methods 21:195, 2024)"
_PANOPTICA = "panoptica binaryMS matching (Kofler et al., arXiv 2312.02608)"


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
    source: str

    @property
    def ranked(self) -> bool:
        """Whether the metric can be a ranking task (it has a direction)."""
        return self.direction != "none"

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def rank_absolute(self) -> bool:
        """Ranked on ``|value|`` (signed errors whose ideal is 0)."""
        return self.direction == "zero"

    @property
    def lesion_level(self) -> bool:
        """Emptiness judged on kept lesions (True) or on voxels (False)."""
        return self.group in ("lesion", "lesion_matched", "empty_reference")


def _m(
    key: str,
    group: Group,
    direction: Direction,
    unit: str,
    definition: str,
    undefined_when: str,
    best: float | None,
    worst: float | None,
    source: str,
) -> MetricInfo:
    return MetricInfo(key, group, direction, unit, definition, undefined_when, best, worst, source)


_ONE_EMPTY = "exactly one mask empty (both empty: status both_empty)"
_CAP = DISTANCE_CAP_MM

METRIC_INFO: dict[str, MetricInfo] = {
    m.key: m
    for m in [
        _m("dice", "voxel", "higher", "1", "2|P∩R| / (|P|+|R|)", "both masks empty (0/0)", 1.0, 0.0, _ANIMA),
        _m("jaccard", "voxel", "higher", "1", "|P∩R| / |P∪R|", "both masks empty (0/0)", 1.0, 0.0, _ANIMA),
        _m("sensitivity", "voxel", "higher", "1", "|P∩R| / |R|", "reference empty", 1.0, 0.0, _ANIMA),
        _m("precision", "voxel", "higher", "1", "|P∩R| / |P| (PPV)", "prediction empty", 1.0, 0.0, _ANIMA),
        _m(
            "specificity",
            "voxel",
            "higher",
            "1",
            "TN / (TN+FP), TN counted over the whole image grid",
            "only if the reference fills the grid",
            1.0,
            0.0,
            _ANIMA,
        ),
        _m(
            "relative_volume_error_pct",
            "voxel",
            "zero",
            "%",
            "100·(|P|−|R|)/|R|, signed, voxel counts",
            "reference empty",
            0.0,
            None,
            _ANIMA + " RelativeVolumeError",
        ),
        _m(
            "volume_reference_ml",
            "voxel",
            "none",
            "ml",
            "|R| · voxel volume / 1000",
            "never",
            None,
            None,
            "lesionbench",
        ),
        _m(
            "volume_prediction_ml",
            "voxel",
            "none",
            "ml",
            "|P| · voxel volume / 1000",
            "never",
            None,
            None,
            "lesionbench",
        ),
        _m(
            "hausdorff_mm",
            "surface",
            "lower",
            "mm",
            "max of both directed border-to-border maxima",
            _ONE_EMPTY,
            0.0,
            _CAP,
            _MR,
        ),
        _m(
            "hausdorff95_mm",
            "surface",
            "lower",
            "mm",
            "max of the two directed 95th percentiles",
            _ONE_EMPTY,
            0.0,
            _CAP,
            _MR + "; MONAI 1.x compute_hausdorff_distance",
        ),
        _m(
            "hausdorff95_pooled_mm",
            "surface",
            "lower",
            "mm",
            "95th percentile of both directed distance sets pooled",
            _ONE_EMPTY,
            0.0,
            _CAP,
            "medpy 0.5 hd95",
        ),
        _m(
            "assd_mm",
            "surface",
            "lower",
            "mm",
            "mean of both directed distance sets pooled",
            _ONE_EMPTY,
            0.0,
            _CAP,
            "medpy 0.5 assd; MONAI 1.x compute_average_surface_distance",
        ),
        _m("masd_mm", "surface", "lower", "mm", "mean of the two directed means", _ONE_EMPTY, 0.0, _CAP, _MR),
        _m(
            "nsd",
            "surface",
            "higher",
            "1",
            "normalized surface Dice: share of both borders within the tolerance of the other",
            "both masks empty; 0 when exactly one is empty",
            1.0,
            0.0,
            _MR,
        ),
        _m(
            "asd_anima_mm",
            "surface",
            "lower",
            "mm",
            "Anima SurfaceDistance as coded (running minimum never reset; biased low; compatibility only)",
            _ONE_EMPTY,
            0.0,
            _CAP,
            _ANIMA,
        ),
        _m(
            "lesion_sensitivity",
            "lesion",
            "higher",
            "1",
            "MS-SEG 2016 SensL: detected reference lesions / N_R",
            "no kept reference lesion",
            1.0,
            0.0,
            _ANIMA,
        ),
        _m(
            "lesion_precision",
            "lesion",
            "higher",
            "1",
            "MS-SEG 2016 PPVL: true-positive predicted lesions / N_P (0 when N_P = 0 < N_R)",
            "no kept lesion on either side",
            1.0,
            0.0,
            _ANIMA,
        ),
        _m(
            "lesion_f1",
            "lesion",
            "higher",
            "1",
            "MS-SEG 2016 F1: 2·SensL·PPVL/(SensL+PPVL); 0 when exactly one side has no kept lesion",
            "no kept lesion on either side",
            1.0,
            0.0,
            _ANIMA,
        ),
        _m(
            "n_reference_lesions",
            "lesion",
            "none",
            "count",
            "6-connected reference lesions above the minimum volume",
            "never",
            None,
            None,
            _ANIMA,
        ),
        _m(
            "n_prediction_lesions",
            "lesion",
            "none",
            "count",
            "6-connected predicted lesions above the minimum volume",
            "never",
            None,
            None,
            _ANIMA,
        ),
        _m(
            "n_tested_lesions",
            "empty_reference",
            "lower",
            "count",
            "6-connected predicted lesions above the minimum volume, on a reference without kept lesion "
            "(Anima NbTestedLesions)",
            "reference has a kept lesion (status not_applicable)",
            0.0,
            None,
            _MSSEG2,
        ),
        _m(
            "tested_lesion_volume_mm3",
            "empty_reference",
            "lower",
            "mm3",
            "total volume of those lesions (Anima VolTestedLesions)",
            "reference has a kept lesion (status not_applicable)",
            0.0,
            None,
            _MSSEG2,
        ),
        _m(
            "lesion_matched_tp",
            "lesion_matched",
            "none",
            "count",
            "one-to-one greedy matches with lesion Dice > threshold",
            "never",
            None,
            None,
            _PANOPTICA,
        ),
        _m(
            "lesion_matched_fp",
            "lesion_matched",
            "lower",
            "count",
            "predicted lesions left unmatched",
            "never",
            0.0,
            None,
            _PANOPTICA,
        ),
        _m(
            "lesion_matched_fn",
            "lesion_matched",
            "lower",
            "count",
            "reference lesions left unmatched",
            "never",
            0.0,
            None,
            _PANOPTICA,
        ),
        _m(
            "lesion_matched_sensitivity",
            "lesion_matched",
            "higher",
            "1",
            "matched TP / N_R",
            "no kept reference lesion",
            1.0,
            0.0,
            _PANOPTICA,
        ),
        _m(
            "lesion_matched_precision",
            "lesion_matched",
            "higher",
            "1",
            "matched TP / N_P (0 when N_P = 0 < N_R)",
            "no kept lesion on either side",
            1.0,
            0.0,
            _PANOPTICA,
        ),
        _m(
            "lesion_matched_f1",
            "lesion_matched",
            "higher",
            "1",
            "2TP / (2TP+FP+FN)",
            "no kept lesion on either side",
            1.0,
            0.0,
            _PANOPTICA,
        ),
        _m(
            "lesion_matched_dice_mean",
            "lesion_matched",
            "higher",
            "1",
            "mean lesion Dice over the matched pairs",
            "no matched pair",
            1.0,
            0.0,
            _PANOPTICA,
        ),
    ]
}

#: Keys of :meth:`MetricsResult.as_dict`, in output order.
METRIC_KEYS: tuple[str, ...] = tuple(METRIC_INFO)

#: Lesion-wise scores that follow the empty-reference convention (0 when lesions are predicted).
EMPTY_REFERENCE_SCORES: frozenset[str] = frozenset(
    k for k, m in METRIC_INFO.items() if m.lesion_level and m.unit == "1" and m.direction == "higher"
)


def size_bin_label(low: float, high: float) -> str:
    """``3-10mm3``, ``>=500mm3``: the label of a size bin [low, high) in mm³."""
    return f"{low:g}-{high:g}mm3" if math.isfinite(high) else f">={low:g}mm3"


#: Per-size-bin detection metric names, in bin order.
SIZE_BIN_METRICS: tuple[str, ...] = tuple(
    f"{SIZE_BIN_BASE}{SIZE_BIN_SEPARATOR}{size_bin_label(lo, hi)}" for lo, hi in SIZE_BINS_MM3
)


def base_metric(metric: str) -> str:
    """``"lesion_sensitivity@3-10mm3"`` -> ``"lesion_sensitivity"``."""
    return metric.split(SIZE_BIN_SEPARATOR, 1)[0]


def is_size_bin(metric: str) -> bool:
    return SIZE_BIN_SEPARATOR in metric


def known_metric_names(*, ranked_only: bool = False) -> tuple[str, ...]:
    """Every metric name the long table can hold (registry keys, then size-bin names)."""
    names = [k for k, m in METRIC_INFO.items() if m.ranked or not ranked_only]
    return (*names, *SIZE_BIN_METRICS)


def metric_info(metric: str) -> MetricInfo:
    """The registry record of ``metric`` (a size-bin name resolves to its base metric).

    Raises :class:`~lesionbench.errors.ConfigError` listing the known names for an unknown one.
    """
    info = METRIC_INFO.get(base_metric(metric))
    if info is None or (is_size_bin(metric) and metric not in SIZE_BIN_METRICS):
        raise ConfigError(
            f"unknown metric {metric!r} (direction unknown); known metrics: {', '.join(known_metric_names())}"
        )
    return info


def validate_metric_names(names: Iterable[str], *, key: str, ranked: bool = True) -> list[str]:
    """Check the metric names of the config key ``key``; return them as a list.

    ``ranked``: the names are ranking tasks, so a descriptive metric (direction ``none``) is
    refused too. Errors name the key and list the accepted names.
    """
    names = list(names)
    accepted = known_metric_names(ranked_only=ranked)
    for name in names:
        if not isinstance(name, str) or name not in accepted:
            what = (
                "unknown metric"
                if not isinstance(name, str) or base_metric(name) not in METRIC_INFO
                else ("metric cannot be ranked (it has no better direction)" if ranked else "unknown metric")
            )
            raise ConfigError(f"config key {key}: {what} {name!r}; known metrics: {', '.join(accepted)}")
    return names


#: Config keys (dotted paths) that hold lists of ranked metric names.
METRIC_CONFIG_KEYS: tuple[str, ...] = ("ranking.leaderboard_metrics", "ranking.analysis_metrics")


def validate_config_metrics(config: Mapping[str, object]) -> None:
    """Check every metric-name key of a (schema-validated) workflow config; see :data:`METRIC_CONFIG_KEYS`."""
    for dotted in METRIC_CONFIG_KEYS:
        node: object = config
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            validate_metric_names(cast("list[str]", node if isinstance(node, (list, tuple)) else [node]), key=dotted)


@dataclass(frozen=True)
class Emptiness:
    """What the classification needs to know about a computed pair."""

    reference_voxels: int
    prediction_voxels: int
    reference_lesions: int
    prediction_lesions: int


def classify(metric: str, value: float | int | None, empty: Emptiness) -> str:
    """Status of one computed metric value (see the module docstring); never ``missing``/``failed``."""
    info = metric_info(metric)
    if is_size_bin(metric) or info.group == "empty_reference":
        return OK if value is not None else NOT_APPLICABLE
    if info.lesion_level:
        ref_empty, pred_empty = empty.reference_lesions == 0, empty.prediction_lesions == 0
    else:
        ref_empty, pred_empty = empty.reference_voxels == 0, empty.prediction_voxels == 0
    if info.ranked and ref_empty and pred_empty:
        return BOTH_EMPTY
    if ref_empty and metric in EMPTY_REFERENCE_SCORES:
        return EMPTY_REFERENCE
    return OK if value is not None else UNDEFINED


def ranking_value(metric: str, status: str, value: float) -> float:
    """The value a ranking uses for a cell of the long table: the raw value (``ok``), the rule's
    value (``both_empty``: best, ``empty_reference``: worst), NaN for every other status (left to
    ``na_treat`` for missing/failed/undefined; ``not_applicable`` cells are dropped before)."""
    if status == OK:
        return float(value)
    if status == BOTH_EMPTY:
        best = metric_info(metric).best
        return math.nan if best is None else float(best)
    if status == EMPTY_REFERENCE:
        worst = metric_info(metric).worst
        return math.nan if worst is None else float(worst)
    return math.nan


def metric_label(metric: str) -> str:
    """Axis/caption label with unit and direction, e.g. ``hausdorff95_mm (mm, lower is better)``."""
    info = metric_info(metric)
    unit = "" if info.unit == "1" else f"{info.unit}, "
    direction = {
        "higher": "higher is better",
        "lower": "lower is better",
        "zero": "closer to 0 is better",
        "none": "descriptive",
    }[info.direction]
    return f"{metric} ({unit}{direction})"
