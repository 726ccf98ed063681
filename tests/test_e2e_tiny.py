"""The whole workflow end to end on the `tiny` synthetic cohort (CPU), run once and shared:

- every stage produces its outputs (QC, cohort figure, preprocessing, consensus, metrics,
  leaderboard, figures, provenance);
- every built-in method trains and infers, an ensemble fuses them, a participant's `command` (a
  small script here) runs per case with one case failing and recorded, and a `submission` folder
  with one missing and one off-grid case gives status missing / failed; all are scored;
- a second run of the same config in another folder, interrupted mid-way and resumed, redoes no
  finished job and gives byte-identical metrics and leaderboard (determinism + resume);
- `on_failure.methods: stop` makes the failing case stop the job, naming method and case."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE

COMMAND_TOOL = """
import sys
import nibabel as nib
import numpy as np
flair, output, case = sys.argv[1:4]
if case.startswith("c07"):
    sys.stderr.write("tool crashed: unsupported scanner\\n")
    sys.exit(4)
img = nib.load(flair)
data = np.asarray(img.dataobj, dtype=float)
mask = (data > np.percentile(data[data > 0], 99)).astype(np.uint8)
nib.save(nib.Nifti1Image(mask, img.affine), output)
"""


def run(workdir: Path, configs: list[Path], *targets: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + [
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config/config.yaml"),
        *map(str, configs),
        "--cores",
        "2",
        *targets,
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=1500)


def methods_config(tmp: Path) -> dict:
    """tests/configs/tiny.yaml (the built-ins with small settings) plus a participant's command
    (a small script) and a submission folder."""
    tool = tmp / "tool.py"
    tool.write_text(COMMAND_TOOL)
    tiny = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    tiny["on_failure"] = {"methods": "flag"}
    tiny["methods"] += [
        {
            "name": "cmd",
            "kind": "command",
            "inputs": ["nyul/flair"],
            "command": f"{sys.executable} {tool} {{flair}} {{output}} {{case}}",
            # the tool needs this venv's nibabel and lives in the test's folder: unsandboxed (the
            # sandboxed runs are tests/test_sandbox.py and tests/test_sandbox_workflow.py)
            "sandbox": "none",
        },
        {"name": "sub", "kind": "submission", "folder": str(tmp / "submission"), "pattern": "{case}_seg.nii.gz"},
    ]
    return tiny


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    work = tmp / "run"
    work.mkdir()
    config_file = tmp / "methods.yaml"
    config_file.write_text(yaml.safe_dump(methods_config(tmp)))
    # the raw cohort first: the submission needs the test cases' FLAIR grids
    first = run(work, [config_file], "results/cohort/cases.tsv")
    assert first.returncode == 0, first.stderr[-3000:]
    cases = pd.read_csv(work / "results/cohort/cases.tsv", sep="\t", dtype=str)
    test_cases = sorted(cases.loc[cases["split"] == "test", "case_id"])
    assert len(test_cases) == 2
    off_grid_case, missing_case = test_cases
    flair = nib.load(str(work / cases.set_index("case_id").loc[off_grid_case, "flair"]))
    submission = tmp / "submission"
    submission.mkdir()
    shape = tuple(s - 1 for s in flair.shape)  # one voxel short on every axis: off the FLAIR grid
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8), flair.affine), str(submission / f"{off_grid_case}_seg.nii.gz"))
    result = run(work, [config_file])
    assert result.returncode == 0, result.stderr[-5000:]
    return {"tmp": tmp, "work": work, "config": config_file, "cases": cases, "test_cases": test_cases}


def test_every_stage_produced_its_outputs(tiny):
    results = tiny["work"] / "results"
    for path in (
        "qc/inputs.tsv",
        "figures/cohort_overview.png",
        "qc/preprocessing.tsv",
        "qc/harmonization.tsv",
        "consensus/rater_performance.tsv",
        "consensus/validation_summary.tsv",
        "figures/lesion_frequency.png",
        "metrics/metrics.tsv",
        "ranking/leaderboard.md",
        "ranking/figures/podium_dice.png",
        "provenance.json",
    ):
        assert (results / path).stat().st_size > 0, path
    table = pd.read_csv(results / "metrics/metrics.tsv", sep="\t", dtype={"case_id": str, "center": str})
    assert {"rater", "method", "ensemble"} <= set(table["entry_kind"])
    reference = yaml.safe_load((REPO / "config/config.yaml").read_text())["consensus"]["reference"]
    assert {"loo", "truth", f"consensus_{reference}"} <= set(table["reference"])
    # methods are also scored like for like against the leave-one-rater-out fusions
    assert {"method", "rater"} <= set(table.loc[table["reference"] == "loo", "entry_kind"])
    validation = pd.read_csv(results / "consensus/validation_summary.tsv", sep="\t")
    assert len(validation) > 0
    board = pd.read_csv(results / "ranking/leaderboard.tsv", sep="\t")
    assert {"flair_hyperintensity", "unet3d", "rater1"} <= set(board["entry"])


def test_methods_end_to_end_on_tiny(tiny):
    work, cases, test_cases = tiny["work"], tiny["cases"], tiny["test_cases"]
    off_grid_case, missing_case = test_cases
    status = pd.read_csv(work / "results/methods/status.tsv", sep="\t").set_index(["method", "case_id"])
    for method in ("flair_hyperintensity", "random_forest", "unet3d", "ensemble"):
        for case in test_cases:
            assert status.loc[(method, case), "status"] == "ok", status.loc[(method, case), "error"]
            folder = work / "results/predictions" / method / case
            mask = nib.load(str(folder / "mask.nii.gz"))
            raw = nib.load(str(work / cases.set_index("case_id").loc[case, "flair"]))
            assert mask.shape == raw.shape and np.allclose(mask.affine, raw.affine)
            assert mask.get_data_dtype() == np.uint8 and set(np.unique(np.asarray(mask.dataobj))) <= {0, 1}
            assert nib.load(str(folder / "probability.nii.gz")).get_data_dtype() == np.float32
    for method in ("flair_hyperintensity", "random_forest", "unet3d"):
        model = work / "results/models" / method
        assert (
            (model / "method.json").exists()
            and (model / "training_curve.tsv").exists()
            and (model / "training_curve.png").exists()
        )
    record = json.loads((work / "results/models/unet3d/method.json").read_text())
    assert record["device_used"] == "cpu" and record["mixed_precision"] is False

    failing = next(c for c in test_cases if c.startswith("c07"))
    other = next(c for c in test_cases if c != failing)
    assert status.loc[("cmd", other), "status"] == "ok"
    assert status.loc[("cmd", failing), "status"] == "failed"
    assert (
        f"case {failing}" in status.loc[("cmd", failing), "error"]
        and "tool crashed" in status.loc[("cmd", failing), "error"]
    )
    assert status.loc[("sub", missing_case), "status"] == "missing"
    assert status.loc[("sub", off_grid_case), "status"] == "failed"
    off_error = status.loc[("sub", off_grid_case), "error"]
    assert (
        f"case {off_grid_case}" in off_error
        and f"{off_grid_case}_seg.nii.gz" in off_error
        and "not on the case's FLAIR grid" in off_error
    )

    metrics = pd.read_csv(work / "results/metrics/metrics.tsv", sep="\t")
    scored = metrics[metrics["entry"].isin(["cmd", "sub"])]
    # metrics that do not apply to a case (tested lesions where the reference has lesions, an empty
    # size bin) say so whatever the entry did; every other row of a missing/failed entry says why
    not_applicable = scored[scored["status"] == "not_applicable"]
    assert set(not_applicable["metric"].str.split("@").str[0]) <= {
        "n_tested_lesions",
        "tested_lesion_volume_mm3",
        "lesion_sensitivity",
    }
    scored = scored[scored["status"] != "not_applicable"]
    statuses = scored.groupby(["entry", "case_id"])["status"].agg(lambda s: set(s))
    assert statuses[("sub", missing_case)] == {"missing"}
    assert statuses[("sub", off_grid_case)] == {"failed"}
    assert statuses[("cmd", failing)] == {"failed"}


def test_rerun_interrupted_and_resumed_is_identical(tiny):
    """Same config in a fresh folder: interrupt after input QC (as Ctrl-C), run again; no finished
    job is redone and metrics and leaderboard are byte-identical to the first run."""
    work = tiny["tmp"] / "resume"
    work.mkdir()
    cmd = SNAKEMAKE + [
        "--directory",
        str(work),
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(tiny["config"]),
        "--cores",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work, start_new_session=True)
    marker = work / "results/qc/inputs.tsv"
    deadline = time.time() + 900
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=300)
    finished = {p: p.stat().st_mtime_ns for p in (work / "results/cohort/synthetic").rglob("*.nii.gz")}
    assert finished
    result = run(work, [tiny["config"]])
    assert result.returncode == 0, result.stderr[-5000:]
    redone = [p for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    assert not redone, f"finished outputs were redone: {redone[:3]}"
    for name in (
        "results/metrics/metrics.tsv",
        "results/ranking/leaderboard.tsv",
        "results/consensus/rater_performance.tsv",
    ):
        assert (tiny["work"] / name).read_bytes() == (work / name).read_bytes(), name


def test_stop_policy_names_method_and_case(tiny):
    work, config_file, tmp_path, test_cases = tiny["work"], tiny["config"], tiny["tmp"], tiny["test_cases"]
    failing = next(c for c in test_cases if c.startswith("c07"))
    # stop: the failing case now stops the job, naming method and case
    stop_file = tmp_path / "stop.yaml"
    stop_file.write_text(yaml.safe_dump({"on_failure": {"methods": "stop"}}))
    stopped = run(
        work,
        [config_file, stop_file],
        f"results/predictions/cmd/{failing}",
        extra=("--forcerun", f"results/predictions/cmd/{failing}"),
    )
    assert stopped.returncode != 0
    assert f"method cmd failed on case {failing}" in stopped.stderr
