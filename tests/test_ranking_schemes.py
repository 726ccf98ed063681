"""Ranking schemes, leaderboard, table contract and CLI against hand-worked tables.

Expected ranks below are worked out by hand in the comments (ties "min"); test-then-rank
is checked against per-pair scipy.stats.wilcoxon / statsmodels Holm calls and a normal
approximation computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

import lesionbench.ranking as lr
from lesionbench.cli import main
from lesionbench.errors import ConfigError, MissingFileError, SheetError
from lesionbench.ranking import significance as sig

NAN = np.nan
# dice per case; B has NO row for c4 (a method missing a whole case).
DICE = {"A": [0.8, 0.6, 0.7, 0.5], "B": [0.9, 0.7, 0.6, None], "C": [0.6, 0.6, 0.9, 0.5]}
F1 = {"A": [0.5, 0.5, 0.5, 0.5], "B": [0.6, 0.4, 0.5, None], "C": [0.4, 0.6, 0.4, 0.3]}
CASES = ["c1", "c2", "c3", "c4"]
REF = "consensus_lop-staple"


def make_table(
    metrics: dict[str, dict[str, list]] | None = None, raters: dict[str, list[float]] | None = None
) -> pd.DataFrame:
    metrics = metrics or {"dice": DICE, "lesion_f1": F1}
    rows = []
    for metric, per_entry in metrics.items():
        for entry, values in per_entry.items():
            for case, v in zip(CASES, values):
                if v is None:
                    continue
                rows.append(
                    (
                        case,
                        "01" if case < "c3" else "03",
                        "test",
                        case < "c3",
                        1.0,
                        entry,
                        "method",
                        REF,
                        metric,
                        v,
                        "ok",
                    )
                )
    for entry, values in (raters or {}).items():
        for case, v in zip(CASES, values):
            rows.append(
                (case, "01" if case < "c3" else "03", "test", case < "c3", 1.0, entry, "rater", "loo", "dice", v, "ok")
            )
    return lr.validate_metrics_table(pd.DataFrame(rows, columns=list(lr.METRICS_COLUMNS)))


def ranks(table, scheme, na_treat="worst", metric="dice"):
    r = lr.rank_task(lr.task_matrix(table, metric, REF), scheme, na_treat)
    return dict(zip(r.entries, r.rank.astype(int).tolist())), dict(zip(r.entries, r.score))


def test_missing_case_is_inserted_and_counted():
    task = lr.task_matrix(make_table(), "dice", REF)
    assert task.entries == ("A", "B", "C") and task.cases == tuple(CASES)
    assert task.n_inserted == 1 and np.isnan(task.values[1, 3])


@pytest.mark.parametrize(
    "scheme, na_treat, expected",
    [
        # means: A 2.6/4=.65, B (.9+.7+.6+0)/4=.55, C 2.6/4=.65 -> A,C tie at 1, B 3
        ("mean-then-rank", "worst", {"A": 1, "B": 3, "C": 1}),
        # na.rm: B 2.2/3=.733 -> B 1, A and C tied 2
        ("mean-then-rank", "na.rm", {"A": 2, "B": 1, "C": 2}),
        # last: B's aggregate is missing -> max(rank)+1 = 1+1 = 2 (challengeR rankNA2)
        ("mean-then-rank", "last", {"A": 1, "B": 2, "C": 1}),
        # a number: missing B scored 0.9 -> B mean 3.1/4=.775 -> 1
        ("mean-then-rank", 0.9, {"A": 2, "B": 1, "C": 2}),
        # medians: A .65, B median(0,.6,.7,.9)=.65, C median(.5,.5,.6,.9)=.55
        ("median-then-rank", "worst", {"A": 1, "B": 1, "C": 3}),
        # per-case ranks (worst): c1 B1 A2 C3 | c2 B1 A2 C2 | c3 C1 A2 B3 | c4 A1 C1 B3
        # means A 7/4, B 8/4, C 7/4
        ("rank-then-mean", "worst", {"A": 1, "B": 3, "C": 1}),
        # last: c4 B gets max(1,1)+1 = 2 -> B 7/4 -> three-way tie
        ("rank-then-mean", "last", {"A": 1, "B": 1, "C": 1}),
        # na.rm: B over c1..c3 = 5/3 < 7/4
        ("rank-then-mean", "na.rm", {"A": 2, "B": 1, "C": 2}),
        # medians of ranks: A med(2,2,2,1)=2, B med(1,1,3,3)=2, C med(3,2,1,1)=1.5
        ("rank-then-median", "worst", {"A": 2, "B": 2, "C": 1}),
    ],
)
def test_schemes_match_hand_worked_ranks(scheme, na_treat, expected):
    got, _ = ranks(make_table(), scheme, na_treat)
    assert got == expected


def test_explicit_missing_row_equals_absent_row():
    table = make_table()
    extra = table.iloc[[0]].copy()
    extra[["case_id", "entry", "value", "status"]] = ["c4", "B", np.nan, "failed"]
    extra["center"], extra["seen_center"] = "03", False
    explicit = lr.validate_metrics_table(pd.concat([table, extra], ignore_index=True))
    for scheme in ("mean-then-rank", "rank-then-mean"):
        assert ranks(explicit, scheme)[0] == ranks(table, scheme)[0]
    assert lr.task_matrix(explicit, "dice", REF).n_inserted == 0


def test_lower_better_and_absolute_metrics():
    hd = {"A": [1.0, 2.0, 1.0, 1.0], "B": [0.5, None, 0.5, 0.5]}
    # worst = 373 mm cap: B mean (1.5+373)/4 >> A mean 1.25
    assert ranks(make_table({"hausdorff95_mm": hd}), "mean-then-rank", metric="hausdorff95_mm")[0] == {"A": 1, "B": 2}
    # na.rm: B .5 < A 1.25
    assert ranks(make_table({"hausdorff95_mm": hd}), "mean-then-rank", "na.rm", metric="hausdorff95_mm")[0] == {
        "A": 2,
        "B": 1,
    }
    rve = {"A": [-50.0, 10.0, 0.0, 0.0], "B": [20.0, 20.0, 20.0, -20.0]}
    # |.|: A mean 15, B mean 20
    got, score = ranks(
        make_table({"relative_volume_error_pct": rve}), "mean-then-rank", metric="relative_volume_error_pct"
    )
    assert got == {"A": 1, "B": 2} and score["A"] == pytest.approx(15.0)


def test_worst_never_better_than_observed():
    spec = lr.MetricSpec(higher_is_better=False, worst=10.0)
    loss = lr.apply_na_treat(np.array([[1.0, 50.0], [NAN, 2.0]]), spec, "worst")
    assert loss[1, 0] == 50.0  # observed 50 is worse than the cap 10
    loss = lr.apply_na_treat(np.array([[1.0, NAN]]), lr.MetricSpec(True, None), "worst")
    assert loss[0, 1] == -1.0  # worst observed


def test_rank_min_ties_and_rankna2():
    # rankNA2: missing get max(rank) + 1 = 2 + 1 (not the position count)
    assert lr.rank_min(np.array([0.2, NAN, 0.2, 0.1])).tolist() == [2, 3, 2, 1]
    assert lr.rank_min(np.array([0.2, NAN, 0.2, 0.1, NAN])).tolist() == [2, 3, 2, 1, 3]
    assert lr.rank_min(np.array([NAN, NAN])).tolist() == [1, 1]
    x = np.random.default_rng(3).integers(0, 4, size=(7, 5)).astype(float)
    ref = pd.DataFrame(x).rank(axis=0, method="min").to_numpy()
    assert np.array_equal(lr.rank_min(x, axis=0), ref)


def test_test_then_rank_hand_normal_approximation():
    n = 10
    rng = np.random.default_rng(0)
    b = rng.uniform(0.3, 0.5, n)
    loss = -np.stack([b + np.arange(1, n + 1) * 0.01, b])
    res = sig.test_then_rank_loss(loss)
    # all 10 differences positive: T+ = 55, mean 27.5, var 10*11*21/24, continuity 0.5
    z = (55 - 27.5 - 0.5) / math.sqrt(10 * 11 * 21 / 24)
    assert res.p_raw[0, 1] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert res.score.tolist() == [1.0, 0.0] and res.rank.tolist() == [1, 2]


@pytest.mark.parametrize("p_adjust", ["none", "holm"])
@pytest.mark.parametrize("na_treat", ["worst", "na.rm"])
def test_test_then_rank_matches_scipy_pairwise(p_adjust, na_treat):
    rng = np.random.default_rng(7)
    k, n = 5, 15
    values = np.clip(rng.uniform(0.3, 0.6, (k, n)) + np.linspace(0, 0.25, k)[:, None], 0, 1)
    values[1, 3] = values[2, [0, 5]] = NAN
    values[4, 2] = values[3, 2]  # a zero difference (dropped, zero_method="wilcox")
    spec = lr.MetricSpec(True, 0.0)
    res = sig.test_then_rank_loss(lr.apply_na_treat(values, spec, na_treat), p_adjust=p_adjust, na_treat=na_treat)
    filled = np.where(np.isnan(values), 0.0, values) if na_treat == "worst" else values
    pairs = [(i, j) for i in range(k) for j in range(k) if i != j]
    p = []
    for i, j in pairs:
        ok = ~(np.isnan(filled[i]) | np.isnan(filled[j]))
        p.append(
            stats.wilcoxon(
                filled[i, ok],
                filled[j, ok],
                alternative="greater",
                method="approx",
                correction=True,
                zero_method="wilcox",
            ).pvalue
        )
    p = np.array(p)
    if p_adjust == "holm":
        p = multipletests(p, method="holm")[1]
    expected_sig = np.zeros((k, k), bool)
    for (i, j), pv in zip(pairs, p):
        assert res.p_adjusted[i, j] == pytest.approx(pv, rel=1e-9)
        expected_sig[i, j] = pv <= 0.05
    assert np.array_equal(res.significant, expected_sig)
    score = expected_sig.sum(axis=1) / (k - 1)
    assert np.allclose(res.score, score)
    assert res.rank.tolist() == pd.Series(-score).rank(method="min").astype(int).tolist()


def test_holm_matches_statsmodels_with_nan():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 0.1, (20, 9))
    p[rng.uniform(size=p.shape) < 0.2] = NAN
    adj = sig.holm_adjust(p)
    for row, arow in zip(p, adj):
        ok = ~np.isnan(row)
        assert np.allclose(arow[ok], multipletests(row[ok], method="holm")[1])
        assert np.isnan(arow[~ok]).all()


def test_test_then_rank_all_zero_differences_not_significant():
    # R: zeros dropped -> n = 0, sigma = 0, z = -0.5/0 = -Inf, p = P(Z > -Inf) = 1
    res = sig.test_then_rank_loss(np.ones((3, 6)))
    assert (res.p_raw[~np.eye(3, dtype=bool)] == 1.0).all() and res.rank.tolist() == [1, 1, 1]


def test_test_then_rank_rejects_last():
    with pytest.raises(ConfigError, match="na_treat"):
        lr.rank_task(lr.task_matrix(make_table(), "dice", REF), "test-then-rank", "last")


def test_consensus_mean_rank_ties_min():
    entries, mean, rank = lr.consensus_ranking(
        {"dice": {"A": 1, "B": 3, "C": 2}, "f1": {"A": 3, "B": 1, "C": 2}, "hd": {"A": 1, "B": 2, "C": 3}}
    )
    # means A 5/3, B 2, C 7/3
    assert entries == ["A", "B", "C"] and np.allclose(mean, [5 / 3, 2, 7 / 3]) and rank.tolist() == [1, 2, 3]
    _, _, rank = lr.consensus_ranking({"t1": {"A": 1, "B": 2}, "t2": {"A": 2, "B": 1}})
    assert rank.tolist() == [1, 1]


def test_msseg_leaderboard_hand_worked():
    table = make_table(raters={"R1": [0.9, 0.8, 0.7, 0.6]})
    board = lr.msseg_leaderboard(table, reference=REF)
    # dice mean ranks A 1.75 B 2 C 1.75; lesion_f1 per case: c1 B1 A2 C3 | c2 C1 A2 B3 |
    # c3 A1 B1 C3 | c4 A1 C2 B3 -> A 1.5, B 2, C 2.25; combined A 1.625, B 2, C 2
    methods = board[board["entry_kind"] == "method"].set_index("entry")
    assert methods["dice_mean_rank"].to_dict() == pytest.approx({"A": 1.75, "B": 2.0, "C": 1.75})
    assert methods["lesion_f1_mean_rank"].to_dict() == pytest.approx({"A": 1.5, "B": 2.0, "C": 2.25})
    assert methods["score"].to_dict() == pytest.approx({"A": 1.625, "B": 2.0, "C": 2.0})
    assert methods["rank"].astype(int).to_dict() == {"A": 1, "B": 2, "C": 2}
    # displayed means use the values the ranks use: B's missing c4 counts as Dice 0 -> 2.2/4
    assert methods.loc["B", "n_missing"] == 2 and methods.loc["B", "dice_mean"] == pytest.approx(2.2 / 4)
    assert methods.loc["B", "lesion_f1_mean"] == pytest.approx(1.5 / 4)
    rater = board[board["entry_kind"] == "rater"].iloc[0]
    assert list(board["entry"])[-1] == "R1" and pd.isna(rater["rank"]) and rater["reference"] == "loo"
    assert rater["dice_mean"] == pytest.approx(0.75)
    # weights dice 3 : f1 1 -> A 1.6875, B 2, C 1.875
    board = lr.msseg_leaderboard(table, reference=REF, weights={"dice": 3, "lesion_f1": 1})
    assert board.set_index("entry")["rank"].dropna().astype(int).to_dict() == {"A": 1, "C": 2, "B": 3}
    md = lr.leaderboard_markdown(board)
    assert "| ref | R1 |" in md and md.count("\n|") >= 5


def test_leaderboard_compares_methods_and_raters_on_the_same_references():
    """Methods scored against each leave-one-rater-out fusion get a ``<m>_mean_loo`` column
    beside the raters' values (hand-worked means)."""
    rows = []

    def add(case, entry, kind, ref, value):
        rows.append(
            dict(
                case_id=case,
                center="01",
                split="test",
                seen_center=True,
                lesion_load_ml=1.0,
                entry=entry,
                entry_kind=kind,
                reference=ref,
                metric="dice",
                value=value,
                status="ok",
            )
        )

    for case, (a, b, a_loo, b_loo, r1, r2) in {
        "c1": (0.8, 0.6, 0.7, 0.5, 0.75, 0.65),
        "c2": (0.6, 0.7, 0.5, 0.6, 0.55, 0.8),
    }.items():
        add(case, "A", "method", REF, a)
        add(case, "B", "method", REF, b)
        add(case, "A", "method", "loo", a_loo)
        add(case, "B", "method", "loo", b_loo)
        add(case, "r1", "rater", "loo", r1)
        add(case, "r2", "rater", "loo", r2)
    # a training case: raters are scored on it, methods are not; the like-for-like columns leave it out
    add("t1", "r1", "rater", "loo", 0.1)
    add("t1", "r2", "rater", "loo", 0.1)
    board = lr.msseg_leaderboard(lr.validate_metrics_table(pd.DataFrame(rows)), reference=REF, metrics=["dice"])
    by = board.set_index("entry")
    assert by["dice_mean"].to_dict() == pytest.approx({"A": 0.7, "B": 0.65, "r1": 0.4666667, "r2": 0.5166667})
    # A: (0.7 + 0.5) / 2, B: (0.5 + 0.6) / 2; raters: their own leave-one-out values
    assert by["dice_mean_loo"].to_dict() == pytest.approx({"A": 0.6, "B": 0.55, "r1": 0.65, "r2": 0.725})
    # the ranks stay those against the consensus (A and B tie: 1 and 2 on one case each)
    assert by["rank"].dropna().astype(int).to_dict() == {"A": 1, "B": 1}


