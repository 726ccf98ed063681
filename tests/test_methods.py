"""Methods stage, library units: registry, lesion-size post-processing, balanced sampling,
the FLAIR baseline's threshold tuning, random-forest features, ensembles, participants' methods
(command template, failure capture, submission checks) and the prediction folder. The U-Net has
its own file (tests/test_methods_unet.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from scipy import ndimage

from conftest import synthetic_case, write_nifti
from lesionbench.errors import ConfigError, GridMismatchError, InputError, NonBinaryMaskError
from lesionbench.io import Volume, load_volume
from lesionbench.methods import classical, forest
from lesionbench.methods.ensemble import fuse_members
from lesionbench.methods.files import CaseOutcome, MethodFailedError, read_status, run_case, write_prediction
from lesionbench.methods.inputs import CaseArrays
from lesionbench.methods.participants import (
    CommandError,
    SubmissionMissingError,
    expand_command,
    load_submission,
    run_command,
    submission_path,
    wrap_environment,
)
from lesionbench.methods.postprocess import remove_small_lesions
from lesionbench.methods.registry import parse_method, parse_methods, wants_gpu
from lesionbench.methods.sampling import balanced_voxel_sample
from lesionbench.metrics.overlap import dice

AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# registry


def test_registry_parses_the_default_config():
    from pathlib import Path

    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").read_text())
    specs = parse_methods(config["methods"])
    kinds = {s.name: s.kind for s in specs}
    assert kinds == {
        "flair_hyperintensity": "flair_hyperintensity",
        "random_forest": "random_forest",
        "unet3d": "unet3d",
        "ensemble": "ensemble",
    }
    rf = next(s for s in specs if s.kind == "random_forest")
    assert rf.trains and [i.key for i in rf.inputs] == ["nyul/flair", "nyul/t1", "nyul/t2", "nyul/pd"]
    assert rf.inputs[0].path("c01") == "results/harmonized/nyul/c01/flair.nii.gz"
    # training may use several threads; per-case inference defaults to one (cases run side by side)
    assert all(s.inference_threads == 1 for s in specs)


@pytest.mark.parametrize(
    "entry, words",
    [
        ({"name": "bad name", "kind": "unet3d"}, "invalid name"),
        ({"name": "x", "kind": "svm"}, "unknown kind 'svm'"),
        ({"name": "x", "kind": "unet3d", "inputs": ["nyul/flair"], "trains": False}, "must train"),
        ({"name": "x", "kind": "unet3d", "inputs": ["flair"]}, "input 'flair' is not scheme/modality"),
        ({"name": "x", "kind": "flair_hyperintensity", "inputs": ["nyul/t1"]}, "needs a FLAIR input"),
        (
            {"name": "x", "kind": "command", "inputs": ["nyul/flair"], "command": "tool {flair}"},
            "must contain {output}",
        ),
        ({"name": "x", "kind": "submission"}, "needs folder"),
        ({"name": "x", "kind": "ensemble", "members": ["a"]}, "at least two members"),
        ({"name": "x", "kind": "unet3d", "inputs": ["zscore/flair"], "device": "tpu"}, "device 'tpu'"),
        ({"name": "x", "kind": "unet3d", "inputs": ["zscore/flair"], "inference_threads": 0}, "at least 1"),
    ],
)
def test_registry_rejects_bad_entries_naming_the_method(entry, words):
    with pytest.raises(ConfigError) as err:
        parse_method(entry)
    assert words in str(err.value)


def test_registry_checks_names_and_members():
    a = {"name": "a", "kind": "flair_hyperintensity", "inputs": ["nyul/flair"]}
    with pytest.raises(ConfigError, match="duplicate names a"):
        parse_methods([a, a])
    with pytest.raises(ConfigError, match="member 'zz' is not a configured method"):
        parse_methods([a, {"name": "e", "kind": "ensemble", "members": ["a", "zz"]}])


def test_gpu_request_comes_from_the_config_not_the_host(monkeypatch):
    unet = {"name": "u", "kind": "unet3d", "inputs": ["zscore/flair"]}
    # a host that looks like a GPU machine changes nothing: only the entry decides
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert not wants_gpu(parse_method(unet))
    assert wants_gpu(parse_method({**unet, "gpu": True}))
    assert wants_gpu(parse_method({**unet, "device": "cuda"}))
    assert parse_method({**unet, "gpu": True}).as_dict()["gpu"] is True
    command = {"name": "c", "kind": "command", "inputs": ["zscore/flair"], "command": "tool {output}"}
    assert wants_gpu(parse_method({**command, "gpu": True})) and not wants_gpu(parse_method(command))
    with pytest.raises(ConfigError, match="gpu: true contradicts device: cpu"):
        parse_method({**unet, "gpu": True, "device": "cpu"})
    with pytest.raises(ConfigError, match="gpu: true is for unet3d and command methods"):
        parse_method({"name": "r", "kind": "random_forest", "inputs": ["zscore/flair"], "gpu": True})
    with pytest.raises(ConfigError, match="gpu must be true or false"):
        parse_method({**unet, "gpu": "yes"})


# ---------------------------------------------------------------------------------------------
# shared pieces


def test_remove_small_lesions_matches_scipy_component_sizes():
    rng = np.random.default_rng(3)
    mask = rng.random((20, 18, 16)) > 0.85
    spacing = (1.0, 1.5, 2.0)  # voxel = 3 mm3
    kept = remove_small_lesions(mask, spacing, min_lesion_mm3=9.0)
    labels, n = ndimage.label(mask)  # 6-connectivity, the reference
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    expected = np.isin(labels, 1 + np.flatnonzero(sizes * 3.0 >= 9.0))
    assert np.array_equal(kept, expected)
    assert kept.sum() < mask.sum()


def test_balanced_sampling_is_balanced_inside_the_mask_and_seeded():
    label = np.zeros((10, 10, 10), bool)
    label[2:4, 2:4, 2:4] = True  # 8 lesion voxels
    mask = np.zeros_like(label)
    mask[:, :, :8] = True
    picked = balanced_voxel_sample(label, mask, 100, np.random.default_rng(0), background_ratio=2.0)
    assert np.count_nonzero(label.ravel()[picked]) == 8
    assert np.count_nonzero(~label.ravel()[picked]) == 16
    assert mask.ravel()[picked].all() and np.unique(picked).size == picked.size
    again = balanced_voxel_sample(label, mask, 100, np.random.default_rng(0), background_ratio=2.0)
    assert np.array_equal(picked, again)


def test_dice_hand_worked():
    a = np.zeros(10, bool)
    b = np.zeros(10, bool)
    a[:4] = True
    b[2:8] = True
    assert dice(a, b) == pytest.approx(2 * 2 / (4 + 6))


# ---------------------------------------------------------------------------------------------
# flair_hyperintensity


def test_flair_score_is_a_robust_z_score():
    case = synthetic_case(0)
    params = classical.HyperintensityParams()
    score = classical.flair_score(case.images[0], case.priors[0], case.brain_mask, params)
    values = case.images[0][case.brain_mask]
    median = np.median(values)
    mad = np.median(np.abs(values - median)) * 1.4826
    assert np.allclose(score[case.brain_mask], (values - median) / mad, rtol=1e-5)


def test_threshold_tuning_finds_the_separating_threshold():
    cases = [synthetic_case(s, contrast=4.0) for s in range(3)]
    params = classical.HyperintensityParams(
        min_lesion_mm3=0.0, wm_dilation_mm=0.0, thresholds=(0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0)
    )
    tuned = classical.tune_threshold(cases, 0, params)
    # lesions sit ~4 noise SDs up: low thresholds take noise, 6+ loses lesions
    assert tuned.threshold in (2.0, 3.0)
    by_threshold = {row["threshold"]: row["mean_dice"] for row in tuned.curve}
    assert by_threshold[tuned.threshold] == max(by_threshold.values()) > 0.8
    assert by_threshold[0.5] < 0.5 and by_threshold[10.0] < 0.1
    mask, probability = classical.segment(cases[0], 0, tuned.threshold, params)
    assert dice(mask, cases[0].label) > 0.8
    assert probability.dtype == np.float32 and probability.min() >= 0 and probability.max() <= 1


def test_threshold_tuning_curve_equals_the_uncropped_search():
    # the search runs on a box around the WM region and the label: same numbers as on full volumes
    cases = [synthetic_case(s, contrast=2.0) for s in range(2)]
    params = classical.HyperintensityParams(min_lesion_mm3=4.0, thresholds=(1.0, 1.5, 2.5, 4.0))
    tuned = classical.tune_threshold(cases, 0, params)
    for row in tuned.curve:
        full = []
        for case in cases:
            score = classical.flair_score(case.images[0], case.priors[0], case.brain_mask, params)
            region = classical.white_matter_region(case.priors[0], case.brain_mask, case.spacing, params)
            mask = remove_small_lesions((score > row["threshold"]) & region, case.spacing, params.min_lesion_mm3)
            full.append(dice(mask, case.label))
        assert row["mean_dice"] == pytest.approx(float(np.mean(full)), abs=1e-12)


def test_threshold_tuning_without_labels_names_the_case():
    case = synthetic_case(1)
    unlabeled = CaseArrays(
        case="c9", images=case.images, brain_mask=case.brain_mask, spacing=case.spacing, priors=case.priors
    )
    with pytest.raises(InputError, match="case c9"):
        classical.tune_threshold([unlabeled], 0, classical.HyperintensityParams())


# ---------------------------------------------------------------------------------------------
# random_forest


def test_forest_features_match_scipy_filters_and_anisotropic_sigma():
    case = synthetic_case(0, spacing=(1.0, 1.0, 2.0))
    params = forest.ForestParams(sigmas_mm=(2.0,), contrast_sigma_mm=4.0)
    maps = forest.feature_volumes(case, params)
    names = forest.feature_names(["flair", "t1"], params)
    assert len(maps) == len(names) == 2 * 7 + 3 + 2
    flair = case.images[0]
    mean = ndimage.gaussian_filter(flair, (2.0, 2.0, 1.0), mode="nearest")
    assert np.allclose(maps[names.index("flair_mean_2mm")], mean, atol=1e-4)
    # local SD: compare with a direct weighted variance at one voxel, same Gaussian weights
    impulse = np.zeros_like(flair)
    impulse[12, 12, 10] = 1.0
    weights = ndimage.gaussian_filter(impulse, (2.0, 2.0, 1.0), mode="nearest")
    local_mean = float((weights * flair).sum())
    local_var = float((weights * (flair - local_mean) ** 2).sum())
    assert maps[names.index("flair_std_2mm")][12, 12, 10] == pytest.approx(np.sqrt(local_var), rel=1e-3)
    assert np.array_equal(maps[names.index("prior_wm")], case.priors[0])


def test_forest_learns_an_easy_problem_deterministically():
    cases = [synthetic_case(s, contrast=3.0) for s in range(3)]
    params = forest.ForestParams(n_estimators=20, samples_per_case=600, min_lesion_mm3=0.0, threshold=0.5)
    trained = forest.train_forest(cases[:2], params, seed=7, threads=1)
    params = trained.params  # the threshold chosen on out-of-bag votes
    mask, probability = forest.predict_forest(trained.forest, cases[2], params)
    assert dice(mask, cases[2].label) > 0.7
    assert [row["n_estimators"] for row in trained.curve] == [10, 20]
    again = forest.train_forest(cases[:2], params, seed=7, threads=1)
    assert np.array_equal(forest.predict_forest(again.forest, cases[2], params)[1], probability)
    # inference threads differ from training threads without changing a number
    assert np.array_equal(forest.predict_forest(again.forest, cases[2], params, threads=2)[1], probability)
    assert again.forest.n_jobs == 2


def test_forest_grown_in_steps_equals_one_shot_sklearn_forest():
    from sklearn.ensemble import RandomForestClassifier

    cases = [synthetic_case(s) for s in range(2)]
    params = forest.ForestParams(n_estimators=20, samples_per_case=400)
    trained = forest.train_forest(cases, params, seed=3, threads=1, curve_step=10)
    samples = forest.training_set(cases, params, np.random.default_rng(3))
    x, y = samples.x, samples.y
    one_shot = RandomForestClassifier(
        n_estimators=20, max_depth=16, min_samples_leaf=5, class_weight="balanced_subsample", random_state=3
    ).fit(x, y)
    assert np.allclose(trained.forest.predict_proba(x), one_shot.predict_proba(x))


# ---------------------------------------------------------------------------------------------
# ensemble


def test_majority_ensemble_is_two_of_three():
    a = np.array([1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 1, 0, 1], bool)
    c = np.array([0, 0, 1, 0, 1], bool)
    result = fuse_members({"a": a, "b": b, "c": c}, "majority")
    assert result.mask.tolist() == [True, False, True, False, True]
    assert np.allclose(result.probability, [2 / 3, 1 / 3, 2 / 3, 0, 1])


def test_staple_ensemble_matches_simpleitk():
    import SimpleITK as sitk

    rng = np.random.default_rng(5)
    truth = np.zeros((16, 16, 12), bool)
    truth[4:10, 5:11, 3:8] = True
    members = {f"m{j}": truth ^ (rng.random(truth.shape) < 0.05) for j in range(3)}
    result = fuse_members(members, "staple")
    images = [sitk.GetImageFromArray(m.astype(np.uint8)) for m in members.values()]
    reference = sitk.GetArrayFromImage(sitk.STAPLE(images, 1.0)) > 0.5
    assert np.array_equal(result.mask, reference)


def test_ensemble_needs_two_usable_members():
    with pytest.raises(InputError, match=r"case c1.*only 1 usable member"):
        fuse_members({"a": np.ones(3, bool)}, "majority", case="c1")


# ---------------------------------------------------------------------------------------------
# participants: command


def test_command_template_quotes_paths_and_rejects_unknown_placeholders():
    command = expand_command(
        "tool -i {flair} -o {output} --threads {threads}",
        {"flair": "/data/my case/flair.nii.gz", "output": "/out/mask.nii.gz", "threads": 2},
    )
    assert command == "tool -i '/data/my case/flair.nii.gz' -o /out/mask.nii.gz --threads 2"
    with pytest.raises(ConfigError, match=r"methods entry 'm'.*\{t2\} is unknown"):
        expand_command("tool {t2} {output}", {"output": "o"}, method="m")


def test_command_environment_wrappers():
    assert wrap_environment("echo hi") == ["bash", "-c", "echo hi"]
    assert wrap_environment("echo hi", conda_env="lst")[:5] == ["conda", "run", "--no-capture-output", "-n", "lst"]
    assert wrap_environment("echo hi", container="/img/tool.sif")[:4] == [
        "apptainer",
        "exec",
        "--cleanenv",
        "/img/tool.sif",
    ]


def test_command_failure_is_captured_with_stderr():
    argv = wrap_environment(
        f"{sys.executable} -c \"import sys; sys.stderr.write('model file not found'); sys.exit(3)\""
    )
    with pytest.raises(CommandError) as err:
        run_command(argv, case="c07", method="lstai")
    assert "case c07" in str(err.value) and "status 3" in str(err.value) and "model file not found" in str(err.value)
    with pytest.raises(CommandError, match="timed out"):
        run_command(["bash", "-c", "sleep 5"], case="c07", method="slow", timeout_s=0.2)


# ---------------------------------------------------------------------------------------------
# participants: submission


@pytest.fixture
def flair(tmp_path) -> Volume:
    path = write_nifti(tmp_path / "flair.nii.gz", np.zeros((8, 9, 7), np.float32))
    return load_volume(path, case="c1")


def test_submission_accepts_binary_mask_and_nii_variant(tmp_path, flair):
    mask = np.zeros(flair.shape, np.uint8)
    mask[2:4, 2:4, 2:4] = 1
    write_nifti(tmp_path / "sub" / "c1.nii", mask)
    assert submission_path(tmp_path / "sub", "{case}.nii.gz", "c1") == tmp_path / "sub" / "c1.nii"
    checked = load_submission(tmp_path / "sub", "{case}.nii.gz", "c1", flair)
    assert checked.mask.sum() == 8 and checked.probability is None


def test_submission_missing_off_grid_and_non_binary(tmp_path, flair):
    folder = tmp_path / "sub"
    with pytest.raises(SubmissionMissingError, match="case c1: no submitted mask"):
        load_submission(folder, "{case}.nii.gz", "c1", flair)
    off = write_nifti(folder / "c1.nii.gz", np.zeros((8, 9, 6), np.uint8))
    with pytest.raises(GridMismatchError) as err:
        load_submission(folder, "{case}.nii.gz", "c1", flair)
    assert "case c1" in str(err.value) and str(off) in str(err.value)
    shifted = AFFINE.copy()
    shifted[0, 3] = 0.5
    write_nifti(folder / "c1.nii.gz", np.zeros(flair.shape, np.uint8), shifted)
    with pytest.raises(GridMismatchError, match="affine differs"):
        load_submission(folder, "{case}.nii.gz", "c1", flair)
    write_nifti(folder / "c1.nii.gz", np.full(flair.shape, 0.7, np.float32))
    with pytest.raises(NonBinaryMaskError, match=f"case c1, file {folder / 'c1.nii.gz'}"):
        load_submission(folder, "{case}.nii.gz", "c1", flair)


def test_submission_probabilities_are_thresholded(tmp_path, flair):
    probability = np.zeros(flair.shape, np.float32)
    probability[1, 1, 1] = 0.7
    probability[2, 2, 2] = 0.4
    write_nifti(tmp_path / "c1_prob.nii.gz", probability)
    checked = load_submission(tmp_path, "{case}_prob.nii.gz", "c1", flair, probabilities=True, threshold=0.5)
    assert checked.mask.sum() == 1 and checked.mask[1, 1, 1]
    write_nifti(tmp_path / "c1_prob.nii.gz", probability * 3)
    with pytest.raises(NonBinaryMaskError, match="not \\[0, 1\\]"):
        load_submission(tmp_path, "{case}_prob.nii.gz", "c1", flair, probabilities=True)


# ---------------------------------------------------------------------------------------------
# prediction folder and failure policy


def test_run_case_records_or_stops(tmp_path):
    def broken():
        raise ValueError("boom")

    outcome = run_case("m", "c2", broken, on_failure="flag")
    assert outcome.status == "failed" and "case c2: ValueError: boom" in outcome.error
    with pytest.raises(MethodFailedError, match="method m failed on case c2"):
        run_case("m", "c2", broken, on_failure="stop")

    def absent():
        raise SubmissionMissingError("no submitted mask", case="c2")

    assert run_case("m", "c2", absent, on_failure="stop").status == "missing"


def test_prediction_folder_contract(tmp_path):
    mask = np.zeros((4, 5, 6), bool)
    mask[1, 1, 1] = True
    ok = CaseOutcome(
        status="ok",
        seconds=1.23456,
        mask=mask,
        probability=np.full(mask.shape, 0.25, np.float32),
        extra={"threshold": 0.5},
    )
    folder = write_prediction(tmp_path / "m" / "c1", ok, AFFINE, method="m", case="c1")
    status = json.loads((folder / "status.json").read_text())
    assert status["status"] == "ok" and status["seconds"] == 1.2346 and status["threshold"] == 0.5
    written = load_volume(folder / "mask.nii.gz", dtype=np.float64)
    assert written.data.sum() == 1 and np.array_equal(written.affine, AFFINE)
    import nibabel as nib

    assert nib.load(str(folder / "mask.nii.gz")).get_data_dtype() == np.uint8
    assert nib.load(str(folder / "probability.nii.gz")).get_data_dtype() == np.float32
    failed = CaseOutcome(status="failed", seconds=0.1, error="case c1: boom")
    write_prediction(folder, failed, None, method="m", case="c1")
    assert not (folder / "mask.nii.gz").exists() and not (folder / "probability.nii.gz").exists()
    assert read_status(folder) == {
        "status": "failed",
        "error": "case c1: boom",
        "seconds": 0.1,
        "method": "m",
        "case": "c1",
    }


# ---------------------------------------------------------------------------------------------
# CLI (registered by lesionbench.cli as the `methods` verb)


def test_check_submission_cli(tmp_path, capsys):
    import argparse

    from lesionbench.methods import cli

    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    flair = write_nifti(tmp_path / "flair.nii.gz", np.zeros((6, 6, 5), np.float32))
    write_nifti(tmp_path / "sub" / "a.nii.gz", np.zeros((6, 6, 5), np.uint8))
    write_nifti(tmp_path / "sub" / "b.nii.gz", np.full((6, 6, 5), 2, np.uint8))
    args = parser.parse_args(
        [
            "methods",
            "check-submission",
            "--folder",
            str(tmp_path / "sub"),
            "--flair",
            f"a={flair}",
            "--flair",
            f"b={flair}",
            "--flair",
            f"c={flair}",
        ]
    )
    assert args.func(args) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("a\tok")
    assert lines[1].startswith("b\tfailed\tcase b, file") and "not binary" in lines[1]
    assert lines[2].startswith("c\tmissing\tcase c")
    bad = parser.parse_args(["methods", "check-submission", "--folder", "x", "--flair", "nopath"])
    with pytest.raises(ConfigError, match="CASE=PATH"):
        bad.func(bad)
