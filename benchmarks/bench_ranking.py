"""Benchmark: ranking 15 methods x 38 cases x 5 metrics with 1000 bootstrap samples.

Prints, per scheme, the median wall time (over --repeats) of lesionbench's vectorised
bootstrap over all 5 metrics, and the same work done the straightforward way (a Python
loop per bootstrap sample: pandas mean/rank, or per-pair scipy.stats.wilcoxon +
statsmodels multipletests), timed on a subset of samples and scaled to 1000, with the ratio.

    .venv/bin/python benchmarks/bench_ranking.py [--repeats 3] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

import lesionbench.ranking as lr
from lesionbench.ranking.demo import DEMO_METRICS, demo_metrics_table

REF = "consensus_lop-staple"


def naive_bootstrap(task: lr.TaskMatrix, scheme: str, n_samples: int, rng: np.random.Generator) -> float:
    """Seconds for n_samples bootstrap rankings, one Python iteration per sample."""
    loss = pd.DataFrame(lr.apply_na_treat(task.values, task.spec, "worst"), index=task.entries)
    k, n = loss.shape
    t0 = time.perf_counter()
    for _ in range(n_samples):
        sample = loss.iloc[:, rng.integers(0, n, n)]
        if scheme == "mean-then-rank":
            sample.mean(axis=1).rank(method="min")
        elif scheme == "rank-then-mean":
            sample.rank(axis=0, method="min").mean(axis=1).rank(method="min")
        else:
            x = sample.to_numpy()
            p = [
                stats.wilcoxon(
                    x[i], x[j], alternative="less", method="approx", correction=True, zero_method="wilcox"
                ).pvalue
                for i in range(k)
                for j in range(k)
                if i != j
            ]
            p = np.nan_to_num(np.array(p), nan=1.0)
            if scheme.endswith("holm"):
                p = multipletests(p, method="holm")[1]
            wins = (p <= 0.05).reshape(k, k - 1).sum(axis=1)
            pd.Series(-wins).rank(method="min")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    table = demo_metrics_table(
        np.random.default_rng(0), n_methods=15, n_cases=38, metrics=DEMO_METRICS, missing_fraction=0.02
    )
    tasks = [lr.task_matrix(table, m, REF) for m in DEMO_METRICS]
    print(
        f"{len(tasks[0].entries)} methods x {len(tasks[0].cases)} cases x {len(tasks)} metrics, {args.n_boot} bootstrap samples, "
        f"median of {args.repeats} runs"
    )
    print(f"{'scheme':24s} {'lesionbench s':>14s} {'loop (scaled) s':>16s} {'speed-up':>9s}")
    for scheme in (
        "mean-then-rank",
        "median-then-rank",
        "rank-then-mean",
        "rank-then-median",
        "test-then-rank",
        "test-then-rank-holm",
    ):
        times = []
        for r in range(args.repeats):
            rng = np.random.default_rng(r)
            t0 = time.perf_counter()
            for task in tasks:
                lr.bootstrap_task(task, scheme, rng=rng, n_boot=args.n_boot)
            times.append(time.perf_counter() - t0)
        ours = statistics.median(times)
        ref = ""
        ratio = ""
        if scheme in ("mean-then-rank", "rank-then-mean", "test-then-rank", "test-then-rank-holm"):
            subset = 100 if scheme in ("mean-then-rank", "rank-then-mean") else 5
            loop = [
                sum(naive_bootstrap(t, scheme, subset, np.random.default_rng(r)) for t in tasks) * args.n_boot / subset
                for r in range(args.repeats)
            ]
            ref_t = statistics.median(loop)
            ref, ratio = f"{ref_t:16.2f}", f"{ref_t / ours:8.1f}x"
        print(f"{scheme:24s} {ours:14.2f} {ref:>16s} {ratio:>9s}")
    t0 = time.perf_counter()
    lr.analyse(table, reference=REF, metrics=list(DEMO_METRICS), n_boot=args.n_boot, rng=np.random.default_rng(0))
    print(
        f"full analyse() (mean-then-rank bootstrap, Holm maps, 5 schemes, consensus): {time.perf_counter() - t0:.2f} s"
    )
    t0 = time.perf_counter()
    lr.msseg_leaderboard(table, reference=REF)
    print(f"MS-SEG leaderboard: {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
