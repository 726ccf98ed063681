"""MS-SEG 2016 lesion detection (Anima rule) and the one-to-one matched variant, on hand-built cases.

Expected values are worked out by hand from the rule in :mod:`lesionbench.metrics.lesions` (Commowick et al., Sci. Rep. 8:13650, 2018).
"""

from __future__ import annotations

import numpy as np
import pytest

from lesionbench.metrics import compute_metrics
from lesionbench.metrics.lesions import min_lesion_voxels


def _plane(shape=(1, 30, 30)):
    return np.zeros(shape, dtype=bool)


def test_protocol_worked_example():
    """Hand-worked example: SensL 0.5, PPVL 0.6667, F1 0.5714, Dice 24/53."""
    ref, pred = _plane(), _plane()
    ref[0, 2:5, 2:5] = True  # A, 9 voxels
    ref[0, 10:12, 10:12] = True  # B, 4 voxels
    ref[0, 20, 20:22] = True  # C, 2 voxels: removed (< 4 voxels at 1 mm)
    pred[0, 3:5, 2:5] = True  # a, 6 voxels inside A
    pred[0, 8:13, 8:13] = True  # b, 25 voxels covering B, 84 % outside
    pred[0, 20, 20:24] = True  # d, 4 voxels over removed C = background
    pred[0, 25, 25:28] = True  # e, 3 voxels: removed
    res = compute_metrics(ref, pred, (1.0, 1.0, 1.0))
    assert res.n_reference_lesions == 2
    assert res.n_prediction_lesions == 3
    assert res.lesion_sensitivity == pytest.approx(0.5)
    assert res.lesion_precision == pytest.approx(2 / 3)
    assert res.lesion_f1 == pytest.approx(0.5714, abs=5e-5)
    assert res.dice == pytest.approx(24 / 53)
    # one-to-one: A-a (Dice 12/15) and B-b (Dice 8/29) pass DSC > 0.1; d is an extra lesion
    assert (res.lesion_matched_tp, res.lesion_matched_fp, res.lesion_matched_fn) == (2, 1, 0)
    assert res.lesion_matched_dice_mean == pytest.approx((12 / 15 + 8 / 29) / 2)
    statuses = [(r.status, r.reference_lesion, r.prediction_lesion, r.reference_detected) for r in res.lesions]
    assert statuses == [("TP", 1, 1, True), ("TP", 2, 2, False), ("FP", None, 3, None)]


def _alpha_case(n_inside: int):
    """Reference bar of 20 voxels; one predicted lesion (2·n voxels) with n voxels on the bar's end."""
    ref, pred = _plane((1, 10, 30)), _plane((1, 10, 30))
    ref[0, 2, 0:20] = True
    pred[0, 2:4, 20 - n_inside : 20] = True
    return ref, pred


def test_alpha_strict_threshold():
    # 2/20 = 0.10 is not > alpha = 0.10: missed
    res = compute_metrics(*_alpha_case(2), (1, 1, 1))
    assert res.lesion_sensitivity == 0.0
    # 3/20 = 0.15 > 0.10: detected; the predicted lesion is 50 % outside (<= beta) so it passes beta
    res = compute_metrics(*_alpha_case(3), (1, 1, 1))
    assert res.lesion_sensitivity == 1.0
    # ... but seen from the prediction side the reference lesion is 85 % uncovered (> beta): not a TP
    assert res.lesion_precision == 0.0
    assert res.lesion_f1 == 0.0
    # alpha is a parameter
    res = compute_metrics(*_alpha_case(3), (1, 1, 1), alpha=0.2)
    assert res.lesion_sensitivity == 0.0


def _beta_case(pred_size: int):
    """A 3x3 reference lesion fully inside a predicted lesion of ``pred_size`` voxels."""
    ref, pred = _plane(), _plane()
    ref[0, 5:8, 5:8] = True
    pred[0, 5:8, 5:8] = True
    extra = pred_size - 9
    rows, rest = divmod(extra, 10)
    pred[0, 8 : 8 + rows, 5:15] = True
    pred[0, 8 + rows, 5 : 5 + rest] = True
    assert pred.sum() == pred_size
    return ref, pred


