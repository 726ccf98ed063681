"""Provenance record: stable config hash, seeds found, git commit and package versions."""

from __future__ import annotations

from pathlib import Path

from lesionbench.provenance import collect, config_hash, find_seeds

REPO = Path(__file__).resolve().parents[1]


def test_config_hash_ignores_key_order_but_not_values():
    a = {"synthetic": {"seed": 1, "preset": "tiny"}, "qc": {"on_failure": "stop"}}
    b = {"qc": {"on_failure": "stop"}, "synthetic": {"preset": "tiny", "seed": 1}}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "synthetic": {"seed": 2, "preset": "tiny"}})


def test_seeds_are_found_by_path():
    config = {"synthetic": {"seed": 7}, "methods": {"unet": {"random_seed": 3, "epochs": 2}}}
    assert find_seeds(config) == {"synthetic.seed": 7, "methods.unet.random_seed": 3}


def test_collect_has_commit_and_versions():
    record = collect({"synthetic": {"seed": 7}}, REPO)
    assert record["seeds"] == {"synthetic.seed": 7}
    assert len(record["git"]["commit"] or "") == 40
    assert "numpy" in record["packages"] and "snakemake" in record["packages"]
