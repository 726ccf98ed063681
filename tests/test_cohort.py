"""Case sheets and dataset importers: the right cases, centers, splits and raters, and clear
errors for each bad sheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import make_msseg_tree, small_image, small_mask, write_nifti
from lesionbench.cli import main
from lesionbench.cohort.importers import import_bids, import_msseg2, import_msseg2016
from lesionbench.cohort.layout import MSSEG2016_CENTERS
from lesionbench.cohort.sheet import read_case_sheet, validate_case_sheet, write_case_sheet
from lesionbench.errors import PathEscapeError, SheetError


def test_msseg2016_import_centers_splits_raters(msseg_tree):
    sheet = validate_case_sheet(
        import_msseg2016(msseg_tree), required_modalities=["flair", "t1", "t2", "pd"], centers=MSSEG2016_CENTERS
    )
    cases = sheet.cases.set_index("case_id")
    assert len(cases) == 9
    assert cases["split"].value_counts().to_dict() == {"test": 5, "train": 4}
    train_centers = set(cases.loc[cases.split == "train", "center"])
    test_centers = set(cases.loc[cases.split == "test", "center"])
    assert train_centers == {"01", "07", "08"} and test_centers == {"01", "03", "07", "08"}
    assert cases.loc["c03_test_p02", "scanner"] == "GE Discovery"
    assert cases.loc["c07_train_p01", "field_strength"] == 1.5
    assert cases.loc["c01_train_p02", "flair"] == "Training/Center_01/Patient_02/Raw_Data/3DFLAIR.nii.gz"
    assert cases.loc["c01_train_p02", "pd"].endswith("Raw_Data/DP.nii.gz")
    assert cases.loc["c01_train_p02", "consensus"].endswith("Masks/Consensus.nii.gz")
    per_case = sheet.raters.groupby("case_id")["rater"].apply(list)
    assert all(raters == [f"rater{k}" for k in range(1, 8)] for raters in per_case)
    assert len(per_case) == 9


def test_msseg2016_plain_nii_and_rater_numbering(tmp_path):
    root = make_msseg_tree(tmp_path / "d", {"Testing": {"03": 1}}, n_raters=10, ext=".nii")
    sheet = import_msseg2016(root)
    assert sheet.cases.loc[0, "flair"].endswith("3DFLAIR.nii")
    # numeric, not lexical, rater order
    assert list(sheet.raters["rater"]) == [f"rater{k}" for k in range(1, 11)]


def test_msseg2016_flat_variant(tmp_path):
    root = tmp_path / "flat"
    for name in ("01016SACH", "07001MOEL"):
        for stem in ("3DFLAIR", "3DT1", "3DT1GADO", "DP", "T2"):
            write_nifti(root / name / f"{stem}.nii", small_image())
        for k in (1, 2, 3):
            write_nifti(root / name / f"ManualSegmentation_{k}.nii", small_mask())
        write_nifti(root / name / "Consensus.nii", small_mask())
    sheet = validate_case_sheet(import_msseg2016(root, flat_split="train"), centers=MSSEG2016_CENTERS)
    cases = sheet.cases.set_index("case_id")
    assert list(cases.index) == ["01016SACH", "07001MOEL"]
    assert list(cases["center"]) == ["01", "07"] and set(cases["split"]) == {"train"}
    assert cases.loc["07001MOEL", "t1gd"] == "07001MOEL/3DT1GADO.nii"
    assert len(sheet.raters) == 6


def test_msseg2016_preprocessed(tmp_path):
    root = tmp_path / "pp"
    case = root / "Training" / "Center_08" / "Patient_01"
    for stem in ("FLAIR_preprocessed", "T1_preprocessed", "T2_preprocessed", "DP_preprocessed"):
        write_nifti(case / "Preprocessed_Data" / f"{stem}.nii.gz", small_image())
    write_nifti(case / "Masks" / "Brain_Mask.nii.gz", small_mask())
    sheet = import_msseg2016(root, use_preprocessed=True)
    assert sheet.cases.loc[0, "flair"].endswith("Preprocessed_Data/FLAIR_preprocessed.nii.gz")
    assert sheet.cases.loc[0, "brain_mask"].endswith("Masks/Brain_Mask.nii.gz")


def test_msseg2016_empty_root(tmp_path):
    with pytest.raises(SheetError, match="no MS-SEG 2016 cases"):
        import_msseg2016(tmp_path)


def test_msseg2_import(tmp_path):
    root = tmp_path / "m2"
    for patient in ("013", "015"):
        for t in ("01", "02"):
            write_nifti(root / patient / f"flair_time{t}_on_middle_space.nii.gz", small_image())
        for k in range(1, 5):
            write_nifti(root / patient / f"ground_truth_expert{k}.nii.gz", small_mask())
        write_nifti(root / patient / "ground_truth.nii.gz", small_mask())
    sheet = validate_case_sheet(import_msseg2(root))
    assert sheet.task == "new_lesions"
    assert list(sheet.cases["case_id"]) == ["013", "015"]
    assert sheet.cases.loc[0, "flair_time01"] == "013/flair_time01_on_middle_space.nii.gz"
    assert sheet.cases.loc[0, "flair_time02"] == "013/flair_time02_on_middle_space.nii.gz"
    assert "flair" not in sheet.cases.columns
    assert sheet.cases.loc[0, "consensus"] == "013/ground_truth.nii.gz"
    assert list(sheet.raters_of("015")) == [(f"expert{k}", f"015/ground_truth_expert{k}.nii.gz") for k in range(1, 5)]


def test_bids_import(tmp_path):
    root = tmp_path / "bids"
    pd.DataFrame(
        {
            "participant_id": ["sub-01", "sub-02"],
            "center": ["01", "07"],
            "split": ["train", "test"],
            "field_strength": ["3", "1.5"],
        }
    ).to_csv(root.mkdir() or root / "participants.tsv", sep="\t", index=False)
    for sub in ("01", "02"):
        anat = root / f"sub-{sub}" / "anat"
        for suffix in ("FLAIR", "T1w", "T2w", "PDw", "ce-gd_T1w"):
            name = f"sub-{sub}_{suffix}.nii.gz"
            write_nifti(anat / name, small_image())
        for rater in ("expertA", "expertB", "consensus"):
            write_nifti(
                root / "derivatives" / rater / f"sub-{sub}" / "anat" / f"sub-{sub}_label-lesion_mask.nii.gz",
                small_mask(),
            )
    sheet = validate_case_sheet(
        import_bids(root), required_modalities=["flair", "t1", "t2", "pd"], centers={"01": 0, "07": 0}
    )
    cases = sheet.cases.set_index("case_id")
    assert list(cases.index) == ["sub-01", "sub-02"]
    assert cases.loc["sub-02", "split"] == "test" and cases.loc["sub-02", "field_strength"] == 1.5
    assert cases.loc["sub-01", "t1gd"] == "sub-01/anat/sub-01_ce-gd_T1w.nii.gz"
    assert cases.loc["sub-01", "consensus"].startswith("derivatives/consensus/")
    assert sorted(sheet.raters["rater"].unique()) == ["expertA", "expertB"]


def _sheet(tmp_path: Path, rows: list[dict], raters: list[dict] | None = None):
    cases = tmp_path / "cases.tsv"
    pd.DataFrame(rows).to_csv(cases, sep="\t", index=False)
    raters_path = None
    if raters is not None:
        raters_path = tmp_path / "raters.tsv"
        pd.DataFrame(raters, columns=["case_id", "rater", "path"]).to_csv(raters_path, sep="\t", index=False)
    return read_case_sheet(cases, raters_path)


def _names(exc: pytest.ExceptionInfo, case: str | None, file: str) -> None:
    """The error names the case (attribute and message) and the file (message)."""
    message = str(exc.value)
    if case is not None:
        assert exc.value.case == case and f"case {case}" in message
    assert file in message and exc.value.path is not None and exc.value.path.endswith(file)


ROW = {
    "case_id": "a1",
    "center": "01",
    "scanner": "s",
    "field_strength": "3",
    "split": "train",
    "flair": "a1/flair.nii.gz",
}


def test_duplicate_case_id(tmp_path):
    with pytest.raises(SheetError, match="duplicate case_id") as exc:
        validate_case_sheet(_sheet(tmp_path, [ROW, ROW]))
    _names(exc, "a1", "cases.tsv")


def test_unknown_split(tmp_path):
    with pytest.raises(SheetError, match="unknown split 'validation'") as exc:
        validate_case_sheet(_sheet(tmp_path, [ROW, {**ROW, "case_id": "b2", "split": "validation"}]))
    _names(exc, "b2", "cases.tsv")


def test_unknown_center(tmp_path):
    with pytest.raises(SheetError, match="unknown center '05'") as exc:
        validate_case_sheet(_sheet(tmp_path, [{**ROW, "center": "05"}]), centers=MSSEG2016_CENTERS)
    _names(exc, "a1", "cases.tsv")


def test_empty_sheet(tmp_path):
    (tmp_path / "cases.tsv").write_text("")
    with pytest.raises(SheetError, match="no cases") as exc:
        validate_case_sheet(read_case_sheet(tmp_path / "cases.tsv"))
    _names(exc, None, "cases.tsv")
    (tmp_path / "cases.tsv").write_text("case_id\tsplit\tflair\n")
    with pytest.raises(SheetError, match="no cases") as exc:
        validate_case_sheet(read_case_sheet(tmp_path / "cases.tsv"))
    _names(exc, None, "cases.tsv")


def test_missing_sheet_file(tmp_path):
    with pytest.raises(SheetError, match="does not exist") as exc:
        read_case_sheet(tmp_path / "nope.tsv")
    _names(exc, None, "nope.tsv")


def test_path_escaping_root(tmp_path):
    with pytest.raises(PathEscapeError, match="leaves the dataset root") as exc:
        validate_case_sheet(_sheet(tmp_path, [{**ROW, "t1": "../../etc/passwd"}]))
    _names(exc, "a1", "/etc/passwd")
    assert "t1 path '../../etc/passwd'" in str(exc.value)
    with pytest.raises(PathEscapeError) as exc:
        validate_case_sheet(_sheet(tmp_path, [ROW], [{"case_id": "a1", "rater": "r1", "path": "/etc/shadow"}]))
    assert "rater r1" in str(exc.value)


def test_required_modality_missing(tmp_path):
    with pytest.raises(SheetError, match="required modality 't2'") as exc:
        validate_case_sheet(_sheet(tmp_path, [ROW]), required_modalities=["flair", "t2"])
    _names(exc, "a1", "cases.tsv")


def test_rater_for_unknown_case_and_duplicates(tmp_path):
    with pytest.raises(SheetError, match="not in the case sheet") as exc:
        validate_case_sheet(_sheet(tmp_path, [ROW], [{"case_id": "zz", "rater": "r1", "path": "m.nii.gz"}]))
    assert exc.value.case == "zz" and "case zz" in str(exc.value)
    twice = [{"case_id": "a1", "rater": "r1", "path": "m.nii.gz"}] * 2
    with pytest.raises(SheetError, match="listed twice") as exc:
        validate_case_sheet(_sheet(tmp_path, [ROW], twice))
    assert exc.value.case == "a1" and "rater 'r1'" in str(exc.value)


def test_rater_sheet_errors_name_the_rater_sheet(tmp_path):
    with pytest.raises(SheetError) as exc:
        validate_case_sheet(_sheet(tmp_path, [ROW], [{"case_id": "zz", "rater": "r1", "path": "m.nii.gz"}]))
    _names(exc, "zz", "raters.tsv")


def test_bad_case_id_and_field_strength(tmp_path):
    with pytest.raises(SheetError, match="may only contain") as exc:
        validate_case_sheet(_sheet(tmp_path, [{**ROW, "case_id": "a 1/x"}]))
    _names(exc, "a 1/x", "cases.tsv")
    with pytest.raises(SheetError, match="not a number") as exc:
        validate_case_sheet(_sheet(tmp_path, [{**ROW, "field_strength": "3T"}]))
    _names(exc, "a1", "cases.tsv")


def test_sheet_roundtrip(tmp_path, msseg_tree):
    sheet = validate_case_sheet(import_msseg2016(msseg_tree))
    write_case_sheet(sheet, tmp_path / "c.tsv", tmp_path / "r.tsv")
    again = validate_case_sheet(read_case_sheet(tmp_path / "c.tsv", tmp_path / "r.tsv", root=msseg_tree))
    pd.testing.assert_frame_equal(sheet.cases.drop(columns="source_dir"), again.cases.drop(columns="source_dir"))
    assert again.path("c03_test_p01", "flair") == msseg_tree / "Testing/Center_03/Patient_01/Raw_Data/3DFLAIR.nii.gz"


def test_import_cli(tmp_path, msseg_tree, capsys):
    rc = main(
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
    assert rc == 0
    assert '"rater_masks": 63' in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "r.tsv", sep="\t")) == 63


def test_import_cli_error_is_one_line(tmp_path, capsys):
    rc = main(["import", "--layout", "bids", "--root", str(tmp_path), "--cases-out", "x", "--raters-out", "y"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("lesionbench import: error:") and "Traceback" not in err
