"""``random_forest``: a voxel classifier on the features the MS random-forest literature used.

Per voxel (:func:`feature_names` gives the order):

- each harmonized modality at several scales: its intensity, its Gaussian-smoothed mean and
  local standard deviation at ``sigmas_mm`` (Geremia et al., NeuroImage 57:378, 2011, context
  features), its difference to a wide smoothing (local contrast, a difference of Gaussians);
- neighbourhood statistics: the minimum and maximum in a box of half-width ``neighbourhood_mm``;
- the intensity as a robust z-score against the case's normal-appearing white matter (median and
  MAD where ``prior_wm >= nawm_prior_min``), the contrast a reader judges a lesion by;
- the template WM/GM/CSF priors (tissue priors);
- position: the distance to the ventricles and to the brain boundary (mm). The ventricles are the
  CSF prior's deep part (``prior_csf >= ventricle_csf_min`` further than ``ventricle_depth_mm``
  inside the brain mask, components of at least ``ventricle_min_mm3``): periventricular and
  juxtacortical locations are what tell an MS lesion from a look-alike (Filippi et al., Lancet
  Neurol 18:198, 2019).

Training voxels are drawn from every training case (all lesion voxels up to half of
``samples_per_case``, ``background_ratio`` times as many non-lesion brain voxels, to keep the
background's variety); ``class_weight`` ``balanced_subsample`` then re-weights each tree's
bootstrap to equal class mass (Chen, Liaw & Breiman, UC Berkeley TR 666, 2004), so that the
forest's probability is on a balanced scale whatever the sampling ratio. With ``tune_threshold``
the threshold is chosen on the forest's out-of-bag votes: each sample stands for the voxels of its
class in its case it was drawn from, which gives every case's expected voxel Dice per threshold
without a voxel the tree voting on it has seen (Breiman, Mach Learn 45:5, 2001).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from sklearn.ensemble import RandomForestClassifier

from ..errors import ConfigError, InputError
from .inputs import CaseArrays, params_from_mapping
from .postprocess import remove_small_lesions
from .registry import PRIOR_NAMES
from .sampling import balanced_voxel_sample

CLASS_WEIGHTS: tuple[str, ...] = ("balanced_subsample", "none")
#: Position features (mm), after the priors.
POSITION_FEATURES: tuple[str, ...] = ("ventricle_distance_mm", "brain_depth_mm")


@dataclass(frozen=True)
class ForestParams:
    n_estimators: int = 60
    max_depth: int = 16
    min_samples_leaf: int = 5
    sigmas_mm: tuple[float, ...] = (1.5, 3.0)
    contrast_sigma_mm: float = 8.0
    #: half-width (mm) of the min/max box; 0 = no neighbourhood min/max features
    neighbourhood_mm: float = 2.0
    nawm_zscore: bool = True
    nawm_prior_min: float = 0.9
    use_priors: bool = True
    position_features: bool = True
    ventricle_csf_min: float = 0.5
    ventricle_depth_mm: float = 12.0
    ventricle_min_mm3: float = 500.0
    samples_per_case: int = 4000
    background_ratio: float = 2.0
    class_weight: str = "balanced_subsample"
    threshold: float = 0.6
    tune_threshold: bool = True
    #: 0.3 to 0.95 by 0.05, and 0.975: with class-balanced training the voxel optimum can sit above
    #: 0.9 (few lesion voxels among many brain voxels)
    thresholds: tuple[float, ...] = tuple(round(0.3 + 0.05 * i, 2) for i in range(14)) + (0.975,)
    min_lesion_mm3: float = 9.0

    def __post_init__(self) -> None:
        if self.class_weight not in CLASS_WEIGHTS:
            raise ConfigError(
                f"random_forest: params.class_weight {self.class_weight!r} is not one of {', '.join(CLASS_WEIGHTS)}"
            )

    @classmethod
    def from_mapping(cls, params: dict) -> ForestParams:
        return params_from_mapping(cls, params, float_tuples=("sigmas_mm", "thresholds"))


def feature_names(channel_names: Sequence[str], params: ForestParams) -> list[str]:
    names = []
    for c in channel_names:
        names.append(c)
        for s in params.sigmas_mm:
            names += [f"{c}_mean_{s:g}mm", f"{c}_std_{s:g}mm"]
        names.append(f"{c}_contrast_{params.contrast_sigma_mm:g}mm")
        if params.neighbourhood_mm > 0:
            names += [f"{c}_min_{params.neighbourhood_mm:g}mm", f"{c}_max_{params.neighbourhood_mm:g}mm"]
        if params.nawm_zscore:
            names.append(f"{c}_nawm_z")
    if params.use_priors:
        names += [f"prior_{tissue}" for tissue in PRIOR_NAMES]
    if params.position_features:
        names += list(POSITION_FEATURES)
    return names


def _sigma_voxels(sigma_mm: float, spacing: Sequence[float]) -> tuple[float, ...]:
    return tuple(sigma_mm / s for s in spacing)


def _box_size(half_width_mm: float, spacing: Sequence[float]) -> tuple[int, ...]:
    """Odd box size per axis covering +-``half_width_mm`` (at least one voxel either side)."""
    return tuple(2 * max(1, int(round(half_width_mm / s))) + 1 for s in spacing)


def nawm_zscore(image: np.ndarray, nawm: np.ndarray) -> np.ndarray:
    """``(image - median) / (1.4826 MAD)`` over the ``nawm`` voxels (MAD 0 -> scale 1)."""
    values = image[nawm]
    if values.size == 0:
        return np.zeros_like(image, dtype=np.float32)
    median = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - median)))
    return ((image - median) / (mad if mad > 0 else 1.0)).astype(np.float32)


def ventricle_mask(
    csf_prior: np.ndarray, brain_mask: np.ndarray, spacing: Sequence[float], params: ForestParams
) -> np.ndarray:
    """The ventricles from the CSF prior: ``csf >= ventricle_csf_min`` deeper than
    ``ventricle_depth_mm`` inside the brain mask (sulcal CSF lies near the surface), connected
    components (6-connected) of at least ``ventricle_min_mm3``."""
    brain = np.asarray(brain_mask, dtype=bool)
    depth = ndimage.distance_transform_edt(brain, sampling=spacing)
    candidate = (np.asarray(csf_prior) >= params.ventricle_csf_min) & (depth > params.ventricle_depth_mm)
    labels, n = ndimage.label(candidate)
    if not n:
        return candidate
    volume = np.bincount(labels.ravel(), minlength=n + 1) * float(np.prod(spacing))
    keep = volume >= params.ventricle_min_mm3
    keep[0] = False
    return keep[labels]


def position_volumes(case: CaseArrays, params: ForestParams) -> list[np.ndarray]:
    """[distance to the ventricles, distance to the brain boundary] in mm (float32).

    The first is 0 inside the ventricles; a case without ventricles by the rule of
    :func:`ventricle_mask` gets the grid's diagonal everywhere (farther than any voxel). The
    second is 0 outside the brain mask and the distance to the nearest outside voxel inside."""
    if case.priors is None:
        raise InputError("random_forest: the position features use the CSF prior but the case has none", case=case.case)
    spacing = tuple(float(s) for s in case.spacing)
    brain = np.asarray(case.brain_mask, dtype=bool)
    ventricles = ventricle_mask(case.priors[PRIOR_NAMES.index("csf")], brain, spacing, params)
    if ventricles.any():
        to_ventricles = ndimage.distance_transform_edt(~ventricles, sampling=spacing)
    else:
        to_ventricles = np.full(brain.shape, float(np.linalg.norm(np.multiply(brain.shape, spacing))))
    depth = ndimage.distance_transform_edt(np.pad(brain, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    return [to_ventricles.astype(np.float32), depth.astype(np.float32)]


def feature_volumes(case: CaseArrays, params: ForestParams) -> list[np.ndarray]:
    """The feature maps of a case (each a full volume, in :func:`feature_names` order).

    Local standard deviation is sqrt(G*x^2 - (G*x)^2) with the same Gaussian G, clipped at 0
    against rounding; smoothing is scipy.ndimage.gaussian_filter with sigmas converted to voxels
    per axis so anisotropic grids get the same physical scale; min/max are
    scipy.ndimage.minimum_filter/maximum_filter over a box of ``neighbourhood_mm`` half-width.
    """
    needs_priors = params.use_priors or params.nawm_zscore or params.position_features
    if needs_priors and case.priors is None:
        raise InputError("random_forest uses template priors but the case has none", case=case.case)
    nawm = None
    if params.nawm_zscore and case.priors is not None:
        nawm = (case.priors[PRIOR_NAMES.index("wm")] >= params.nawm_prior_min) & np.asarray(case.brain_mask, bool)
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
        if params.neighbourhood_mm > 0:
            size = _box_size(params.neighbourhood_mm, case.spacing)
            maps += [
                ndimage.minimum_filter(image, size=size, mode="nearest"),
                ndimage.maximum_filter(image, size=size, mode="nearest"),
            ]
        if nawm is not None:
            maps.append(nawm_zscore(image, nawm))
    if params.use_priors and case.priors is not None:
        maps += [p.astype(np.float32, copy=False) for p in case.priors]
    if params.position_features:
        maps += position_volumes(case, params)
    return maps


def _rows(maps: Sequence[np.ndarray], flat_index: np.ndarray) -> np.ndarray:
    """(n voxels, n features) float32 matrix of feature maps at flat voxel indices."""
    return np.stack([m.ravel()[flat_index] for m in maps], axis=1).astype(np.float32)


def features_at(case: CaseArrays, params: ForestParams, flat_index: np.ndarray) -> np.ndarray:
    """(n voxels, n features) float32 matrix at the given flat voxel indices."""
    return _rows(feature_volumes(case, params), flat_index)


@dataclass(frozen=True)
class TrainingSet:
    """The stacked training samples: features ``x``, labels ``y`` (0/1), the index of the case each
    sample comes from, and how many voxels of its class in its case each sample stands for."""

    x: np.ndarray
    y: np.ndarray
    case: np.ndarray
    weight: np.ndarray


def training_set(cases: Sequence[CaseArrays], params: ForestParams, rng: np.random.Generator) -> TrainingSet:
    """Class-balanced voxel samples of every training case, stacked."""
    xs, ys, owners, weights = [], [], [], []
    for number, case in enumerate(cases):
        if case.label is None:
            raise InputError("random_forest: a training case has no reference mask", case=case.case)
        index = balanced_voxel_sample(
            case.label, case.brain_mask, params.samples_per_case // 2, rng, params.background_ratio
        )
        y = case.label.ravel()[index].astype(np.uint8)
        inside = np.asarray(case.brain_mask, bool)
        n_lesion = int((case.label & inside).sum())
        n_background = int(inside.sum()) - n_lesion
        drawn_lesion = max(int(y.sum()), 1)
        drawn_background = max(int(y.size - y.sum()), 1)
        xs.append(features_at(case, params, index))
        ys.append(y)
        owners.append(np.full(y.size, number, dtype=np.int32))
        weights.append(np.where(y == 1, n_lesion / drawn_lesion, n_background / drawn_background))
    y_all = np.concatenate(ys)
    if np.unique(y_all).size < 2:
        raise InputError(
            "random_forest: the training cases have no lesion voxel (or no background) inside the brain masks"
        )
    return TrainingSet(np.concatenate(xs), y_all, np.concatenate(owners), np.concatenate(weights))


def choose_threshold(
    probability: np.ndarray, samples: TrainingSet, thresholds: Sequence[float]
) -> tuple[float, list[dict[str, float]]]:
    """The threshold with the best mean expected voxel Dice over the training cases.

    ``probability`` is each sample's out-of-bag lesion probability (NaN: no out-of-bag vote, left
    out). A case's true/false positives and false negatives at a threshold are the sums of its
    samples' ``weight``; cases without lesion samples are left out of the mean. Ties go to the
    lowest threshold. Returns it and the curve (threshold, mean_dice)."""
    voted = np.isfinite(probability)
    curve = []
    for t in thresholds:
        scores = []
        for number in np.unique(samples.case):
            pick = voted & (samples.case == number)
            lesion, positive, w = samples.y[pick] == 1, probability[pick] > t, samples.weight[pick]
            if not lesion.any():
                continue
            tp, fp, fn = w[lesion & positive].sum(), w[~lesion & positive].sum(), w[lesion & ~positive].sum()
            scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 1.0)
        curve.append({"threshold": float(t), "mean_dice": float(np.mean(scores)) if scores else 0.0})
    best = max(curve, key=lambda row: row["mean_dice"])  # max keeps the first (lowest) of equals
    return best["threshold"], curve


@dataclass
class ForestTraining:
    forest: RandomForestClassifier
    #: out-of-bag accuracy on the training samples as trees are added (the training curve)
    curve: list[dict[str, float]]
    #: the parameters to predict with (``threshold`` tuned when ``tune_threshold``)
    params: ForestParams
    #: expected mean training Dice per candidate threshold (empty without ``tune_threshold``)
    threshold_curve: list[dict[str, float]]


def train_forest(
    cases: Sequence[CaseArrays], params: ForestParams, *, seed: int, threads: int = 1, curve_step: int = 10
) -> ForestTraining:
    """Fit the forest on class-balanced samples; ``seed`` fixes both sampling and the forest.

    Trees are added ``curve_step`` at a time (``warm_start``) to record the out-of-bag accuracy
    curve; the final forest is the same as one fitted in one go with the same ``random_state``.
    """
    rng = np.random.default_rng(seed)
    samples = training_set(cases, params, rng)
    x, y = samples.x, samples.y
    forest = RandomForestClassifier(
        n_estimators=min(curve_step, params.n_estimators),
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        class_weight=None if params.class_weight == "none" else params.class_weight,
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
            # the same data at every step: the per-bootstrap class weights are what they would be
            warnings.filterwarnings("ignore", message="class_weight presets")
            forest.fit(x, y)
        curve.append(
            {
                "n_estimators": n,
                "oob_accuracy": float(forest.oob_score_),
                "samples": int(y.size),
                "lesion_samples": int(y.sum()),
            }
        )
    threshold_curve: list[dict[str, float]] = []
    if params.tune_threshold:
        oob = forest.oob_decision_function_[:, list(forest.classes_).index(1)]
        threshold, threshold_curve = choose_threshold(oob, samples, params.thresholds)
        params = dataclasses.replace(params, threshold=threshold)
    return ForestTraining(forest=forest, curve=curve, params=params, threshold_curve=threshold_curve)


def predict_forest(
    forest: RandomForestClassifier, case: CaseArrays, params: ForestParams, *, threads: int = 1, chunk: int = 200_000
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, probability) of a case: the forest's lesion probability inside the brain mask,
    thresholded at ``params.threshold`` (the trained one: :attr:`ForestTraining.params`),
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
