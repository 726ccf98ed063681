"""Like-for-like human rows: raters against their own leave-one-out fusion, methods against each
leave-one-out fusion with the per-metric mean, both under the reference label ``loo``.

Dice values are checked against 2|A∩B| / (|A|+|B|) counted with numpy on hand-made blocks.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lesionbench.io import save_volume
from lesionbench.metrics.scoring import (
    CaseInfo,
    EntryResult,
    Scored,
    case_rows,
    evaluate_case_files,
    mean_over_references,
    rows_frame,
)
from lesionbench.ranking.table import task_matrix, validate_metrics_table

SHAPE = (24, 24, 24)
SP = (1.0, 1.0, 1.0)
INFO = CaseInfo("c1", "01", "test", True)


def _block(x0: int, x1: int) -> np.ndarray:
    m = np.zeros(SHAPE, dtype=bool)
    m[x0:x1, 8:14, 8:14] = True
    return m


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def _case():
    raters = {"r1": _block(4, 12), "r2": _block(5, 13), "r3": _block(6, 16)}
    votes = sum(m.astype(int) for m in raters.values())
    consensus = votes >= 2
    loo = {name: (votes - m.astype(int)) >= 1 for name, m in raters.items()}  # union of the other two
    method = _block(6, 12)
    return raters, consensus, loo, method


def _value(table, entry, reference, metric="dice"):
    row = table[(table["entry"] == entry) & (table["reference"] == reference) & (table["metric"] == metric)]
    assert len(row) == 1
    return row.iloc[0]


def test_methods_and_raters_share_the_loo_label():
    raters, consensus, loo, method = _case()
    table = validate_metrics_table(
        rows_frame(
            case_rows(
                INFO,
                spacing=SP,
                consensus_name="consensus_majority",
                consensus=consensus,
                raters=raters,
                loo=loo,
                entries=[EntryResult("m", "method", method)],
            )
        )
    )
    refs = table.groupby("entry")["reference"].unique().apply(sorted).to_dict()
    assert refs == {"m": ["consensus_majority", "loo"], "r1": ["loo"], "r2": ["loo"], "r3": ["loo"]}
    # raters: own leave-one-out fusion
    for name, mask in raters.items():
        assert _value(table, name, "loo")["value"] == pytest.approx(_dice(loo[name], mask))
    # method: mean over the three leave-one-out fusions
    expected = np.mean([_dice(loo[r], method) for r in raters])
    assert _value(table, "m", "loo")["value"] == pytest.approx(expected)
    assert _value(table, "m", "consensus_majority")["value"] == pytest.approx(_dice(consensus, method))
    # hand check of the numbers: loo(r1) = x 5..16 (11 slabs), method x 6..12 (6 slabs) -> 12/17
    assert _dice(loo["r1"], method) == pytest.approx(12 / 17)
    assert _value(table, "m", "loo")["lesion_load_ml"] == pytest.approx(np.mean([m.sum() for m in loo.values()]) / 1000)


def test_methods_against_loo_can_be_switched_off():
    raters, consensus, loo, method = _case()
    table = rows_frame(
        case_rows(
            INFO,
            spacing=SP,
            consensus_name="consensus_majority",
            consensus=consensus,
            raters=raters,
            loo=loo,
            entries=[EntryResult("m", "method", method)],
            methods_against_loo=False,
        )
    )
    assert set(table.loc[table["entry"] == "m", "reference"]) == {"consensus_majority"}


def test_failed_method_gets_failed_loo_rows():
    raters, consensus, loo, _ = _case()
    table = validate_metrics_table(
        rows_frame(
            case_rows(
                INFO,
                spacing=SP,
                consensus_name="consensus_majority",
                consensus=consensus,
                raters=raters,
                loo=loo,
                entries=[EntryResult("m", "method", None, "failed")],
            )
        )
    )
    rows = table[(table["entry"] == "m") & (table["reference"] == "loo")]
    assert set(rows["status"]) == {"failed", "not_applicable"}
    assert rows["value"].isna().all()


def test_mean_over_references_rules():
    nan = math.nan
    parts = [
        {
            "dice": Scored("ok", 0.5),
            "lesion_f1": Scored("both_empty", nan),
            "hd": Scored("ok", 2.0),
            "n_tested_lesions": Scored("not_applicable", nan),
        },
        {
            "dice": Scored("ok", 0.7),
            "lesion_f1": Scored("ok", 0.5),
            "hd": Scored("undefined", nan),
            "n_tested_lesions": Scored("ok", 2.0),
        },
    ]
    parts[0]["hausdorff95_mm"], parts[1]["hausdorff95_mm"] = parts[0].pop("hd"), parts[1].pop("hd")
    out = mean_over_references(parts)
    assert out["dice"] == Scored("ok", pytest.approx(0.6))
    assert out["lesion_f1"].status == "ok" and out["lesion_f1"].value == pytest.approx((1.0 + 0.5) / 2)
    assert out["hausdorff95_mm"].status == "undefined" and math.isnan(out["hausdorff95_mm"].value)
    assert out["n_tested_lesions"] == Scored("ok", 2.0)
    same = mean_over_references([{"dice": Scored("both_empty", nan)}] * 3)
    assert same["dice"].status == "both_empty"
    with pytest.raises(ValueError):
        mean_over_references([])


def test_loo_rows_rank_like_for_like(tmp_path):
    """Through the file edge: the loo task ranks the methods; raters sit in the same table."""
    raters, consensus, loo, method = _case()
    affine = np.eye(4)
    save_volume(tmp_path / "flair.nii.gz", np.zeros(SHAPE, np.float32), affine, dtype=np.float32)
    save_volume(tmp_path / "consensus.nii.gz", consensus.astype(np.uint8), affine)
    (tmp_path / "loo").mkdir()
    rater_files = {}
    for name, m in raters.items():
        save_volume(tmp_path / f"{name}.nii.gz", m.astype(np.uint8), affine)
        save_volume(tmp_path / "loo" / f"{name}.nii.gz", loo[name].astype(np.uint8), affine)
        rater_files[name] = tmp_path / f"{name}.nii.gz"
    for name, mask, status in (("good", method, "ok"), ("bad", None, "failed")):
        folder = tmp_path / "pred" / name
        folder.mkdir(parents=True)
        (folder / "status.json").write_text(json.dumps({"status": status}))
        if mask is not None:
            save_volume(folder / "mask.nii.gz", mask.astype(np.uint8), affine)
    table = validate_metrics_table(
        evaluate_case_files(
            INFO,
            flair=tmp_path / "flair.nii.gz",
            consensus_fusion="majority",
            consensus=tmp_path / "consensus.nii.gz",
            raters=rater_files,
            loo_folder=tmp_path / "loo",
            entries=[
                ("good", "method", tmp_path / "pred/good"),
                ("bad", "method", tmp_path / "pred/bad"),
                ("gone", "method", tmp_path / "pred/gone"),
            ],
        )
    )
    task = task_matrix(table, "dice", "loo")
    assert task.entries == ("bad", "gone", "good")
    assert task.values[2, 0] == pytest.approx(np.mean([_dice(loo[r], method) for r in raters]))
    assert np.isnan(task.values[:2, 0]).all()
    assert set(table.loc[table["entry"] == "gone", "status"]) <= {"missing", "not_applicable"}
    assert set(table.loc[table["entry_kind"] == "rater", "reference"]) == {"loo"}
