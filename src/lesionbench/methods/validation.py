"""Validation of a trained method on held-out training cases: the split, the score, and the
post-processing rule chosen on it.

nnU-Net (Isensee et al., Nat Methods 18:203, 2021) keeps part of the training data for
validation, selects its checkpoint and decides its post-processing (whether to keep only the
largest connected component) on the validation cases, never on the test cases. The MS version
of that decision implemented here picks the probability threshold and the minimum lesion size
from a small grid, by the mean validation score over the validation cases:

- ``dice``: voxel Dice;
- ``lesion_f1``: lesion-wise F1 with the MS-SEG 2016 detection rule (Commowick et al., Sci Rep
  8:13650, 2018), as :func:`lesionbench.metrics.engine.compute_metrics` computes it;
- ``dice_f1``: the mean of the two (a method is ranked on both).

Components smaller than the minimum size are removed as :func:`.postprocess.remove_small_lesions`
does at inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .postprocess import remove_small_lesions

#: The validation scores a method can select on (see the module docstring).
SCORES = ("dice", "lesion_f1", "dice_f1")


def check_score_name(name: str) -> str:
    if name not in SCORES:
        raise ConfigError(f"validation score {name!r} is not one of {', '.join(SCORES)}")
    return name


def split_validation(case_ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(training, validation) case ids: ``round(fraction * n)`` cases, at least one, are held out,
    drawn with ``seed`` from the sorted ids (the same ids and seed give the same split whatever
    their order); at least one case is left for training, so one case only (or ``fraction`` 0)
    gives no validation case. Both lists keep the ids' sorted order."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"validation_fraction must be in [0, 1), not {fraction}")
    ids = sorted(case_ids)
    if fraction == 0.0 or len(ids) < 2:
        return ids, []
    n_val = min(max(1, int(round(fraction * len(ids)))), len(ids) - 1)
    picked = set(np.random.default_rng(seed).permutation(len(ids))[:n_val].tolist())
    return [c for i, c in enumerate(ids) if i not in picked], [c for i, c in enumerate(ids) if i in picked]


def mask_scores(reference: np.ndarray, mask: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """Dice, lesion F1 (MS-SEG 2016 rule) and their mean of one predicted mask; an empty reference
    and prediction score 1."""
    from ..metrics.engine import compute_metrics

    result = compute_metrics(reference, mask, tuple(float(s) for s in spacing))  # type: ignore[arg-type]
    dice = 1.0 if result.dice is None else float(result.dice)
    f1 = 1.0 if result.lesion_f1 is None else float(result.lesion_f1)
    return {"dice": dice, "lesion_f1": f1, "dice_f1": (dice + f1) / 2.0}


@dataclass(frozen=True)
class PostprocessChoice:
    """The threshold and minimum lesion size chosen on the validation cases, their mean score
    (``metric``), and every grid point's mean scores (rows of ``grid``)."""

    threshold: float
    min_lesion_mm3: float
    metric: str
    score: float
    grid: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "min_lesion_mm3": self.min_lesion_mm3,
            "metric": self.metric,
            "score": self.score,
        }


def choose_postprocess(
    references: Sequence[np.ndarray],
    probabilities: Sequence[np.ndarray],
    spacings: Sequence[Sequence[float]],
    *,
    thresholds: Sequence[float],
    min_sizes_mm3: Sequence[float],
    metric: str = "dice_f1",
) -> PostprocessChoice:
    """The (threshold, minimum lesion size) of the grid with the best mean ``metric`` over the
    validation cases (lesion = probability > threshold, then components below the size removed).
    Ties go to the first grid point, thresholds and sizes in the order given."""
    check_score_name(metric)
    if not thresholds or not min_sizes_mm3:
        raise ConfigError("the post-processing grid needs at least one threshold and one minimum size")
    if not references or len(references) != len(probabilities) or len(references) != len(spacings):
        raise ValueError("choose_postprocess needs one probability map and spacing per reference")
    grid: list[dict[str, float]] = []
    best: PostprocessChoice | None = None
    for threshold in thresholds:
        binary = [np.asarray(p) > float(threshold) for p in probabilities]
        for size in min_sizes_mm3:
            rows = [
                mask_scores(ref, remove_small_lesions(b, sp, float(size)), sp)
                for ref, b, sp in zip(references, binary, spacings)
            ]
            mean = {key: float(np.mean([r[key] for r in rows])) for key in SCORES}
            grid.append({"threshold": float(threshold), "min_lesion_mm3": float(size), **mean})
            if best is None or mean[metric] > best.score:
                best = PostprocessChoice(float(threshold), float(size), metric, mean[metric])
    assert best is not None  # the grid is not empty
    return PostprocessChoice(best.threshold, best.min_lesion_mm3, metric, best.score, grid)
