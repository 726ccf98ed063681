"""MSSEG-2 (2021) cohorts: a two-visit folder imports as two-time-point cases with its raters of
new lesions, the visits' grids are checked, and the workflow refuses to score such a cohort as
if it were cross-sectional."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import AFFINE, small_image, small_mask, write_nifti
from lesionbench.cli import main
from lesionbench.cohort.importers import import_msseg2
from lesionbench.cohort.qc import check_time_points, first_error, inspect_case, time_point_record
from lesionbench.cohort.sheet import read_case_sheet, validate_case_sheet, write_case_sheet
from lesionbench.errors import ConfigError, GridMismatchError, SheetError
from lesionbench.io import load_volume
from lesionbench.workflow.config import cohort_from_config


def make_msseg2_tree(root: Path, patients: dict[str, bool], *, raw: str = "") -> Path:
    """Per patient: both FLAIR visits, 4 experts and the consensus of new lesions (empty when
    ``patients[p]`` is False). ``raw`` names one patient whose second visit is on another grid."""
    for patient, has_new in patients.items():
        folder = root / patient
        write_nifti(folder / "flair_time01_on_middle_space.nii.gz", small_image(1))
        if patient == raw:
            shifted = AFFINE.copy()
            shifted[:3, 3] += 2.0
            write_nifti(folder / "flair_time02_on_middle_space.nii.gz", small_image(2), shifted)
        else:
            write_nifti(folder / "flair_time02_on_middle_space.nii.gz", small_image(2))
        mask = small_mask() if has_new else np.zeros((12, 10, 8), dtype=np.uint8)
        for k in range(1, 5):
            write_nifti(folder / f"ground_truth_expert{k}.nii.gz", mask)
        write_nifti(folder / "ground_truth.nii.gz", mask)
    return root


@pytest.fixture
def msseg2_tree(tmp_path):
    return make_msseg2_tree(tmp_path / "msseg2", {"013": True, "015": True, "016": False})


def test_msseg2_folder_imports_two_time_points_with_four_raters(msseg2_tree):
    sheet = validate_case_sheet(import_msseg2(msseg2_tree, split="test", centers={"016": "07"}))
    assert sheet.task == "new_lesions"
    cases = sheet.cases.set_index("case_id")
    assert list(cases.index) == ["013", "015", "016"]
    assert cases.loc["015", "flair_time01"] == "015/flair_time01_on_middle_space.nii.gz"
    assert cases.loc["015", "flair_time02"] == "015/flair_time02_on_middle_space.nii.gz"
    assert cases.loc["016", "consensus"] == "016/ground_truth.nii.gz"
    assert set(cases["split"]) == {"test"}
    assert cases["center"].to_dict() == {"013": "", "015": "", "016": "07"}
    assert sheet.raters.groupby("case_id")["rater"].apply(list).to_dict() == {
        p: ["expert1", "expert2", "expert3", "expert4"] for p in ("013", "015", "016")
    }


def test_raw_visits_import_and_a_missing_visit_is_named(tmp_path):
    root = tmp_path / "raw"
    write_nifti(root / "p1" / "flair_time01.nii.gz", small_image())
    write_nifti(root / "p1" / "flair_time02.nii.gz", small_image())
    write_nifti(root / "p1" / "t1_time02.nii.gz", small_image())
    sheet = validate_case_sheet(import_msseg2(root))
    assert sheet.cases.loc[0, "flair_time02"] == "p1/flair_time02.nii.gz"
    assert (sheet.cases.loc[0, "t1_time01"], sheet.cases.loc[0, "t1_time02"]) == ("", "p1/t1_time02.nii.gz")
    write_nifti(root / "p2" / "flair_time01_on_middle_space.nii.gz", small_image())
    with pytest.raises(SheetError, match=r"case p2, file .*p2: MSSEG-2 case has one FLAIR visit but no flair_time02"):
        import_msseg2(root)


def test_two_time_point_sheet_round_trips_and_cross_sectional_sheets_still_work(msseg2_tree, tmp_path):
    sheet = validate_case_sheet(import_msseg2(msseg2_tree))
    cases_tsv, raters_tsv = msseg2_tree / "cases.tsv", msseg2_tree / "raters.tsv"
    write_case_sheet(sheet, cases_tsv, raters_tsv)
    again = validate_case_sheet(read_case_sheet(cases_tsv, raters_tsv))
    assert again.task == "new_lesions"
    assert list(again.cases["flair_time02"]) == list(sheet.cases["flair_time02"])
    assert len(again.raters) == 12
    one_visit = tmp_path / "one" / "cases.tsv"
    one_visit.parent.mkdir()
    pd.DataFrame({"case_id": ["a"], "split": ["test"], "flair": ["a.nii.gz"]}).to_csv(one_visit, sep="\t", index=False)
    assert validate_case_sheet(read_case_sheet(one_visit)).task == "cross_sectional"


def test_two_time_point_sheet_errors(tmp_path):
    path = tmp_path / "cases.tsv"
    frame = pd.DataFrame(
        {"case_id": ["a", "b"], "split": ["test"] * 2, "flair_time01": ["a1.nii", "b1.nii"], "flair_time02": ["a2", ""]}
    )
    frame.to_csv(path, sep="\t", index=False)
    with pytest.raises(SheetError, match=r"case b, file .*cases.tsv: required modality 'flair_time02' has no path"):
        validate_case_sheet(read_case_sheet(path))
    frame.assign(flair_time02=["a2", "b2"], flair=["a.nii", ""]).to_csv(path, sep="\t", index=False)
    with pytest.raises(SheetError, match=r"case a, .*also fills the one-visit column 'flair'"):
        validate_case_sheet(read_case_sheet(path))


def test_visits_on_different_grids_fail_qc_naming_case_and_file(tmp_path):
    root = make_msseg2_tree(tmp_path / "m", {"020": True, "021": True}, raw="021")
    sheet = validate_case_sheet(import_msseg2(root))
    ok = time_point_record("020", sheet.path("020", "flair_time01"), sheet.path("020", "flair_time02"))
    assert ok.status == "ok"
    second = sheet.path("021", "flair_time02")
    record = time_point_record("021", sheet.path("021", "flair_time01"), second)
    assert record.status == "fail"
    error = first_error([ok, record])
    assert isinstance(error, GridMismatchError)
    assert error.case == "021" and error.path == str(second)
    assert "\n" not in str(error)
    assert "not on one grid (affine differs from the first visit's by up to 2 mm" in str(error)
    # configured to flag instead: the visits are reported as needing co-registration
    first, other = load_volume(sheet.path("021", "flair_time01")), load_volume(second)
    flagged = check_time_points("021", first, other, on_mismatch="flag")
    assert flagged.needs_coregistration and "affine" in flagged.problem
    assert check_time_points("020", first, load_volume(sheet.path("020", "flair_time02"))).same_grid


def test_time_point_difference_names_shape_and_spacing():
    first = load_volume_like(small_image(), AFFINE)
    with pytest.raises(GridMismatchError, match=r"shape \(12, 10, 6\) differs from the first visit's"):
        check_time_points("x", first, load_volume_like(small_image(shape=(12, 10, 6)), AFFINE))
    coarse = AFFINE.copy()
    coarse[2, 2] = 3.0
    with pytest.raises(GridMismatchError, match=r"voxel spacing 1x1x3 mm differs from the first visit's 1x1x1 mm"):
        check_time_points("x", first, load_volume_like(small_image(), coarse))


def load_volume_like(data: np.ndarray, affine: np.ndarray):
    from lesionbench.io import Volume

    return Volume(data=data, affine=affine, path="mem.nii.gz")


def test_qc_cli_checks_both_visits(tmp_path):
    root = make_msseg2_tree(tmp_path / "m", {"020": True, "021": False}, raw="021")
    sheet = validate_case_sheet(import_msseg2(root))
    write_case_sheet(sheet, root / "cases.tsv", root / "raters.tsv")
    args = ["qc", "--cases", str(root / "cases.tsv"), "--raters", str(root / "raters.tsv")]
    out = tmp_path / "qc.tsv"
    assert main([*args, "--exclude-failing", "--out", str(out)]) == 0
    table = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    failed = table[table["status"] == "fail"]
    assert set(failed["case_id"]) == {"021"}
    assert failed["role"].iloc[0] == "time_points"  # the cause, before the masks drawn on the first visit's grid
    assert set(table.loc[table["case_id"] == "020", "role"]) >= {"flair_time01", "flair_time02", "consensus"}
    images, masks = sheet.qc_inputs("020")
    records = inspect_case("020", images, masks, required=["flair_time01"], reference_role="flair_time02")
    assert first_error(records) is None


def test_workflow_refuses_a_new_lesion_cohort_as_cross_sectional(msseg2_tree):
    config = {"dataset": {"source": "msseg2", "root": str(msseg2_tree)}, "modalities": {"required": ["flair"]}}
    with pytest.raises(ConfigError, match=r"task: cross_sectional does not fit .*which is task: new_lesions"):
        cohort_from_config(config)
    # the same cohort as task: new_lesions is accepted: two visits per case
    dataset = {**config["dataset"], "center": "01"}
    sheet = cohort_from_config({**config, "dataset": dataset, "task": "new_lesions"})
    assert sheet.task == "new_lesions"


def test_workflow_refuses_new_lesions_task_on_a_one_visit_cohort(tmp_path):
    root = tmp_path / "one_visit"
    (root / "01").mkdir(parents=True)
    write_nifti(root / "01" / "3DFLAIR.nii.gz", small_image(), AFFINE)
    config = {"task": "new_lesions", "dataset": {"source": "msseg2016", "root": str(root)}}
    with pytest.raises(ConfigError, match=r"task: new_lesions does not fit .*one visit per case"):
        cohort_from_config(config)


def test_import_verb_writes_a_two_time_point_sheet(msseg2_tree, tmp_path, capsys):
    cases, raters = tmp_path / "cases.tsv", tmp_path / "raters.tsv"
    args = ["import", "--layout", "msseg2", "--root", str(msseg2_tree), "--split", "test"]
    assert main([*args, "--cases-out", str(cases), "--raters-out", str(raters)]) == 0
    assert '"rater_masks": 12' in capsys.readouterr().out
    sheet = read_case_sheet(cases, raters, root=msseg2_tree)
    assert sheet.task == "new_lesions" and set(sheet.cases["split"]) == {"test"}


def test_training_and_testing_folders_give_the_split(tmp_path):
    root = tmp_path / "m2"
    make_msseg2_tree(root / "Training", {"013": True})
    make_msseg2_tree(root / "Testing", {"001": False, "002": True})
    sheet = validate_case_sheet(import_msseg2(root, split="train", splits={"002": "train"}))
    assert sheet.cases.set_index("case_id")["split"].to_dict() == {"001": "test", "002": "train", "013": "train"}
    assert sheet.cases.loc[0, "flair_time01"] == "Testing/001/flair_time01_on_middle_space.nii.gz"
