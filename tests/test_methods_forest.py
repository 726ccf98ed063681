"""The ``random_forest`` baseline: its features (names and order, neighbourhood statistics, NAWM
z-score, distance to the ventricles and to the brain boundary), class balancing, the threshold
chosen on out-of-bag votes, and that the features beat intensities alone where location matters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from conftest import synthetic_case
from lesionbench.errors import ConfigError, InputError
from lesionbench.methods import forest
from lesionbench.methods.inputs import CaseArrays
from lesionbench.metrics.overlap import dice

#: The feature set of the forest before the literature's features were added.
INTENSITY_ONLY = dict(
    neighbourhood_mm=0.0, nawm_zscore=False, position_features=False, class_weight="none", tune_threshold=False
)


def near_ventricle_case(seed: int, shape=(40, 40, 40)) -> CaseArrays:
    """Lesions touch a central ventricle; look-alikes (same FLAIR/T2 contrast, same size) sit
    further out, each next to a small CSF pocket: only the location tells them apart."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape).astype(np.float32)
    centre = (np.array(shape) - 1) / 2
    radius = np.sqrt(((grid - centre[:, None, None, None]) ** 2).sum(0))
    brain, ventricle = radius < 18, radius < 5
    label, mimic, pocket = (np.zeros(shape, bool) for _ in range(3))
    for _ in range(6):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        a, b = np.round(centre + 7 * d).astype(int), np.round(centre + 13 * d[::-1]).astype(int)
        p = np.round(centre + 15.5 * d[::-1]).astype(int)
        label[a[0] - 1 : a[0] + 2, a[1] - 1 : a[1] + 2, a[2] - 1 : a[2] + 2] = True
        mimic[b[0] - 1 : b[0] + 2, b[1] - 1 : b[1] + 2, b[2] - 1 : b[2] + 2] = True
        pocket[p[0] - 1 : p[0] + 1, p[1] - 1 : p[1] + 1, p[2] - 1 : p[2] + 1] = True
    csf = (ventricle | pocket).astype(np.float32) * brain
    bright = label | mimic
    flair = rng.normal(50, 3, shape) + 20 * bright - 40 * csf
    t2 = rng.normal(60, 3, shape) + 15 * bright + 40 * csf
    images = (np.stack([flair, t2]) * brain).astype(np.float32)
    priors = np.stack([(1 - csf) * brain, np.zeros(shape), csf]).astype(np.float32)
    return CaseArrays(f"v{seed}", images, brain, (1.5, 1.5, 1.5), priors=priors, label=label & ~ventricle & brain)


def test_feature_names_and_order_match_the_volumes():
    case = synthetic_case(0, spacing=(1.0, 1.0, 2.0))
    params = forest.ForestParams(sigmas_mm=(2.0,), contrast_sigma_mm=4.0, neighbourhood_mm=2.0)
    maps = forest.feature_volumes(case, params)
    names = forest.feature_names(["flair", "t1"], params)
    per_modality = ["", "_mean_2mm", "_std_2mm", "_contrast_4mm", "_min_2mm", "_max_2mm", "_nawm_z"]
    expected = [f"{c}{suffix}" for c in ("flair", "t1") for suffix in per_modality]
    assert names == expected + ["prior_wm", "prior_gm", "prior_csf", "ventricle_distance_mm", "brain_depth_mm"]
    assert len(maps) == len(names)
    t1 = case.images[1]
    by_name = dict(zip(names, maps))
    assert np.array_equal(by_name["t1"], t1)
    assert np.allclose(by_name["t1_mean_2mm"], ndimage.gaussian_filter(t1, (2.0, 2.0, 1.0), mode="nearest"))
    # +-2 mm: 5 voxels on the 1 mm axes, 3 on the 2 mm axis
    assert np.array_equal(by_name["t1_min_2mm"], ndimage.minimum_filter(t1, size=(5, 5, 3), mode="nearest"))
    assert np.array_equal(by_name["flair_max_2mm"], ndimage.maximum_filter(case.images[0], (5, 5, 3), mode="nearest"))
    nawm = t1[case.brain_mask]  # prior_wm 0.95 everywhere: NAWM = the brain
    z = (t1 - np.median(nawm)) / (1.4826 * np.median(np.abs(nawm - np.median(nawm))))
    assert np.allclose(by_name["t1_nawm_z"], z, atol=1e-4)
    assert np.array_equal(by_name["prior_gm"], case.priors[1])
    x = forest.features_at(case, params, np.array([0, 100, 5000]))
    assert x.shape == (3, len(names)) and x[1, names.index("t1")] == t1.ravel()[100]


