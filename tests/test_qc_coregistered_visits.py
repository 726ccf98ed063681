"""Visits on two grids: flagged at input QC when the workflow co-registers them, a failure naming
the case and the file when it does not (new_lesions.coregister), and the parse-time choice of
the cases to co-register from the NIfTI headers (lesionbench.workflow.config.visits_to_coregister)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from conftest import AFFINE, small_image, write_nifti
from lesionbench.cohort.importers import import_msseg2
from lesionbench.cohort.qc import first_error, header_grid, header_time_point_difference, inspect_task_case
from lesionbench.cohort.sheet import validate_case_sheet
from lesionbench.errors import ConfigError, GridMismatchError, MissingFileError
from lesionbench.workflow.config import cohort_from_config, visits_to_coregister
from test_msseg2 import make_msseg2_tree


@pytest.fixture
def tree(tmp_path):
    """Patients 020 (visits on one grid) and 021 (first visit 2 mm off the second's grid, where the masks lie)."""
    root = make_msseg2_tree(tmp_path / "msseg2", {"020": True, "021": True})
    shifted = AFFINE.copy()
    shifted[:3, 3] += 2.0
    write_nifti(root / "021/flair_time01_on_middle_space.nii.gz", small_image(1), shifted)
    return root


def qc(sheet, case, coregistered):
    images, masks = sheet.qc_inputs(case)
    return inspect_task_case(
        case, images, masks, task="new_lesions", required=["flair_time01", "flair_time02"], coregistered=coregistered
    )


def test_visits_on_two_grids_are_flagged_when_coregistered_and_fail_otherwise(tree):
    sheet = validate_case_sheet(import_msseg2(tree))
    records = qc(sheet, "021", coregistered=True)
    row = next(r for r in records if r.role == "time_points")
    assert row.status == "flag" and first_error(records) is None
    assert "affine differs from the first visit's by up to 2 mm" in row.problem
    assert "co-registered rigidly onto the second's grid" in row.problem
    # the same case without co-registration (new_lesions.coregister: never) stops QC, naming it
    error = first_error(qc(sheet, "021", coregistered=False))
    assert isinstance(error, GridMismatchError)
    assert error.case == "021" and error.path == str(sheet.path("021", "flair_time02"))
    # visits on one grid are ok either way
    for coregistered in (True, False):
        row = next(r for r in qc(sheet, "020", coregistered) if r.role == "time_points")
        assert row.status == "ok" and row.problem == ""


def test_the_header_check_reads_the_geometry_nibabel_reads(tmp_path):
    write_nifti(tmp_path / "a.nii.gz", small_image(1))
    other = AFFINE.copy()
    other[:3, :3] *= 1.5
    write_nifti(tmp_path / "b.nii.gz", small_image(2), other)
    grid = header_grid(tmp_path / "a.nii.gz")
    image = nib.load(tmp_path / "a.nii.gz")
    assert grid.shape == image.shape and np.array_equal(grid.affine, image.affine)
    assert header_time_point_difference(tmp_path / "a.nii.gz", tmp_path / "a.nii.gz") == ""
    assert "voxel spacing" in header_time_point_difference(tmp_path / "a.nii.gz", tmp_path / "b.nii.gz")
    with pytest.raises(MissingFileError, match=r"case 013, file .*absent.nii.gz: file does not exist"):
        header_grid(tmp_path / "absent.nii.gz", case="013")


def config_of(tree, mode=None, **extra):
    config = {
        "task": "new_lesions",
        "dataset": {"source": "msseg2", "root": str(tree), "center": "01"},
        "modalities": {"required": ["flair"]},
        **extra,
    }
    if mode is not None:
        config["new_lesions"] = {"coregister": mode}
    return config


def test_the_cases_to_coregister_follow_the_mode_and_the_headers(tree):
    sheet = cohort_from_config(config_of(tree))
    assert visits_to_coregister(config_of(tree), sheet) == ["021"]  # auto is the default
    assert visits_to_coregister(config_of(tree, "always"), sheet) == ["020", "021"]
    assert visits_to_coregister(config_of(tree, "never"), sheet) == []
    with pytest.raises(ConfigError, match=r"new_lesions.coregister is 'sometimes'"):
        visits_to_coregister(config_of(tree, "sometimes"), sheet)
    # the synthetic cohort is not written at parse time: its variant decides
    synthetic = {"task": "new_lesions", "dataset": {"source": "synthetic"}, "synthetic": {"preset": "tiny"}}
    planned = cohort_from_config(synthetic)
    assert visits_to_coregister(synthetic, planned) == []
    raw = {**synthetic, "synthetic": {"preset": "tiny", "longitudinal_variant": "raw"}}
    raw_sheet = cohort_from_config(raw)
    assert visits_to_coregister(raw, raw_sheet) == raw_sheet.case_ids
    assert str(raw_sheet.path(raw_sheet.case_ids[0], "flair_time01")).endswith("/flair_time01.nii.gz")
    # and the cross-sectional track never co-registers
    assert visits_to_coregister({"task": "cross_sectional"}, sheet) == []