def test_leaderboard_bad_config():
    table = make_table()
    with pytest.raises(ConfigError, match="nsd"):
        lr.msseg_leaderboard(table, reference=REF, metrics=["dice", "nsd"])
    with pytest.raises(ConfigError, match="weights"):
        lr.msseg_leaderboard(table, reference=REF, weights=[1, -1])
    with pytest.raises(ConfigError, match="na_treat"):
        lr.msseg_leaderboard(table, reference=REF, na_treat="drop")


def test_analysis_tables_and_consensus():
    a = lr.analyse(make_table(), reference=REF, metrics=["dice", "lesion_f1"], n_boot=20, rng=np.random.default_rng(0))
    tabs = lr.analysis_tables(a)
    assert {
        "ranking",
        "consensus",
        "scheme_ranks",
        "significance",
        "bootstrap_summary",
        "kendall_tau",
        "kendall_tau_summary",
        "missing",
    } <= set(tabs)
    # mean-then-rank: dice A1 B3 C1; lesion_f1 means (worst) A .5, B 1.5/4, C 1.7/4 -> A1 C2 B3
    assert tabs["consensus"].set_index("entry")["mean_rank"].to_dict() == pytest.approx({"A": 1.0, "B": 3.0, "C": 1.5})
    assert len(tabs["kendall_tau"]) == 40 and set(tabs["scheme_ranks"]["scheme"]) == set(lr.METHODSPLOT_SCHEMES)


