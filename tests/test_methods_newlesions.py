"""The new-lesion methods on small hand-built visit pairs: the fused brain mask, the subtraction
baseline (what it finds, what drift it ignores, the tuning on training cases) and the
two-time-point U-Net (two input channels, learns change rather than hyperintensity)."""

from __future__ import annotations

import numpy as np
import pytest

from lesionbench.errors import InputError
from lesionbench.methods import newlesions, unet
from lesionbench.methods.inputs import CaseArrays
from lesionbench.metrics.newlesions import score_new_lesions

SHAPE = (28, 26, 24)


def visit_pair(seed: int, *, new: int = 2, stable: int = 2, noise: float = 0.1, drift: float = 0.0) -> CaseArrays:
    """Two visits of noisy brain (value 1): ``stable`` 4-voxel cubes bright at both visits,
    ``new`` cubes bright at the second only (the label); the second visit shifted by ``drift``."""
    rng = np.random.default_rng(seed)
    brain = np.zeros(SHAPE, bool)
    brain[2:-2, 2:-2, 2:-2] = True
    base = np.where(brain, 1.0, 0.0)
    t1 = base + rng.normal(0.0, noise, SHAPE)
    t2 = base + rng.normal(0.0, noise, SHAPE) + np.where(brain, drift, 0.0)
    label = np.zeros(SHAPE, bool)
    corners = [(4, 4, 4), (4, 16, 14), (16, 4, 14), (16, 16, 4), (10, 10, 10), (4, 10, 16)]
    order = rng.permutation(len(corners))
    for k, i in enumerate(order[: new + stable]):
        cube = tuple(slice(c, c + 4) for c in corners[i])
        if k < new:
            t2[cube] += 1.5
            label[cube] = True
        else:
            t1[cube] += 1.5
            t2[cube] += 1.5
    return newlesions.two_visit_case(
        f"p{seed}", np.where(brain, t1, 0), np.where(brain, t2, 0), brain, (1, 1, 1), label
    )


def test_fused_brain_mask_is_the_intersection_by_default():
    a = np.zeros((4, 4, 4), bool)
    b = a.copy()
    a[:3] = True
    b[1:] = True
    assert np.array_equal(newlesions.fuse_brain_masks(a, b), a & b)
    assert np.array_equal(newlesions.fuse_brain_masks(a, b, "union"), a | b)
    with pytest.raises(InputError, match=r"case p1.*differ in shape"):
        newlesions.fuse_brain_masks(a, b[:3], case="p1")
    with pytest.raises(ValueError, match="not one of intersection, union"):
        newlesions.fuse_brain_masks(a, b, "mean")


def test_two_visit_case_needs_one_grid():
    with pytest.raises(InputError, match=r"case p2.*not on one grid"):
        newlesions.two_visit_case("p2", np.zeros((4, 4, 4)), np.zeros((4, 4, 5)), np.ones((4, 4, 4)), (1, 1, 1))


def test_subtraction_finds_new_lesions_and_not_stable_ones_despite_drift():
    case = visit_pair(0, new=2, stable=2, drift=0.4)
    params = newlesions.SubtractionParams(threshold=4.0, min_lesion_mm3=9.0, smoothing_mm=0.0)
    mask, probability = newlesions.subtraction_segment(case, params)
    scores = score_new_lesions(case.label, mask, case.spacing)
    # both new cubes found, no stable cube marked (a global shift of the follow-up is no change)
    assert scores.n_detected == 2 and scores.n_false_positive == 0
    assert scores.dice > 0.8
    assert probability.shape == SHAPE and probability.min() >= 0 and probability.max() <= 1
    assert not probability[~case.brain_mask].any()


def test_subtraction_on_a_pair_without_new_lesion_finds_nothing():
    case = visit_pair(1, new=0, stable=3)
    mask, _ = newlesions.subtraction_segment(case, newlesions.SubtractionParams(threshold=4.0))
    assert not mask.any()


def test_subtraction_needs_two_visits():
    case = visit_pair(2)
    one = CaseArrays(case="p2", images=case.images[:1], brain_mask=case.brain_mask, spacing=case.spacing)
    with pytest.raises(InputError, match=r"case p2.*needs two images"):
        newlesions.subtraction_segment(one, newlesions.SubtractionParams())


