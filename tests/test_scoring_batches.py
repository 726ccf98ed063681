"""Batched scoring: batch sizes, rows identical to scoring each case alone, failures kept per case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lesionbench.errors import ConfigError, LesionbenchError
from lesionbench.io import save_volume
from lesionbench.metrics.batches import MAX_AUTO_BATCH, auto_batch_size, batch_size, plan_batches
from lesionbench.metrics.scoring import (
    CaseFiles,
    CaseInfo,
    evaluate_batch_files,
    evaluate_case_files,
)
from lesionbench.metrics.tables import gather_metrics_tables

SHAPE = (14, 12, 10)


def test_auto_batch_size_aims_at_four_batches_per_core():
    assert auto_batch_size(14, 2) == 2  # 7 batches on 2 cores
    assert auto_batch_size(53, 2) == 7  # 8 batches
    assert auto_batch_size(1000, 2) == MAX_AUTO_BATCH  # capped: 16 batches
    assert auto_batch_size(1000, 64) == 4  # 250 batches for 64 cores
    assert auto_batch_size(3, 16) == 1
    assert auto_batch_size(0, 2) == 1
    assert batch_size("auto", 14, 2) == 2
    assert batch_size(5, 14, 2) == 5


@pytest.mark.parametrize("bad", [0, -3, 2.5, "big", True, None])
def test_batch_size_refuses_bad_settings(bad):
    with pytest.raises(ConfigError, match=r"metrics\.batch_size"):
        batch_size(bad, 10, 2)


def test_plan_batches_keeps_order_and_covers_every_case_once():
    cases = [f"c{k}" for k in range(7)]
    plan = plan_batches(cases, 3)
    assert plan == {"b0001": ["c0", "c1", "c2"], "b0002": ["c3", "c4", "c5"], "b0003": ["c6"]}
    assert plan_batches([], 3) == {}
    with pytest.raises(ConfigError):
        plan_batches(cases, 0)


def _blob(rng: np.random.Generator, n: int) -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    for _ in range(n):
        c = rng.integers(2, np.array(SHAPE) - 3)
        mask[c[0] - 1 : c[0] + 2, c[1] - 1 : c[1] + 2, c[2] - 1 : c[2] + 1] = 1
    return mask


def _write_case(root: Path, case: str, seed: int, *, bad_rater: bool = False) -> CaseFiles:
    """A case on a 1 mm grid: FLAIR, consensus, 3 raters, their loo fusions, one method."""
    rng = np.random.default_rng(seed)
    folder = root / case
    affine = np.eye(4)
    save_volume(folder / "flair.nii.gz", rng.normal(size=SHAPE).astype(np.float32), affine, dtype=np.float32)
    consensus = _blob(rng, 3)
    save_volume(folder / "consensus.nii.gz", consensus, affine)
    raters = {}
    for k in range(3):
        mask = np.maximum(consensus, _blob(rng, 1))
        path = folder / f"rater{k}.nii.gz"
        save_volume(path, (mask * 2 if bad_rater and k == 1 else mask).astype(np.uint8), affine)
        raters[f"rater{k}"] = str(path)
        save_volume(folder / "loo" / f"rater{k}.nii.gz", consensus, affine)
    pred = folder / "pred"
    pred.mkdir(parents=True)
    (pred / "status.json").write_text(json.dumps({"status": "ok"}))
    save_volume(pred / "mask.nii.gz", _blob(rng, 2), affine)
    return CaseFiles(
        info=CaseInfo(case_id=case, center="01", split="test", seen_center=True),
        flair=str(folder / "flair.nii.gz"),
        consensus=str(folder / "consensus.nii.gz"),
        raters=raters,
        loo_folder=str(folder / "loo"),
        entries=[("m", "method", str(pred)), ("absent", "method", str(folder / "none"))],
    )


def _alone(case: CaseFiles) -> pd.DataFrame:
    return evaluate_case_files(
        case.info,
        flair=case.flair,
        consensus_fusion="majority",
        consensus=case.consensus,
        raters=case.raters,
        loo_folder=case.loo_folder,
        entries=case.entries,
    )


def test_batch_rows_equal_each_case_scored_alone(tmp_path):
    cases = [_write_case(tmp_path, f"case{k}", seed=k) for k in range(3)]
    rows, failures = evaluate_batch_files(cases, consensus_fusion="majority")
    assert failures.empty
    alone = pd.concat([_alone(c) for c in cases], ignore_index=True)
    pd.testing.assert_frame_equal(rows, alone)
    # through the files: a table of one batch of 3 equals the table of three batches of one
    for k, frame in enumerate([rows, *(_alone(c) for c in cases)]):
        frame.to_csv(tmp_path / f"t{k}.tsv", sep="\t", index=False)
    batched = gather_metrics_tables([tmp_path / "t0.tsv"])
    per_case = gather_metrics_tables([tmp_path / f"t{k}.tsv" for k in (3, 1, 2)])
    pd.testing.assert_frame_equal(batched.reset_index(drop=True), per_case.reset_index(drop=True))


def test_a_case_that_cannot_be_scored_fails_alone(tmp_path):
    cases = [_write_case(tmp_path, f"case{k}", seed=k, bad_rater=(k == 1)) for k in range(3)]
    rows, failures = evaluate_batch_files(cases, consensus_fusion="majority")
    assert set(rows["case_id"]) == {"case0", "case2"}
    assert list(failures["case_id"]) == ["case1"]
    error = failures["error"].iloc[0]
    assert "case case1" in error and "rater1.nii.gz" in error and "\n" not in error
    rows.to_csv(tmp_path / "rows.tsv", sep="\t", index=False)
    failures.to_csv(tmp_path / "failures.tsv", sep="\t", index=False)
    with pytest.raises(LesionbenchError, match=r"1 case\(s\) could not be scored: case case1, file .*rater1"):
        gather_metrics_tables([tmp_path / "rows.tsv"], [tmp_path / "failures.tsv"])


def test_case_files_from_the_workflow_mapping():
    files = CaseFiles.from_mapping(
        {
            "info": {"case_id": "c1", "center": "03", "split": "train", "seen_center": False},
            "flair": "f.nii.gz",
            "consensus": "r.nii.gz",
            "raters": {"a": "a.nii.gz"},
            "loo_folder": "",
            "entries": [],
            "truth": "",
        }
    )
    assert files.info == CaseInfo("c1", "03", "train", False)
    assert files.loo_folder is None and files.truth is None and files.entries == []


def test_an_empty_batch_gives_an_empty_valid_table(tmp_path):
    rows, failures = evaluate_batch_files([], consensus_fusion="majority")
    assert rows.empty and failures.empty
    rows.to_csv(tmp_path / "empty.tsv", sep="\t", index=False)
    cases = [_write_case(tmp_path, "case0", seed=0)]
    _alone(cases[0]).to_csv(tmp_path / "one.tsv", sep="\t", index=False)
    table = gather_metrics_tables([tmp_path / "empty.tsv", tmp_path / "one.tsv"])
    assert set(table["case_id"]) == {"case0"}