def test_distance_to_the_ventricles_and_to_the_brain_boundary_in_mm():
    shape = (12, 16, 16)
    brain = np.zeros(shape, bool)
    brain[1:-1, 1:-1, 1:-1] = True
    csf = np.zeros(shape, np.float32)
    csf[5:7, 7:9, 7:9] = 0.9  # deep: a ventricle (8 voxels of 2 mm^3 = 16 mm^3)
    csf[1, 2, 2] = 1.0  # at the surface: sulcal CSF, not a ventricle
    csf[8, 12, 12] = 1.0  # deep enough but a single voxel (2 mm^3): below ventricle_min_mm3
    priors = np.stack([1 - csf, np.zeros(shape, np.float32), csf]) * brain
    case = CaseArrays("h1", np.zeros((1, *shape), np.float32), brain, (2.0, 1.0, 1.0), priors=priors)
    params = forest.ForestParams(ventricle_depth_mm=3.0, ventricle_min_mm3=10.0)
    ventricles = forest.ventricle_mask(priors[2], brain, case.spacing, params)
    assert np.argwhere(ventricles).tolist() == np.argwhere(csf == np.float32(0.9)).tolist()
    to_ventricles, depth = forest.position_volumes(case, params)
    assert to_ventricles[5, 7, 7] == 0.0
    assert to_ventricles[5, 7, 4] == pytest.approx(3.0)  # 3 voxels of 1 mm along y
    assert to_ventricles[8, 7, 7] == pytest.approx(4.0)  # 2 voxels of 2 mm along x
    assert to_ventricles[8, 4, 8] == pytest.approx(5.0)  # (4 mm, 3 mm)
    assert to_ventricles[1, 2, 2] > 0 and to_ventricles[8, 12, 12] > 0
    assert depth[0, 5, 5] == 0.0 and depth[1, 5, 5] == pytest.approx(2.0) and depth[5, 1, 5] == pytest.approx(1.0)
    assert depth[5, 4, 7] == pytest.approx(4.0)  # nearest outside voxel: y = 0, 4 mm
    # no ventricle by the rule: the grid's diagonal (farther than any voxel) everywhere
    none = forest.position_volumes(case, forest.ForestParams(ventricle_min_mm3=1000.0))[0]
    assert np.all(none == np.float32(np.sqrt(24.0**2 + 16.0**2 + 16.0**2)))


def test_the_literature_features_beat_intensities_alone_where_location_matters():
    cases = [near_ventricle_case(s) for s in range(4)]
    common = dict(n_estimators=20, samples_per_case=800, min_lesion_mm3=0.0)
    old = forest.ForestParams(**common, **INTENSITY_ONLY, threshold=0.5)
    new = forest.ForestParams(**common)
    scores = {}
    for name, params in (("old", old), ("new", new)):
        trained = forest.train_forest(cases[:3], params, seed=5)
        mask, _ = forest.predict_forest(trained.forest, cases[3], trained.params)
        scores[name] = dice(mask, cases[3].label)
    assert scores["new"] > 0.95
    assert scores["new"] > scores["old"] + 0.05
    # location carries it: the two position features hold a tenth of the importance or more
    importance = dict(zip(forest.feature_names(["flair", "t2"], new), trained.forest.feature_importances_))
    assert importance["ventricle_distance_mm"] + importance["brain_depth_mm"] > 0.1


def test_class_weights_raise_recall_on_an_imbalanced_sample():
    cases = [synthetic_case(s, contrast=0.5) for s in range(3)]
    recall = {}
    for weight in ("none", "balanced_subsample"):
        params = forest.ForestParams(
            n_estimators=20,
            samples_per_case=400,
            background_ratio=20.0,
            class_weight=weight,
            tune_threshold=False,
            threshold=0.5,
            min_lesion_mm3=0.0,
        )
        trained = forest.train_forest(cases[:2], params, seed=2)
        mask, _ = forest.predict_forest(trained.forest, cases[2], params)
        recall[weight] = (mask & cases[2].label).sum() / cases[2].label.sum()
    assert recall["balanced_subsample"] > recall["none"] + 0.1


def test_threshold_from_weighted_out_of_bag_votes():
    # one case: 2 lesion samples standing for 10 voxels each, 2 background standing for 50 each
    samples = forest.TrainingSet(
        x=np.zeros((5, 1), np.float32),
        y=np.array([1, 1, 0, 0, 0], np.uint8),
        case=np.zeros(5, np.int32),
        weight=np.array([10.0, 10.0, 50.0, 50.0, 50.0]),
    )
    probability = np.array([0.9, 0.5, 0.6, 0.1, np.nan])  # the last sample has no out-of-bag vote
    threshold, curve = forest.choose_threshold(probability, samples, (0.4, 0.55, 0.95))
    # 0.4: TP 20, FP 50 -> 40/90; 0.55: TP 10, FP 50, FN 10 -> 20/80; 0.95: TP 0 -> 0
    assert [row["mean_dice"] for row in curve] == pytest.approx([40 / 90, 20 / 80, 0.0])
    assert threshold == 0.4


def test_training_tunes_the_threshold_and_prediction_uses_it():
    cases = [synthetic_case(s, contrast=3.0) for s in range(3)]
    params = forest.ForestParams(n_estimators=20, samples_per_case=600, min_lesion_mm3=0.0)
    trained = forest.train_forest(cases[:2], params, seed=7)
    assert [row["threshold"] for row in trained.threshold_curve] == list(params.thresholds)
    best = max(row["mean_dice"] for row in trained.threshold_curve)
    assert trained.params.threshold == next(r["threshold"] for r in trained.threshold_curve if r["mean_dice"] == best)
    mask, probability = forest.predict_forest(trained.forest, cases[2], trained.params)
    assert np.array_equal(mask, probability > trained.params.threshold)
    assert dice(mask, cases[2].label) > 0.7


def test_bad_class_weight_and_missing_priors_are_one_line_errors():
    with pytest.raises(ConfigError, match="class_weight 'balanced' is not one of balanced_subsample, none"):
        forest.ForestParams.from_mapping({"class_weight": "balanced"})
    case = synthetic_case(0)
    bare = CaseArrays("c7", case.images, case.brain_mask, case.spacing)
    with pytest.raises(InputError, match="case c7") as caught:
        forest.feature_volumes(bare, forest.ForestParams(use_priors=False))
    assert "\n" not in str(caught.value)
