"""The methods stage end to end on the `tiny` synthetic cohort (CPU): every built-in method trains
and infers, an ensemble fuses them, a participant's `command` (a small script here) runs per case
with one case failing and recorded, and a `submission` folder with one missing and one off-grid
case gives status missing / failed; the evaluation scores all of them. Then `methods_on_failure:
stop` makes the failing case stop the job with an error naming method and case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]

COMMAND_TOOL = '''
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
'''


def run(workdir: Path, configs: list[Path], *targets: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + ["--directory", str(workdir), "--configfile", str(REPO / "config/config.yaml"), *map(str, configs), "--cores", "2", *extra, *targets]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=1500)


def methods_config(tmp: Path) -> dict:
    tool = tmp / "tool.py"
    tool.write_text(COMMAND_TOOL)
    return {
        "synthetic": {"preset": "tiny", "raters": 3},
        "methods_on_failure": "record",
        "methods": [
            {"name": "flair_hyperintensity", "kind": "flair_hyperintensity", "inputs": ["nyul/flair"]},
            {"name": "random_forest", "kind": "random_forest", "inputs": ["nyul/flair", "nyul/t1", "nyul/t2", "nyul/pd"], "params": {"n_estimators": 20, "samples_per_case": 2000}},
            {
                "name": "unet3d",
                "kind": "unet3d",
                "inputs": ["zscore/flair", "zscore/t1", "zscore/t2", "zscore/pd"],
                "device": "cpu",
                "params": {"channels": [8, 16, 32], "strides": [2, 2], "patch_size": [24, 24, 24], "batch_size": 2, "iterations": 20},
            },
            {"name": "ensemble", "kind": "ensemble", "members": ["flair_hyperintensity", "random_forest", "unet3d"], "fusion": "majority"},
            {"name": "cmd", "kind": "command", "inputs": ["nyul/flair"], "command": f"{sys.executable} {tool} {{flair}} {{output}} {{case}}"},
            {"name": "sub", "kind": "submission", "folder": str(tmp / "submission"), "pattern": "{case}_seg.nii.gz"},
        ],
    }


@pytest.mark.slow
def test_methods_end_to_end_on_tiny(tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    config_file = tmp_path / "methods.yaml"
    config_file.write_text(yaml.safe_dump(methods_config(tmp_path)))
    # the raw cohort first: the submission needs the test cases' FLAIR grids
    first = run(work, [config_file], "results/cohort/cases.tsv")
    assert first.returncode == 0, first.stderr[-3000:]
    cases = pd.read_csv(work / "results/cohort/cases.tsv", sep="\t", dtype=str)
    test_cases = sorted(cases.loc[cases["split"] == "test", "case_id"])
    assert len(test_cases) == 2
    off_grid_case, missing_case = test_cases
    flair = nib.load(str(work / cases.set_index("case_id").loc[off_grid_case, "flair"]))
    submission = tmp_path / "submission"
    submission.mkdir()
    shape = tuple(s - 1 for s in flair.shape)  # one voxel short on every axis: off the FLAIR grid
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8), flair.affine), str(submission / f"{off_grid_case}_seg.nii.gz"))

    result = run(work, [config_file], "results/methods/status.tsv", "results/metrics/metrics.tsv")
    assert result.returncode == 0, result.stderr[-5000:]

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
        assert (model / "method.json").exists() and (model / "training_curve.tsv").exists() and (model / "training_curve.png").exists()
    record = json.loads((work / "results/models/unet3d/method.json").read_text())
    assert record["device_used"] == "cpu" and record["mixed_precision"] is False

    failing = next(c for c in test_cases if c.startswith("c07"))
    other = next(c for c in test_cases if c != failing)
    assert status.loc[("cmd", other), "status"] == "ok"
    assert status.loc[("cmd", failing), "status"] == "failed"
    assert f"case {failing}" in status.loc[("cmd", failing), "error"] and "tool crashed" in status.loc[("cmd", failing), "error"]
    assert status.loc[("sub", missing_case), "status"] == "missing"
    assert status.loc[("sub", off_grid_case), "status"] == "failed"
    off_error = status.loc[("sub", off_grid_case), "error"]
    assert f"case {off_grid_case}" in off_error and f"{off_grid_case}_seg.nii.gz" in off_error and "not on the case's FLAIR grid" in off_error

    metrics = pd.read_csv(work / "results/metrics/metrics.tsv", sep="\t")
    scored = metrics[metrics["entry"].isin(["cmd", "sub"])]
    statuses = scored.groupby(["entry", "case_id"])["status"].agg(lambda s: set(s))
    assert statuses[("sub", missing_case)] == {"missing"}
    assert statuses[("sub", off_grid_case)] == {"failed"}
    assert statuses[("cmd", failing)] == {"failed"}

    # stop: the failing case now stops the job, naming method and case
    stop_file = tmp_path / "stop.yaml"
    stop_file.write_text(yaml.safe_dump({"methods_on_failure": "stop"}))
    stopped = run(work, [config_file, stop_file], f"results/predictions/cmd/{failing}", extra=("--forcerun", f"results/predictions/cmd/{failing}"))
    assert stopped.returncode != 0
    assert f"method cmd failed on case {failing}" in stopped.stderr
