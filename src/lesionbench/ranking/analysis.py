"""challengeR-equivalent analysis of a long table: metrics as tasks (Wiesenfarth et al. 2021).

Per task (metric x one reference): the ranking with the chosen scheme, the bootstrap
(default 1000 samples, seeded), Kendall's tau and winner frequencies, the Holm-adjusted
significance matrix (challengeR's significance map), the ranks under every scheme of the
``methodsplot``; across tasks, the consensus ranking (mean rank, challengeR "euclidean").
The tables returned by :func:`analysis_tables` are what the report and figures read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .bootstrap import BootstrapResult, bootstrap_task
from .options import DEFAULT_SCHEME, METHODSPLOT_SCHEMES, NaTreat, Scheme, get_scheme
from .schemes import TaskRanking, apply_na_treat, consensus_ranking, rank_task
from .significance import SignificanceResult, test_then_rank_loss
from .table import RANKED_KINDS, TaskMatrix, task_matrix


@dataclass(frozen=True)
class Analysis:
    tasks: dict[str, TaskMatrix]
    rankings: dict[str, TaskRanking]
    bootstraps: dict[str, BootstrapResult]
    significance: dict[str, SignificanceResult]
    scheme_ranks: pd.DataFrame
    consensus: pd.DataFrame
    skipped_bootstrap: dict[str, str]


def analyse(
    table: pd.DataFrame,
    *,
    reference: str,
    metrics: Sequence[str],
    scheme: str | Scheme = DEFAULT_SCHEME,
    na_treat: NaTreat = "worst",
    n_boot: int = 1000,
    rng: np.random.Generator | None = None,
    alpha: float = 0.05,
    metric_info: Mapping[str, Any] | None = None,
    kinds: Sequence[str] = RANKED_KINDS,
) -> Analysis:
    """Run the analysis on a validated long table. ``n_boot=0`` skips the bootstrap (then
    ``rng`` may be None); samples are drawn from ``rng`` task after task in ``metrics`` order."""
    scheme = get_scheme(scheme)
    if n_boot > 0 and rng is None:
        raise ConfigError("the bootstrap needs an explicit numpy Generator (rng)")
    entries = sorted(
        table.loc[(table["reference"] == reference) & table["entry_kind"].isin(list(kinds)), "entry"].unique()
    )
    tasks, rankings, boots, sig, skipped = {}, {}, {}, {}, {}
    scheme_rows = []
    for m in dict.fromkeys(metrics):
        task = task_matrix(table, m, reference, kinds=kinds, entries=entries, metric_info=metric_info)
        tasks[m] = task
        rankings[m] = rank_task(task, scheme, na_treat)
        sig_na = "worst" if na_treat == "last" else na_treat  # tests need a substitute
        sig[m] = test_then_rank_loss(
            apply_na_treat(task.values, task.spec, sig_na), alpha=alpha, p_adjust="holm", na_treat=sig_na
        )
        for name in METHODSPLOT_SCHEMES:
            s_na = "worst" if (na_treat == "last" and name.startswith("test")) else na_treat
            r = rank_task(task, name, s_na)
            scheme_rows += [
                {"metric": m, "scheme": name, "entry": e, "rank": int(k)} for e, k in zip(task.entries, r.rank)
            ]
        if n_boot > 0:
            assert rng is not None  # checked on entry
            try:
                boots[m] = bootstrap_task(task, scheme, rng=rng, n_boot=n_boot, na_treat=na_treat)
            except ConfigError as exc:
                skipped[m] = str(exc)
    ent, mean_rank, cons_rank = consensus_ranking({m: dict(zip(r.entries, r.rank)) for m, r in rankings.items()})
    consensus = (
        pd.DataFrame({"entry": ent, "mean_rank": mean_rank, "rank": cons_rank.astype(int)})
        .sort_values(["rank", "entry"], kind="stable")
        .reset_index(drop=True)
    )
    return Analysis(tasks, rankings, boots, sig, pd.DataFrame(scheme_rows), consensus, skipped)


def analysis_tables(a: Analysis) -> dict[str, pd.DataFrame]:
    """Name -> table, for ``<name>.tsv`` files: ranking, consensus, scheme_ranks,
    significance, bootstrap_summary, kendall_tau, kendall_tau_summary, missing."""
    out: dict[str, pd.DataFrame] = {
        "ranking": pd.concat([r.to_frame() for r in a.rankings.values()], ignore_index=True),
        "consensus": a.consensus,
        "scheme_ranks": a.scheme_ranks,
    }
    sig_rows = []
    for m, s in a.significance.items():
        ent = a.tasks[m].entries
        for i, ei in enumerate(ent):
            for j, ej in enumerate(ent):
                if i != j:
                    sig_rows.append(
                        {
                            "metric": m,
                            "entry": ei,
                            "other": ej,
                            "p_raw": s.p_raw[i, j],
                            "p_holm": s.p_adjusted[i, j],
                            "better": bool(s.significant[i, j]),
                        }
                    )
    out["significance"] = pd.DataFrame(sig_rows)
    out["missing"] = pd.DataFrame(
        [
            {"metric": m, "entry": e, "n_cases": len(t.cases), "n_missing": int(np.isnan(t.values[k]).sum())}
            for m, t in a.tasks.items()
            for k, e in enumerate(t.entries)
        ]
    )
    out["missing"]["n_inserted_in_task"] = out["missing"]["metric"].map({m: t.n_inserted for m, t in a.tasks.items()})
    if a.bootstraps or a.skipped_bootstrap:
        # Written whenever a bootstrap was asked for; a task it could not run on (one case,
        # one entry) gets NaN rows with the reason in "note", so the tables always exist.
        summaries, taus, tau_rows = [], [], []
        for m in a.tasks:
            if m in a.bootstraps:
                b = a.bootstraps[m]
                summaries.append(b.summary_frame().assign(note=""))
                taus.append(pd.DataFrame({"metric": m, "sample": np.arange(b.n_boot), "tau": b.kendall_tau}))
                tau_rows.append({"metric": m, **b.tau_summary(), "n_boot": b.n_boot, "note": _tau_note(b)})
            elif m in a.skipped_bootstrap:
                note = f"bootstrap skipped: {a.skipped_bootstrap[m]}"
                r = a.rankings[m].to_frame()
                summaries.append(
                    pd.DataFrame(
                        {
                            "metric": m,
                            "reference": r["reference"],
                            "scheme": r["scheme"],
                            "entry": r["entry"],
                            "rank": r["rank"],
                            "median_boot_rank": np.nan,
                            "boot_rank_q025": np.nan,
                            "boot_rank_q975": np.nan,
                            "winner_frequency": np.nan,
                            "n_boot": 0,
                            "note": note,
                        }
                    )
                )
                tau_rows.append(
                    {
                        "metric": m,
                        "mean": np.nan,
                        "median": np.nan,
                        "q25": np.nan,
                        "q75": np.nan,
                        "n_undefined": 0,
                        "n_boot": 0,
                        "note": note,
                    }
                )
        out["bootstrap_summary"] = pd.concat(summaries, ignore_index=True)
        out["kendall_tau"] = (
            pd.concat(taus, ignore_index=True) if taus else pd.DataFrame(columns=["metric", "sample", "tau"])
        )
        out["kendall_tau_summary"] = pd.DataFrame(tau_rows)
    return out


def _tau_note(b: BootstrapResult) -> str:
    if b.n_tau_undefined == 0:
        return ""
    return (
        f"Kendall's tau undefined in {b.n_tau_undefined} of {b.n_boot} samples (a ranking without variation: "
        "all entries tied); left out of mean, median and quartiles"
    )
