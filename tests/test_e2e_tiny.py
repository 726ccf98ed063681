"""The whole workflow on the synthetic `tiny` preset: it runs end to end, the same config and
seed give identical results, and a run killed mid-way resumes without redoing finished jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"

pytestmark = pytest.mark.slow


def snakemake_cmd(workdir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config" / "config.yaml"),
        str(TINY),
        "--cores",
        "2",
        *extra,
    ]


def run(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(snakemake_cmd(workdir, *extra), capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("tiny-a")
    result = run(workdir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return workdir


def test_every_stage_produced_its_outputs(first_run):
    results = first_run / "results"
    for path in (
        "qc/inputs.tsv",
        "cohort/cases.tsv",
        "figures/cohort_overview.png",
        "consensus/rater_performance.tsv",
        "consensus/validation_summary.tsv",
        "metrics/metrics.tsv",
        "provenance.json",
    ):
        assert (results / path).stat().st_size > 0, path
    table = pd.read_csv(results / "metrics/metrics.tsv", sep="\t", dtype={"case_id": str, "center": str})
    assert set(table["entry_kind"]) >= {"rater"}
    assert {"loo", "truth"} <= set(table["reference"])


def test_same_config_gives_identical_results(first_run, tmp_path):
    again = tmp_path / "tiny-b"
    result = run(again)
    assert result.returncode == 0, result.stderr[-6000:]
    for name in ("results/metrics/metrics.tsv", "results/consensus/rater_performance.tsv"):
        assert (first_run / name).read_bytes() == (again / name).read_bytes(), name
    board = Path("results/ranking/leaderboard.tsv")
    if (first_run / board).exists():
        assert (first_run / board).read_bytes() == (again / board).read_bytes()


def test_killed_run_resumes_without_redoing_finished_jobs(first_run, tmp_path):
    workdir = tmp_path / "tiny-resume"
    workdir.mkdir()
    proc = subprocess.Popen(snakemake_cmd(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    marker = workdir / "results" / "qc" / "inputs.tsv"
    deadline = time.time() + 900
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: Snakemake stops and cleans up
    proc.wait(timeout=300)
    finished = {p: p.stat().st_mtime_ns for p in (workdir / "results" / "cohort" / "synthetic").rglob("*.nii.gz")}
    assert finished, "nothing had finished before the interruption"
    result = run(workdir)
    assert result.returncode == 0, result.stderr[-6000:]
    redone = [p for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    assert not redone, f"finished outputs were redone: {redone[:3]}"
    assert (first_run / "results/metrics/metrics.tsv").read_bytes() == (workdir / "results/metrics/metrics.tsv").read_bytes()