def test_beta_outside_fraction():
    # 21/30 = 0.70 outside: not > beta, detected
    assert compute_metrics(*_beta_case(30), (1, 1, 1)).lesion_sensitivity == 1.0
    # 22/31 = 0.71 outside: > beta, missed
    assert compute_metrics(*_beta_case(31), (1, 1, 1)).lesion_sensitivity == 0.0
    assert compute_metrics(*_beta_case(31), (1, 1, 1), beta=0.75).lesion_sensitivity == 1.0


def _gamma_case(good_len: int):
    """Reference bar cols 0..19 covered by a clean lesion (cols 0..good_len-1) and, after a one-voxel gap,
    by a lesion that lies mostly in background (78 % outside > beta)."""
    ref, pred = _plane((1, 12, 40)), _plane((1, 12, 40))
    ref[0, 5, 0:20] = True
    pred[0, 5, 0:good_len] = True  # clean lesion
    pred[0, 5, good_len + 1 : 20] = True  # bad lesion: its part on the bar ...
    pred[0, 6:11, 15:20] = True  # ... and 25 voxels of background
    return ref, pred


def test_gamma_walk_stops_once_share_reached():
    # clean lesion covers 13 of the 19 covered voxels (0.684 >= gamma): walk stops before the bad one
    ref, pred = _gamma_case(13)
    assert compute_metrics(ref, pred, (1, 1, 1)).lesion_sensitivity == 1.0
    # clean lesion covers 12 of 19 (0.632 < gamma): the bad lesion is visited and fails beta
    ref, pred = _gamma_case(12)
    res = compute_metrics(ref, pred, (1, 1, 1))
    assert res.lesion_sensitivity == 0.0
    assert compute_metrics(ref, pred, (1, 1, 1), gamma=0.6).lesion_sensitivity == 1.0
    # prediction side: both lesions overlap the bar > alpha; the bar is fully covered except one voxel
    assert res.lesion_precision == 1.0


@pytest.mark.parametrize(
    ("spacing", "volume", "n_min"),
    [((1, 1, 1), 3.0, 4), ((1, 1, 3), 3.0, 2), ((0.5, 0.5, 0.5), 3.0, 25), ((1, 1, 1), 0.0, 1), ((1, 1, 1), 2.5, 3)],
)
def test_minimum_lesion_size(spacing, volume, n_min):
    assert min_lesion_voxels(volume, float(np.prod(spacing))) == n_min
    ref = np.zeros((4, 40, 40), dtype=bool)
    ref[1, 2, 2 : 2 + n_min] = True  # kept: n_min voxels
    ref[1, 10, 2 : 2 + n_min - 1] = True  # removed: one voxel short (or empty)
    res = compute_metrics(ref, ref, spacing, min_lesion_volume_mm3=volume)
    assert res.n_reference_lesions == 1
    assert res.n_prediction_lesions == 1


def test_removed_lesions_become_background_on_both_sides():
    """A predicted lesion lying on a too-small reference lesion is a false positive (Anima)."""
    ref, pred = _plane(), _plane()
    ref[0, 2:5, 2:5] = True
    ref[0, 20, 20:22] = True  # 2 voxels, removed
    pred[0, 2:5, 2:5] = True
    pred[0, 19:22, 20:22] = True  # 6 voxels covering the removed lesion
    res = compute_metrics(ref, pred, (1, 1, 1))
    assert (res.n_reference_lesions, res.n_prediction_lesions) == (1, 2)
    assert res.lesion_precision == pytest.approx(0.5)
    assert (res.lesion_matched_tp, res.lesion_matched_fp, res.lesion_matched_fn) == (1, 1, 0)


def test_six_connectivity():
    """Diagonal neighbours are separate lesions (ITK FullyConnected = false)."""
    ref = np.zeros((3, 10, 10), dtype=bool)
    ref[1, 1:3, 1:3] = True
    ref[1, 3:5, 3:5] = True  # touches the first only at a corner
    res = compute_metrics(ref, ref, (1, 1, 1))
    assert res.n_reference_lesions == 2


