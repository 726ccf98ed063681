"""The new-lesion leaderboard: F1 and Dice ranked on cases with new lesions, the empty-reference
count and volume ranked on their own, rater rows beside the methods; ranks worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lesionbench.errors import ConfigError
from lesionbench.metrics.newlesions import NEW_LESION_DETECTION_METRICS, NEW_LESION_METRICS
from lesionbench.ranking.leaderboard import leaderboard_markdown
from lesionbench.ranking.newlesions import EMPTY_CASE_METRICS, new_lesion_leaderboard
from lesionbench.ranking.table import validate_metrics_table

NEW_CASES = ("c1", "c2")
EMPTY_CASES = ("e1", "e2", "e3")
# per entry: {metric: values on the cases the metric applies to}
METHODS = {
    "A": {
        "lesion_f1": (0.8, 0.5),
        "dice": (0.7, 0.6),
        "n_tested_lesions": (2, 0, 1),
        "tested_lesion_volume_mm3": (10, 0, 5),
    },
    "B": {
        "lesion_f1": (0.6, 0.7),
        "dice": (0.5, 0.6),
        "n_tested_lesions": (0, 0, 0),
        "tested_lesion_volume_mm3": (0, 0, 0),
    },
    "C": {
        "lesion_f1": (0.6, 0.4),
        "dice": (0.6, 0.3),
        "n_tested_lesions": (3, 1, 2),
        "tested_lesion_volume_mm3": (30, 12, 3),
    },
}
RATERS = {
    "expert1": {
        "lesion_f1": (0.9, 0.8),
        "dice": (0.8, 0.7),
        "n_tested_lesions": (0, 1, 0),
        "tested_lesion_volume_mm3": (0, 6, 0),
    },
    "expert2": {
        "lesion_f1": (0.7, 0.9),
        "dice": (0.6, 0.8),
        "n_tested_lesions": (0, 0, 0),
        "tested_lesion_volume_mm3": (0, 0, 0),
    },
}


def long_table(methods=METHODS, raters=RATERS, empty_status="not_applicable") -> pd.DataFrame:
    rows = []
    for kind, reference, entries in (("method", "consensus", methods), ("rater", "loo", raters)):
        for entry, values in entries.items():
            for metric in NEW_LESION_METRICS:
                applies_new = metric in NEW_LESION_DETECTION_METRICS
                for cases, applies in ((NEW_CASES, applies_new), (EMPTY_CASES, not applies_new)):
                    for k, case in enumerate(cases):
                        given = values.get(metric) if applies else None
                        value = math.nan if given is None else float(given[k])
                        status = "ok" if given is not None else "not_applicable"
                        if cases is EMPTY_CASES and metric in ("lesion_f1", "dice"):
                            status = empty_status
                            value = 0.0 if empty_status == "empty_reference" else math.nan
                        rows.append(
                            {
                                "case_id": case,
                                "center": "01",
                                "split": "test",
                                "seen_center": True,
                                "lesion_load_ml": 0.0 if case in EMPTY_CASES else 0.1,
                                "entry": entry,
                                "entry_kind": kind,
                                "reference": reference,
                                "metric": metric,
                                "value": value,
                                "status": status,
                            }
                        )
    return validate_metrics_table(pd.DataFrame(rows))


def test_leaderboard_ranks_detection_and_empty_cases_apart():
    board = new_lesion_leaderboard(long_table(), reference="consensus").set_index("entry")
    methods = board.loc[["A", "B", "C"]]
    # F1 per-case ranks: c1 A1 B2 C2, c2 B1 A2 C3 -> mean A 1.5, B 1.5, C 2.5
    assert methods["lesion_f1_mean_rank"].tolist() == [1.5, 1.5, 2.5]
    # Dice: c1 A1 C2 B3, c2 A1 B1 C3 -> A 1.0, B 2.0, C 2.5; score = mean of the two
    assert methods["dice_mean_rank"].tolist() == [1.0, 2.0, 2.5]
    assert methods["score"].tolist() == [1.25, 1.75, 2.5]
    assert methods["rank"].tolist() == [1, 2, 3]
    # means over the cases with new lesions only: the empty cases never count as F1 = 0
    assert methods["lesion_f1_mean"].tolist() == pytest.approx([0.65, 0.65, 0.5])
    assert methods["n_cases_new"].tolist() == [2, 2, 2]
    # the empty cases ranked on their own, lower better: B (0) before A (1) before C (2)
    assert methods["n_tested_lesions_mean"].tolist() == [1.0, 0.0, 2.0]
    assert methods["n_tested_lesions_rank"].tolist() == [2, 1, 3]
    assert methods["tested_lesion_volume_mm3_mean"].tolist() == [5.0, 0.0, 15.0]
    assert methods["tested_lesion_volume_mm3_rank"].tolist() == [2, 1, 3]
    assert set(board["n_cases_empty"]) == {3}


def test_rater_rows_stand_beside_the_methods_unranked():
    board = new_lesion_leaderboard(long_table(), reference="consensus")
    assert list(board["entry"]) == ["A", "B", "C", "expert1", "expert2"]
    raters = board[board["entry_kind"] == "rater"].set_index("entry")
    assert raters["rank"].isna().all() and raters["n_tested_lesions_rank"].isna().all()
    assert (raters["reference"] == "loo").all()
    assert raters.loc["expert1", "lesion_f1_mean"] == pytest.approx(0.85)
    assert raters.loc["expert1", "n_tested_lesions_mean"] == pytest.approx(1 / 3)
    assert raters.loc["expert2", "tested_lesion_volume_mm3_mean"] == 0.0
    text = leaderboard_markdown(board)
    assert "| ref | expert1 |" in text and "n_tested_lesions_rank" in text


def test_a_failed_empty_case_takes_the_worst_observed_count():
    table = long_table()
    failed = (table["entry"] == "B") & (table["case_id"] == "e1") & (table["metric"] == "n_tested_lesions")
    table.loc[failed, ["value", "status"]] = [np.nan, "failed"]
    methods = new_lesion_leaderboard(table, reference="consensus").set_index("entry").loc[["A", "B", "C"]]
    # worst observed count on the task is 3 (C on e1): B's mean becomes 1.0, tied with A
    assert methods["n_tested_lesions_mean"].tolist() == [1.0, 1.0, 2.0]
    assert methods["n_tested_lesions_rank"].tolist() == [1, 1, 3]


def test_a_table_scoring_empty_cases_with_a_worst_f1_is_refused():
    with pytest.raises(ConfigError, match=r"case e1: lesion_f1 of A has status empty_reference .*newlesions"):
        new_lesion_leaderboard(long_table(empty_status="empty_reference"), reference="consensus")


def test_without_empty_cases_the_empty_columns_are_blank():
    table = long_table()
    table = table[~table["case_id"].isin(EMPTY_CASES)]
    board = new_lesion_leaderboard(table, reference="consensus")
    assert board["n_tested_lesions_mean"].isna().all() and set(board["n_cases_empty"]) == {0}
    assert list(EMPTY_CASE_METRICS) == ["n_tested_lesions", "tested_lesion_volume_mm3"]
