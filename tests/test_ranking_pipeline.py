"""The ranking stage writes every file the workflow declares (tables and figures), deterministically."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesionbench.ranking.demo import demo_metrics_table
from lesionbench.ranking.options import FIGURES, SUMMARY_FIGURES, RankingOptions
from lesionbench.ranking.pipeline import run_ranking


def test_every_declared_output_is_written(tmp_path):
    table = demo_metrics_table(
        np.random.default_rng(3), n_methods=4, n_cases=8, n_raters=3, metrics=("dice", "lesion_f1", "hausdorff95_mm")
    )
    reference = "consensus_lop-staple"
    options = RankingOptions(reference=reference, analysis_metrics=("dice", "lesion_f1"), n_bootstrap=50, seed=1)
    board = run_ranking(table, tmp_path / "a", options)
    for name in (
        "leaderboard.tsv",
        "leaderboard.md",
        "ranking.tsv",
        "consensus.tsv",
        "scheme_ranks.tsv",
        "significance.tsv",
        "missing.tsv",
        "bootstrap_summary.tsv",
        "kendall_tau.tsv",
        "kendall_tau_summary.tsv",
        "leaderboard_by_center.tsv",
        "leaderboard_by_seen_center.tsv",
        "leaderboard_by_load_tertile.tsv",
    ):
        assert (tmp_path / "a" / name).stat().st_size > 0, name
    for metric in options.analysis_metrics:
        for figure in FIGURES:
            assert (tmp_path / "a" / "figures" / f"{figure}_{metric}.png").stat().st_size > 1000
    for figure in SUMMARY_FIGURES:
        assert (tmp_path / "a" / "figures" / f"{figure}.png").stat().st_size > 1000
    again = run_ranking(table, tmp_path / "b", RankingOptions(**{**options.__dict__, "figures": False}))
    pd.testing.assert_frame_equal(board, again)
    for name in ("leaderboard.tsv", "bootstrap_summary.tsv", "kendall_tau.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_library_seed_default_is_the_config_default():
    """The library's ranking seed default is the one value the workflow config defaults to (the
    top-level seed, from which ranking.seed derives)."""
    from pathlib import Path

    import yaml

    from lesionbench import DEFAULT_SEED

    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    assert DEFAULT_SEED == 2016
    assert schema["properties"]["seed"]["default"] == DEFAULT_SEED
    assert config["seed"] == DEFAULT_SEED and "seed" not in config["ranking"]
    assert RankingOptions(reference="consensus_lop-staple").seed == DEFAULT_SEED


def test_rank_verb_defaults_to_the_workflows_reference_consensus():
    import pandas as pd

    from lesionbench.ranking.cli import _pick_reference

    table = pd.DataFrame({"reference": ["loo", "consensus_majority", "consensus_local-lop-staple", "truth"]})
    assert _pick_reference(table, None) == "consensus_local-lop-staple"
    assert _pick_reference(table[table.reference != "consensus_local-lop-staple"], None) == "consensus_majority"
    assert _pick_reference(table, "truth") == "truth"
