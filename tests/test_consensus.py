"""Tests of lesionbench.consensus against independent references.

References: SimpleITK's STAPLEImageFilter and LabelVotingImageFilter, medpy's binary metrics, and
hand-worked cases. MAP-STAPLE and LOP-STAPLE against hand-worked numbers: test_consensus_map_lop.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from medpy.metric import binary as medpy_binary
from scipy import ndimage as ndi

from lesionbench import consensus as cs
from lesionbench.errors import ConfigError, GridMismatchError, InputError, NonBinaryMaskError


def sitk_staple(votes: np.ndarray, confidence_weight: float = 1.0, max_iterations: int | None = None):
    images = [sitk.GetImageFromArray(v.astype(np.uint8)) for v in votes]
    f = sitk.STAPLEImageFilter()
    f.SetConfidenceWeight(confidence_weight)
    if max_iterations is not None:
        f.SetMaximumIterations(max_iterations)
    out = sitk.GetArrayFromImage(f.Execute(images))
    return out, np.array(f.GetSensitivity()), np.array(f.GetSpecificity()), f.GetElapsedIterations()


def random_votes(seed: int, n_raters: int, shape: tuple[int, ...], density: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((n_raters, *shape)) < density


def blob_raters(seed: int, n_raters: int = 5, shape=(12, 14, 10)) -> np.ndarray:
    """Raters that are noisy copies of one smooth blob (the realistic regime: fast convergence)."""
    rng = np.random.default_rng(seed)
    truth = ndi.gaussian_filter(rng.random(shape), 2.0) > 0.52
    votes = []
    for _ in range(n_raters):
        flip = rng.random(shape) < rng.uniform(0.01, 0.08)
        rater = truth ^ (flip & ndi.binary_dilation(truth))
        votes.append(rater)
    return np.stack(votes)


# --------------------------------------------------------------------------------------------
# STAPLE == SimpleITK


@pytest.mark.parametrize(
    ("seed", "n_raters", "shape", "density", "confidence_weight"),
    [
        (0, 7, (8, 5, 3), 0.14, 1.0),
        (2, 7, (5, 6, 10), 0.16, 1.0),
        (4, 6, (11, 11, 11), 0.26, 1.0),
        (7, 8, (8, 8, 9), 0.45, 1.0),
        (11, 2, (4, 8, 8), 0.25, 1.0),
        (21, 3, (20, 20, 20), 0.02, 1.0),
        (22, 7, (6, 7, 8), 0.10, 0.5),
        (23, 5, (9, 9, 9), 0.20, 2.0),
    ],
)
def test_staple_matches_simpleitk_random(seed, n_raters, shape, density, confidence_weight):
    votes = random_votes(seed, n_raters, shape, density)
    ref_w, ref_p, ref_q, ref_it = sitk_staple(votes, confidence_weight)
    res = cs.staple(votes, confidence_weight=confidence_weight)
    np.testing.assert_allclose(res.posterior, ref_w, rtol=0, atol=1e-6)
    np.testing.assert_allclose(res.sensitivity, ref_p, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.specificity, ref_q, rtol=0, atol=1e-9)
    assert res.iterations == ref_it
    assert res.converged
    expected_prior = votes.mean() * confidence_weight
    assert res.prior == pytest.approx(expected_prior, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_staple_matches_simpleitk_blob_raters(seed):
    votes = blob_raters(seed)
    ref_w, ref_p, ref_q, ref_it = sitk_staple(votes)
    res = cs.staple(votes)
    np.testing.assert_allclose(res.posterior, ref_w, rtol=0, atol=1e-6)
    np.testing.assert_allclose(res.sensitivity, ref_p, atol=1e-9)
    np.testing.assert_allclose(res.specificity, ref_q, atol=1e-9)
    assert res.iterations == ref_it
    # Same binary consensus as thresholding SimpleITK's posterior.
    np.testing.assert_array_equal(res.binary(), ref_w > 0.5)


@pytest.mark.parametrize("cap", [1, 2, 3, 17])
def test_iteration_cap_matches_simpleitk(cap):
    votes = random_votes(5, 6, (10, 7, 7), 0.4)  # converges only after ~11000 iterations
    ref_w, ref_p, ref_q, ref_it = sitk_staple(votes, max_iterations=cap)
    res = cs.staple(votes, max_iterations=cap)
    np.testing.assert_allclose(res.posterior, ref_w, atol=1e-12)
    np.testing.assert_allclose(res.sensitivity, ref_p, atol=1e-12)
    assert res.iterations == ref_it == cap
    assert not res.converged


def test_elapsed_iterations_meaning_at_the_boundary():
    # ITK reports the index of the confirming iteration: a cap one above it still "converges".
    votes = random_votes(3, 3, (5, 6, 7), 0.3)
    _, _, _, ref_it = sitk_staple(votes)
    res = cs.staple(votes, max_iterations=ref_it + 1)
    assert res.converged and res.iterations == ref_it
    capped = cs.staple(votes, max_iterations=ref_it)
    assert not capped.converged and capped.iterations == ref_it
    assert sitk_staple(votes, max_iterations=ref_it)[3] == ref_it


def test_many_raters_use_the_unique_path_and_match_simpleitk():
    votes = blob_raters(4, n_raters=22, shape=(8, 9, 10))
    ref_w, ref_p, ref_q, ref_it = sitk_staple(votes)
    res = cs.staple(votes)
    np.testing.assert_allclose(res.posterior, ref_w, atol=1e-6)
    np.testing.assert_allclose(res.sensitivity, ref_p, atol=1e-9)
    assert res.iterations == ref_it


def test_single_rater_matches_simpleitk_and_returns_the_rater():
    votes = random_votes(9, 1, (6, 6, 6), 0.3)
    ref_w, ref_p, ref_q, ref_it = sitk_staple(votes)
    res = cs.staple(votes)
    np.testing.assert_array_equal(res.posterior, ref_w)
    np.testing.assert_array_equal(res.binary(), votes[0])
    assert res.sensitivity.tolist() == [1.0] and res.specificity.tolist() == [1.0]
    assert res.iterations == ref_it == 1


def test_all_raters_empty_gives_empty_consensus_not_nan():
    votes = np.zeros((7, 5, 6, 4), dtype=bool)
    ref_w = sitk_staple(votes)[0]
    assert np.all(np.isnan(ref_w))  # what SimpleITK does, and why we decide otherwise
    for method in cs.METHODS:
        res = cs.fuse(votes, method)
        assert np.all(res.posterior == 0.0)
        assert not res.binary().any()
        assert np.all(np.isfinite(res.specificity))
        assert res.converged and res.iterations == 0
    res = cs.staple(votes)
    assert np.all(np.isnan(res.sensitivity)) and np.all(res.specificity == 1.0)


def test_all_raters_full_inside_mask():
    mask = np.zeros((4, 4, 4), dtype=bool)
    mask[1:3, 1:3, 1:3] = True
    votes = np.stack([mask, mask, mask])
    res = cs.staple(votes, mask=mask)
    np.testing.assert_array_equal(res.binary(), mask)
    assert np.all(res.sensitivity == 1.0) and np.all(np.isnan(res.specificity))


def test_unanimous_raters():
    votes = np.stack([random_votes(1, 1, (5, 5, 5), 0.3)[0]] * 4)
    ref_w, ref_p, ref_q, ref_it = sitk_staple(votes)
    res = cs.staple(votes)
    np.testing.assert_array_equal(res.posterior, ref_w)
    assert res.iterations == ref_it


# --------------------------------------------------------------------------------------------
# The mask: field-of-view independence, equal to SimpleITK on the masked voxels only


def test_mask_equals_simpleitk_on_masked_voxels_only():
    votes = blob_raters(7, n_raters=6, shape=(14, 12, 11))
    rng = np.random.default_rng(70)
    mask = ndi.binary_dilation(votes.any(axis=0), iterations=2) | (rng.random(votes.shape[1:]) < 0.2)
    res = cs.staple(votes, mask=mask)
    inside = votes[:, mask][:, None, None, :]  # a 1 x 1 x n "image" of the masked voxels
    ref_w, ref_p, ref_q, ref_it = sitk_staple(inside)
    np.testing.assert_allclose(res.posterior[mask], ref_w.reshape(-1), atol=1e-6)
    np.testing.assert_allclose(res.sensitivity, ref_p, atol=1e-9)
    np.testing.assert_allclose(res.specificity, ref_q, atol=1e-9)
    assert res.iterations == ref_it
    assert np.all(res.posterior[~mask] == 0.0)
    assert res.prior == pytest.approx(votes[:, mask].mean(), rel=1e-12)


def test_padding_changes_unmasked_staple_but_not_masked_staple():
    votes = random_votes(8, 5, (10, 10, 10), 0.2)
    mask = np.ones(votes.shape[1:], dtype=bool)
    padded = np.pad(votes, ((0, 0), (6, 6), (6, 6), (6, 6)))
    padded_mask = np.pad(mask, 6)
    core = (slice(6, 16),) * 3
    kw = {"max_iterations": 200}
    plain, plain_padded = cs.staple(votes, **kw), cs.staple(padded, **kw)
    assert plain_padded.prior < plain.prior  # the trap: the field of view sets the prior
    assert np.abs(plain_padded.posterior[core] - plain.posterior).max() > 0.1
    assert plain_padded.binary().sum() != plain.binary().sum()
    masked_padded = cs.staple(padded, mask=padded_mask, **kw)
    np.testing.assert_allclose(masked_padded.posterior[core], plain.posterior, atol=1e-12)
    np.testing.assert_allclose(masked_padded.sensitivity, plain.sensitivity, atol=1e-12)
    assert masked_padded.iterations == plain.iterations


def test_votes_outside_mask_are_ignored_and_counted():
    votes = blob_raters(9, n_raters=3, shape=(8, 8, 8))
    mask = np.zeros(votes.shape[1:], dtype=bool)
    mask[:, :, :4] = True
    res = cs.staple(votes, mask=mask)
    assert res.votes_outside_mask == int(votes[:, :, :, 4:].sum())
    assert not res.binary()[:, :, 4:].any()
    assert res.n_voxels == int(mask.sum())


# --------------------------------------------------------------------------------------------
# LOP-STAPLE


@pytest.mark.parametrize("weights", [[0.25, 0.25, 0.25, 0.25], [1.0, 2.0, 3.0, 1.0], [0.4, 0.8, 1.2, 0.6]])
def test_lop_staple_with_per_rater_weights_converges_to_simpleitk_staple(weights):
    # CRKit's renormalised opinions: a weight constant over the voxels reparametrises theta, so
    # the converged posterior is STAPLE's (SimpleITK, same whole-grid region and prior).
    votes = blob_raters(11, n_raters=4, shape=(9, 10, 11))
    ref_w, ref_p, ref_q, _ = sitk_staple(votes)
    res = cs.lop_staple(votes, weights=weights, tolerance=1e-13, max_iterations=5000, fp_tolerance=1e-13)
    assert res.converged
    # SimpleITK stops when squared changes are <= 1e-14 (steps of 1e-7), a few 1e-6 short of its
    # fixed point on slowly converging raters; hence 1e-5 on the rater parameters.
    np.testing.assert_allclose(res.posterior, ref_w, atol=1e-5)
    np.testing.assert_allclose(res.details["phi_sensitivity"], ref_p, atol=1e-5)
    np.testing.assert_allclose(res.details["phi_specificity"], ref_q, atol=1e-5)
    np.testing.assert_allclose(res.weights, weights)


def test_lop_staple_of_identical_raters_returns_the_rater():
    one = blob_raters(12, n_raters=1)
    lop = cs.lop_staple(np.concatenate([one] * 5))
    np.testing.assert_array_equal(lop.binary(), one[0])
    assert lop.binary().any()


# --------------------------------------------------------------------------------------------
# Majority vote, binarisation, rater performance


def test_majority_vote_matches_simpleitk_label_voting():
    for n_raters in (3, 4, 7):
        votes = random_votes(30 + n_raters, n_raters, (7, 8, 9), 0.4)
        images = [sitk.GetImageFromArray(v.astype(np.uint8)) for v in votes]
        ref = sitk.GetArrayFromImage(sitk.LabelVoting(images, 0))  # ties (even R) -> 0
        res = cs.majority_vote(votes)
        np.testing.assert_array_equal(res.binary(), ref == 1)
        np.testing.assert_allclose(res.posterior, votes.mean(axis=0))


def test_majority_vote_threshold_and_hand_worked_case():
    votes = np.array([[[1, 1, 0, 0]], [[1, 0, 1, 0]], [[1, 1, 1, 0]]], dtype=bool)[:, None]  # (3,1,1,4)
    res = cs.majority_vote(votes)
    np.testing.assert_allclose(res.posterior.reshape(-1), [1, 2 / 3, 2 / 3, 0])
    assert res.binary().reshape(-1).tolist() == [True, True, True, False]
    strict = cs.majority_vote(votes, threshold=2 / 3)
    assert strict.binary().reshape(-1).tolist() == [True, False, False, False]


def test_binarize_is_strict():
    post = np.array([0.49, 0.5, 0.5000001, 1.0])
    assert cs.binarize(post).tolist() == [False, False, True, True]
    assert cs.binarize(post, 0.0).tolist() == [True, True, True, True]


def test_rater_performance_matches_medpy():
    votes = blob_raters(14, n_raters=4)
    reference = blob_raters(15, n_raters=1)[0]
    perf = cs.rater_performance(votes, reference)
    for j in range(4):
        assert perf.dice[j] == pytest.approx(medpy_binary.dc(votes[j], reference), abs=1e-12)
        assert perf.sensitivity[j] == pytest.approx(medpy_binary.sensitivity(votes[j], reference), abs=1e-12)
        assert perf.specificity[j] == pytest.approx(medpy_binary.specificity(votes[j], reference), abs=1e-12)


def test_rater_performance_undefined_cases_are_nan():
    votes = np.zeros((2, 3, 3, 3), dtype=bool)
    votes[1, 0, 0, 0] = True
    perf = cs.rater_performance(votes, np.zeros((3, 3, 3), dtype=bool))
    assert np.isnan(perf.sensitivity).all()
    assert np.isnan(perf.dice[0]) and perf.dice[1] == 0.0
    assert perf.specificity.tolist() == [1.0, 26 / 27]


def test_leave_one_out_scores_each_rater_against_the_others():
    votes = blob_raters(16, n_raters=4)
    fusions = cs.leave_one_out(votes, "majority")
    assert len(fusions) == 4
    for k in range(4):
        others = np.delete(votes, k, axis=0)
        np.testing.assert_array_equal(fusions[k].binary(), others.mean(axis=0) > 0.5)
    perf = cs.leave_one_out_performance(votes, "staple")
    for k in range(4):
        ref = sitk_staple(np.delete(votes, k, axis=0))[0] > 0.5
        assert perf.dice[k] == pytest.approx(medpy_binary.dc(votes[k], ref), abs=1e-12)


def test_leave_one_out_drops_the_left_out_weight():
    votes = blob_raters(17, n_raters=3)
    fusions = cs.leave_one_out(votes, "lop-staple", weights=[1.0, 1.0, 2.0], max_iterations=5)
    np.testing.assert_allclose(fusions[0].weights, [1.0, 2.0])
    np.testing.assert_allclose(fusions[2].weights, [1.0, 1.0])
    maps = np.stack([np.full(votes.shape[1:], float(k + 1)) for k in range(3)])
    fusions = cs.leave_one_out(votes, "lop-staple", weights=maps, max_iterations=5)
    np.testing.assert_allclose(fusions[1].weights, maps[[0, 2]])
    # default (None) weights are recomputed from the remaining raters
    default = cs.leave_one_out(votes, "lop-staple", max_iterations=5)
    np.testing.assert_allclose(default[0].weights, cs.agreement_weights(votes[1:]))


def test_deterministic():
    votes = blob_raters(18, n_raters=7)
    for method in cs.METHODS:
        a, b = cs.fuse(votes, method), cs.fuse(votes.copy(), method)
        np.testing.assert_array_equal(a.posterior, b.posterior)
        np.testing.assert_array_equal(a.sensitivity, b.sensitivity)


# --------------------------------------------------------------------------------------------
# Bad input


def test_non_binary_votes_are_rejected_naming_case_and_rater():
    votes = np.zeros((3, 4, 4, 4), dtype=np.uint8)
    votes[2, 1, 1, 1] = 2
    with pytest.raises(NonBinaryMaskError, match=r"case 01016SACH.*rater\(s\) \[2\]"):
        cs.staple(votes, case="01016SACH")


def test_stack_votes_rejects_grid_mismatch_naming_the_file():
    a, b = np.zeros((4, 4, 4), bool), np.zeros((4, 4, 5), bool)
    with pytest.raises(GridMismatchError, match=r"case c1, file r2\.nii\.gz: r2\.nii\.gz has shape") as err:
        cs.stack_votes([a, b], names=["r1.nii.gz", "r2.nii.gz"], case="c1")
    assert err.value.path == "r2.nii.gz" and err.value.case == "c1"
    with pytest.raises(NonBinaryMaskError, match=r"case c1, file r2\.nii\.gz"):
        cs.stack_votes([a, np.full((4, 4, 4), 0.5)], names=["r1.nii.gz", "r2.nii.gz"], case="c1")
    assert cs.stack_votes([a, a.astype(np.uint8)]).dtype == bool


def test_mask_errors_name_the_case():
    votes = np.zeros((2, 4, 4, 4), bool)
    with pytest.raises(GridMismatchError, match="case c2: mask shape"):
        cs.staple(votes, mask=np.ones((4, 4, 3), bool), case="c2")
    marked = votes.copy()
    marked[0, 1, 1, 1] = True
    with pytest.raises(InputError, match="case c2: mask is empty"):
        cs.majority_vote(marked, mask=np.zeros((4, 4, 4), bool), case="c2")
    # all raters empty: an empty region (e.g. their union) is fine, the consensus is empty
    assert not cs.majority_vote(votes, mask=np.zeros((4, 4, 4), bool)).binary().any()
    with pytest.raises(NonBinaryMaskError, match="case c2: mask has values"):
        cs.staple(votes, mask=np.full((4, 4, 4), 3), case="c2")


def test_bad_parameters_are_config_errors():
    votes = blob_raters(19, n_raters=3)
    with pytest.raises(ConfigError, match="threshold"):
        cs.majority_vote(votes, threshold=1.0)
    with pytest.raises(ConfigError, match="one weight per rater"):
        cs.lop_staple(votes, weights=[1, 2])
    with pytest.raises(ConfigError, match="non-negative"):
        cs.lop_staple(votes, weights=[1, -1, 1])
    with pytest.raises(ConfigError, match="prior"):
        cs.staple(votes, confidence_weight=1e6)
    with pytest.raises(ConfigError, match="unknown consensus method"):
        cs.fuse(votes, "mean")
    with pytest.raises(InputError, match="at least two raters"):
        cs.leave_one_out(votes[:1], "staple")