def test_matched_variant_is_one_to_one_and_greedy():
    """One reference lesion split in two predictions: the better one matches, the other is FP."""
    ref, pred = _plane(), _plane()
    ref[0, 5, 0:20] = True
    pred[0, 5, 0:14] = True  # Dice 28/34
    pred[0, 5, 15:20] = True  # Dice 10/25
    res = compute_metrics(ref, pred, (1, 1, 1))
    assert (res.lesion_matched_tp, res.lesion_matched_fp, res.lesion_matched_fn) == (1, 1, 0)
    assert res.lesion_matched_dice_mean == pytest.approx(28 / 34)
    assert res.lesion_matched_f1 == pytest.approx(2 / 3)
    # both predictions detect the reference lesion in the MS-SEG sense (not one-to-one)
    assert res.lesion_precision == 1.0 and res.lesion_sensitivity == 1.0
    # threshold: a pair needs lesion Dice > threshold
    res = compute_metrics(ref, pred, (1, 1, 1), match_threshold=0.9)
    assert (res.lesion_matched_tp, res.lesion_matched_fp, res.lesion_matched_fn) == (0, 2, 1)
    assert res.lesion_matched_dice_mean is None


def _bridge_case(rows: int):
    """Reference lesions R1 (cols 0..9), R2 (cols 12..21), R3 (cols 30..35) on row 5, 10/10/6 voxels;
    one predicted lesion over cols 0..21 of rows 5..5+rows-1, spanning R1, the gap and R2."""
    ref, pred = _plane((1, 12, 40)), _plane((1, 12, 40))
    ref[0, 5, 0:10] = True
    ref[0, 5, 12:22] = True
    ref[0, 5, 30:36] = True
    pred[0, 5 : 5 + rows, 0:22] = True
    return ref, pred


def test_one_predicted_lesion_spanning_two_reference_lesions():
    """MS-SEG 2016 rule, hand-worked (alpha 0.10, beta 0.70, gamma 0.65).

    Thin prediction S (22 voxels, 2 in the gap = background): R1 and R2 are each fully covered
    (10/10 > alpha) by S, whose outside share 2/22 = 0.09 <= beta: both detected; R3 missed:
    SensL = 2/3. S is 20/22 covered (> alpha); walking R1 then R2 (tie broken by number), both lie
    0 % outside the prediction: S is a TP, PPVL = 1/1. F1 = 2 (2/3)(1) / (2/3 + 1) = 0.8.
    One predicted lesion detects two reference lesions: not a one-to-one matching, which keeps
    only S-R1 (Dice 20/32, ties to the lower number): TP 1, FP 0, FN 2, matched F1 = 2/4.
    """
    ref, pred = _bridge_case(1)
    res = compute_metrics(ref, pred, (1, 1, 1))
    assert (res.n_reference_lesions, res.n_prediction_lesions) == (3, 1)
    assert res.lesion_sensitivity == pytest.approx(2 / 3)
    assert res.lesion_precision == 1.0
    assert res.lesion_f1 == pytest.approx(0.8)
    assert res.dice == pytest.approx(2 * 20 / (26 + 22))
    assert (res.lesion_matched_tp, res.lesion_matched_fp, res.lesion_matched_fn) == (1, 0, 2)
    assert res.lesion_matched_f1 == pytest.approx(0.5)
    assert res.lesion_matched_dice_mean == pytest.approx(20 / 32)
    # Thick prediction (5 rows, 110 voxels, 90 outside every reference lesion: 0.82 > beta): from
    # the reference side S fails beta, so R1 and R2 are missed (SensL 0); from the prediction
    # side S is 20/110 = 0.18 > alpha covered and R1, R2 are 0 % outside: still a TP (PPVL 1);
    # F1 = 0 because SensL = 0.
    ref, pred = _bridge_case(5)
    res = compute_metrics(ref, pred, (1, 1, 1))
    assert (res.lesion_sensitivity, res.lesion_precision, res.lesion_f1) == (0.0, 1.0, 0.0)


def test_lesion_volumes_in_records_use_spacing():
    ref = np.zeros((5, 10, 10), dtype=bool)
    ref[2, 2:4, 2:4] = True
    res = compute_metrics(ref, ref, (0.5, 1.0, 3.0))
    (rec,) = res.lesions
    assert rec.status == "TP"
    assert rec.reference_volume_mm3 == pytest.approx(6.0)
    assert rec.overlap_mm3 == pytest.approx(6.0)
    assert rec.dice == pytest.approx(1.0)