def test_tuning_picks_the_grid_point_that_scores_best_on_training_cases():
    cases = [visit_pair(s, new=1 + s % 2, stable=2, noise=0.25) for s in range(3)] + [visit_pair(9, new=0, stable=2)]
    params = newlesions.SubtractionParams(thresholds=(0.5, 3.0, 4.5, 50.0), min_sizes_mm3=(0.0, 20.0), smoothing_mm=0.0)
    choice = newlesions.tune_subtraction(cases, params)
    assert len(choice.grid) == 8
    # a threshold of 0.5 z marks noise everywhere, 50 marks nothing: neither can win
    assert choice.threshold in (3.0, 4.5)
    best = max(row["dice_f1"] for row in choice.grid)
    assert choice.score == pytest.approx(best)
    # recomputing the chosen point's mean score by hand through the scorer gives the same
    means = []
    for case in cases:
        mask, _ = newlesions.subtraction_segment(
            case, params, threshold=choice.threshold, min_lesion_mm3=choice.min_lesion_mm3
        )
        s = score_new_lesions(case.label, mask, case.spacing)
        if s.reference_has_new_lesions:
            means.append((s.dice + s.lesion_f1) / 2)
        else:
            means.append(1.0 if s.n_predicted_lesions == 0 else 0.0)
    assert choice.score == pytest.approx(float(np.mean(means)))


def test_tuning_needs_labels():
    case = visit_pair(3)
    unlabeled = CaseArrays(case="p3", images=case.images, brain_mask=case.brain_mask, spacing=case.spacing)
    with pytest.raises(InputError, match=r"case p3.*no new-lesion reference"):
        newlesions.tune_subtraction([unlabeled], newlesions.SubtractionParams())


def test_two_time_point_unet_learns_change_not_brightness():
    """Stable lesions are as bright at the follow-up as new ones: one channel cannot tell them
    apart, two can. The U-Net on two-visit cases has two input channels and, trained briefly,
    marks the new cube and not the stable ones of an unseen pair."""
    small = dict(channels=(8, 16, 32), strides=(2, 2), num_res_units=0, patch_size=(16, 16, 16), batch_size=4)
    params = unet.UNetParams(
        **small, iterations=120, learning_rate=1e-2, flip_tta=False, min_lesion_mm3=9.0, augment=False
    )
    train = [visit_pair(s, new=1, stable=3, noise=0.05) for s in range(10, 14)]
    result = unet.train_unet(train, params, seed=0, device="cpu", threads=1)
    first = next(m for m in result.model.modules() if hasattr(m, "in_channels"))
    assert first.in_channels == 2
    test = visit_pair(20, new=1, stable=3, noise=0.05)
    mask, _ = unet.predict_unet(result.model, test, params)
    scores = score_new_lesions(test.label, mask, test.spacing)
    assert scores.n_detected == 1
    assert scores.n_false_positive == 0


# --- the file edge: fused mask, subtraction training and inference, MSSEG-2 scoring of a case ---


def write_pair(folder, case: CaseArrays, affine=None):
    """The files of a two-visit case in the layout of the track's jobs."""
    from lesionbench.io import save_volume

    affine = np.diag([1.0, 1.0, 1.0, 1.0]) if affine is None else affine
    files = {}
    for name, data, dtype in (
        ("flair_time01", case.images[0], np.float32),
        ("flair_time02", case.images[1], np.float32),
        ("brain_mask", case.brain_mask, np.uint8),
        ("label", case.label, np.uint8),
    ):
        path = folder / f"{case.case}_{name}.nii.gz"
        save_volume(path, np.asarray(data), affine, dtype=dtype)
        files[name] = str(path)
    return {
        "flair": files["flair_time02"],
        "images": [files["flair_time01"], files["flair_time02"]],
        "brain_mask": files["brain_mask"],
        "priors": [],
        "label": files["label"],
    }


def test_fused_brain_mask_file_and_a_grid_mismatch(tmp_path):
    from lesionbench.io import load_mask, save_volume
    from lesionbench.methods.newlesion_jobs import fuse_brain_mask_files

    a = np.zeros((6, 6, 6), np.uint8)
    b = a.copy()
    a[1:5] = 1
    b[2:6] = 1
    save_volume(tmp_path / "a.nii.gz", a, np.eye(4), dtype=np.uint8)
    save_volume(tmp_path / "b.nii.gz", b, np.eye(4), dtype=np.uint8)
    out = fuse_brain_mask_files("p1", tmp_path / "a.nii.gz", tmp_path / "b.nii.gz", tmp_path / "f.nii.gz")
    assert np.array_equal(load_mask(out).data, (a & b).astype(bool))
    shifted = np.eye(4)
    shifted[0, 3] = 5.0
    save_volume(tmp_path / "c.nii.gz", a, shifted, dtype=np.uint8)
    with pytest.raises(InputError, match=r"case p1.*c\.nii\.gz"):
        fuse_brain_mask_files("p1", tmp_path / "c.nii.gz", tmp_path / "b.nii.gz", tmp_path / "g.nii.gz")


