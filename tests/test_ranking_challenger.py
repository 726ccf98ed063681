"""challengeR 1.0.5 parity, worked by hand from R's documented formulas, and degenerate challenges.

R is not run here. Every expected number below is derived in the comments from the steps R
itself takes:

- ``wilcox.test(x, y, paired=TRUE, exact=FALSE, correct=TRUE, alternative="greater")``
  (``stats:::wilcox.test.default``): d = x - y, zero d dropped (n left), |d| ranked with
  average ties, V = sum of ranks of positive d, sigma^2 = n(n+1)(2n+1)/24 - sum(t^3-t)/48,
  z = (V - n(n+1)/4 - 0.5)/sigma, p = 1 - pnorm(z). Phi values: p = erfc(z/sqrt 2)/2.
- ``p.adjust(p, "holm")``: sorted p_(i) -> min(1, cummax((m - i + 1) p_(i))), m = number of
  non-NA p-values; challengeR's decision: ``p.adjust(...) <= alpha``.
- ``mean`` (``summary.c``): long-double sum / n plus mean residual; ``rank(ties.method="min")``
  on the raw aggregates.

The degenerate challenges call :func:`lesionbench.ranking.pipeline.run_ranking`, the entry
point of the workflow's ``ranking`` rule, and check the written files and key values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lesionbench.ranking as lr
from lesionbench.ranking import significance as sig
from lesionbench.ranking.options import FIGURES, SUMMARY_FIGURES, RankingOptions
from lesionbench.ranking.pipeline import run_ranking

REF = "consensus_lop-staple"
DICE = lr.MetricSpec(higher_is_better=True, worst=0.0)


def loss_of(*rows: list[float]) -> np.ndarray:
    """Dice rows -> loss array (higher better, so loss = -value)."""
    return -np.array(rows, dtype=float)


# ---------------------------------------------------------------- test-then-rank


def test_duplicate_submission_stays_in_the_holm_family():
    # A and B identical; C = A - k/16 on case k = 1..7 (dyadic values: exact differences).
    a = [0.75] * 7
    c = [0.75 - k / 16 for k in range(1, 8)]
    res_none = sig.test_then_rank_loss(loss_of(a, a, c), p_adjust="none")
    res_holm = sig.test_then_rank_loss(loss_of(a, a, c), p_adjust="holm")
    p = res_none.p_raw
    # (A,B), (B,A): every d = 0 -> n = 0, sigma = 0, z = -0.5/0 = -Inf, p = 1.
    assert p[0, 1] == 1.0 and p[1, 0] == 1.0
    # (A,C), (B,C): d = 1/16..7/16, all positive, no ties: n = 7, V = 28, mean 14,
    # sigma^2 = 7*8*15/24 = 35, z = 13.5/sqrt(35) = 2.2819164877669946, p = 0.011247135611224838.
    assert p[0, 2] == pytest.approx(0.011247135611224838, rel=1e-12)
    assert p[1, 2] == pytest.approx(0.011247135611224838, rel=1e-12)
    # (C,A): V = 0, z = -14.5/sqrt(35) = -2.450947338712698, p = 0.9928759601638264.
    assert p[2, 0] == pytest.approx(0.9928759601638264, rel=1e-12)
    # none: A and B each beat C (0.0112 <= 0.05), not each other -> scores 1/2, 1/2, 0 -> ranks 1, 1, 3.
    assert res_none.score.tolist() == [0.5, 0.5, 0.0] and res_none.rank.tolist() == [1, 1, 3]
    # holm over all m = 6 p-values (the two p = 1 included): 6 * 0.011247 = 0.06748281366734903 > 0.05,
    # so nobody is significant -> ranks 1, 1, 1. (Dropping the two duplicates, m = 4, would give
    # 4 * 0.011247 = 0.045 and declare A and B better than C, which R does not.)
    assert res_holm.p_adjusted[0, 2] == pytest.approx(0.06748281366734903, rel=1e-12)
    assert res_holm.p_adjusted[0, 1] == 1.0
    assert not res_holm.significant.any() and res_holm.rank.tolist() == [1, 1, 1]


# Entries for the tie example: C = 0.5 everywhere; A = C + d with
# d = (1/8, 1/8, 1/4, 1/4, 3/8, 0, -1/8, 1/2); D = C except case 0, where D = 3/4.
TIE_C = [0.5] * 8
TIE_A = [0.625, 0.625, 0.75, 0.75, 0.875, 0.5, 0.375, 1.0]
TIE_D = [0.75] + [0.5] * 7


def test_test_then_rank_with_ties_and_zeros_worked_by_hand():
    res = sig.test_then_rank_loss(loss_of(TIE_A, TIE_C, TIE_D), p_adjust="none")
    p = res.p_raw  # entries 0 = A, 1 = C, 2 = D
    # (A,C): d = A - C; zero on case 5 dropped -> n = 7; |d| = 1/8 x3 (ranks 1-3 -> 2 each),
    # 1/4 x2 (ranks 4,5 -> 4.5), 3/8 (6), 1/2 (7). V = 2+2 + 4.5+4.5 + 6 + 7 = 26.
    # tie term (27-3) + (8-2) = 30; sigma^2 = 35 - 30/48 = 34.375, sigma = 5.863019699779287.
    # z = (26 - 14 - 0.5)/sigma = 1.9614465904716158, p = 0.024913474800251967.
    assert p[0, 1] == pytest.approx(0.024913474800251967, rel=1e-12)
    # (C,A): V = 28 - 26 = 2, z = (2 - 14.5)/sigma = -2.132007163556104, p = 0.9834968711693837.
    assert p[1, 0] == pytest.approx(0.9834968711693837, rel=1e-12)
    # (A,D): d = (-1/8, 1/8, 1/4, 1/4, 3/8, 0, -1/8, 1/2): same |d| multiset, so same ranks and
    # sigma; positive: 2 + 4.5 + 4.5 + 6 + 7 = 24, z = 9.5/sigma = 1.6203254443026391,
    # p = 0.05258119297243842. (D,A): V = 4, z = -10.5/sigma = -1.7908860173871275, p = 0.9633442060210299.
    assert p[0, 2] == pytest.approx(0.05258119297243842, rel=1e-12)
    assert p[2, 0] == pytest.approx(0.9633442060210299, rel=1e-12)
    # (D,C): one non-zero d = +1/4: n = 1, V = 1, sigma^2 = 1*2*3/24 = 0.25, z = (1 - 0.5 - 0.5)/0.5 = 0,
    # p = 0.5 exactly. (C,D): V = 0, z = -1/0.5 = -2, p = Phi(2) = 0.9772498680518208.
    assert p[2, 1] == 0.5
    assert p[1, 2] == pytest.approx(0.9772498680518208, rel=1e-12)
    # alpha 0.05: only A beats C -> scores A 1/2, C 0, D 0 -> ranks 1, 2, 2.
    assert res.score.tolist() == [0.5, 0.0, 0.0] and res.rank.tolist() == [1, 2, 2]


def test_significance_is_p_less_or_equal_alpha():
    # alpha = 0.5: (D,C) has p = 0.5 exactly, significant under challengeR's "<= alpha".
    # A beats C (0.0249) and D (0.0526); D beats C; C and D beat nobody else
    # -> scores A 2/2, C 0, D 1/2 -> ranks A 1, C 3, D 2.  ("<" would give C 2, D 2.)
    res = sig.test_then_rank_loss(loss_of(TIE_A, TIE_C, TIE_D), alpha=0.5)
    assert bool(res.significant[2, 1])
    assert res.score.tolist() == [1.0, 0.0, 0.5] and res.rank.tolist() == [1, 3, 2]


def test_pair_without_common_case_is_nan_and_left_out_of_holm():
    # na.rm: B and C share no case -> no p-value (R's wilcox.test would stop); Holm's m counts
    # the 4 remaining p-values only, as R's p.adjust does with NA.
    nan = np.nan
    loss = loss_of([0.75, 0.75, 0.75], [0.5, nan, nan], [nan, 0.5, 0.5])
    res = sig.test_then_rank_loss(loss, p_adjust="holm", na_treat="na.rm")
    assert np.isnan(res.p_raw[1, 2]) and np.isnan(res.p_raw[2, 1])
    # (A,B) on case 0: n = 1, V = 1 -> p = 0.5; (A,C) on cases 1, 2: d = 1/4, 1/4 tied:
    # ranks 1.5, 1.5, V = 3, sigma^2 = 2*3*5/24 - 6/48 = 1.125, z = (3 - 1.5 - 0.5)/sqrt(1.125)
    # = 0.9428090415820634, p = 0.17288929307558788; Holm with m = 4: 4 * 0.172889 = 0.6915571723023515.
    assert res.p_raw[0, 2] == pytest.approx(0.17288929307558788, rel=1e-12)
    assert res.p_adjusted[0, 2] == pytest.approx(0.6915571723023515, rel=1e-12)


# ---------------------------------------------------------------- aggregate-then-rank


def test_aggregates_are_ranked_raw_not_rounded():
    # Means 0.5 and 0.5 + 1e-12: R ranks them 2 and 1 (rounding to 10 decimals would tie them).
    loss = loss_of([0.5, 0.5], [0.5, 0.5 + 2e-12])
    assert lr.aggregate_then_rank(loss, "mean")[1].tolist() == [2, 1]


def test_mean_is_r_mean_so_order_does_not_break_ties():
    # R: mean(c(.1,.2,.3)) == mean(c(.3,.2,.1)) == 0.2: the exact sum of the three doubles
    # (0.6000000000000000055511151231257827) needs 56 bits, exact in long double; /3 rounds to 0.2.
    # A naive double sum gives 0.1+0.2+0.3 = 0.6000000000000001 but 0.3+0.2+0.1 = 0.6.
    assert lr.schemes.r_mean(np.array([0.1, 0.2, 0.3])) == 0.2
    assert lr.schemes.r_mean(np.array([0.3, 0.2, 0.1])) == 0.2
    agg, rank = lr.aggregate_then_rank(loss_of([0.1, 0.2, 0.3], [0.3, 0.2, 0.1]), "mean")
    assert agg[0] == agg[1] and rank.tolist() == [1, 1]


def test_worst_is_challenger_numeric_na_treat():
    # "worst" for Dice substitutes 0, i.e. challengeR's na.treat = 0: A mean (0.75 + 0)/2 = 0.375
    # < B 0.5 -> B 1, A 2; na.rm: A 0.75 > B 0.5 -> A 1, B 2.
    values = np.array([[0.75, np.nan], [0.5, 0.5]])
    task = lr.TaskMatrix("dice", REF, ("A", "B"), ("c0", "c1"), values, DICE, 0)
    worst = lr.rank_task(task, "mean-then-rank", "worst")
    zero = lr.rank_task(task, "mean-then-rank", 0.0)
    assert worst.rank.tolist() == zero.rank.tolist() == [2, 1] and worst.score.tolist() == [0.375, 0.5]
    assert lr.rank_task(task, "mean-then-rank", "na.rm").rank.tolist() == [1, 2]
    # rank-then-aggregate without a substitute ("last"): c1 A gets max(rank) + 1 = 2 -> mean 1.5 vs B 1.5.
    assert lr.rank_task(task, "rank-then-mean", "last").rank.tolist() == [1, 1]


# ---------------------------------------------------------------- degenerate challenges


def long_table(
    values: dict[str, list[float | None]], metrics=("dice", "lesion_f1"), constant: dict | None = None
) -> pd.DataFrame:
    """Methods x cases for each metric (None = a 'missing' row); ``constant`` overrides one metric."""
    rows = []
    for metric in metrics:
        per_entry = (constant or {}).get(metric, values)
        for entry, vals in per_entry.items():
            for i, v in enumerate(vals):
                rows.append(
                    (
                        f"c{i}",
                        "01" if i % 2 == 0 else "03",
                        "test",
                        i % 2 == 0,
                        1.0 + i,
                        entry,
                        "method",
                        REF,
                        metric,
                        np.nan if v is None else v,
                        "missing" if v is None else "ok",
                    )
                )
    return lr.validate_metrics_table(pd.DataFrame(rows, columns=list(lr.METRICS_COLUMNS)))


TABLES = (
    "leaderboard",
    "ranking",
    "consensus",
    "scheme_ranks",
    "significance",
    "missing",
    "bootstrap_summary",
    "kendall_tau",
    "kendall_tau_summary",
    "leaderboard_by_center",
    "leaderboard_by_seen_center",
    "leaderboard_by_load_tertile",
)


def run(table: pd.DataFrame, out, **kw) -> dict[str, pd.DataFrame]:
    options = RankingOptions(reference=REF, n_bootstrap=50, seed=1, **kw)
    run_ranking(table, out, options)
    for metric in options.analysis_metrics:
        for figure in FIGURES:
            assert (out / "figures" / f"{figure}_{metric}.png").stat().st_size > 1000, figure
    for figure in SUMMARY_FIGURES:
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000, figure
    assert (out / "leaderboard.md").stat().st_size > 0
    return {name: pd.read_csv(out / f"{name}.tsv", sep="\t") for name in TABLES}


def test_two_entries_agreeing_on_all_cases_but_one(tmp_path):
    # The run that used to stop with "no defined Kendall's tau to plot".
    t = run(long_table({"A": [0.5, 0.625, 0.75, 0.875], "B": [0.5, 0.625, 0.75, 0.125]}), tmp_path)
    board = t["leaderboard"].set_index("entry")
    # per-case ranks: c0-c2 tie (1, 1), c3 A 1 B 2 -> mean ranks A 1, B 5/4 per metric
    assert board["score"].to_dict() == {"A": 1.0, "B": 1.25} and board["rank"].to_dict() == {"A": 1, "B": 2}
    assert board.loc["A", "dice_mean"] == 0.6875 and board.loc["B", "dice_mean"] == 0.5
    s = t["significance"].query("metric == 'dice'").set_index("entry")
    # (A,B): n = 1, V = 1, p = 0.5; (B,A): p = 0.9772498680518208; Holm m = 2: min(1, 2 * 0.5) = 1.
    assert s.loc["A", "p_raw"] == 0.5 and s.loc["B", "p_raw"] == pytest.approx(0.9772498680518208)
    assert (s["p_holm"] == 1.0).all() and not s["better"].any()
    # Bootstrap: a sample without case c3 ties A and B -> tau undefined, counted; otherwise A 1, B 2 -> tau 1.
    tau = t["kendall_tau_summary"].set_index("metric")
    n_nan = t["kendall_tau"].query("metric == 'dice'")["tau"].isna().sum()
    assert 0 < tau.loc["dice", "n_undefined"] == n_nan < 50 and tau.loc["dice", "median"] == 1.0
    assert "undefined in" in tau.loc["dice", "note"]


def test_ties_everywhere(tmp_path):
    same = [0.5, 0.625, 0.75]
    t = run(long_table({"A": same, "B": same, "C": same}), tmp_path, scheme="test-then-rank-holm")
    assert (t["leaderboard"]["rank"] == 1).all() and (t["leaderboard"]["score"] == 1.0).all()
    assert (t["ranking"]["rank"] == 1).all() and (t["ranking"]["score"] == 0.0).all()
    # every pair: all d = 0 -> p = 1 (R), Holm 1, never better
    assert (t["significance"]["p_raw"] == 1.0).all() and (t["significance"]["p_holm"] == 1.0).all()
    tau = t["kendall_tau_summary"]
    assert (tau["n_undefined"] == 50).all() and tau["mean"].isna().all() and tau["median"].isna().all()
    assert (t["consensus"]["rank"] == 1).all()


def test_metric_constant_across_entries_and_cases(tmp_path):
    varying = {"A": [0.75, 0.625, 0.5, 0.875], "B": [0.5, 0.5, 0.625, 0.25], "C": [0.25, 0.75, 0.375, 0.5]}
    constant = {"dice": {e: [0.5] * 4 for e in varying}}
    t = run(long_table(varying, constant=constant), tmp_path)
    board = t["leaderboard"].set_index("entry")
    assert (board["dice_mean_rank"] == 1.0).all() and (board["dice_mean"] == 0.5).all()
    # lesion_f1 per case: c0 A1 B2 C3 | c1 C1 A2 B3 | c2 B1 A2 C3 | c3 A1 C2 B3 -> A 6/4, B 9/4, C 9/4
    # score = (1 + mean rank)/2: A 1.25, B 1.625, C 1.625 -> ranks 1, 2, 2
    assert board["lesion_f1_mean_rank"].to_dict() == {"A": 1.5, "B": 2.25, "C": 2.25}
    assert board["score"].to_dict() == {"A": 1.25, "B": 1.625, "C": 1.625} and board["rank"].to_dict() == {
        "A": 1,
        "B": 2,
        "C": 2,
    }
    dice = t["ranking"].query("metric == 'dice'")
    assert (dice["rank"] == 1).all() and (dice["score"] == 0.5).all()
    tau = t["kendall_tau_summary"].set_index("metric")
    assert tau.loc["dice", "n_undefined"] == 50 and np.isnan(tau.loc["dice", "median"])
    assert (t["significance"].query("metric == 'dice'")["p_raw"] == 1.0).all()


def test_one_test_case(tmp_path):
    t = run(long_table({"A": [0.5], "B": [0.625], "C": [0.375]}), tmp_path)
    board = t["leaderboard"].set_index("entry")
    assert board["rank"].to_dict() == {"A": 2, "B": 1, "C": 3} and board["score"].to_dict() == {
        "A": 2.0,
        "B": 1.0,
        "C": 3.0,
    }
    # one case: (B,A) n = 1, V = 1, p = 0.5; (A,B) V = 0, p = 0.9772498680518208
    s = t["significance"].query("metric == 'dice'").set_index(["entry", "other"])["p_raw"]
    assert s[("B", "A")] == 0.5 and s[("A", "B")] == pytest.approx(0.9772498680518208)
    # challengeR skips bootstrapping a task with one case: NaN rows with the reason
    summary = t["kendall_tau_summary"]
    assert (
        (summary["n_boot"] == 0).all()
        and summary["median"].isna().all()
        and summary["note"].str.contains("skipped").all()
    )
    assert t["bootstrap_summary"]["winner_frequency"].isna().all() and t["kendall_tau"].empty


@pytest.mark.parametrize("na_treat", ["worst", "na.rm", "last"])
def test_entry_missing_every_case(tmp_path, na_treat):
    t = run(
        long_table({"A": [0.5, 0.625, 0.75], "B": [0.375, 0.625, 0.875], "C": [None, None, None]}),
        tmp_path,
        na_treat=na_treat,
        scheme="mean-then-rank",
    )
    board = t["leaderboard"].set_index("entry")
    assert board.loc["C", "n_missing"] == 6
    # A, B per case: c0 A 0.5 > B 0.375 | c1 tie 0.625 | c2 B 0.875 > A 0.75 -> ranks A 1,1,2; B 2,1,1
    if na_treat == "worst":
        # C = Dice 0 on every case -> rank 3 on each: A 4/3, B 4/3, C 3 -> ranks 1, 1, 3
        assert board["dice_mean_rank"].to_dict() == pytest.approx({"A": 4 / 3, "B": 4 / 3, "C": 3.0})
        assert board["rank"].to_dict() == {"A": 1, "B": 1, "C": 3} and board.loc["C", "dice_mean"] == 0.0
    elif na_treat == "na.rm":
        # no case to rank C on: score NaN, ranked after the others (rankNA2: max(rank) + 1 = 2)
        assert np.isnan(board.loc["C", "score"]) and np.isnan(board.loc["C", "dice_mean"])
        assert board["rank"].to_dict() == {"A": 1, "B": 1, "C": 2}
    else:
        # rankNA2 per case: C gets max(rank) + 1: c0 3, c1 2 (A, B tie at 1), c2 3 -> 8/3
        assert board.loc["C", "dice_mean_rank"] == pytest.approx(8 / 3)
        assert board["rank"].to_dict() == {"A": 1, "B": 1, "C": 3}
    ranking = t["ranking"].query("metric == 'dice'").set_index("entry")
    assert ranking.loc["C", "rank"] == ranking["rank"].max()
    assert t["missing"].query("entry == 'C'")["n_missing"].tolist() == [3, 3]


def test_leaderboard_score_ties_are_exact():
    # Per-case ranks (ties min), 2 cases, three metrics with equal weights:
    # dice:      X .75 .75 | Y .75 .75 | Z .5 .5    -> X 1,1  Y 1,1  Z 3,3
    # lesion_f1: X .75 .75 | Y .5 .25  | Z .25 .5   -> X 1,1  Y 2,3  Z 3,2
    # nsd:       X .5 .25  | Y .75 .75 | Z .25 .5   -> X 2,3  Y 1,1  Z 3,2
    # mean ranks X (1, 1, 2.5), Y (1, 2.5, 1), Z (3, 2.5, 2.5); scores X = Y = 4.5/3 = 1.5, Z = 8/3.
    # In double arithmetic (1, 1, 2.5) . (1/3, 1/3, 1/3) = 1.5 but (1, 2.5, 1) . w = 1.4999999999999998;
    # the leaderboard sums exact fractions, so X and Y tie at rank 1.
    per_metric = {
        "dice": {"X": [0.75, 0.75], "Y": [0.75, 0.75], "Z": [0.5, 0.5]},
        "lesion_f1": {"X": [0.75, 0.75], "Y": [0.5, 0.25], "Z": [0.25, 0.5]},
        "nsd": {"X": [0.5, 0.25], "Y": [0.75, 0.75], "Z": [0.25, 0.5]},
    }
    table = long_table(per_metric["dice"], metrics=tuple(per_metric), constant=per_metric)
    board = lr.msseg_leaderboard(table, reference=REF, metrics=list(per_metric)).set_index("entry")
    assert board["rank"].to_dict() == {"X": 1, "Y": 1, "Z": 3}
    assert board["score"].to_dict() == pytest.approx({"X": 1.5, "Y": 1.5, "Z": 8 / 3})
    assert board["lesion_f1_mean_rank"].to_dict() == {"X": 1.0, "Y": 2.5, "Z": 2.5}
    assert board["nsd_mean"].to_dict() == {"X": 0.375, "Y": 0.75, "Z": 0.375}
    assert "did not publish its exact rank-aggregation rule" in lr.leaderboard_markdown(board.reset_index())


def test_leaderboard_means_use_the_values_the_ranks_use():
    # Case c1 has no lesion in the reference and none predicted by A: status both_empty, value NaN
    # in the table, Dice's best (1) for ranking. B predicted lesions there: Dice 0 ("ok").
    # c0: A .5, B .75 -> B 1, A 2; c1: A 1 (both empty), B 0 -> A 1, B 2 -> mean ranks 1.5 each, tie.
    # Displayed means: A (0.5 + 1)/2 = 0.75, B (0.75 + 0)/2 = 0.375. Rater R1 (vs loo) both_empty on c1
    # too: (0.875 + 1)/2 = 0.9375.
    rows = []
    for entry, kind, ref, vals in (
        ("A", "method", REF, [(0.5, "ok"), (np.nan, "both_empty")]),
        ("B", "method", REF, [(0.75, "ok"), (0.0, "ok")]),
        ("R1", "rater", "loo", [(0.875, "ok"), (np.nan, "both_empty")]),
    ):
        for i, (v, status) in enumerate(vals):
            rows.append((f"c{i}", "01", "test", True, 1.0, entry, kind, ref, "dice", v, status))
    table = lr.validate_metrics_table(pd.DataFrame(rows, columns=list(lr.METRICS_COLUMNS)))
    board = lr.msseg_leaderboard(table, reference=REF, metrics=["dice"]).set_index("entry")
    assert board.loc[["A", "B"], "rank"].tolist() == [1, 1] and board.loc[["A", "B"], "score"].tolist() == [1.5, 1.5]
    assert board.loc["A", "dice_mean"] == 0.75 and board.loc["B", "dice_mean"] == 0.375
    assert board.loc["R1", "dice_mean"] == 0.9375 and board.loc["A", "n_missing"] == 0
