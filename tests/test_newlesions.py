"""MSSEG-2 new-lesion scoring: a hand-built pair of visits (one new, one stable, one grown lesion)
scored by hand, the empty-reference metrics, and detection counts checked against an independent
dense computation with scipy.ndimage.label."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from lesionbench.metrics.newlesions import (
    NEW_LESION_DETECTION_METRICS,
    NEW_LESION_EMPTY_METRICS,
    NEW_LESION_METRICS,
    has_new_lesions,
    new_lesion_rows,
    score_new_lesions,
)

SHAPE = (20, 20, 20)
ISO = (1.0, 1.0, 1.0)


def box(*slices: slice) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[slices] = True
    return mask


# The pair of visits, 1 mm voxels. Visit 1: a stable lesion S and a lesion G. Visit 2: S unchanged,
# G grown from 3x3x3 to 5x3x3 voxels (growth region: 18 voxels), and a new 3x3x3 lesion N.
STABLE = box(slice(2, 5), slice(2, 5), slice(2, 5))
GROWN_T1 = box(slice(10, 13), slice(2, 5), slice(2, 5))
GROWN_T2 = box(slice(10, 15), slice(2, 5), slice(2, 5))
GROWTH = GROWN_T2 & ~GROWN_T1
NEW = box(slice(2, 5), slice(12, 15), slice(12, 15))
# The MSSEG-2 reference outlines new lesions only.
REFERENCE = NEW


def test_the_hand_built_pair_is_what_it_says():
    assert STABLE.sum() == 27 and GROWN_T1.sum() == 27 and GROWN_T2.sum() == 45 and GROWTH.sum() == 18
    assert NEW.sum() == 27 and not (NEW & (STABLE | GROWN_T2)).any()
    visit2 = STABLE | GROWN_T2 | NEW
    assert ndimage.label(visit2)[1] == 3


def test_exact_prediction_scores_perfectly():
    s = score_new_lesions(REFERENCE, NEW, ISO)
    assert (s.n_detected, s.n_true_positive, s.n_false_positive, s.n_missed) == (1, 1, 0, 0)
    assert s.lesion_f1 == 1.0 and s.dice == 1.0


def test_marking_the_stable_lesion_too_is_one_false_positive():
    s = score_new_lesions(REFERENCE, NEW | STABLE, ISO)
    assert (s.n_reference_lesions, s.n_predicted_lesions) == (1, 2)
    assert (s.n_detected, s.n_false_positive, s.n_missed) == (1, 1, 0)
    # SensL 1, PPVL 1/2, F1 = 2 * 1 * 0.5 / 1.5 = 2/3; Dice = 2 * 27 / (27 + 54) = 2/3
    assert s.lesion_sensitivity == 1.0 and s.lesion_precision == 0.5
    assert s.lesion_f1 == pytest.approx(2 / 3) and s.dice == pytest.approx(2 / 3)


def test_missing_the_new_lesion_is_one_false_negative():
    s = score_new_lesions(REFERENCE, np.zeros(SHAPE, bool), ISO)
    assert (s.n_detected, s.n_false_positive, s.n_missed) == (0, 0, 1)
    assert s.lesion_sensitivity == 0.0 and s.lesion_precision == 0.0 and s.lesion_f1 == 0.0 and s.dice == 0.0
    # marking only the lesions of visit 2 that are not new: one miss and two false positives
    s = score_new_lesions(REFERENCE, STABLE | GROWN_T2, ISO)
    assert (s.n_detected, s.n_false_positive, s.n_missed) == (0, 2, 1)
    assert s.lesion_f1 == 0.0


@pytest.mark.parametrize(
    ("grown_part", "volume"),
    [(GROWTH, 18), (GROWN_T2, 45)],
    ids=["growth region", "whole grown lesion"],
)
def test_a_grown_lesion_is_not_new_and_marking_it_is_a_false_positive(grown_part, volume):
    s = score_new_lesions(REFERENCE, NEW | grown_part, ISO)
    assert (s.n_detected, s.n_true_positive, s.n_false_positive, s.n_missed) == (1, 1, 1, 0)
    assert s.lesion_f1 == pytest.approx(2 / 3)
    assert s.dice == pytest.approx(2 * 27 / (27 + 27 + volume))


def test_a_part_of_the_new_lesion_detects_it_and_is_a_true_positive_only_when_large_enough():
    # 4 voxels of the 27: 4/27 = 0.148 > alpha = 0.10 and the predicted lesion lies wholly inside the
    # new lesion, so the new lesion is detected; but the predicted lesion is not a true positive:
    # the reference lesion it covers is 23/27 = 0.85 > beta = 0.70 uncovered. SensL 1, PPVL 0, F1 0.
    part = box(slice(2, 3), slice(12, 14), slice(12, 14))
    s = score_new_lesions(REFERENCE, part, ISO)
    assert (s.n_detected, s.n_true_positive, s.n_false_positive) == (1, 0, 1)
    assert s.lesion_sensitivity == 1.0 and s.lesion_precision == 0.0 and s.lesion_f1 == 0.0
    assert s.dice == pytest.approx(8 / 31)
    # 9 voxels (one slab): 18/27 = 0.67 <= beta uncovered, so both sides count: F1 1
    slab = box(slice(2, 5), slice(12, 15), slice(12, 13))
    s = score_new_lesions(REFERENCE, slab, ISO)
    assert (s.n_detected, s.n_true_positive) == (1, 1) and s.lesion_f1 == 1.0
    # 3 voxels are below the 3 mm3 minimum (4 voxels at 1 mm): removed, so nothing is found
    s = score_new_lesions(REFERENCE, box(slice(2, 3), slice(12, 13), slice(12, 15)), ISO)
    assert (s.n_predicted_lesions, s.n_missed) == (0, 1)


def test_empty_reference_scores_count_and_volume_and_leave_f1_and_dice_undefined():
    empty = np.zeros(SHAPE, bool)
    speck = box(slice(18, 19), slice(18, 19), slice(17, 20))  # 3 voxels: below the minimum, dropped
    s = score_new_lesions(empty, STABLE | GROWTH | speck, ISO)
    assert not s.reference_has_new_lesions
    assert s.n_tested_lesions == 2 and s.tested_lesion_volume_mm3 == 27 + 18
    assert all(math.isnan(getattr(s, m)) for m in NEW_LESION_DETECTION_METRICS)
    assert s.statuses() == {
        m: ("ok" if m in NEW_LESION_EMPTY_METRICS else "not_applicable") for m in NEW_LESION_METRICS
    }
    perfect = score_new_lesions(empty, empty, ISO)
    assert perfect.n_tested_lesions == 0 and perfect.tested_lesion_volume_mm3 == 0
    assert math.isnan(perfect.lesion_f1) and math.isnan(perfect.dice)
    # a reference holding only a speck is an empty reference
    assert not has_new_lesions(speck, ISO) and not score_new_lesions(speck, speck, ISO).reference_has_new_lesions
    # 1 x 1 x 2 mm voxels: minimum n = floor(3 / 2) + 1 = 2 voxels; volumes in mm3
    coarse = score_new_lesions(empty, STABLE | speck, (1.0, 1.0, 2.0))
    assert coarse.n_tested_lesions == 2 and coarse.tested_lesion_volume_mm3 == (27 + 3) * 2.0


def test_cases_with_new_lesions_leave_the_empty_reference_metrics_out():
    s = score_new_lesions(REFERENCE, NEW | STABLE, ISO)
    assert math.isnan(s.n_tested_lesions) and math.isnan(s.tested_lesion_volume_mm3)
    assert s.statuses()["lesion_f1"] == "ok" and s.statuses()["n_tested_lesions"] == "not_applicable"


def test_rows_for_the_long_table():
    rows = new_lesion_rows(score_new_lesions(REFERENCE, NEW | STABLE, ISO), fields={"case_id": "p1", "entry": "m"})
    by_metric = {r["metric"]: r for r in rows}
    assert list(by_metric) == list(NEW_LESION_METRICS)
    assert by_metric["lesion_f1"]["status"] == "ok" and by_metric["lesion_f1"]["case_id"] == "p1"
    failed = new_lesion_rows(None, reference_has_new_lesions=False, status="failed")
    assert {r["metric"]: r["status"] for r in failed} == {
        m: ("failed" if m in NEW_LESION_EMPTY_METRICS else "not_applicable") for m in NEW_LESION_METRICS
    }
    with pytest.raises(ValueError, match="reference_has_new_lesions"):
        new_lesion_rows(None)


# ---- independent cross-check: dense overlap matrix from scipy.ndimage.label, Anima's walk ----


def dense_detection_counts(ref, pred, voxel_mm3, alpha=0.10, beta=0.70, gamma=0.65, min_mm3=3.0):
    """(kept ref lesions, kept predicted lesions, detected ref lesions, true-positive predicted lesions)."""
    n_min = math.floor(min_mm3 / voxel_mm3) + 1

    def kept_labels(mask):
        labels, n = ndimage.label(mask)  # default structure: face (6-) connectivity in 3-D
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        keep = [k for k in range(1, n + 1) if sizes[k] >= n_min]
        out = np.zeros_like(labels)
        for new, old in enumerate(keep, start=1):
            out[labels == old] = new
        return out, len(keep)

    lr, nr = kept_labels(ref)
    lp, npred = kept_labels(pred)
    table = np.zeros((nr + 1, npred + 1), dtype=np.int64)
    np.add.at(table, (lr.ravel(), lp.ravel()), 1)

    def detected(t):
        count = 0
        for i in range(1, t.shape[0]):
            size = t[i].sum()
            tp = t[i, 1:].sum()
            if not tp / size > alpha:
                continue
            order = sorted(range(1, t.shape[1]), key=lambda j: (-t[i, j], j))
            share, ok = 0.0, True
            for j in order:
                if t[i, j] == 0 or not share < gamma:
                    break
                if t[0, j] / t[:, j].sum() > beta:
                    ok = False
                    break
                share += t[i, j] / tp
            count += ok
        return count

    return nr, npred, detected(table), detected(table.T)


def random_blobs(rng, n):
    mask = np.zeros(SHAPE, dtype=bool)
    for _ in range(n):
        c = rng.integers(0, 18, size=3)
        e = rng.integers(1, 5, size=3)
        mask[c[0] : c[0] + e[0], c[1] : c[1] + e[1], c[2] : c[2] + e[2]] = True
    return mask


@pytest.mark.parametrize("seed", range(18))
def test_detection_counts_agree_with_an_independent_computation(seed):
    rng = np.random.default_rng(seed)
    ref = random_blobs(rng, 6)
    pred = [
        ref ^ random_blobs(rng, 3),
        (ref & ~random_blobs(rng, 8)) | random_blobs(rng, 3),
        (ndimage.binary_dilation(ref) & ~random_blobs(rng, 6)) | random_blobs(rng, 2),
    ][seed % 3]
    spacing = (1.0, 1.0, 1.0) if seed % 2 else (1.0, 0.8, 1.5)
    s = score_new_lesions(ref, pred, spacing)
    nr, npred, det, tp = dense_detection_counts(ref, pred, float(np.prod(spacing)))
    if nr == 0:
        assert not s.reference_has_new_lesions and s.n_tested_lesions == npred
        return
    assert (s.n_reference_lesions, s.n_predicted_lesions, s.n_detected, s.n_true_positive) == (nr, npred, det, tp)
    if npred:
        sens, ppv = det / nr, tp / npred
        f1 = 0.0 if sens + ppv == 0 else 2 * sens * ppv / (sens + ppv)
        assert s.lesion_f1 == pytest.approx(f1)
    assert s.dice == pytest.approx(2 * (ref & pred).sum() / (ref.sum() + pred.sum()))
