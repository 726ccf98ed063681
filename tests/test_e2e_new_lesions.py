"""The new-lesion track end to end (task: new_lesions, tests/configs/new_lesions_tiny.yaml plus a
participant's command reading {flair_time01} and {flair_time02}): the workflow writes the
tiny synthetic longitudinal cohort in the MSSEG-2 layout (patient folders in Training/ and
Testing/), imports and QCs it, preprocesses and harmonizes each visit, fuses the brain masks
and the new-lesion raters, trains and runs the subtraction baseline, the two-visit U-Net and
their ensemble, scores every test case as MSSEG-2 did and ranks. Also, on a folder written by
`lesionbench synth-longitudinal` and imported as dataset.source: msseg2 with
new_lesions.coregister: never: a case whose second visit is off the first one's grid stops the
run at input QC naming the case and the file."""

from __future__ import annotations

import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from lesionbench.synth.longitudinal_plan import plan_longitudinal

pytestmark = pytest.mark.slow


def msseg2_cohort(tmp_path_factory) -> tuple:
    """The tiny longitudinal cohort written by the verb (MSSEG-2's Training/ and Testing/)."""
    root = tmp_path_factory.mktemp("msseg2_tiny")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    subprocess.run(
        [sys.executable, "-m", "lesionbench.cli", "synth-longitudinal", "--preset", "tiny", "--out", str(root)],
        check=True,
        env=env,
        capture_output=True,
    )
    return root, pd.read_csv(root / "patients.tsv", sep="\t", dtype=str)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return msseg2_cohort(tmp_path_factory)


#: A participant's tool: new lesion where the follow-up exceeds the baseline by 2 (z-scored FLAIR).
COMMAND_TOOL = """
import sys
import nibabel as nib
import numpy as np
first, second, out = sys.argv[1:4]
a, b = nib.load(first), nib.load(second)
mask = (np.asarray(b.dataobj) - np.asarray(a.dataobj)) > 2.0
nib.save(nib.Nifti1Image(mask.astype(np.uint8), b.affine), out)
"""


def run_workflow(workdir, *targets, msseg2_root=None, coregister=None):
    """The tiny track's config plus a command method; with ``msseg2_root``, on that MSSEG-2 folder
    instead of the embedded cohort; ``coregister``: new_lesions.coregister when given."""
    config = yaml.safe_load((REPO / "tests/configs/new_lesions_tiny.yaml").read_text())
    if coregister is not None:
        config["new_lesions"] = {"coregister": coregister}
    if msseg2_root is not None:
        # the MSSEG-2 layout names no center
        config["dataset"] = {"source": "msseg2", "root": str(msseg2_root), "center": "01"}
    tool = workdir / "tool.py"
    tool.write_text(COMMAND_TOOL)
    config["methods"].append(
        {
            "name": "cmd",
            "kind": "command",
            "inputs": ["zscore/flair"],
            "command": f"{sys.executable} {tool} {{flair_time01}} {{flair_time02}} {{output}}",
            # the tool needs this venv's nibabel and lives in the test's folder: unsandboxed (the
            # sandboxed runs are tests/test_sandbox.py and tests/test_sandbox_workflow.py)
            "sandbox": "none",
        }
    )
    (workdir / "new_lesions.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [
        *SNAKEMAKE,
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(workdir / "new_lesions.yaml"),
        "--cores",
        "2",
        *targets,
    ]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)


