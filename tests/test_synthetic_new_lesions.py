"""task: new_lesions on the embedded cohort (dataset.source: synthetic): the workflow plans the
synthetic longitudinal cohort (MSSEG-2 layout), writes it one patient per job and reads it back
with the MSSEG-2 importer, each patient's center (its follow-up visit's) and split from the plan."""

from __future__ import annotations

import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from conftest import REPO, SNAKEMAKE
from lesionbench.cohort.layout import MSSEG2016_CENTERS
from lesionbench.errors import ConfigError, SheetError
from lesionbench.synth.longitudinal_io import generate_planned_patient
from lesionbench.synth.longitudinal_plan import plan_longitudinal
from lesionbench.workflow.config import cohort_from_config, import_synthetic_cohort

SEED = 2016
CONFIG = {
    "task": "new_lesions",
    "seed": SEED,
    "dataset": {"source": "synthetic"},
    "synthetic": {"preset": "tiny"},
    "modalities": {"required": ["flair"]},
}


def test_the_plan_is_a_two_visit_sheet_with_the_follow_up_center():
    sheet = cohort_from_config(CONFIG)
    assert sheet.task == "new_lesions"
    cases = sheet.cases.set_index("case_id")
    plans = plan_longitudinal("tiny", SEED)
    assert list(cases.index) == [p.patient_id for p in plans]
    assert any(p.scanner_changed for p in plans)  # the follow-up center is not always the baseline's
    for p in plans:
        row = cases.loc[p.patient_id]
        folder = {"train": "Training", "test": "Testing"}[p.split]
        assert (row["center"], row["split"]) == (p.center_time02, p.split)
        assert row["scanner"] == MSSEG2016_CENTERS[p.center_time02].scanner
        assert row["flair_time01"] == f"{folder}/{p.patient_id}/flair_time01_on_middle_space.nii.gz"
        assert row["consensus"] == f"{folder}/{p.patient_id}/ground_truth.nii.gz"
        assert [r for r, _ in sheet.raters_of(p.patient_id)] == ["expert1", "expert2", "expert3", "expert4"]


def test_a_preset_without_a_longitudinal_form_is_refused():
    with pytest.raises(ConfigError, match=r"unknown longitudinal preset 'msseg2016'; choose one of tiny, demo"):
        cohort_from_config({**CONFIG, "synthetic": {"preset": "msseg2016"}})


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The tiny cohort written as the workflow does: one patient per call, on a saved anatomy."""
    from lesionbench.synth.anatomy import load_template_anatomy, save_template_anatomy
    from lesionbench.synth.plan import get_preset

    root = tmp_path_factory.mktemp("synthetic_longitudinal")
    anatomy = root.parent / "anatomy.npz"
    save_template_anatomy(load_template_anatomy(get_preset("tiny").anatomy_mm), anatomy)
    for plan in plan_longitudinal("tiny", SEED):
        generate_planned_patient(plan.patient_id, "tiny", SEED, "middle", root, anatomy_file=anatomy)
    return root


def test_the_written_cohort_imports_as_planned(written):
    sheet = import_synthetic_cohort(CONFIG, written)
    planned = cohort_from_config(CONFIG).cases.set_index("case_id")
    cases = sheet.cases.set_index("case_id")
    for column in ("center", "split", "scanner", "flair_time01", "flair_time02", "consensus"):
        assert cases[column].astype(str).to_dict() == planned[column].astype(str).to_dict()
    assert len(sheet.raters) == 4 * len(cases)


def test_the_saved_anatomy_gives_the_verbs_images(written, tmp_path):
    """The workflow's patient job (saved anatomy) writes what `lesionbench synth-longitudinal` does."""
    argv = ["synth-longitudinal", "--preset", "tiny", "--seed", str(SEED), "--patients", "P003", "--out", str(tmp_path)]
    subprocess.run([sys.executable, "-m", "lesionbench.cli", *argv], check=True, capture_output=True)
    for name in ("flair_time01_on_middle_space", "flair_time02_on_middle_space", "ground_truth"):
        ours = nib.load(written / f"Testing/P003/{name}.nii.gz")
        verb = nib.load(tmp_path / f"Testing/P003/{name}.nii.gz")
        assert np.array_equal(np.asarray(ours.dataobj), np.asarray(verb.dataobj))
        assert np.allclose(ours.affine, verb.affine)


def test_a_missing_patient_stops_the_import_naming_the_root(written, tmp_path):
    partial = tmp_path / "partial"
    (partial / "Training").mkdir(parents=True)
    (partial / "Testing").mkdir()
    for patient in list((written / "Training").iterdir()) + list((written / "Testing").iterdir())[1:]:
        (partial / patient.parent.name / patient.name).symlink_to(patient)
    with pytest.raises(SheetError, match=r"disagrees with its plan in column 'case_id'") as error:
        import_synthetic_cohort(CONFIG, partial)
    assert str(partial) in str(error.value)


def test_the_dag_synthesizes_one_patient_per_job(tmp_path):
    command = [
        *SNAKEMAKE,
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(REPO / "tests/configs/new_lesions_tiny.yaml"),
        "-n",
        "--quiet",
        "rules",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    n = len(plan_longitudinal("tiny", SEED))
    assert counts["synthesize_patient"] == n and counts["synthesize_anatomy"] == 1
    assert counts["import_cohort"] == 1 and "synthesize_case" not in counts and "cohort_overview" not in counts
