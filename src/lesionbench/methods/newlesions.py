"""Methods of the new-lesion track (MSSEG-2, MICCAI 2021): what is new between two FLAIR visits.

A two-visit case is a :class:`~.inputs.CaseArrays` whose ``images`` are the two harmonized
FLAIR scans on one grid, in visit order (channel 0: ``flair_time01``, channel 1:
``flair_time02``), whose ``brain_mask`` is the two visits' masks fused
(:func:`fuse_brain_masks`) and whose ``label``, for training, is the reference of *new*
lesions (:func:`two_visit_case` builds one).

- ``subtraction``: the classical baseline of longitudinal lesion detection (e.g. Ganiler et
  al., Neuroradiology 56:363, 2014; Cabezas et al., AJNR 37:1816, 2016): the follow-up minus
  the baseline FLAIR, optionally smoothed, as a robust z-score over the fused brain mask
  (median and MAD of the difference, so global intensity drift between the visits that
  harmonization left behind is removed); voxels above a threshold are new lesion, components
  below a minimum size are dropped. The threshold and the minimum size are tuned together on
  the training cases against their new-lesion reference by the mean of a validation score
  (:mod:`.validation`: ``dice``, ``lesion_f1`` or their mean ``dice_f1``; a training case
  without a new lesion scores 1 when nothing is found and 0 otherwise, so false positives on
  empty cases count).
- the two-time-point U-Net: :func:`lesionbench.methods.unet.train_unet` on two-visit cases
  unchanged (its network has one input channel per image channel; the patches, augmentation,
  validation and post-processing choice are those of the cross-sectional ``unet3d``), so the
  network sees both visits together and learns what changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .classical import MAD_TO_SD
from .inputs import CaseArrays, params_from_mapping
from .postprocess import remove_small_lesions
from .validation import PostprocessChoice, check_score_name, choose_postprocess

#: The rules :func:`fuse_brain_masks` knows.
FUSION_RULES: tuple[str, ...] = ("intersection", "union")


def fuse_brain_masks(
    time01: np.ndarray, time02: np.ndarray, rule: str = "intersection", *, case: str | None = None
) -> np.ndarray:
    """One brain mask for the two visits.

    ``intersection`` (the default) keeps voxels that are brain at both visits: outside a visit's
    own mask its harmonized image is zero, so where only one visit is brain the difference is
    that visit's whole intensity, a false change. ``union`` keeps voxels that are brain at
    either visit.
    """
    a, b = np.asarray(time01, dtype=bool), np.asarray(time02, dtype=bool)
    if a.shape != b.shape:
        raise InputError(f"the brain masks of the two visits differ in shape ({a.shape} vs {b.shape})", case=case)
    if rule == "intersection":
        return a & b
    if rule == "union":
        return a | b
    raise ValueError(f"brain mask fusion rule {rule!r} is not one of {', '.join(FUSION_RULES)}")


def two_visit_case(
    case: str,
    flair_time01: np.ndarray,
    flair_time02: np.ndarray,
    brain_mask: np.ndarray,
    spacing: Sequence[float],
    label: np.ndarray | None = None,
) -> CaseArrays:
    """The two-visit :class:`~.inputs.CaseArrays` (channel 0 the baseline, 1 the follow-up)."""
    shapes = {np.shape(flair_time01), np.shape(flair_time02), np.shape(brain_mask)}
    if label is not None:
        shapes.add(np.shape(label))
    if len(shapes) != 1:
        raise InputError(
            f"the two visits, brain mask and label are not on one grid (shapes {sorted(shapes)})", case=case
        )
    images = np.stack([np.asarray(flair_time01, dtype=np.float32), np.asarray(flair_time02, dtype=np.float32)])
    return CaseArrays(
        case=case,
        images=images,
        brain_mask=np.asarray(brain_mask, dtype=bool),
        spacing=tuple(float(s) for s in spacing),  # type: ignore[arg-type]
        label=None if label is None else np.asarray(label, dtype=bool),
    )


def _check_two_visits(case: CaseArrays) -> None:
    if case.images.ndim != 4 or case.images.shape[0] != 2:
        raise InputError(
            f"a new-lesion method needs two images (flair_time01, flair_time02), not {case.images.shape[0]}",
            case=case.case,
        )


@dataclass(frozen=True)
class SubtractionParams:
    #: threshold on the difference's robust z-score, and the minimum lesion size (mm³), used at
    #: inference when the method is not tuned
    threshold: float = 3.0
    min_lesion_mm3: float = 9.0
    #: standard deviation (mm) of the Gaussian smoothing of the difference (0: none)
    smoothing_mm: float = 1.0
    #: width (in z units) of the logistic turning the z-score into a probability map
    softness: float = 0.5
    #: the grid searched on the training cases, and the score maximized (:mod:`.validation`)
    thresholds: tuple[float, ...] = (2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)
    min_sizes_mm3: tuple[float, ...] = (3.0, 10.0, 20.0, 40.0)
    score: str = "dice_f1"

    @classmethod
    def from_mapping(cls, params: dict) -> SubtractionParams:
        result = params_from_mapping(cls, params, float_tuples=("thresholds", "min_sizes_mm3"))
        check_score_name(result.score)
        return result


def difference_score(case: CaseArrays, params: SubtractionParams) -> np.ndarray:
    """Robust z-score of ``flair_time02 - flair_time01`` (smoothed by ``smoothing_mm``) over the
    brain mask; 0 outside it."""
    _check_two_visits(case)
    brain = np.asarray(case.brain_mask, dtype=bool)
    if np.count_nonzero(brain) < 50:
        raise InputError(f"subtraction: only {np.count_nonzero(brain)} voxels in the fused brain mask", case=case.case)
    difference = case.images[1].astype(np.float64) - case.images[0].astype(np.float64)
    if params.smoothing_mm > 0:
        sigma = [params.smoothing_mm / s for s in case.spacing]
        # smooth inside the brain only (normalized convolution), so the zero outside does not leak in
        weight = ndimage.gaussian_filter(brain.astype(np.float64), sigma)
        smoothed = ndimage.gaussian_filter(np.where(brain, difference, 0.0), sigma)
        difference = np.divide(smoothed, weight, out=np.zeros_like(smoothed), where=weight > 1e-6)
    values = difference[brain]
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * MAD_TO_SD
    if mad <= 0:
        mad = float(values.std()) or 1.0
    return np.where(brain, (difference - median) / mad, 0.0).astype(np.float32)


def subtraction_segment(
    case: CaseArrays, params: SubtractionParams, *, threshold: float | None = None, min_lesion_mm3: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(new-lesion mask, probability map) of one two-visit case (``threshold`` and
    ``min_lesion_mm3`` default to ``params``')."""
    threshold = params.threshold if threshold is None else float(threshold)
    size = params.min_lesion_mm3 if min_lesion_mm3 is None else float(min_lesion_mm3)
    score = difference_score(case, params)
    brain = np.asarray(case.brain_mask, dtype=bool)
    mask = remove_small_lesions((score > threshold) & brain, case.spacing, size)
    probability = np.where(brain, 1.0 / (1.0 + np.exp(-(score - threshold) / params.softness)), 0.0)
    return mask, probability.astype(np.float32)


