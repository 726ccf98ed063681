"""Harmonization schemes and preprocessing QC measures, against independent references.

References: medpy's IntensityRangeStandardization (Nyul), MONAI NormalizeIntensity (z-score),
scikit-learn mutual_info_score (MI), medpy.metric.dc (Dice), scipy's wasserstein_distance,
and hand-worked cases.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lesionbench.errors import ConfigError
from lesionbench.metrics.overlap import dice
from lesionbench.preprocess.harmonize import (
    HarmonizationError,
    NyulScale,
    apply_nyul,
    fit_nyul,
    harmonize,
    histogram_match,
    whitestripe,
    whitestripe_stripe,
    zscore,
)
from lesionbench.preprocess.pipeline import MissingModalityError, require_modalities
from lesionbench.preprocess.quality import (
    center_distances,
    harmonization_table,
    mutual_information,
    normalized_mutual_information,
    transform_error_mm,
    true_fixed_to_moving,
)

SHAPE = (20, 18, 16)


def brain_image(seed: int, gain: float = 1.0, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A three-tissue 'brain' (CSF 20, GM 60, WM 100 + noise) inside an ellipsoid, zero outside."""
    rng = np.random.default_rng(seed)
    idx = np.indices(SHAPE).astype(float)
    r = np.sqrt(sum(((idx[i] - (SHAPE[i] - 1) / 2) / (SHAPE[i] / 2.2)) ** 2 for i in range(3)))
    mask = r < 1.0
    tissue = rng.choice([20.0, 60.0, 100.0], size=SHAPE, p=[0.1, 0.4, 0.5])
    image = np.where(mask, tissue + rng.normal(0, 4.0, SHAPE), 0.0)
    return (gain * image + offset * mask).astype(np.float32), mask


def test_zscore_matches_monai_normalize_intensity():
    from monai.transforms import NormalizeIntensity

    image, mask = brain_image(0, gain=3.0, offset=50.0)
    ours = zscore(image, mask)
    # MONAI computes statistics over non-zero voxels: the masked image with a nowhere-zero brain.
    ref = NormalizeIntensity(nonzero=True)(np.where(mask, image, 0.0)[None].astype(np.float64))[0]
    np.testing.assert_allclose(ours[mask], np.asarray(ref)[mask], rtol=1e-5, atol=1e-5)
    assert np.all(ours[~mask] == 0)


def test_nyul_matches_medpy_intensity_range_standardization():
    from medpy.filter import IntensityRangeStandardization

    train = [brain_image(s, gain=g, offset=o) for s, g, o in [(1, 1.0, 0.0), (2, 2.5, 30.0), (3, 0.7, 5.0)]]
    scale = fit_nyul([i for i, _ in train], [m for _, m in train], modality="flair")
    irs = IntensityRangeStandardization(
        cutoffp=(1, 99), landmarkp=[10, 20, 30, 40, 50, 60, 70, 80, 90], stdrange=(1, 100)
    )
    irs.train([i[m].astype(np.float64) for i, m in train])
    np.testing.assert_allclose(scale.standard, irs.model, rtol=1e-9, atol=1e-9)
    test_image, test_mask = brain_image(7, gain=1.7, offset=-3.0)
    ours = apply_nyul(test_image, test_mask, scale)
    ref = irs.transform(test_image[test_mask].astype(np.float64), surpress_mapping_check=True)
    # Includes the linearly extrapolated tails below the 1st and above the 99th percentile.
    np.testing.assert_allclose(ours[test_mask], ref, rtol=1e-5, atol=1e-4)


def test_nyul_scale_json_round_trip(tmp_path):
    image, mask = brain_image(1)
    scale = fit_nyul([image], [mask], modality="t1", cases=["c01_train_p01"])
    scale.to_json(tmp_path / "standard_scale_t1.json")
    back = NyulScale.from_json(tmp_path / "standard_scale_t1.json")
    assert back == scale
    assert json.loads((tmp_path / "standard_scale_t1.json").read_text())["cases"] == ["c01_train_p01"]