def test_new_lesion_track_runs_and_ranks(tmp_path):
    result = run_workflow(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    plans = plan_longitudinal("tiny", 2016)
    test_cases = sorted(p.patient_id for p in plans if p.split == "test")
    # the embedded cohort, written by the workflow in the MSSEG-2 layout, centers and splits from its plan
    cases = pd.read_csv(results / "cohort/cases.tsv", sep="\t", dtype=str).set_index("case_id")
    assert cases["center"].to_dict() == {p.patient_id: p.center_time02 for p in plans}
    assert cases["split"].to_dict() == {p.patient_id: p.split for p in plans}
    assert (results / "cohort/synthetic_longitudinal/Testing" / test_cases[0] / "ground_truth.nii.gz").is_file()
    # each visit was preprocessed as a case of its own, and the fused mask lies in both
    for case in test_cases:
        fused = np.asarray(nib.load(results / f"new_lesions/brain_masks/{case}.nii.gz").dataobj) > 0
        for visit in ("time01", "time02"):
            visit_mask = np.asarray(nib.load(results / f"preprocessed/{case}_{visit}/brain_mask.nii.gz").dataobj) > 0
            assert fused.any() and not (fused & ~visit_mask).any()
    table = pd.read_csv(results / "metrics/metrics.tsv", sep="\t", dtype={"case_id": str})
    assert sorted(table["case_id"].unique()) == test_cases
    methods = table[table["entry_kind"] != "rater"]
    assert set(methods["entry"]) == {"subtraction", "unet3d", "ensemble", "cmd"}
    # per case, either the detection metrics apply or the empty-reference ones, never both
    for (_case, _entry), rows in methods.groupby(["case_id", "entry"]):
        status = rows.set_index("metric")["status"]
        new = status["lesion_f1"] != "not_applicable"
        assert (status["n_tested_lesions"] == "not_applicable") == new
    assert set(table.loc[table["entry_kind"] == "rater", "reference"]) == {"loo"}
    board = pd.read_csv(results / "ranking/new_lesion_leaderboard.tsv", sep="\t")
    ranked = board[board["entry_kind"] != "rater"]
    assert sorted(ranked["entry"]) == ["cmd", "ensemble", "subtraction", "unet3d"]
    assert (ranked["n_cases_new"] + ranked["n_cases_empty"] == len(test_cases)).all()
    assert (board["entry_kind"] == "rater").sum() == 4
    assert "New lesions (MSSEG-2)" in (results / "ranking/new_lesion_leaderboard.md").read_text()
    assert (results / "ranking/figures/new_lesion_empty_cases.png").stat().st_size > 0
    # detection by new-lesion size: every method counts the same reference lesions (all ran),
    # each rater those of the fusion of the others
    by_size = pd.read_csv(results / "ranking/new_lesion_detection_by_size.tsv", sep="\t")
    totals = by_size.groupby("entry")[["n_lesions", "n_detected"]].sum()
    method_totals = totals.loc[["cmd", "ensemble", "subtraction", "unet3d"], "n_lesions"]
    assert method_totals.nunique() == 1 and method_totals.iloc[0] > 0
    assert (totals["n_detected"] <= totals["n_lesions"]).all()
    assert set(by_size.loc[by_size["entry_kind"] == "rater", "reference"]) == {"loo"}
    assert (results / "ranking/figures/new_lesion_detection_by_size.png").stat().st_size > 0
    status = pd.read_csv(results / "methods/status.tsv", sep="\t")
    assert (status["status"] == "ok").all()


def test_a_second_visit_off_the_first_grid_stops_at_input_qc(cohort, tmp_path):
    root, _ = cohort
    moved = tmp_path / "msseg2"
    for split in ("Training", "Testing"):
        (moved / split).mkdir(parents=True)
        for patient in (root / split).iterdir():
            (moved / split / patient.name).symlink_to(patient)
    victim = sorted((moved / "Testing").iterdir())[0]
    original = root / "Testing" / victim.name
    name = "flair_time02_on_middle_space.nii.gz"
    victim.unlink()
    victim.mkdir()
    for entry in original.iterdir():
        if entry.name != name:
            (victim / entry.name).symlink_to(entry)
    image = nib.load(original / name)
    affine = image.affine.copy()
    affine[:3, 3] += 6.0  # 6 mm off: another grid
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), affine), str(victim / name))
    # the workflow told not to co-register visits on two grids (new_lesions.coregister: never)
    result = run_workflow(tmp_path, "results/qc/inputs.tsv", msseg2_root=moved, coregister="never")
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert f"case {victim.name}" in log and str(victim / name) in log
    assert "the two visits are not on one grid" in log
