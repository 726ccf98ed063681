"""``flair_hyperintensity``: the classical unsupervised baseline.

MS lesions are hyperintense on FLAIR relative to normal-appearing white matter (NAWM). Like
lesion-growth/outlier approaches (Schmidt et al., NeuroImage 59:3774, 2012, LST; Jack et al.,
Neurology 56:1271, 2001, FLAIR thresholding), each voxel's FLAIR is scored as a robust z-score
against the case's own NAWM (median and MAD of FLAIR where the WM prior is high), voxels inside a
(dilated) white-matter region whose score exceeds a threshold are lesion, and components below a
minimum size are dropped. The one free parameter, the threshold, is tuned on the training split
by maximizing mean Dice against the consensus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..metrics.overlap import dice
from .inputs import CaseArrays, params_from_mapping
from .postprocess import remove_small_lesions

#: 1 / Phi^-1(3/4): makes the MAD a consistent estimator of the SD under normality.
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class HyperintensityParams:
    threshold: float = 3.0
    wm_prior_min: float = 0.3
    nawm_prior_min: float = 0.9
    wm_dilation_mm: float = 3.0
    min_lesion_mm3: float = 9.0
    #: width (in z units) of the logistic turning the score into a probability map
    softness: float = 0.5
    thresholds: tuple[float, ...] = tuple(float(t) for t in np.round(np.arange(1.5, 10.01, 0.25), 2))

    @classmethod
    def from_mapping(cls, params: dict) -> HyperintensityParams:
        return params_from_mapping(cls, params, float_tuples=("thresholds",))


def white_matter_region(
    wm_prior: np.ndarray, brain_mask: np.ndarray, spacing: Sequence[float], params: HyperintensityParams
) -> np.ndarray:
    """Where lesions are searched: WM prior above ``wm_prior_min``, dilated by ``wm_dilation_mm``
    (periventricular and juxtacortical lesions sit at the WM border and lower the WM prior)."""
    region = (wm_prior >= params.wm_prior_min) & brain_mask
    radius = [max(0, int(round(params.wm_dilation_mm / s))) for s in spacing]
    if any(radius):
        # an ellipsoidal structuring element so the dilation is the same in mm along each axis
        grids = np.ogrid[tuple(slice(-r, r + 1) for r in radius)]
        ball = sum((g / max(r, 1)) ** 2 for g, r in zip(grids, radius)) <= 1.0
        region = ndimage.binary_dilation(region, structure=ball) & brain_mask
    return region


def flair_score(
    flair: np.ndarray,
    wm_prior: np.ndarray,
    brain_mask: np.ndarray,
    params: HyperintensityParams,
    case: str | None = None,
) -> np.ndarray:
    """Robust z-score of FLAIR against the case's NAWM (median, MAD of voxels with a high WM prior)."""
    nawm = (wm_prior >= params.nawm_prior_min) & brain_mask
    if np.count_nonzero(nawm) < 50:
        # fall back on the broader WM region when the prior is blurry (coarse grids)
        nawm = (wm_prior >= params.wm_prior_min) & brain_mask
    values = flair[nawm]
    if values.size < 50:
        raise InputError(
            f"flair_hyperintensity: only {values.size} white-matter voxels inside the brain mask", case=case
        )
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * MAD_TO_SD
    if mad <= 0:
        mad = float(values.std()) or 1.0
    return ((flair - median) / mad).astype(np.float32)


def segment(
    case: CaseArrays, flair_channel: int, threshold: float, params: HyperintensityParams
) -> tuple[np.ndarray, np.ndarray]:
    """(binary mask, probability map) of one case at ``threshold``."""
    if case.priors is None:
        raise InputError("flair_hyperintensity needs the tissue priors (prior_wm)", case=case.case)
    flair = case.images[flair_channel]
    wm_prior = case.priors[0]
    brain = case.brain_mask.astype(bool)
    score = flair_score(flair, wm_prior, brain, params, case=case.case)
    region = white_matter_region(wm_prior, brain, case.spacing, params)
    mask = remove_small_lesions((score > threshold) & region, case.spacing, params.min_lesion_mm3)
    # logistic in the score: 0.5 exactly at the threshold, zero outside the search region
    probability = np.where(region, 1.0 / (1.0 + np.exp(-(score - threshold) / params.softness)), 0.0).astype(np.float32)
    return mask, probability


@dataclass(frozen=True)
class TuningResult:
    threshold: float
    curve: list[dict[str, float]]


def tune_threshold(cases: Sequence[CaseArrays], flair_channel: int, params: HyperintensityParams) -> TuningResult:
    """Grid search of the threshold maximizing mean Dice against each case's ``label``.

    The score map and search region do not depend on the threshold, so they are computed once
    per case; ties go to the lowest threshold (the first maximum).
    """
    if not cases:
        raise InputError("flair_hyperintensity: no training case to tune the threshold on")
    prepared = []
    for case in cases:
        if case.label is None or case.priors is None:
            raise InputError("flair_hyperintensity: a training case lacks its reference mask or priors", case=case.case)
        brain = case.brain_mask.astype(bool)
        score = flair_score(case.images[flair_channel], case.priors[0], brain, params, case=case.case)
        region = white_matter_region(case.priors[0], brain, case.spacing, params)
        label = np.asarray(case.label, dtype=bool)
        # Every candidate mask lies inside the search region: cropping to the box around the region
        # and the label changes no component and no Dice term, and makes the 35-threshold search
        # several times cheaper.
        box = ndimage.find_objects((region | label).astype(np.uint8))
        crop = box[0] if box and box[0] is not None else tuple(slice(None) for _ in label.shape)
        prepared.append((score[crop], region[crop], label[crop], case.spacing))
    curve = []
    for threshold in params.thresholds:
        scores = [
            dice(remove_small_lesions((score > threshold) & region, spacing, params.min_lesion_mm3), label)
            for score, region, label, spacing in prepared
        ]
        curve.append({"threshold": float(threshold), "mean_dice": float(np.mean(scores))})
    best = max(range(len(curve)), key=lambda i: (curve[i]["mean_dice"], -i))
    return TuningResult(threshold=curve[best]["threshold"], curve=curve)