# ---------------------------------------------------------------- table contract


def _bad(mutate, tmp_path):
    table = make_table().copy()
    table = mutate(table)
    path = tmp_path / "metrics.tsv"
    table.to_csv(path, sep="\t", index=False)
    with pytest.raises(SheetError) as exc:
        lr.read_metrics_table(path)
    assert str(path) in str(exc.value)
    return str(exc.value)


def test_table_errors_name_file_and_case(tmp_path):
    def set_cell(col, value, row=5):
        def f(t):
            t[col] = t[col].astype(object)
            t.loc[row, col] = value
            return t

        return f

    case5 = make_table()["case_id"].iloc[5]
    msg = _bad(lambda t: t.drop(columns=["status"]), tmp_path)
    assert "status" in msg
    for mutate, words in [
        (set_cell("entry_kind", "robot"), "entry_kind"),
        (set_cell("status", "weird"), "status"),
        (set_cell("value", "abc"), "not a number"),
        (set_cell("value", np.nan), "status 'ok'"),
        (set_cell("entry", ""), "empty entry"),
    ]:
        msg = _bad(mutate, tmp_path)
        assert words in msg and f"case {case5}" in msg and "line 7" in msg
    msg = _bad(lambda t: pd.concat([t, t.iloc[[2]]], ignore_index=True), tmp_path)
    assert "duplicate" in msg and f"case {make_table()['case_id'].iloc[2]}" in msg
    msg = _bad(set_cell("center", "99", row=0), tmp_path)
    assert "center" in msg and "case c1" in msg
    msg = _bad(set_cell("seen_center", "maybe"), tmp_path)
    assert "seen_center" in msg


