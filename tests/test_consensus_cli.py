"""Tests of the ``lesionbench consensus`` verb: files written, JSON printed, errors naming files."""

from __future__ import annotations

import argparse
import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from lesionbench.consensus import cli as consensus_cli
from lesionbench.errors import ConfigError, GridMismatchError, MissingFileError, NonBinaryMaskError
from lesionbench.io import save_volume

AFFINE = np.diag([1.0, 1.0, 2.0, 1.0])


def run_cli(argv: list[str]) -> int:
    # Only this verb: the global parser imports every other verb module, written elsewhere.
    parser = argparse.ArgumentParser(prog="lesionbench")
    consensus_cli.add_parser(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["consensus", *argv])
    return args.func(args)


@pytest.fixture
def raters(tmp_path):
    rng = np.random.default_rng(3)
    truth = np.zeros((10, 12, 8), dtype=bool)
    truth[3:7, 4:9, 2:6] = True
    paths = []
    for j in range(5):
        rater = truth ^ (rng.random(truth.shape) < 0.03)
        path = tmp_path / f"ManualSegmentation_{j + 1}.nii.gz"
        save_volume(path, rater, AFFINE, dtype=np.uint8)
        paths.append(path)
    return paths


def test_staple_cli_writes_outputs_and_json(raters, tmp_path, capsys):
    out, prob, js = tmp_path / "out" / "c.nii.gz", tmp_path / "p.nii.gz", tmp_path / "c.json"
    code = run_cli(
        ["--method", "staple", "--output", str(out), "--probability", str(prob), "--json", str(js)]
        + [str(p) for p in raters]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == json.loads(js.read_text())
    images = [sitk.ReadImage(str(p), sitk.sitkUInt8) for p in raters]
    f = sitk.STAPLEImageFilter()
    ref = sitk.GetArrayFromImage(f.Execute(images))  # z, y, x order
    written = nib.load(str(out))
    assert written.get_data_dtype() == np.uint8
    np.testing.assert_allclose(written.affine, AFFINE)
    np.testing.assert_array_equal(np.asarray(written.dataobj).transpose(2, 1, 0), ref > 0.5)
    posterior = np.asarray(nib.load(str(prob)).dataobj)
    assert posterior.dtype == np.float32
    np.testing.assert_allclose(posterior.transpose(2, 1, 0), ref, atol=1e-6)
    assert summary["method"] == "staple" and summary["n_raters"] == 5
    assert [r["rater"] for r in summary["raters"]] == [p.name for p in raters]
    np.testing.assert_allclose([r["sensitivity"] for r in summary["raters"]], f.GetSensitivity(), atol=1e-9)
    np.testing.assert_allclose([r["specificity"] for r in summary["raters"]], f.GetSpecificity(), atol=1e-9)
    assert summary["iterations"] == f.GetElapsedIterations() and summary["converged"] is True
    assert summary["consensus_volume_ml"] == pytest.approx((ref > 0.5).sum() * 2.0 / 1000.0)
    assert summary["masked"] is False


def test_majority_with_mask_and_leave_one_out(raters, tmp_path, capsys):
    mask = np.zeros((10, 12, 8), dtype=np.uint8)
    mask[1:9, 1:11, :] = 1
    save_volume(tmp_path / "brain.nii.gz", mask, AFFINE)
    out = tmp_path / "maj.nii.gz"
    code = run_cli(
        ["--method", "majority", "--mask", str(tmp_path / "brain.nii.gz"), "--output", str(out), "--leave-one-out"]
        + [str(p) for p in raters]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    votes = np.stack([np.asarray(nib.load(str(p)).dataobj) for p in raters]).astype(bool)
    expected = (votes.mean(axis=0) > 0.5) & mask.astype(bool)
    np.testing.assert_array_equal(np.asarray(nib.load(str(out)).dataobj).astype(bool), expected)
    assert summary["masked"] is True and summary["iterations"] == 0
    assert summary["votes_outside_mask"] == int(votes[:, ~mask.astype(bool)].sum())
    assert all("leave_one_out" in r for r in summary["raters"])


def test_lop_staple_cli_weights(raters, tmp_path, capsys):
    out = tmp_path / "lop.nii.gz"
    run_cli(["--method", "lop-staple", "--weights", "1,1,1,1,4", "--output", str(out)] + [str(p) for p in raters])
    summary = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(summary["weights"], [1, 1, 1, 1, 4])  # used as given (CRKit)
    with pytest.raises(ConfigError, match="--weights"):
        run_cli(["--method", "lop-staple", "--weights", "1,x", "--output", str(out)] + [str(p) for p in raters])
    with pytest.raises(ConfigError, match="only applies"):
        run_cli(["--method", "staple", "--weights", "1,1", "--output", str(out)] + [str(p) for p in raters])


def test_all_empty_raters_give_null_sensitivity(tmp_path, capsys):
    paths = []
    for j in range(3):
        paths.append(tmp_path / f"r{j}.nii.gz")
        save_volume(paths[-1], np.zeros((4, 5, 6), np.uint8), AFFINE)
    run_cli(["--output", str(tmp_path / "o.nii.gz")] + [str(p) for p in paths])
    summary = json.loads(capsys.readouterr().out)
    assert all(r["sensitivity"] is None and r["specificity"] == 1.0 for r in summary["raters"])
    assert summary["consensus_volume_ml"] == 0.0


def test_rater_on_another_grid_is_a_clear_error(raters, tmp_path):
    other = tmp_path / "shifted.nii.gz"
    shifted = AFFINE.copy()
    shifted[0, 3] = 5.0
    save_volume(other, np.zeros((10, 12, 8), np.uint8), shifted)
    with pytest.raises(GridMismatchError, match=r"case 07001MOEL, file .*shifted\.nii\.gz"):
        run_cli(["--case", "07001MOEL", "--output", str(tmp_path / "o.nii.gz"), str(raters[0]), str(other)])
    small = tmp_path / "small.nii.gz"
    save_volume(small, np.zeros((10, 12, 7), np.uint8), AFFINE)
    with pytest.raises(GridMismatchError, match=r"file .*small\.nii\.gz.*shape"):
        run_cli(["--output", str(tmp_path / "o.nii.gz"), str(raters[0]), str(small)])
    with pytest.raises(GridMismatchError, match=r"file .*small\.nii\.gz"):
        run_cli(["--mask", str(small), "--output", str(tmp_path / "o.nii.gz")] + [str(p) for p in raters])


def test_non_binary_and_missing_raters_are_clear_errors(raters, tmp_path):
    fuzzy = tmp_path / "fuzzy.nii.gz"
    save_volume(fuzzy, np.full((10, 12, 8), 0.5, np.float32), AFFINE)
    with pytest.raises(NonBinaryMaskError, match=r"case c9, file .*fuzzy\.nii\.gz"):
        run_cli(["--case", "c9", "--output", str(tmp_path / "o.nii.gz"), str(raters[0]), str(fuzzy)])
    with pytest.raises(MissingFileError, match=r"file .*nothere\.nii\.gz"):
        run_cli(["--output", str(tmp_path / "o.nii.gz"), str(raters[0]), str(tmp_path / "nothere.nii.gz")])
    # Masks stored as {0, 255} are accepted with the nonzero policy.
    scaled = tmp_path / "scaled.nii.gz"
    save_volume(scaled, np.asarray(nib.load(str(raters[1])).dataobj) * 255, AFFINE, dtype=np.uint8)
    assert (
        run_cli(["--label-policy", "nonzero", "--output", str(tmp_path / "o.nii.gz"), str(raters[0]), str(scaled)]) == 0
    )
