"""Provenance record: stable config hash, seeds found, git commit and package versions."""

from __future__ import annotations

from pathlib import Path

from lesionbench.provenance import collect, config_hash, find_seeds

REPO = Path(__file__).resolve().parents[1]


def test_config_hash_ignores_key_order_but_not_values():
    a = {"synthetic": {"seed": 1, "preset": "tiny"}, "on_failure": {"qc": "stop"}}
    b = {"on_failure": {"qc": "stop"}, "synthetic": {"preset": "tiny", "seed": 1}}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "synthetic": {"seed": 2, "preset": "tiny"}})


def test_seeds_are_found_by_path():
    config = {"seed": 5, "synthetic": {"seed": 7}, "extra": {"unet": {"random_seed": 3, "epochs": 2}}}
    seeds = find_seeds(config)
    assert seeds["synthetic.seed"] == 7 and seeds["extra.unet.random_seed"] == 3


def test_seeds_report_the_derived_stage_seeds():
    """A stage without its own seed runs with the top-level one, and provenance says so."""
    config = {
        "seed": 5,
        "ranking": {"seed": 9},
        "methods": [
            {"name": "rf", "kind": "random_forest", "params": {}},
            {"name": "f", "kind": "flair_hyperintensity"},
        ],
    }
    assert find_seeds(config) == {
        "seed": 5,
        "synthetic.seed": 5,
        "preprocess.seed": 5,
        "harmonization.seed": 5,
        "ranking.seed": 9,
        "methods[rf].params.seed": 5,
    }


def test_collect_has_commit_and_versions():
    record = collect({"seed": 1, "synthetic": {"seed": 7}}, REPO)
    assert record["seeds"]["synthetic.seed"] == 7 and record["seeds"]["ranking.seed"] == 1
    assert len(record["git"]["commit"] or "") == 40
    assert "numpy" in record["packages"] and "snakemake" in record["packages"]
