"""The one metric registry: every lookup goes through it, unknown names fail with the list of
known ones, and the workflow refuses a config with an unknown metric name when it loads it."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from lesionbench.errors import ConfigError
from lesionbench.metrics import METRIC_INFO, METRIC_KEYS, compute_metrics, metric_info, validate_config_metrics
from lesionbench.metrics.info import SIZE_BIN_METRICS, known_metric_names
from lesionbench.ranking import table as rt


def test_engine_keys_are_the_registry_keys():
    m = np.zeros((6, 6, 6), bool)
    m[1:4, 1:4, 1:4] = True
    assert tuple(compute_metrics(m, m, (1, 1, 1)).as_dict()) == METRIC_KEYS == tuple(METRIC_INFO)


@pytest.mark.parametrize(
    ("metric", "higher", "absolute", "worst"),
    [
        ("dice", True, False, 0.0),
        ("lesion_f1", True, False, 0.0),
        ("hausdorff95_mm", False, False, 373.0),
        ("asd_anima_mm", False, False, 373.0),
        ("relative_volume_error_pct", False, True, None),
        ("lesion_matched_fp", False, False, None),  # lower is better: was ranked higher-better by name
        ("lesion_matched_fn", False, False, None),
        ("n_tested_lesions", False, False, None),
        ("tested_lesion_volume_mm3", False, False, None),
        ("lesion_sensitivity@3-10mm3", True, False, 0.0),
    ],
)
def test_ranking_spec_is_a_registry_lookup(metric, higher, absolute, worst):
    spec = rt.metric_spec(metric)
    assert (spec.higher_is_better, spec.rank_absolute, spec.worst) == (higher, absolute, worst)
    info = metric_info(metric)
    assert spec.higher_is_better == (info.direction == "higher")


def test_unknown_and_descriptive_names_are_refused_with_the_known_names():
    for bad in ("lesion_fpp", "dice@3-10mm3x", "lesion_sensitivity@1-2mm3"):
        with pytest.raises(ConfigError, match=r"known metrics: dice, jaccard") as err:
            rt.metric_spec(bad)
        assert repr(bad) in str(err.value)
    with pytest.raises(ConfigError, match="descriptive"):
        rt.metric_spec("volume_reference_ml")


def test_one_distance_cap():
    import lesionbench.metrics.info as info

    caps = {m.worst for m in METRIC_INFO.values() if m.unit == "mm" and m.direction == "lower"}
    assert caps == {info.DISTANCE_CAP_MM}
    assert not hasattr(rt, "DISTANCE_CAP_MM")


def test_every_record_is_complete():
    for key, m in METRIC_INFO.items():
        assert m.key == key and m.unit and m.definition and m.source and m.undefined_when, key
        if m.ranked:
            assert m.best is not None, key
    assert set(known_metric_names()) == set(METRIC_INFO) | set(SIZE_BIN_METRICS)


def test_config_validator_names_the_key_and_lists_known_names():
    good = {
        "ranking": {
            "leaderboard_metrics": ["dice", "lesion_f1"],
            "analysis_metrics": ["nsd", "lesion_sensitivity@>=500mm3"],
        }
    }
    validate_config_metrics(good)
    with pytest.raises(
        ConfigError, match=r"config key ranking\.analysis_metrics: unknown metric 'hd95'; known metrics: dice"
    ):
        validate_config_metrics({"ranking": {"leaderboard_metrics": ["dice"], "analysis_metrics": ["dice", "hd95"]}})
    with pytest.raises(
        ConfigError, match=r"config key ranking\.leaderboard_metrics: metric cannot be ranked .*'n_reference_lesions'"
    ):
        validate_config_metrics({"ranking": {"leaderboard_metrics": ["n_reference_lesions"]}})


def test_default_config_metric_names_are_known():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate_config_metrics(config)


def test_workflow_refuses_an_unknown_metric_at_parse_time(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"ranking": {"leaderboard_metrics": ["dice", "lesion_fpp"]}}))
    cmd = [
        *SNAKEMAKE,
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(cfg),
        "-n",
        "--cores",
        "1",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config key ranking.leaderboard_metrics: unknown metric 'lesion_fpp'" in out
    assert "known metrics: dice, jaccard" in out
