"""Bootstrap: seeded reproducibility, resampled rankings against an independent pandas/scipy
recomputation, Kendall's tau against scipy, undefined taus counted."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import lesionbench.ranking as lr
from lesionbench.errors import ConfigError
from lesionbench.ranking.demo import demo_metrics_table

REF = "consensus_lop-staple"


@pytest.fixture(scope="module")
def task():
    table = demo_metrics_table(
        np.random.default_rng(5), n_methods=5, n_cases=10, metrics=("dice",), missing_fraction=0.05
    )
    return lr.task_matrix(table, "dice", REF)


@pytest.mark.parametrize("scheme", ["mean-then-rank", "rank-then-median", "test-then-rank-holm"])
def test_bootstrap_reproducible_with_seed(task, scheme):
    a = lr.bootstrap_task(task, scheme, rng=np.random.default_rng(42), n_boot=60)
    b = lr.bootstrap_task(task, scheme, rng=np.random.default_rng(42), n_boot=60)
    c = lr.bootstrap_task(task, scheme, rng=np.random.default_rng(43), n_boot=60)
    assert np.array_equal(a.ranks, b.ranks) and np.array_equal(a.case_index, b.case_index)
    assert np.array_equal(a.kendall_tau, b.kendall_tau, equal_nan=True)
    assert not np.array_equal(a.case_index, c.case_index)


def test_bootstrap_samples_match_independent_recomputation(task):
    boot = lr.bootstrap_task(task, "mean-then-rank", rng=np.random.default_rng(0), n_boot=40)
    filled = np.where(np.isnan(task.values), 0.0, task.values)  # worst Dice = 0
    for b in range(boot.n_boot):
        # exact rational means (what R's long-double mean rounds): equal multisets tie exactly
        means = pd.Series(
            [sum(map(Fraction, row)) / len(row) for row in filled[:, boot.case_index[b]]], index=task.entries
        )
        expected = means.rank(ascending=False, method="min")
        assert boot.ranks[b].tolist() == expected.tolist()
        assert boot.kendall_tau[b] == pytest.approx(stats.kendalltau(boot.full_rank, boot.ranks[b]).statistic)
    assert np.allclose(boot.winner_frequency, [(boot.ranks[:, k] == 1).mean() for k in range(len(task.entries))])
    dist = boot.rank_distribution
    assert dist.sum(axis=1).tolist() == [40] * len(task.entries)
    summary = boot.summary_frame()
    assert summary["rank"].is_monotonic_increasing and summary["winner_frequency"].sum() >= 1.0


def test_bootstrap_test_then_rank_sample_matches_scipy(task):
    boot = lr.bootstrap_task(task, "test-then-rank", rng=np.random.default_rng(3), n_boot=5)
    filled = np.where(np.isnan(task.values), 0.0, task.values)
    k = len(task.entries)
    for b in range(boot.n_boot):
        x = filled[:, boot.case_index[b]]
        wins = np.zeros(k)
        for i in range(k):
            for j in range(k):
                if i != j:
                    p = stats.wilcoxon(
                        x[i], x[j], alternative="greater", method="approx", correction=True, zero_method="wilcox"
                    ).pvalue
                    wins[i] += p < 0.05
        assert boot.ranks[b].tolist() == pd.Series(-wins).rank(method="min").tolist()


def test_undefined_tau_excluded_and_counted():
    # A and B differ only on case 2; samples not drawing case 2 tie everyone -> tau undefined.
    values = np.array([[0.5, 0.5, 0.9], [0.5, 0.5, 0.1]])
    task = lr.TaskMatrix("dice", REF, ("A", "B"), ("c0", "c1", "c2"), values, lr.MetricSpec(True, 0.0), 0)
    boot = lr.bootstrap_task(task, "mean-then-rank", rng=np.random.default_rng(0), n_boot=200)
    expected_undefined = int((~(boot.case_index == 2).any(axis=1)).sum())
    assert 0 < expected_undefined < 200
    assert boot.n_tau_undefined == expected_undefined
    assert boot.tau_summary()["n_undefined"] == expected_undefined
    assert boot.tau_summary()["median"] == pytest.approx(1.0)


def test_bootstrap_rejects_degenerate_tasks():
    one_case = lr.TaskMatrix("dice", REF, ("A", "B"), ("c0",), np.array([[0.1], [0.2]]), lr.MetricSpec(True, 0.0), 0)
    with pytest.raises(ConfigError, match="2 cases"):
        lr.bootstrap_task(one_case, rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="rng"):
        lr.analyse(
            demo_metrics_table(np.random.default_rng(0), n_methods=2, n_cases=3, metrics=("dice",)),
            reference=REF,
            metrics=["dice"],
            n_boot=10,
        )


def test_kendall_tau_matches_scipy_with_ties():
    rng = np.random.default_rng(9)
    full = np.array([1, 2, 2, 4, 5, 5, 7], dtype=float)
    ranks = rng.integers(1, 8, size=(200, 7)).astype(float)
    ranks[0] = 3.0  # no variation -> undefined
    tau = lr.kendall_tau_to(full, ranks)
    assert np.isnan(tau[0])
    for b in range(1, 200):
        assert tau[b] == pytest.approx(stats.kendalltau(full, ranks[b]).statistic, abs=1e-12)