def tune_subtraction(cases: Sequence[CaseArrays], params: SubtractionParams) -> PostprocessChoice:
    """The (threshold, minimum lesion size) of ``params``' grid with the best mean ``params.score``
    over ``cases`` against their new-lesion ``label`` (ties: the first grid point, thresholds
    then sizes in the order given); the returned choice keeps every grid point's scores."""
    if not cases:
        raise InputError("subtraction: no training case to tune the threshold on")
    references, scores, spacings = [], [], []
    for case in cases:
        if case.label is None:
            raise InputError("subtraction: a training case has no new-lesion reference", case=case.case)
        score = difference_score(case, params)
        label = np.asarray(case.label, dtype=bool)
        # every candidate lies in the brain: cropping to the box of brain and label changes no
        # component and no score, and makes the grid search cheaper
        box = ndimage.find_objects((np.asarray(case.brain_mask, dtype=bool) | label).astype(np.uint8))
        crop = box[0] if box and box[0] is not None else tuple(slice(None) for _ in label.shape)
        references.append(label[crop])
        scores.append(score[crop])
        spacings.append(case.spacing)
    return choose_postprocess(
        references,
        scores,
        spacings,
        thresholds=params.thresholds,
        min_sizes_mm3=params.min_sizes_mm3,
        metric=params.score,
    )
