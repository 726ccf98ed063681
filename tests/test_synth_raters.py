"""Rater model: hand-built cases, and calibration on the ``demo`` settings (pairwise Dice 0.6-0.75,
disagreement concentrated on small lesions)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from lesionbench.synth import plan_cohort, simulate_case
from lesionbench.synth.anatomy import load_template_anatomy
from lesionbench.synth.generate import RATER_PANEL_SEED, lesion_model_for
from lesionbench.synth.lesions import render_lesions, sample_lesions
from lesionbench.synth.plan import PRESETS
from lesionbench.synth.raters import (
    RaterProfile,
    delineate,
    detection_probability,
    make_rater_panel,
    prepare_rater_inputs,
)


def _dice(a, b):
    return 2.0 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1)


def _ball_case(spacing=(1.0, 1.0, 1.0)):
    shape = (40, 40, 40)
    grid = np.indices(shape).transpose(1, 2, 3, 0) * np.array(spacing)
    big = np.linalg.norm(grid - np.array([12, 12, 20]) * spacing, axis=-1) <= 5.0
    small = np.linalg.norm(grid - np.array([30, 30, 20]) * spacing, axis=-1) <= 1.5
    labels = np.zeros(shape, np.int32)
    labels[big] = 1
    labels[small] = 2
    truth = labels > 0
    flair = np.where(truth, 2.0, 1.0).astype(np.float32)
    brain = np.ones(shape, bool)
    vol = np.array([big.sum(), small.sum()], float) * np.prod(spacing)
    inputs = prepare_rater_inputs(
        truth, labels, flair, brain, spacing, np.array([1, 2]), vol, np.array([1.8, 1.8]), np.array([1, 2])
    )
    return truth, labels, inputs


def _rater(**kw):
    base = dict(
        v50_mm3=1e-3,
        slope=5.0,
        contrast_weight=0.0,
        boundary_bias_vox=0.0,
        boundary_noise_vox=1e-6,
        false_positive_rate=0.0,
        merge_probability=0.0,
    )
    base.update(kw)
    return RaterProfile(**base)


def test_perfect_rater_reproduces_the_truth():
    truth, _, inputs = _ball_case()
    mask, detected = delineate(inputs, _rater(), np.random.default_rng(0))
    assert detected.all()
    assert np.array_equal(mask, truth)


def test_boundary_bias_over_and_under_segments_by_about_one_voxel_shell():
    truth, _, inputs = _ball_case()
    over, _ = delineate(inputs, _rater(boundary_bias_vox=1.0), np.random.default_rng(0))
    under, _ = delineate(inputs, _rater(boundary_bias_vox=-1.0), np.random.default_rng(0))
    structure = ndimage.generate_binary_structure(3, 1)
    # Hand-worked: +1 voxel of signed distance = one face-connected dilation (up to diagonal voxels).
    dilated = ndimage.binary_dilation(truth, structure)
    assert np.all(over[dilated]) and over.sum() < ndimage.binary_dilation(truth, iterations=2).sum()
    assert np.all(truth[under]) and under.sum() < truth.sum()


def test_missed_lesions_are_absent_and_false_positives_avoid_lesions():
    truth, labels, inputs = _ball_case()
    mask, detected = delineate(inputs, _rater(v50_mm3=1e6), np.random.default_rng(1))
    assert not detected.any() and not mask.any()
    rng = np.random.default_rng(2)
    fp_rater = _rater(v50_mm3=1e6, false_positive_rate=50.0)
    mask, _ = delineate(inputs, fp_rater, rng)
    assert mask.sum() > 0 and not np.any(mask & truth)


def test_detection_probability_is_logistic_in_log_volume():
    rater = _rater(v50_mm3=15.0, slope=2.0, contrast_weight=1.0)
    p = detection_probability(np.array([15.0, 150.0, 1.5]), np.array([1.5, 1.5, 1.5]), rater)
    np.testing.assert_allclose(p[0], 0.5)
    np.testing.assert_allclose(p[1], 1.0 / (1.0 + np.exp(-2.0 * np.log(10.0))))
    assert p[2] < 0.05
    faint = detection_probability(np.array([15.0]), np.array([1.1]), rater)
    assert faint[0] < 0.5


def test_rater_panel_member_does_not_depend_on_panel_size():
    a = make_rater_panel(7, np.random.default_rng(RATER_PANEL_SEED))
    b = make_rater_panel(3, np.random.default_rng(RATER_PANEL_SEED))
    assert a[:3] == b


def test_demo_settings_give_pairwise_dice_in_band_and_small_lesions_disagree_most():
    """Lesions drawn and rendered exactly as in a demo case, delineated on the 1.5 mm grid."""
    spec = PRESETS["demo"]
    anat = load_template_anatomy(spec.anatomy_mm)
    model = lesion_model_for(spec)
    panel = make_rater_panel(7, np.random.default_rng(RATER_PANEL_SEED))
    spacing = (spec.anatomy_mm,) * 3
    case_dice, small_agree, large_agree = [], [], []
    for subject in range(5):
        rng = np.random.default_rng(100 + subject)
        lesions, _ = sample_lesions(anat, model, rng)
        maps = render_lesions(lesions, anat, model, rng)
        truth = maps.fraction >= 0.5
        labels = np.where(truth, maps.labels, 0)
        ids = np.unique(labels[labels > 0])
        volume = ndimage.sum_labels(truth, labels, ids) * spec.anatomy_mm**3
        flair = (anat.wm + anat.gm * 1.1 + 1.8 * maps.fraction).astype(np.float32)
        groups = np.array([lesions[i - 1].group for i in ids])
        inputs = prepare_rater_inputs(
            truth, labels, flair, anat.brain, spacing, ids, volume, np.full(ids.size, 1.8), groups
        )
        masks, detections = [], []
        for k, rater in enumerate(panel):
            mask, det = delineate(inputs, rater, np.random.default_rng([subject, k]))
            masks.append(mask)
            detections.append(det)
        case_dice.append(np.mean([_dice(a, b) for a, b in itertools.combinations(masks, 2)]))
        frac = np.mean(detections, axis=0)
        agreement = np.maximum(frac, 1 - frac)  # 1 = unanimous
        small = volume < np.median(volume)
        small_agree += list(agreement[small])
        large_agree += list(agreement[~small])
    assert 0.6 <= np.median(case_dice) <= 0.75, case_dice
    assert np.mean(small_agree) < np.mean(large_agree) - 0.05, (np.mean(small_agree), np.mean(large_agree))


def test_full_demo_case_rater_agreement():
    plan = next(p for p in plan_cohort("demo", 0) if p.center == "01")
    case = simulate_case(plan, "demo", 7)
    assert 0.55 <= case.summary["rater_pairwise_dice_mean"] <= 0.8, case.summary
    assert all(0.4 < d < 0.97 for d in case.summary["rater_dice_vs_truth"]), case.summary
    assert len(case.raters) == 7 and case.raters[0].shape == case.images["flair"].data.shape
    table = case.lesion_table
    if len(table) >= 6:
        small = table["volume_mm3"] < table["volume_mm3"].median()
        unanimous = (table["n_raters_detected"] == 0) | (table["n_raters_detected"] == 7)
        assert unanimous[~small].mean() >= unanimous[small].mean()
