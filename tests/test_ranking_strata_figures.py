"""Strata (hand-worked tertiles, size bins) and that every figure function writes a PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lesionbench.ranking as lr
from lesionbench.errors import ConfigError
from lesionbench.ranking import figures as fg
from lesionbench.ranking.demo import demo_metrics_table

REF = "consensus_lop-staple"


@pytest.fixture(scope="module")
def table():
    return demo_metrics_table(
        np.random.default_rng(1),
        n_methods=4,
        n_cases=8,
        n_raters=2,
        metrics=("dice", "lesion_f1", "lesion_sensitivity@3-10mm3", "lesion_sensitivity@>=500mm3"),
        missing_fraction=0.05,
    )


def test_load_tertiles_hand_worked():
    loads = {"a": 5.0, "b": 0.5, "c": 12.0, "d": 1.0, "e": 30.0, "f": 2.0, "g": np.nan}
    rows = [(c, "01", "test", True, v, "m", "method", REF, "dice", 0.5, "ok") for c, v in loads.items()]
    t = lr.validate_metrics_table(pd.DataFrame(rows, columns=list(lr.METRICS_COLUMNS)))
    got = dict(zip(t["case_id"], lr.load_tertiles(t)))
    # ordered by load: b .5, d 1, f 2 | a 5, c 12 | e 30 -> 6 cases, two per tertile
    assert got == {"b": "low", "d": "low", "f": "medium", "a": "medium", "c": "high", "e": "high", "g": "unknown"}


def test_stratify_center_seen_and_size(table):
    by_center = lr.stratify(table, "center")
    assert set(by_center) == set(table["center"]) and sum(len(g) for g in by_center.values()) == len(table)
    seen = lr.stratify(table, "seen_center")
    assert set(seen) == {"seen", "unseen"} and set(seen["unseen"]["center"]) == {"03"}
    size = lr.stratify(table, "lesion_size")
    assert set(size) == {"3-10mm3", ">=500mm3"} and set(size["3-10mm3"]["metric"]) == {"lesion_sensitivity"}
    with pytest.raises(ConfigError, match="unknown stratum"):
        lr.stratify(table, "scanner")


def test_leaderboard_by_stratum(table):
    board = lr.leaderboard_by_stratum(table, "seen_center", reference=REF)
    assert set(board["stratum_value"]) == {"seen", "unseen"} and (board["stratum"] == "seen_center").all()
    size = lr.leaderboard_by_stratum(table, "lesion_size", reference=REF, metrics=["lesion_sensitivity"])
    assert set(size["stratum_value"]) == {"3-10mm3", ">=500mm3"}
    with pytest.raises(ConfigError):
        lr.leaderboard_by_stratum(table, "lesion_size", reference=REF)  # no dice per size bin


def test_lesion_size_bin_labels():
    labels = lr.lesion_size_bin_labels(np.array([1.0, 3.0, 9.9, 10.0, 499.0, 500.0]))
    assert labels.tolist() == ["<3mm3", "3-10mm3", "3-10mm3", "10-50mm3", "50-500mm3", ">=500mm3"]
    with pytest.raises(ConfigError):
        lr.lesion_size_bin_labels(np.array([1.0]), edges=[10, 5])


def test_palette_is_order_independent():
    a = fg.method_palette(["m2", "m1", "m3"])
    b = fg.method_palette(["m3", "m1", "m2", "m1"])
    assert a == b and len(set(a.values())) == 3


def test_every_figure_writes_a_png(table, tmp_path):
    a = lr.analyse(table, reference=REF, metrics=["dice", "lesion_f1"], n_boot=30, rng=np.random.default_rng(0))
    pal = fg.method_palette(table["entry"])
    task, ranking = a.tasks["dice"], a.rankings["dice"]
    order = list(ranking.to_frame()["entry"])
    calls = {
        "box": lambda p: fg.dot_boxplot(table, p, metric="dice", reference=REF, palette=pal, order=order),
        "podium": lambda p: fg.podium_plot(task, p, palette=pal, rng=np.random.default_rng(0)),
        "heat": lambda p: fg.ranking_heatmap(task, p, order=order),
        "blob": lambda p: fg.bootstrap_blob_plot(a.bootstraps["dice"], p, palette=pal),
        "violin": lambda p: fg.kendall_violin(a.bootstraps, p),
        "sig": lambda p: fg.significance_map(task, a.significance["dice"], ranking.rank, p),
        "lines": lambda p: fg.scheme_lineplot(a.scheme_ranks, p, palette=pal),
        "load": lambda p: fg.metric_vs_lesion_load(table, p, metric="dice", reference=REF, palette=pal),
        "center": lambda p: fg.center_heatmap(table, p, metric="dice", reference=REF),
        "raters": lambda p: fg.methods_vs_raters(
            table, p, metric="dice", reference=REF, palette=pal, rater_reference="loo"
        ),
    }
    for name, draw in calls.items():
        path = tmp_path / "figs" / f"{name}.png"
        draw(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000, name


def test_figure_without_rows_raises(table, tmp_path):
    with pytest.raises(ConfigError, match="nsd"):
        fg.dot_boxplot(table, tmp_path / "x.png", metric="nsd", reference=REF, palette={})