def test_table_missing_and_unreadable_file(tmp_path):
    with pytest.raises(MissingFileError, match=r"nope.tsv"):
        lr.read_metrics_table(tmp_path / "nope.tsv")
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(SheetError, match=r"empty.tsv"):
        lr.read_metrics_table(empty)


def test_non_ok_values_are_dropped_and_unknown_metric_rejected():
    table = make_table().copy()
    table.loc[0, "status"] = "undefined"
    assert np.isnan(lr.validate_metrics_table(table)["value"].iloc[0])
    with pytest.raises(ConfigError, match="direction unknown"):
        lr.metric_spec("mystery_score")
    assert lr.metric_spec("lesion_sensitivity@3-10mm3").higher_is_better
    assert lr.metric_spec("dice", {"dice": {"higher_is_better": False, "worst": 1.0}}).worst == 1.0


# ---------------------------------------------------------------- CLI


def test_cli_rank_writes_tables(tmp_path, capsys):
    path = tmp_path / "metrics.tsv"
    make_table(raters={"R1": [0.9, 0.8, 0.7, 0.6]}).to_csv(path, sep="\t", index=False)
    out = tmp_path / "rank"
    assert main(["rank", str(path), "--out", str(out), "--bootstrap", "20", "--seed", "1", "--strata", "center"]) == 0
    board = pd.read_csv(out / "leaderboard.tsv", sep="\t")
    assert board["entry"].tolist() == ["A", "B", "C", "R1"]
    for name in (
        "leaderboard.md",
        "ranking.tsv",
        "consensus.tsv",
        "bootstrap_summary.tsv",
        "kendall_tau.tsv",
        "significance.tsv",
        "leaderboard_by_center.tsv",
    ):
        assert (out / name).stat().st_size > 0
    tau1 = (out / "kendall_tau.tsv").read_text()
    assert (
        main(
            [
                "rank",
                str(path),
                "--out",
                str(tmp_path / "again"),
                "--bootstrap",
                "20",
                "--seed",
                "1",
                "--strata",
                "center",
            ]
        )
        == 0
    )
    assert (tmp_path / "again" / "kendall_tau.tsv").read_text() == tau1


def test_cli_rank_bad_table_one_line_error(tmp_path, capsys):
    path = tmp_path / "metrics.tsv"
    make_table().drop(columns=["metric"]).to_csv(path, sep="\t", index=False)
    assert main(["rank", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "metrics.tsv" in err and "metric" in err
    assert main(["rank", str(tmp_path / "missing.tsv"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.tsv" in capsys.readouterr().err
