"""Through the workflow: metrics.tsv of the batched scoring equals that of one case per job."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from test_eval_only import build_challenge, snakemake


@pytest.mark.slow
def test_batched_metrics_table_equals_per_case(tmp_path):
    tables = {}
    for size in (1, 4):
        challenge = build_challenge(tmp_path / f"batch{size}")
        config = yaml.safe_load(challenge["config"].read_text())
        config["metrics"] = {"batch_size": size}
        challenge["config"].write_text(yaml.safe_dump(config))
        done = snakemake(challenge, "--cores", "2", "results/metrics/metrics.tsv")
        assert done.returncode == 0, done.stderr[-3000:]
        batches = sorted((challenge["work"] / "results" / "metrics" / "batches").glob("b*[0-9].tsv"))
        assert len(batches) == (4 if size == 1 else 1)
        tables[size] = pd.read_csv(challenge["work"] / "results" / "metrics" / "metrics.tsv", sep="\t", dtype=str)
    pd.testing.assert_frame_equal(tables[1], tables[4])
    assert tables[1]["case_id"].nunique() == 4
