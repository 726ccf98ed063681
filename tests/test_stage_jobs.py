"""The file-edge functions that workflow scripts call (one per rule): small synthetic files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lesionbench.errors import SheetError
from lesionbench.io import load_volume, save_volume
from lesionbench.methods.files import STATUS_COLUMNS, TIMING_COLUMNS, status_table, timing_table

AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


def _brain(tmp_path, name="case1", seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(100.0, 10.0, size=(12, 12, 12)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[2:10, 2:10, 2:10] = True
    save_volume(tmp_path / f"{name}_flair.nii.gz", image, AFFINE, dtype=np.float32)
    save_volume(tmp_path / f"{name}_mask.nii.gz", mask, AFFINE, dtype=np.uint8)
    return tmp_path / f"{name}_flair.nii.gz", tmp_path / f"{name}_mask.nii.gz", image, mask


def test_status_and_timing_tables(tmp_path):
    ok, failed, absent = tmp_path / "m1" / "c1", tmp_path / "m1" / "c2", tmp_path / "m1" / "c3"
    for folder, status in (
        (ok, {"status": "ok", "seconds": 2.0}),
        (failed, {"status": "failed", "seconds": 1.0, "error": "boom"}),
    ):
        folder.mkdir(parents=True)
        (folder / "status.json").write_text(json.dumps(status))
    record = tmp_path / "method.json"
    record.write_text(json.dumps({"name": "m1", "training_cases": ["a", "b"], "train_seconds": 5.5}))
    status = status_table([ok, failed, absent])
    assert list(status.columns) == list(STATUS_COLUMNS)
    assert list(status["status"]) == ["ok", "failed", "missing"] and status["error"][1] == "boom"
    timing = timing_table(status, [record])
    assert list(timing.columns) == list(TIMING_COLUMNS)
    assert timing.to_dict("records")[0]["seconds_total"] == 5.5
    infer = timing.to_dict("records")[1]
    assert infer["stage"] == "infer" and infer["cases"] == 1 and infer["seconds_total"] == 2.0


def test_harmonize_case_files_writes_each_named_output(tmp_path):
    from lesionbench.preprocess.harmonize import harmonize
    from lesionbench.preprocess.harmonize_jobs import harmonize_case_files

    flair, mask, image, brain = _brain(tmp_path)
    outputs = {("zscore", "flair"): tmp_path / "z.nii.gz", ("none", "flair"): tmp_path / "n.nii.gz"}
    harmonize_case_files("case1", {"flair": flair}, mask, outputs)
    for (scheme, _), path in outputs.items():
        expected = harmonize(scheme, image, brain, modality="flair", case="case1").astype(np.float32)
        assert np.array_equal(load_volume(path).data, expected)


def test_fit_nyul_files_writes_the_scale(tmp_path):
    from lesionbench.preprocess.harmonize import NyulScale
    from lesionbench.preprocess.harmonize_jobs import fit_nyul_files

    a, ma, _, _ = _brain(tmp_path, "a", 1)
    b, mb, _, _ = _brain(tmp_path, "b", 2)
    scale = fit_nyul_files(
        "flair", ["a", "b"], [a, b], [ma, mb], tmp_path / "s.json", percentiles=[1, 50, 99], scale_range=[1, 100]
    )
    assert NyulScale.from_json(tmp_path / "s.json") == scale and scale.cases == ("a", "b")


def _sheet(split="train"):
    from lesionbench.cohort.sheet import CaseSheet

    cases = pd.DataFrame(
        [{"case_id": "c1", "center": "01", "split": split, "flair": "f.nii.gz", "t1": "", "t2": "", "pd": ""}]
    )
    raters = pd.DataFrame([{"case_id": "c1", "rater": "1", "path": "r1.nii.gz"}])
    return CaseSheet(cases=cases, raters=raters, root=None)


def test_check_against_plan(tmp_path):
    from lesionbench.cohort.importers import check_against_plan

    assert check_against_plan(_sheet(), _sheet(), root=tmp_path).cases.equals(_sheet().cases)
    with pytest.raises(SheetError, match="column 'split'") as info:
        check_against_plan(_sheet("test"), _sheet(), root=tmp_path)
    assert info.value.path == str(tmp_path)


def test_fuse_case_files_writes_every_output(tmp_path):
    from lesionbench.consensus.case import ConsensusOptions, FusionFiles, fuse_case_files

    flair, _, _, _ = _brain(tmp_path)
    raters = {}
    for k, shift in enumerate((0, 1, 0)):
        mask = np.zeros((12, 12, 12), bool)
        mask[4 + shift : 8, 4:8, 4:8] = True
        raters[f"r{k}"] = str(tmp_path / f"r{k}.nii.gz")
        save_volume(raters[f"r{k}"], mask, AFFINE, dtype=np.uint8)
    files = FusionFiles(*(str(tmp_path / n) for n in ("m.nii.gz", "p.nii.gz", "t.tsv", "loo")))
    fused = fuse_case_files(
        "case1",
        flair=str(flair),
        raters=raters,
        brain_mask=None,
        outputs={"majority": files},
        options=ConsensusOptions(),
    )
    assert np.array_equal(load_volume(files.mask).data > 0, fused["majority"].result.binary())
    assert sorted(p.name for p in (tmp_path / "loo").iterdir()) == ["r0.nii.gz", "r1.nii.gz", "r2.nii.gz"]
    assert len(pd.read_csv(files.table, sep="\t")) == 3
