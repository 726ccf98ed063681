"""The run's story (lesionbench.ranking.story): sentences checked against a hand-built long table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesionbench.ranking.story import demo_story, rater_comparison, unseen_center_sentence
from lesionbench.ranking.table import METRICS_COLUMNS, validate_metrics_table

CASES = {
    "a1": ("01", "test", True),
    "a2": ("01", "test", True),
    "c1": ("03", "test", False),
    "c2": ("03", "test", False),
}
NAN = float("nan")
#: entry -> (kind, reference, metric) -> values on a1, a2, c1, c2
VALUES = {
    "r1": {("rater", "loo", "dice"): (0.8, 0.8, 0.7, 0.7), ("rater", "loo", "lesion_f1"): (0.9,) * 4},
    "r2": {("rater", "loo", "dice"): (0.7, 0.7, 0.6, 0.6), ("rater", "loo", "lesion_f1"): (0.8,) * 4},
    "unet3d": {
        ("method", "loo", "dice"): (0.8, 0.8, 0.7, 0.7),
        ("method", "loo", "lesion_f1"): (0.7, 0.7, 0.5, 0.5),
        ("method", "consensus_x", "dice"): (0.6,) * 4,
        ("method", "consensus_x", "lesion_f1"): (0.5,) * 4,
    },
    "random_forest": {
        ("method", "loo", "dice"): (0.5, 0.5, 0.3, NAN),  # failed on c2: counted at 0
        ("method", "loo", "lesion_f1"): (0.6, 0.6, 0.4, 0.4),
        ("method", "consensus_x", "dice"): (0.4,) * 4,
        ("method", "consensus_x", "lesion_f1"): (0.3,) * 4,
    },
}


def long_table(values=VALUES, cases=CASES) -> pd.DataFrame:
    rows = []
    for entry, cells in values.items():
        for (kind, reference, metric), numbers in cells.items():
            for (case, (center, split, seen)), value in zip(cases.items(), numbers):
                rows.append(
                    {
                        "case_id": case,
                        "center": center,
                        "split": split,
                        "seen_center": seen,
                        "lesion_load_ml": 1.0,
                        "entry": entry,
                        "entry_kind": kind,
                        "reference": reference,
                        "metric": metric,
                        "value": value,
                        "status": "failed" if np.isnan(value) else "ok",
                    }
                )
    # a training case: never part of the story
    rows.append({**rows[0], "case_id": "t1", "split": "train", "entry": "unet3d", "entry_kind": "method", "value": 0.1})
    return validate_metrics_table(pd.DataFrame(rows, columns=list(METRICS_COLUMNS)))


def test_story_compares_methods_with_raters_per_center_and_names_the_unseen_center():
    story = demo_story(long_table(), reference="consensus_x")
    lines = story.splitlines()
    assert lines[0] == "## How the methods compare with the raters"
    assert "4 test cases from centers 01 and 03; center 03 had no training case (unseen)." in lines
    assert (
        "Against the leave-one-rater-out fusions (like for like): "
        "The 2 raters have a mean Dice of 0.700 (0.650 to 0.750); the best method on Dice is unet3d (0.750). "
        "unet3d reaches the raters' mean Dice. "
        "The 2 raters have a mean lesion F1 of 0.850 (0.800 to 0.900); the best method on lesion F1 is unet3d (0.600). "
        "Every method's mean lesion F1 is below every rater's."
    ) in lines
    assert (
        "- center 01 (seen): Dice: best method unet3d (0.800), raters 0.750; "
        "lesion F1: best method unet3d (0.700), raters 0.850"
    ) in lines
    assert (
        "- center 03 (unseen): Dice: best method unet3d (0.700), raters 0.650; "
        "lesion F1: best method unet3d (0.500), raters 0.850"
    ) in lines
    assert (
        "At the unseen center 03, the methods' mean Dice is 0.425 there against 0.650 on the seen centers, "
        "the lowest center for 2 of 2 methods; the methods' mean lesion F1 is 0.450 there against 0.650 on the "
        "seen centers, the lowest center for 2 of 2 methods."
    ) in lines
    assert (
        "Against the reference `consensus_x`: methods by mean Dice unet3d 0.600, random_forest 0.400; "
        "lesion F1 unet3d 0.500, random_forest 0.300."
    ) in lines
    assert "Against the synthetic truth" not in story  # no truth rows in this table
    assert "0.1" not in story.replace("0.100", "")  # the training case's value is not used


def test_story_with_truth_rows_and_without_an_unseen_center():
    values = {
        entry: {
            **cells,
            **{(kind, "truth", metric): numbers for (kind, ref, metric), numbers in cells.items() if ref == "loo"},
        }
        for entry, cells in VALUES.items()
    }
    cases = {case: (center, split, True) for case, (center, split, _) in CASES.items()}
    story = demo_story(long_table(values, cases), reference="consensus_x")
    assert "every center had training cases." in story
    assert "unseen" not in story
    assert (
        "Against the synthetic truth: methods by mean Dice unet3d 0.750, random_forest 0.325; "
        "lesion F1 unet3d 0.600, random_forest 0.500. "
        "The raters have a mean Dice of 0.700 (0.650 to 0.750) and a mean lesion F1 of 0.850 (0.800 to 0.900)."
    ) in story.splitlines()
    assert unseen_center_sentence(long_table(values, cases), "loo", []) == ""


def test_rater_comparison_says_only_what_the_means_show():
    def means(methods, raters):
        rows = [(n, "method", v) for n, v in methods.items()] + [(n, "rater", v) for n, v in raters.items()]
        return pd.DataFrame(rows, columns=["entry", "entry_kind", "value"])

    raters = {"r1": 0.6, "r2": 0.8}  # mean 0.7
    assert (
        rater_comparison(means({"a": 0.5, "b": 0.59}, raters), "Dice")
        == "Every method's mean Dice is below every rater's."
    )
    assert (
        rater_comparison(means({"a": 0.5, "b": 0.65}, raters), "Dice")
        == "Every method's mean Dice is below the raters' mean; b reaches the lowest rater's."
    )
    assert (
        rater_comparison(means({"a": 0.62, "b": 0.65}, raters), "Dice")
        == "Every method's mean Dice is below the raters' mean; a and b reach the lowest rater's."
    )
    assert rater_comparison(means({"a": 0.75, "b": 0.9}, raters), "Dice") == "a and b reach the raters' mean Dice."
    assert rater_comparison(means({"a": 0.75}, {}), "Dice") == ""
