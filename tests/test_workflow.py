"""The Snakemake workflow itself: lint, dry run, and real runs on small cohorts (imported
MS-SEG tree; the synthetic `tiny` preset), including a failing case in stop and exclude mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, make_msseg_tree


def snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "test-config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    cmd = SNAKEMAKE + [
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(cfg),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=900)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_msseg_tree(
        tmp_path / "data", {"Training": {"01": 1, "07": 1}, "Testing": {"03": 1, "08": 1}}, n_raters=3
    )


def test_lint_is_clean():
    result = subprocess.run(SNAKEMAKE + ["--lint"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "workflow"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_config_dry_run_prints_dag():
    # --forceall: the whole DAG even where a demo run already left results here
    result = subprocess.run(SNAKEMAKE + ["-n", "--forceall", "--cores", "2"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "synthesize_case" in out and "qc_case" in out and "import_cohort" in out


@pytest.mark.slow
def test_imported_msseg_tree_runs_qc(tmp_path, tree):
    config = {
        "dataset": {"source": "msseg2016", "root": str(tree)},
        "modalities": {"required": ["flair", "t1", "t2", "pd"]},
        "consensus": {"region": "grid", "methods": ["staple", "lop-staple", "majority"], "reference": "majority"},
    }
    result = snakemake(tmp_path / "run", config, "results/qc/inputs.tsv", "results/consensus/rater_performance.tsv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "run/results/qc/inputs.tsv", sep="\t")
    assert set(table["case_id"]) == {"c01_train_p01", "c07_train_p01", "c03_test_p01", "c08_test_p01"}
    assert (table.loc[table.status != "absent", "status"] == "ok").all()
    cases = pd.read_csv(tmp_path / "run/results/cohort/cases.tsv", sep="\t", dtype=str)
    assert sorted(cases["split"]) == ["test", "test", "train", "train"]
    raters = pd.read_csv(tmp_path / "run/results/consensus/rater_performance.tsv", sep="\t")
    assert len(raters) == 4 * 3 * 3  # cases x raters x fusion methods
    assert set(raters["method"]) == {"staple", "lop-staple", "majority"}


@pytest.mark.slow
def test_failing_case_stops_or_is_excluded(tmp_path, tree):
    bad = tree / "Testing/Center_08/Patient_01/Masks/ManualSegmentation_2.nii.gz"
    img = nib.load(str(bad))
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj) * 3, img.affine), str(bad))
    config = {"dataset": {"source": "msseg2016", "root": str(tree)}}
    stopped = snakemake(tmp_path / "stop", config, "results/qc/inputs.tsv")
    assert stopped.returncode != 0
    assert f"case c08_test_p01, file {bad}: mask is not binary" in stopped.stderr
    config["on_failure"] = {"qc": "exclude"}
    excluded = snakemake(tmp_path / "exclude", config, "results/qc/inputs.tsv")
    assert excluded.returncode == 0, excluded.stderr
    listed = pd.read_csv(tmp_path / "exclude/results/qc/excluded.tsv", sep="\t")
    assert list(listed["case_id"]) == ["c08_test_p01"] and str(bad) in listed.loc[0, "problem"]


def test_bad_sheet_fails_before_any_job(tmp_path, tree):
    cases = tmp_path / "cases.tsv"
    cases.write_text("case_id\tcenter\tsplit\tflair\nx1\t01\ttrain\tx1.nii.gz\nx1\t01\ttest\tx2.nii.gz\n")
    result = snakemake(
        tmp_path / "run",
        {"dataset": {"source": "sheet", "cases": str(cases)}, "modalities": {"required": ["flair"]}},
        "-n",
    )
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "case x1" in out and "duplicate case_id" in out
