"""``random_forest``: a voxel classifier on multi-modal intensities, local context and priors.

Per voxel: each harmonized modality's intensity, its Gaussian-smoothed value and local standard
deviation at a few scales (context), its difference to a wide smoothing (local contrast), and the
template WM/GM/CSF priors (spatial context), as in voxel-wise random-forest MS segmentation
(Geremia et al., NeuroImage 57:378, 2011; Breiman, Mach Learn 45:5, 2001). Training voxels are
drawn class-balanced from every training case (lesion vs non-lesion brain voxels); scikit-learn's
``RandomForestClassifier`` does the rest.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from sklearn.ensemble import RandomForestClassifier

from ..errors import InputError
from .inputs import CaseArrays, params_from_mapping
from .postprocess import remove_small_lesions
from .registry import PRIOR_NAMES
from .sampling import balanced_voxel_sample


@dataclass(frozen=True)
class ForestParams:
    n_estimators: int = 60
    max_depth: int = 16
    min_samples_leaf: int = 5
    sigmas_mm: tuple[float, ...] = (1.5, 3.0)
    contrast_sigma_mm: float = 8.0
    samples_per_case: int = 4000
    background_ratio: float = 2.0
    threshold: float = 0.6
    min_lesion_mm3: float = 9.0
    use_priors: bool = True

    @classmethod
    def from_mapping(cls, params: dict) -> ForestParams:
        return params_from_mapping(cls, params, float_tuples=("sigmas_mm",))


def feature_names(channel_names: Sequence[str], params: ForestParams) -> list[str]:
    names = []
    for c in channel_names:
        names.append(c)
        for s in params.sigmas_mm:
            names += [f"{c}_mean_{s:g}mm", f"{c}_std_{s:g}mm"]
        names.append(f"{c}_contrast_{params.contrast_sigma_mm:g}mm")
    if params.use_priors:
        names += [f"prior_{tissue}" for tissue in PRIOR_NAMES]
    return names


def _sigma_voxels(sigma_mm: float, spacing: Sequence[float]) -> tuple[float, ...]:
    return tuple(sigma_mm / s for s in spacing)


def feature_volumes(case: CaseArrays, params: ForestParams) -> list[np.ndarray]:
    """The feature maps of a case (each a full volume, in :func:`feature_names` order).

    Local standard deviation is sqrt(G*x^2 - (G*x)^2) with the same Gaussian G, clipped at 0
    against rounding; smoothing is scipy.ndimage.gaussian_filter with sigmas converted to voxels
    per axis so anisotropic grids get the same physical scale.
    """
    maps: list[np.ndarray] = []
    for image in case.images:
        image = image.astype(np.float32, copy=False)
        maps.append(image)
        for s in params.sigmas_mm:
            sigma = _sigma_voxels(s, case.spacing)
            mean = ndimage.gaussian_filter(image, sigma, mode="nearest")
            square = ndimage.gaussian_filter(image * image, sigma, mode="nearest")
            maps += [mean, np.sqrt(np.clip(square - mean * mean, 0.0, None))]
        maps.append(
            image
            - ndimage.gaussian_filter(image, _sigma_voxels(params.contrast_sigma_mm, case.spacing), mode="nearest")
        )
    if params.use_priors:
        if case.priors is None:
            raise InputError("random_forest uses template priors but the case has none", case=case.case)
        maps += [p.astype(np.float32, copy=False) for p in case.priors]
    return maps


def _rows(maps: Sequence[np.ndarray], flat_index: np.ndarray) -> np.ndarray:
    """(n voxels, n features) float32 matrix of feature maps at flat voxel indices."""
    return np.stack([m.ravel()[flat_index] for m in maps], axis=1).astype(np.float32)


def features_at(case: CaseArrays, params: ForestParams, flat_index: np.ndarray) -> np.ndarray:
    """(n voxels, n features) float32 matrix at the given flat voxel indices."""
    return _rows(feature_volumes(case, params), flat_index)


def training_set(
    cases: Sequence[CaseArrays], params: ForestParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced voxel samples of every training case, stacked."""
    xs, ys = [], []
    for case in cases:
        if case.label is None:
            raise InputError("random_forest: a training case has no reference mask", case=case.case)
        index = balanced_voxel_sample(
            case.label, case.brain_mask, params.samples_per_case // 2, rng, params.background_ratio
        )
        xs.append(features_at(case, params, index))
        ys.append(case.label.ravel()[index].astype(np.uint8))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if np.unique(y).size < 2:
        raise InputError(
            "random_forest: the training cases have no lesion voxel (or no background) inside the brain masks"
        )
    return x, y


@dataclass
class ForestTraining:
    forest: RandomForestClassifier
    #: out-of-bag accuracy on the training samples as trees are added (the training curve)
    curve: list[dict[str, float]]


def train_forest(
    cases: Sequence[CaseArrays], params: ForestParams, *, seed: int, threads: int = 1, curve_step: int = 10
) -> ForestTraining:
    """Fit the forest on class-balanced samples; ``seed`` fixes both sampling and the forest.

    Trees are added ``curve_step`` at a time (``warm_start``) to record the out-of-bag accuracy
    curve; the final forest is the same as one fitted in one go with the same ``random_state``.
    """
    rng = np.random.default_rng(seed)
    x, y = training_set(cases, params, rng)
    forest = RandomForestClassifier(
        n_estimators=min(curve_step, params.n_estimators),
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        n_jobs=threads,
        random_state=seed,
        oob_score=True,
        warm_start=True,
    )
    curve = []
    sizes = list(range(min(curve_step, params.n_estimators), params.n_estimators, curve_step)) + [params.n_estimators]
    for n in sizes:
        forest.set_params(n_estimators=n)
        with warnings.catch_warnings():
            # with the first few trees some samples are in every bootstrap: no OOB vote yet
            warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores")
            forest.fit(x, y)
        curve.append(
            {
                "n_estimators": n,
                "oob_accuracy": float(forest.oob_score_),
                "samples": int(y.size),
                "lesion_samples": int(y.sum()),
            }
        )
    return ForestTraining(forest=forest, curve=curve)


def predict_forest(
    forest: RandomForestClassifier, case: CaseArrays, params: ForestParams, *, threads: int = 1, chunk: int = 200_000
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, probability) of a case: the forest's lesion probability inside the brain mask,
    thresholded at ``params.threshold`` (balanced sampling inflates probabilities, hence > 0.5),
    small components removed. ``threads`` replaces the ``n_jobs`` the forest was trained with."""
    forest.set_params(n_jobs=max(1, int(threads)))
    brain = case.brain_mask.astype(bool)
    index = np.flatnonzero(brain.ravel())
    probability: np.ndarray = np.zeros(brain.size, dtype=np.float32)
    if index.size:
        maps = feature_volumes(case, params)
        lesion_column = list(forest.classes_).index(1)
        for start in range(0, index.size, chunk):
            part = index[start : start + chunk]
            probability[part] = forest.predict_proba(_rows(maps, part))[:, lesion_column]
    probability = probability.reshape(brain.shape)
    mask = remove_small_lesions(probability > params.threshold, case.spacing, params.min_lesion_mm3)
    return mask, probability