def test_subtraction_jobs_train_then_predict_and_score_as_msseg2(tmp_path):
    from lesionbench.io import load_mask
    from lesionbench.methods.files import read_status
    from lesionbench.methods.newlesion_jobs import (
        infer_subtraction_case,
        read_subtraction_model,
        score_new_lesion_case_tables,
        train_subtraction,
    )
    from lesionbench.ranking.table import validate_metrics_table

    train = {c.case: write_pair(tmp_path, c) for c in (visit_pair(30, new=2), visit_pair(31, new=1))}
    params = {"thresholds": [2.0, 4.0, 50.0], "min_sizes_mm3": [3.0, 20.0], "smoothing_mm": 0.0}
    model = train_subtraction("sub", params, train, model_path=tmp_path / "m" / "model.json", record_dir=tmp_path / "m")
    assert read_subtraction_model(tmp_path / "m" / "model.json") == model
    assert model["threshold"] in (2.0, 4.0) and (tmp_path / "m" / "training_curve.tsv").exists()

    tested = {"new": visit_pair(32, new=1, stable=2), "empty": visit_pair(33, new=0, stable=2)}
    folders = {}
    for key, case in tested.items():
        files = write_pair(tmp_path, case)
        folders[key] = tmp_path / "pred" / case.case
        infer_subtraction_case(
            "sub",
            case.case,
            flair=files["flair"],
            images=files["images"],
            brain_mask=files["brain_mask"],
            model_path=tmp_path / "m" / "model.json",
            output=folders[key],
        )
        assert read_status(folders[key])["status"] == "ok"
        assert load_mask(folders[key] / "mask.nii.gz").data.shape == SHAPE
        table, _ = score_new_lesion_case_tables(
            case.case,
            reference=files["label"],
            reference_name="consensus",
            predictions={"sub": ("method", folders[key]), "absent": ("method", tmp_path / "nowhere")},
            raters={"expert1": (files["label"], files["label"])},
            fields={"center": "01", "split": "test", "seen_center": True, "lesion_load_ml": 0.0},
        )
        table = validate_metrics_table(table).set_index(["entry", "metric"])
        if key == "new":
            assert table.loc[("sub", "lesion_f1"), "value"] == 1.0
            assert table.loc[("sub", "n_tested_lesions"), "status"] == "not_applicable"
            assert table.loc[("absent", "lesion_f1"), "status"] == "missing"
        else:
            # no new lesion: F1 and Dice do not apply; the count of reported lesions does
            assert table.loc[("sub", "lesion_f1"), "status"] == "not_applicable"
            assert table.loc[("sub", "n_tested_lesions"), "value"] == 0.0
            assert table.loc[("absent", "n_tested_lesions"), "status"] == "missing"
        assert table.loc[("expert1", "dice"), "status"] == ("ok" if key == "new" else "not_applicable")


def test_a_file_that_is_not_a_subtraction_model_is_refused(tmp_path):
    from lesionbench.methods.newlesion_jobs import read_subtraction_model

    (tmp_path / "model.json").write_text('{"threshold": 3}')
    with pytest.raises(InputError, match=r"model\.json.*not a subtraction model"):
        read_subtraction_model(tmp_path / "model.json")


# --- the registry: which kinds each task runs ---


def test_registry_subtraction_kind_and_task_kinds():
    from lesionbench.errors import ConfigError
    from lesionbench.methods.registry import check_task_kinds, parse_methods

    specs = parse_methods(
        [
            {"name": "sub", "kind": "subtraction", "inputs": ["zscore/flair"]},
            {"name": "net", "kind": "unet3d", "inputs": ["zscore/flair"]},
        ]
    )
    assert specs[0].trains and specs[0].has_probability
    check_task_kinds(specs, "new_lesions")
    with pytest.raises(ConfigError, match=r"'sub'.*subtraction method does not run in task: cross_sectional"):
        check_task_kinds(specs, "cross_sectional")
    forest = parse_methods([{"name": "rf", "kind": "random_forest", "inputs": ["nyul/flair"]}])
    with pytest.raises(ConfigError, match=r"'rf'.*does not run in task: new_lesions \(kinds: subtraction, unet3d"):
        check_task_kinds(forest, "new_lesions")
    with pytest.raises(ConfigError, match=r"'sub'.*subtraction reads one FLAIR input"):
        parse_methods([{"name": "sub", "kind": "subtraction", "inputs": ["zscore/flair", "zscore/t1"]}])


def test_unet_channel_names_of_two_visit_inputs():
    from lesionbench.methods.unet_jobs import channel_names

    assert channel_names(["zscore/flair"], 1) == ["zscore/flair"]
    assert channel_names(["zscore/flair"], 2) == ["zscore/flair@time01", "zscore/flair@time02"]
    with pytest.raises(ValueError, match="3 image channels do not fit"):
        channel_names(["zscore/flair"], 3)
