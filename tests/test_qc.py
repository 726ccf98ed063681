"""Input QC: good cases are described, each bad input is recorded (exclude mode) or raised
(stop mode) with the case and the file named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import small_image, small_mask, write_nifti
from lesionbench.cli import main
from lesionbench.cohort.importers import import_msseg2016
from lesionbench.cohort.qc import case_summary, first_error, inspect_case, records_table
from lesionbench.cohort.sheet import validate_case_sheet
from lesionbench.errors import GridMismatchError, MissingFileError, NonBinaryMaskError, UnreadableImageError


def _case_inputs(sheet, case_id):
    return sheet.qc_inputs(case_id)


def test_good_case_is_described(msseg_tree):
    sheet = validate_case_sheet(import_msseg2016(msseg_tree))
    images, masks = _case_inputs(sheet, "c01_train_p01")
    records = inspect_case("c01_train_p01", images, masks, required=["flair", "t1", "t2", "pd"])
    assert first_error(records) is None
    table = records_table(records).set_index("role")
    assert table.loc["flair", "status"] == "ok"
    assert table.loc["flair", "shape"] == "12x10x8" and table.loc["flair", "orientation"] == "RAS"
    assert table.loc["t1gd", "status"] == "absent"
    assert table.loc["rater1", "n_lesion_voxels"] == 27
    assert table.loc["rater1", "lesion_ml"] == pytest.approx(0.027)
    assert table.loc["flair", "p01"] < table.loc["flair", "p99"]


@pytest.mark.parametrize(
    "damage, error",
    [
        ("delete_t2", MissingFileError),
        ("truncate_flair", UnreadableImageError),
        ("rater_other_grid", GridMismatchError),
        ("rater_non_binary", NonBinaryMaskError),
    ],
)
def test_bad_case_stops_or_is_excluded(msseg_tree, damage, error):
    case_dir = msseg_tree / "Testing" / "Center_03" / "Patient_02"
    sheet = validate_case_sheet(import_msseg2016(msseg_tree))
    if damage == "delete_t2":
        bad = case_dir / "Raw_Data" / "T2.nii.gz"
        bad.unlink()
    elif damage == "truncate_flair":
        bad = case_dir / "Raw_Data" / "3DFLAIR.nii.gz"
        bad.write_bytes(bad.read_bytes()[:200])
    elif damage == "rater_other_grid":
        bad = write_nifti(case_dir / "Masks" / "ManualSegmentation_3.nii.gz", small_mask((12, 10, 9)))
    else:
        bad = write_nifti(case_dir / "Masks" / "ManualSegmentation_5.nii.gz", small_mask() * 2)
    images, masks = _case_inputs(sheet, "c03_test_p02")
    # what the QC rule raises when it stops on a problem: the first error, naming case and file
    found = first_error(inspect_case("c03_test_p02", images, masks, required=["flair", "t1", "t2", "pd"]))
    assert type(found) is error
    assert "case c03_test_p02" in str(found) and str(bad) in str(found)
    summary = case_summary(records_table(inspect_case("c03_test_p02", images, masks, required=["flair", "t2"])))
    assert not summary.loc[0, "passed"] and str(bad) in summary.loc[0, "problem"]


def test_missing_optional_modality_is_absent_not_failure(msseg_tree):
    sheet = validate_case_sheet(import_msseg2016(msseg_tree))
    images, masks = _case_inputs(sheet, "c01_test_p01")
    images["t2"] = None
    records = inspect_case("c01_test_p01", images, masks, required=["flair"])
    assert case_summary(records_table(records)).loc[0, "passed"]
    records = inspect_case("c01_test_p01", images, masks, required=["flair", "t2"])
    assert not case_summary(records_table(records)).loc[0, "passed"]


def test_qc_cli_stop_and_exclude(tmp_path, msseg_tree, capsys):
    main(
        [
            "import",
            "--layout",
            "msseg2016",
            "--root",
            str(msseg_tree),
            "--cases-out",
            str(tmp_path / "c.tsv"),
            "--raters-out",
            str(tmp_path / "r.tsv"),
        ]
    )
    bad = msseg_tree / "Training/Center_07/Patient_01/Raw_Data/3DT1.nii.gz"
    data = small_image()
    data[0, 0, 0] = np.nan
    write_nifti(bad, data)
    args = ["qc", "--cases", str(tmp_path / "c.tsv"), "--raters", str(tmp_path / "r.tsv"), "--root", str(msseg_tree)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "case c07_train_p01" in err and str(bad) in err and "NaN" in err
    assert main(args + ["--exclude-failing", "--out", str(tmp_path / "qc.tsv")]) == 0
    table = pd.read_csv(tmp_path / "qc.tsv", sep="\t")
    failed = table[table.status == "fail"]
    assert list(failed.case_id) == ["c07_train_p01"] and list(failed.error_kind) == ["non_finite"]
