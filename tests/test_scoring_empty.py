"""Scoring by meaning: empty and failed cases in the long table and in the ranking matrix.

Hand-worked cases on 1 mm voxels (minimum lesion volume 3 mm³, so a kept lesion has >= 4 voxels):

* speck: the reference is one 2-voxel speck (no kept lesion). Method A predicts nothing, so
  there is nothing to find and nothing found at the lesion level (lesion F1 ranked as 1);
  method B adds a 4x4x4 = 64-voxel lesion (lesion F1 0). A must rank strictly above B.
* empty: reference and prediction without any voxel: Dice is ranked as 1.
* failed: a method without result is ``failed`` on every metric, never ``both_empty``, even
  where the reference is empty.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lesionbench.metrics.scoring import CaseInfo, EntryResult, case_rows, no_result, rows_frame, score_entry
from lesionbench.ranking.leaderboard import msseg_leaderboard
from lesionbench.ranking.table import cell_values, task_matrix, validate_metrics_table

SHAPE = (20, 20, 20)
SP = (1.0, 1.0, 1.0)
REF = "consensus_majority"


def _speck() -> np.ndarray:
    m = np.zeros(SHAPE, dtype=bool)
    m[5, 5, 5:7] = True  # 2 voxels = 2 mm³ < 3 mm³
    return m


def _false_lesion() -> np.ndarray:
    m = np.zeros(SHAPE, dtype=bool)
    m[12:16, 12:16, 12:16] = True  # 64 voxels, far from the speck
    return m


def _table(reference: np.ndarray, entries: dict[str, np.ndarray | None], case: str = "c1") -> pd.DataFrame:
    info = CaseInfo(case, "01", "test", True)
    rows = []
    for name, mask in entries.items():
        rows += score_entry(
            info,
            entry=name,
            kind="method",
            reference_name=REF,
            reference=reference,
            prediction=mask,
            spacing=SP,
            status=None if mask is not None else "failed",
        )
    return validate_metrics_table(rows_frame(rows))


def _cell(table: pd.DataFrame, entry: str, metric: str) -> pd.Series:
    return table[(table["entry"] == entry) & (table["metric"] == metric)].iloc[0]


def test_speck_reference_a_nothing_ranks_above_b_false_lesion():
    table = _table(_speck(), {"A": np.zeros(SHAPE, bool), "B": _false_lesion()})
    a, b = _cell(table, "A", "lesion_f1"), _cell(table, "B", "lesion_f1")
    assert a["status"] == "both_empty" and math.isnan(a["value"])  # raw value kept: undefined
    assert b["status"] == "empty_reference" and b["value"] == 0.0
    task = task_matrix(table, "lesion_f1", REF)
    assert task.entries == ("A", "B")
    np.testing.assert_array_equal(task.values, [[1.0], [0.0]])
    board = msseg_leaderboard(table, reference=REF, metrics=["lesion_f1"])
    ranks = dict(zip(board["entry"], board["rank"]))
    assert ranks["A"] == 1 and ranks["B"] == 2
    # the leaderboard's mean uses the same filled values as its ranks
    means = dict(zip(board["entry"], board["lesion_f1_mean"]))
    assert means == {"A": 1.0, "B": 0.0}
    # voxel Dice is defined here (the speck has voxels): 0 for both, status ok
    assert _cell(table, "A", "dice")["status"] == "ok" and _cell(table, "A", "dice")["value"] == 0.0


def test_speck_reference_gives_tested_lesion_rows():
    table = _table(_speck(), {"A": np.zeros(SHAPE, bool), "B": _false_lesion()})
    for entry, count, volume in (("A", 0, 0.0), ("B", 1, 64.0)):
        n = _cell(table, entry, "n_tested_lesions")
        v = _cell(table, entry, "tested_lesion_volume_mm3")
        assert (n["status"], n["value"]) == ("ok", count)
        assert (v["status"], v["value"]) == ("ok", volume)
    task = task_matrix(table, "n_tested_lesions", REF)
    np.testing.assert_array_equal(task.values, [[0.0], [1.0]])
    assert not task.spec.higher_is_better


def test_tested_lesions_not_applicable_with_a_lesion_in_the_reference():
    reference = _false_lesion()
    other = np.zeros(SHAPE, bool)
    other[2:5, 2:5, 2:5] = True  # 27 voxels
    table = pd.concat(
        [
            _table(reference, {"A": reference, "B": None}, "c1"),
            _table(np.zeros(SHAPE, bool), {"A": other, "B": np.zeros(SHAPE, bool)}, "c2"),
        ]
    )
    table = validate_metrics_table(table)
    on_c1 = table[(table["case_id"] == "c1") & (table["metric"] == "n_tested_lesions")]
    assert set(on_c1["status"]) == {"not_applicable"}  # also for the failed entry B
    task = task_matrix(table, "n_tested_lesions", REF)
    assert task.cases == ("c2",)  # never ranked on c1
    np.testing.assert_array_equal(task.values, [[1.0], [0.0]])


def test_both_empty_dice_is_one_in_the_ranking_matrix():
    empty = np.zeros(SHAPE, bool)
    table = _table(empty, {"A": empty, "B": _false_lesion()})
    a = _cell(table, "A", "dice")
    assert a["status"] == "both_empty" and math.isnan(a["value"])
    for metric, best in (("dice", 1.0), ("hausdorff95_mm", 0.0), ("lesion_f1", 1.0), ("nsd", 1.0)):
        task = task_matrix(table, metric, REF)
        assert task.values[0, 0] == best, metric
    # B: Dice 0 defined; the distance is undefined (one side empty), left for na_treat
    assert _cell(table, "B", "dice")["value"] == 0.0
    assert _cell(table, "B", "hausdorff95_mm")["status"] == "undefined"
    assert math.isnan(task_matrix(table, "hausdorff95_mm", REF).values[1, 0])


def test_failed_row_is_never_both_empty():
    empty = np.zeros(SHAPE, bool)
    table = _table(empty, {"A": empty, "F": None})
    failed = table[table["entry"] == "F"]
    assert set(failed["status"]) <= {"failed", "not_applicable"}
    assert "both_empty" not in set(failed["status"])
    assert failed["value"].isna().all()
    task = task_matrix(table, "dice", REF)
    assert task.entries == ("A", "F")
    assert task.values[0, 0] == 1.0 and math.isnan(task.values[1, 0])
    # with na_treat worst the failed method is last, the empty-correct one first
    board = msseg_leaderboard(table, reference=REF, metrics=["dice"])
    assert dict(zip(board["entry"], board["rank"])) == {"A": 1, "F": 2}


def test_no_result_rejects_other_statuses_and_keeps_reference_facts():
    with pytest.raises(ValueError, match="missing"):
        no_result(np.zeros(SHAPE, bool), SP, "ok")
    rows = no_result(_false_lesion(), SP, "missing")
    assert rows["dice"].status == "missing"
    assert rows["n_tested_lesions"].status == "not_applicable"
    assert rows["lesion_sensitivity@50-500mm3"].status == "missing"  # 64 mm³ lesion in this bin
    assert rows["lesion_sensitivity@3-10mm3"].status == "not_applicable"


def test_cell_values_follow_status():
    frame = pd.DataFrame(
        {
            "metric": ["dice", "dice", "lesion_f1", "hausdorff95_mm", "hausdorff95_mm", "dice"],
            "status": ["ok", "both_empty", "empty_reference", "both_empty", "undefined", "failed"],
            "value": [0.25, np.nan, 0.0, np.nan, np.nan, np.nan],
        }
    )
    got = cell_values(frame).to_numpy()
    np.testing.assert_array_equal(got[:4], [0.25, 1.0, 0.0, 0.0])
    assert np.isnan(got[4:]).all()


def test_size_bin_without_reference_lesion_is_not_ranked():
    table = _table(_false_lesion(), {"A": _false_lesion()})
    assert _cell(table, "A", "lesion_sensitivity@3-10mm3")["status"] == "not_applicable"
    assert _cell(table, "A", "lesion_sensitivity@50-500mm3")["value"] == 1.0


def test_case_rows_entry_statuses():
    info = CaseInfo("c1", "01", "test", True)
    with pytest.raises(ValueError, match="case c1: entry X"):
        case_rows(
            info,
            spacing=SP,
            consensus_name=REF,
            consensus=_speck(),
            raters={},
            loo={},
            entries=[EntryResult("X", "method", None, "ok")],
        )