def test_nyul_bad_inputs_name_case_and_file(tmp_path):
    flat = np.full(SHAPE, 5.0, np.float32)
    with pytest.raises(HarmonizationError, match=r"case c07_train_p02.*not strictly increasing"):
        fit_nyul([flat], [np.ones(SHAPE, bool)], modality="t1", cases=["c07_train_p02"])
    missing = tmp_path / "nope.json"
    with pytest.raises(HarmonizationError, match=f"file {missing}.*does not exist"):
        NyulScale.from_json(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(HarmonizationError, match=f"file {broken}.*not a Nyul"):
        NyulScale.from_json(broken)
    with pytest.raises(ConfigError, match="at least one training image"):
        fit_nyul([], [], modality="pd")


def test_whitestripe_finds_the_white_matter_mode():
    image, mask = brain_image(4, gain=2.0, offset=10.0)
    # WM (100 -> 210 after gain/offset) is the brightest tissue of a T1: the last peak.
    stripe = whitestripe_stripe(image, mask, "t1")
    assert abs(stripe.mean - 210.0) < 3.0
    assert stripe.sd < 8.0 * 2.0 / 2
    out = whitestripe(image, mask, "t1")
    wm = mask & (np.abs(image - 210.0) < 12.0)
    assert abs(float(out[wm].mean())) < 0.3
    # PD rule takes the first peak: here the CSF mode (20 -> 50).
    assert abs(whitestripe_stripe(image, mask, "pd").mean - 50.0) < 3.0
    with pytest.raises(ConfigError):
        whitestripe_stripe(image, mask, "dwi")


def test_histogram_match_moves_brain_quantiles_to_the_reference():
    image, mask = brain_image(5, gain=0.5, offset=40.0)
    ref, ref_mask = brain_image(6, gain=2.0)
    out = histogram_match(image, mask, ref, ref_mask)
    q = [10, 25, 50, 75, 90]
    np.testing.assert_allclose(np.percentile(out[mask], q), np.percentile(ref[ref_mask], q), rtol=0.08, atol=4.0)
    assert np.all(out[~mask] == 0)


def test_harmonize_dispatch_and_errors():
    image, mask = brain_image(8)
    np.testing.assert_array_equal(harmonize("none", image, mask, modality="flair"), np.where(mask, image, 0))
    with pytest.raises(ConfigError, match="unknown harmonization scheme"):
        harmonize("combat", image, mask, modality="flair")
    with pytest.raises(ConfigError, match="fitted standard scale"):
        harmonize("nyul", image, mask, modality="flair")
    scale = fit_nyul([image], [mask], modality="t1")
    with pytest.raises(ConfigError, match="for t1, not flair"):
        harmonize("nyul", image, mask, modality="flair", nyul_scale=scale)
    with pytest.raises(HarmonizationError, match=r"case c01_test_p01.*only 0 voxels"):
        zscore(image, np.zeros(SHAPE, bool), case="c01_test_p01")


def test_harmonization_halves_center_distance_on_a_gain_offset_shift():
    cases = {f"a{i}": "01" for i in range(2)} | {f"b{i}": "07" for i in range(2)}
    samples, scales = {}, {}
    train = []
    for k, case in enumerate(cases):
        gain, offset = (1.0, 0.0) if cases[case] == "01" else (2.2, 35.0)
        image, mask = brain_image(10 + k, gain=gain, offset=offset)
        train.append((image, mask))
    scale = fit_nyul([i for i, _ in train], [m for _, m in train], modality="t1")
    for (case, _center), (image, mask) in zip(cases.items(), train):
        wm = mask & (image > np.percentile(image[mask], 60))
        for space, data in {
            "before": image,
            "zscore": zscore(image, mask),
            "nyul": apply_nyul(image, mask, scale),
        }.items():
            samples.setdefault((space, "t1"), {})[case] = data[wm]
            scales.setdefault((space, "t1"), {})[case] = float(data[mask].std())
    table = harmonization_table(samples, scales, cases, ["zscore", "nyul"], ["t1"])
    mean = table[table["center_a"] == "mean"].set_index("scheme")
    assert (mean["ratio"] < 0.5).all()


def test_mutual_information_matches_scikit_learn():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(3)
    a = rng.normal(size=SHAPE)
    b = a + 0.5 * rng.normal(size=SHAPE)
    bins = 16
    ea = np.histogram_bin_edges(a, bins)
    eb = np.histogram_bin_edges(b, bins)
    la = np.clip(np.digitize(a.ravel(), ea[1:-1]), 0, bins - 1)
    lb = np.clip(np.digitize(b.ravel(), eb[1:-1]), 0, bins - 1)
    assert mutual_information(a, b, bins=bins) == pytest.approx(mutual_info_score(la, lb), rel=1e-9)
    assert normalized_mutual_information(a, a, bins=bins) == pytest.approx(2.0)
    assert normalized_mutual_information(a, b, bins=bins) > normalized_mutual_information(
        a, rng.normal(size=SHAPE), bins=bins
    )


def test_dice_matches_medpy():
    from medpy.metric import dc

    rng = np.random.default_rng(2)
    a, b = rng.random(SHAPE) > 0.6, rng.random(SHAPE) > 0.5
    assert dice(a, b) == pytest.approx(dc(a, b))
    assert dice(np.zeros(SHAPE), np.zeros(SHAPE)) == 1.0


def test_transform_error_hand_worked():
    shift = np.eye(4)
    shift[:3, 3] = [3.0, 0.0, 4.0]
    points = np.array([[0.0, 0.0, 0.0], [10.0, -5.0, 2.0]])
    assert transform_error_mm(shift, np.eye(4), points) == pytest.approx((5.0, 5.0))
    rot = np.eye(4)
    rot[:2, :2] = [[0.0, -1.0], [1.0, 0.0]]  # 90 deg about z: a point at radius r moves r*sqrt(2)
    mean, worst = transform_error_mm(rot, np.eye(4), np.array([[1.0, 0, 0], [0, 2.0, 0]]))
    assert (mean, worst) == pytest.approx((1.5 * np.sqrt(2), 2 * np.sqrt(2)))
    pose_a, pose_b = np.eye(4), shift
    np.testing.assert_allclose(true_fixed_to_moving(pose_a, pose_b), shift)


def test_center_distances_matches_scipy_and_is_affine_invariant():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(9)
    samples = {"01": [rng.normal(0, 1, 500)], "07": [rng.normal(1, 1, 400), rng.normal(1.2, 1, 100)]}
    table = center_distances(samples, [2.0, 2.0])
    expected = wasserstein_distance(samples["01"][0], np.concatenate(samples["07"]))
    assert table.loc[0, "w1"] == pytest.approx(expected)
    assert table.loc[0, "w1_normalized"] == pytest.approx(expected / 2.0)
    scaled = {c: [3.0 * v + 7.0 for v in vs] for c, vs in samples.items()}
    assert center_distances(scaled, [6.0, 6.0]).loc[0, "w1_normalized"] == pytest.approx(expected / 2.0)


def test_missing_modality_names_case_and_modality():
    with pytest.raises(MissingModalityError, match=r"case c03_test_p01: .*needs modality t1gd.*has flair, t1"):
        require_modalities(["flair", "t1"], ["flair", "t1gd"], case="c03_test_p01", who="method lesionseg")
    require_modalities(["flair", "t1"], ["flair"], case="c03_test_p01")
