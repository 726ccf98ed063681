"""The new-lesion track's detection-by-size figure: each reference new lesion's volume and the
Anima verdict on it (hand-built masks), the per-bin counts of a hand-made detection table, and the
per-case detection table written from files."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from conftest import write_nifti
from lesionbench.errors import ConfigError
from lesionbench.methods.newlesion_jobs import DETECTION_COLUMNS, score_new_lesion_case_files
from lesionbench.metrics.newlesions import detection_rows, score_new_lesions
from lesionbench.ranking.newlesions import (
    new_lesion_detection_by_size,
    new_lesion_detection_by_size_figure,
    write_new_lesion_detection_by_size,
)

SPACING = (1.0, 1.0, 1.0)


def pair():
    """Reference: a 2x2x2 new lesion (8 mm³, first in raster order) and a 5x5x5 one (125 mm³).
    Prediction: the large one exactly, nothing over the small one."""
    reference = np.zeros((20, 20, 20), bool)
    reference[2:4, 2:4, 2:4] = True
    reference[10:15, 10:15, 10:15] = True
    prediction = np.zeros_like(reference)
    prediction[10:15, 10:15, 10:15] = True
    return reference, prediction


def test_each_reference_new_lesion_has_its_volume_and_verdict():
    reference, prediction = pair()
    scores = score_new_lesions(reference, prediction, SPACING)
    assert scores.reference_lesions == ((8.0, False), (125.0, True))
    rows = detection_rows(scores, fields={"case_id": "c1", "entry": "m"})
    assert [(r["lesion"], r["volume_mm3"], r["detected"]) for r in rows] == [(1, 8.0, 0), (2, 125.0, 1)]
    # a case without new lesions has none
    empty = score_new_lesions(np.zeros_like(reference), prediction, SPACING)
    assert detection_rows(empty) == []


def detections(rows):
    return pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))


def test_lesions_are_counted_per_volume_bin_by_hand():
    method = {"case_id": "c1", "entry": "m", "entry_kind": "method", "reference": "majority"}
    rater = {"case_id": "c1", "entry": "expert1", "entry_kind": "rater", "reference": "loo"}
    rows = [
        {**method, "lesion": 1, "volume_mm3": 2.0, "detected": 1},  # below 3 mm³: in no bin
        {**method, "lesion": 2, "volume_mm3": 9.0, "detected": 1},  # [3, 10)
        {**method, "lesion": 3, "volume_mm3": 10.0, "detected": 0},  # [10, 50)
        {**method, "lesion": 4, "volume_mm3": 49.0, "detected": 1},  # [10, 50)
        {**method, "lesion": 5, "volume_mm3": 5000.0, "detected": 1},  # >= 500
        {**rater, "lesion": 1, "volume_mm3": 50.0, "detected": 0},  # [50, 500)
        # against another reference: left out
        {**method, "reference": "staple", "lesion": 1, "volume_mm3": 50.0, "detected": 1},
    ]
    table = new_lesion_detection_by_size(detections(rows), reference="majority").set_index(["entry", "size_bin"])
    assert list(table.loc["m"].index) == ["3-10mm3", "10-50mm3", "50-500mm3", ">=500mm3"]
    m = table.loc["m"]
    assert m["n_lesions"].tolist() == [1, 2, 0, 1]
    assert m["n_detected"].tolist() == [1, 1, 0, 1]
    assert m.loc["10-50mm3", "sensitivity"] == 0.5 and math.isnan(m.loc["50-500mm3", "sensitivity"])
    r = table.loc["expert1"]
    assert r.loc["50-500mm3", "n_lesions"] == 1 and r.loc["50-500mm3", "sensitivity"] == 0.0
    assert set(table["reference"]) == {"majority", "loo"}


def test_size_bins_must_increase():
    with pytest.raises(ConfigError, match="a low below each high"):
        new_lesion_detection_by_size(detections([]), reference="majority", bins=[(3.0, 10.0), (10.0, 10.0)])


def test_the_case_files_give_the_detection_table_and_the_figure(tmp_path):
    reference, prediction = pair()
    affine = np.eye(4)
    ref_path = write_nifti(tmp_path / "ref.nii.gz", reference.astype(np.uint8), affine)
    folder = tmp_path / "pred" / "m"
    write_nifti(folder / "mask.nii.gz", prediction.astype(np.uint8), affine)
    (folder / "status.json").write_text(json.dumps({"status": "ok"}))
    loo = tmp_path / "loo"
    write_nifti(loo / "expert1.nii.gz", reference.astype(np.uint8), affine)
    out, lesions = tmp_path / "metrics.tsv", tmp_path / "detections.tsv"
    score_new_lesion_case_files(
        "c1",
        reference=ref_path,
        reference_name="majority",
        entries=[("m", "method"), ("gone", "method")],
        prediction_dirs=[folder, tmp_path / "pred" / "gone"],
        raters=["expert1"],
        rater_masks=[ref_path],
        loo_dir=loo,
        fields={"center": "01", "split": "test", "seen_center": True},
        output=out,
        detections_output=lesions,
    )
    table = pd.read_csv(lesions, sep="\t", dtype={"case_id": str})
    assert list(table.columns) == list(DETECTION_COLUMNS)
    # the missing prediction gives no rows; the rater (its own mask against itself) detects both
    assert table.groupby("entry")["detected"].apply(list).to_dict() == {"m": [0, 1], "expert1": [1, 1]}
    by_size = write_new_lesion_detection_by_size(
        [lesions], reference="majority", table_path=tmp_path / "by_size.tsv", figure_path=tmp_path / "fig.png"
    )
    assert by_size.set_index(["entry", "size_bin"]).loc[("m", "50-500mm3"), "n_detected"] == 1
    assert (tmp_path / "fig.png").stat().st_size > 0
    # a table with no lesion at all still draws (an empty figure)
    new_lesion_detection_by_size_figure(
        new_lesion_detection_by_size(detections([]), reference="majority"), tmp_path / "empty.png"
    )
    assert (tmp_path / "empty.png").stat().st_size > 0
