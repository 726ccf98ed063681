"""New-lesion scoring of a two-visit case, as MSSEG-2 (MICCAI 2021) evaluated it with Anima.

The reference of a case is the consensus of the lesions that are *new* at the second visit
(MSSEG-2's ``ground_truth``); the prediction is a method's mask of new lesions on the same grid.
The evaluation was a modified Anima ``animaSegPerfAnalyzer`` (``docs/metrics.md``, "New lesions"):

* **Cases whose reference has a new lesion**: lesion-wise detection by the MS-SEG 2016 rule
  (:func:`lesionbench.metrics.lesions.anima_detection`: 6-connected lesions, those of at most
  3 mm³ removed on both sides, α = 0.10, β = 0.70, γ = 0.65), giving SensL, PPVL and F1, and the
  voxel Dice of the two masks. ``n_tested_lesions`` and ``tested_lesion_volume_mm3`` do not
  apply (NaN).
* **Cases whose reference has no new lesion** (Anima's empty-reference mode): the number of
  predicted lesions kept by the same size filter and their total volume in mm³, both 0 for a
  perfect method. F1, SensL, PPVL and Dice are *not defined* there: NaN, never a worst value,
  so these cases never enter an F1 or Dice ranking.

"Has a new lesion" means at least one lesion that survives the size filter, the same test the
lesion-wise scores use; a reference holding only specks of at most 3 mm³ is an empty reference.

Grown lesions: the reference outlines new lesions only, so a lesion present at the first visit
that grows is background in it, its growth region included. A predicted lesion over a grown (or
stable) lesion therefore lies in reference background and is charged a false positive by the
detection rule, unless it also covers a new lesion (the β test then decides).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .engine import compute_metrics, kept_lesion_volumes

#: Scored on cases whose reference has a new lesion (higher is better).
NEW_LESION_DETECTION_METRICS: tuple[str, ...] = ("lesion_f1", "dice", "lesion_sensitivity", "lesion_precision")
#: Scored on cases whose reference has no new lesion (lower is better, 0 is perfect).
NEW_LESION_EMPTY_METRICS: tuple[str, ...] = ("n_tested_lesions", "tested_lesion_volume_mm3")
#: Every metric of the new-lesion track, in table order.
NEW_LESION_METRICS: tuple[str, ...] = NEW_LESION_DETECTION_METRICS + NEW_LESION_EMPTY_METRICS


@dataclass(frozen=True)
class NewLesionScores:
    """MSSEG-2 scores of one (reference, prediction) pair of new-lesion masks.

    Lesion counts are of kept lesions (after the size filter). ``n_detected``: reference lesions
    detected; ``n_true_positive``: predicted lesions that are true positives (the two sides are
    counted independently, as Anima does). Metrics that do not apply to the case are NaN.
    ``reference_lesions``: per kept reference lesion (in lesion-number order), its volume in mm³
    and whether the prediction detected it (the Anima rule's verdict).
    """

    reference_has_new_lesions: bool
    n_reference_lesions: int
    n_predicted_lesions: int
    n_detected: int
    n_true_positive: int
    lesion_f1: float
    dice: float
    lesion_sensitivity: float
    lesion_precision: float
    n_tested_lesions: float
    tested_lesion_volume_mm3: float
    reference_lesions: tuple[tuple[float, bool], ...] = ()

    @property
    def n_false_positive(self) -> int:
        """Predicted lesions that are not true positives."""
        return self.n_predicted_lesions - self.n_true_positive

    @property
    def n_missed(self) -> int:
        """Reference new lesions not detected (false negatives)."""
        return self.n_reference_lesions - self.n_detected

    def values(self) -> dict[str, float]:
        """Value of each of :data:`NEW_LESION_METRICS` (NaN where it does not apply)."""
        return {m: float(getattr(self, m)) for m in NEW_LESION_METRICS}

    def statuses(self) -> dict[str, str]:
        """``ok`` where a metric applies to this case, ``not_applicable`` where it does not (so a
        ranking leaves the case out of that metric's task)."""
        applies = set(NEW_LESION_DETECTION_METRICS if self.reference_has_new_lesions else NEW_LESION_EMPTY_METRICS)
        return {m: "ok" if m in applies else "not_applicable" for m in NEW_LESION_METRICS}


def has_new_lesions(
    reference: np.ndarray,
    spacing: tuple[float, float, float],
    *,
    min_lesion_volume_mm3: float = 3.0,
    case: str | None = None,
) -> bool:
    """Whether a new-lesion reference holds a lesion above the minimum volume (see the module docstring)."""
    volumes = kept_lesion_volumes(reference, spacing, min_lesion_volume_mm3=min_lesion_volume_mm3, case=case)
    return bool(volumes.size)


def _or_nan(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def score_new_lesions(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing: tuple[float, float, float],
    *,
    min_lesion_volume_mm3: float = 3.0,
    alpha: float = 0.10,
    beta: float = 0.70,
    gamma: float = 0.65,
    case: str | None = None,
) -> NewLesionScores:
    """Score a predicted new-lesion mask against the new-lesion reference (module docstring).

    Both masks are 3-D, binary and on one grid; ``spacing`` in mm. ``case`` labels errors.
    """
    result = compute_metrics(
        reference,
        prediction,
        spacing,
        min_lesion_volume_mm3=min_lesion_volume_mm3,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        case=case,
    )
    n_ref, n_pred = result.n_reference_lesions, result.n_prediction_lesions
    detected = sum(1 for r in result.lesions if r.reference_lesion is not None and r.reference_detected)
    true_pos = sum(1 for r in result.lesions if r.prediction_lesion is not None and r.prediction_true_positive)
    verdicts = {
        r.reference_lesion: (float(r.reference_volume_mm3 or 0.0), bool(r.reference_detected))
        for r in result.lesions
        if r.reference_lesion is not None
    }
    nan = math.nan
    if n_ref == 0:
        return NewLesionScores(
            reference_has_new_lesions=False,
            n_reference_lesions=0,
            n_predicted_lesions=n_pred,
            n_detected=0,
            n_true_positive=true_pos,
            lesion_f1=nan,
            dice=nan,
            lesion_sensitivity=nan,
            lesion_precision=nan,
            n_tested_lesions=float(n_pred),
            tested_lesion_volume_mm3=_or_nan(result.tested_lesion_volume_mm3),
        )
    return NewLesionScores(
        reference_has_new_lesions=True,
        n_reference_lesions=n_ref,
        n_predicted_lesions=n_pred,
        n_detected=detected,
        n_true_positive=true_pos,
        lesion_f1=_or_nan(result.lesion_f1),
        dice=_or_nan(result.dice),
        lesion_sensitivity=_or_nan(result.lesion_sensitivity),
        lesion_precision=_or_nan(result.lesion_precision),
        n_tested_lesions=nan,
        tested_lesion_volume_mm3=nan,
        reference_lesions=tuple(verdicts[k] for k in sorted(verdicts)),
    )


def new_lesion_rows(
    scores: NewLesionScores | None,
    *,
    reference_has_new_lesions: bool | None = None,
    status: str = "missing",
    fields: Mapping[str, object] | None = None,
) -> list[dict[str, object]]:
    """Rows of the long results table (``metric``, ``value``, ``status``, plus ``fields`` such as
    ``case_id``, ``entry``, ``reference``) for one scored pair.

    Without ``scores`` (no usable prediction) every metric that applies to the case gets
    ``status`` (``missing`` or ``failed``) and NaN, the others ``not_applicable``;
    ``reference_has_new_lesions`` then says which apply.
    """
    base = dict(fields or {})
    if scores is not None:
        values, statuses = scores.values(), scores.statuses()
    else:
        if reference_has_new_lesions is None:
            raise ValueError("reference_has_new_lesions is needed when there are no scores")
        applies = NEW_LESION_DETECTION_METRICS if reference_has_new_lesions else NEW_LESION_EMPTY_METRICS
        values = dict.fromkeys(NEW_LESION_METRICS, math.nan)
        statuses = {m: status if m in applies else "not_applicable" for m in NEW_LESION_METRICS}
    return [{**base, "metric": m, "value": values[m], "status": statuses[m]} for m in NEW_LESION_METRICS]


def detection_rows(scores: NewLesionScores, *, fields: Mapping[str, object] | None = None) -> list[dict[str, object]]:
    """One row per reference new lesion of a scored pair: ``lesion`` (its number), ``volume_mm3``
    and ``detected`` (1 or 0), plus ``fields`` (``case_id``, ``entry``, ...); none on a case
    without new lesions."""
    base = dict(fields or {})
    return [
        {**base, "lesion": k, "volume_mm3": volume, "detected": int(detected)}
        for k, (volume, detected) in enumerate(scores.reference_lesions, start=1)
    ]
