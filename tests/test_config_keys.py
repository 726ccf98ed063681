"""Config keys: one failure-policy vocabulary, one seed, and renamed keys refused by name."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from lesionbench import DEFAULT_SEED
from lesionbench.errors import ConfigError
from lesionbench.workflow.config import (
    FAILURE_POLICIES,
    RENAMED_KEYS,
    SEEDED_STAGES,
    STAGE_FAILURE_POLICIES,
    check_renamed_keys,
    effective_seeds,
    failure_policy,
    stage_seed,
)

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())


# Each old key with the message it must give (written out: the test is the specification).
OLD_KEYS = {
    "qc.on_failure": ("exclude", "config key 'qc.on_failure' was renamed: use 'on_failure.qc' (values stop|exclude)"),
    "preprocess.on_registration_failure": (
        "flag",
        "config key 'preprocess.on_registration_failure' was renamed: use 'on_failure.registration' (values stop|flag)",
    ),
    "consensus.on_empty": (
        "flag",
        "config key 'consensus.on_empty' was renamed: use 'on_failure.consensus' (values stop|flag)",
    ),
    "methods_on_failure": (
        "record",
        "config key 'methods_on_failure' was renamed: use 'on_failure.methods' (values flag|stop); its value 'record' is now 'flag'",
    ),
    "consensus.threshold": (0.5, "config key 'consensus.threshold' was renamed: use 'consensus.posterior_threshold'"),
    "ranking.metrics": (["dice"], "config key 'ranking.metrics' was renamed: use 'ranking.leaderboard_metrics'"),
    "ranking.weights": ([1.0], "config key 'ranking.weights' was renamed: use 'ranking.leaderboard_weights'"),
    "ranking.scheme": ("mean-then-rank", "config key 'ranking.scheme' was renamed: use 'ranking.analysis_scheme'"),
}


def test_every_renamed_key_is_tested():
    assert set(OLD_KEYS) == set(RENAMED_KEYS)


@pytest.mark.parametrize("old", sorted(OLD_KEYS))
def test_old_key_is_refused_naming_the_new_one(old: str) -> None:
    value, message = OLD_KEYS[old]
    config = dict(DEFAULT)
    section, _, key = old.rpartition(".")
    if section:
        config[section] = {**DEFAULT.get(section, {}), key: value}
    else:
        config[key] = value
    with pytest.raises(ConfigError) as caught:
        check_renamed_keys(config)
    assert str(caught.value) == message


def test_old_policy_value_record_is_refused_with_the_new_word():
    config = {**DEFAULT, "on_failure": {**DEFAULT["on_failure"], "methods": "record"}}
    with pytest.raises(ConfigError, match=r"config value 'record' of 'on_failure\.methods' was renamed: use 'flag'"):
        check_renamed_keys(config)
    with pytest.raises(ConfigError, match=r"'record' is now 'flag'"):
        failure_policy(config, "methods")


@pytest.mark.parametrize(
    "path", ["config/config.yaml", "tests/configs/tiny.yaml", "tests/configs/new_lesions_tiny.yaml"]
)
def test_shipped_configs_use_no_old_key(path: str) -> None:
    check_renamed_keys(yaml.safe_load((REPO / path).read_text()))


def test_schema_has_no_old_key_and_no_seed_default_but_the_top_level_one():
    props = SCHEMA["properties"]
    for old in RENAMED_KEYS:
        node: Any = props
        parts = old.split(".")
        for part in parts[:-1]:
            node = node.get(part, {}).get("properties", {})
        assert parts[-1] not in node, f"the schema still has {old}"
    assert props["seed"]["default"] == DEFAULT_SEED == DEFAULT["seed"]
    for stage in SEEDED_STAGES:
        if stage != "methods":
            own = props[stage]["properties"]["seed"]
            assert "default" not in own, f"{stage}.seed must default to the top-level seed, not to its own value"


def test_failure_policies_one_vocabulary_schema_agrees():
    on_failure = SCHEMA["properties"]["on_failure"]["properties"]
    assert set(on_failure) == set(STAGE_FAILURE_POLICIES)
    for stage, allowed in STAGE_FAILURE_POLICIES.items():
        assert set(allowed) <= set(FAILURE_POLICIES)
        assert on_failure[stage]["enum"] == list(allowed)
        assert on_failure[stage]["default"] == allowed[0] == failure_policy({}, stage)
        assert failure_policy(DEFAULT, stage) == allowed[0]


def test_default_policies_keep_the_earlier_behaviour():
    # qc stop, registration stop, consensus stop, methods record (now flag): as before the rename
    assert {s: failure_policy(DEFAULT, s) for s in STAGE_FAILURE_POLICIES} == {
        "qc": "stop",
        "registration": "stop",
        "consensus": "stop",
        "methods": "flag",
    }


def test_a_policy_the_stage_does_not_accept_is_a_config_error():
    with pytest.raises(ConfigError, match=r"on_failure\.registration: 'exclude' is not one of stop\|flag"):
        failure_policy({"on_failure": {"registration": "exclude"}}, "registration")
    with pytest.raises(ConfigError, match="no failure policy for stage 'ranking'"):
        failure_policy({}, "ranking")


def test_every_stage_seed_defaults_to_the_top_level_seed():
    assert effective_seeds(DEFAULT) == {
        "seed": 2016,
        "synthetic.seed": 2016,
        "preprocess.seed": 2016,
        "harmonization.seed": 2016,
        "methods[random_forest].params.seed": 2016,
        "methods[unet3d].params.seed": 2016,
        "ranking.seed": 2016,
    }
    moved = {**DEFAULT, "seed": 7}
    assert set(effective_seeds(moved).values()) == {7}


def test_a_stage_seed_overrides_the_top_level_one():
    config = {**DEFAULT, "seed": 7, "ranking": {**DEFAULT["ranking"], "seed": 3}}
    config["methods"] = [dict(m) for m in DEFAULT["methods"]]
    config["methods"][1] = {**config["methods"][1], "params": {**config["methods"][1]["params"], "seed": 11}}
    assert stage_seed(config, "ranking") == 3
    assert stage_seed(config, "synthetic") == 7
    assert stage_seed(config, "methods", config["methods"][1]["name"]) == 11
    assert stage_seed(config, "methods", "unet3d") == 7
    with pytest.raises(ConfigError, match="no method named 'nope'"):
        stage_seed(config, "methods", "nope")
    with pytest.raises(ConfigError, match="no seed for stage 'consensus'"):
        stage_seed(config, "consensus")


def test_an_unvalidated_config_gets_the_library_seed():
    assert stage_seed({}, "ranking") == DEFAULT_SEED


def test_workflow_refuses_an_old_key_at_parse_time(tmp_path: Path) -> None:
    """A real dry run with an old key on the command line fails before any job, naming the new key."""
    cmd = [
        *SNAKEMAKE,
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/config.yaml"),
        "--config",
        "qc={'on_failure': 'exclude'}",
        "-n",
        "--cores",
        "1",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config key 'qc.on_failure' was renamed: use 'on_failure.qc' (values stop|exclude)" in out
