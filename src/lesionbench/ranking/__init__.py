"""Ranking statistics and challengeR-style figures for the lesion segmentation challenge.

Tables in (the long ``metrics.tsv``, :mod:`.table`), rankings, leaderboards and figures out.
Implements challengeR's schemes, bootstrap and consensus (Wiesenfarth et al., Sci Rep
11:2369, 2021) and a leaderboard in the spirit of MS-SEG 2016 (Commowick et al., Sci Rep 8:13650,
2018), whose own rank-aggregation rule was not published (see :mod:`.leaderboard`).
Schemes, the leaderboard rule and missing values in prose: ``docs/ranking.md``.
The stage's choices and defaults are in :mod:`.options` (no numpy); figures live in
:mod:`.figures` (imports matplotlib; not exported here). Importing this package imports no
submodule: each name below is loaded from its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .analysis import Analysis, analyse, analysis_tables
    from .bootstrap import BootstrapResult, bootstrap_task, kendall_tau_to
    from .leaderboard import leaderboard_markdown, msseg_leaderboard
    from .options import (
        DEFAULT_LEADERBOARD_METRICS,
        METHODSPLOT_SCHEMES,
        SCHEMES,
        STRATA,
        RankingOptions,
        Scheme,
        get_scheme,
    )
    from .ranks import r_mean, rank_min
    from .schemes import (
        TaskRanking,
        aggregate_then_rank,
        apply_na_treat,
        consensus_ranking,
        rank_task,
        rank_then_aggregate,
        to_loss,
    )
    from .significance import SignificanceResult, holm_adjust, pairwise_wilcoxon, test_then_rank_loss
    from .strata import leaderboard_by_stratum, lesion_size_bin_labels, load_tertiles, stratify
    from .table import (
        DEFAULT_METRIC_INFO,
        METRICS_COLUMNS,
        RANKED_KINDS,
        MetricSpec,
        TaskMatrix,
        metric_spec,
        read_metrics_table,
        task_matrix,
        validate_metrics_table,
    )

#: Public names by the submodule that defines them; each submodule is imported on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "analysis": ("Analysis", "analyse", "analysis_tables"),
    "bootstrap": ("BootstrapResult", "bootstrap_task", "kendall_tau_to"),
    "leaderboard": ("leaderboard_markdown", "msseg_leaderboard"),
    "options": (
        "DEFAULT_LEADERBOARD_METRICS",
        "METHODSPLOT_SCHEMES",
        "SCHEMES",
        "STRATA",
        "RankingOptions",
        "Scheme",
        "get_scheme",
    ),
    "ranks": ("r_mean", "rank_min"),
    "schemes": (
        "TaskRanking",
        "aggregate_then_rank",
        "apply_na_treat",
        "consensus_ranking",
        "rank_task",
        "rank_then_aggregate",
        "to_loss",
    ),
    "significance": ("SignificanceResult", "holm_adjust", "pairwise_wilcoxon", "test_then_rank_loss"),
    "strata": ("leaderboard_by_stratum", "lesion_size_bin_labels", "load_tertiles", "stratify"),
    "table": (
        "DEFAULT_METRIC_INFO",
        "METRICS_COLUMNS",
        "RANKED_KINDS",
        "MetricSpec",
        "TaskMatrix",
        "metric_spec",
        "read_metrics_table",
        "task_matrix",
        "validate_metrics_table",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "DEFAULT_LEADERBOARD_METRICS",
    "DEFAULT_METRIC_INFO",
    "METHODSPLOT_SCHEMES",
    "METRICS_COLUMNS",
    "RANKED_KINDS",
    "SCHEMES",
    "STRATA",
    "Analysis",
    "BootstrapResult",
    "MetricSpec",
    "RankingOptions",
    "Scheme",
    "SignificanceResult",
    "TaskMatrix",
    "TaskRanking",
    "aggregate_then_rank",
    "analyse",
    "analysis_tables",
    "apply_na_treat",
    "bootstrap_task",
    "consensus_ranking",
    "get_scheme",
    "holm_adjust",
    "kendall_tau_to",
    "leaderboard_by_stratum",
    "leaderboard_markdown",
    "lesion_size_bin_labels",
    "load_tertiles",
    "metric_spec",
    "msseg_leaderboard",
    "pairwise_wilcoxon",
    "r_mean",
    "rank_min",
    "rank_task",
    "rank_then_aggregate",
    "read_metrics_table",
    "stratify",
    "task_matrix",
    "test_then_rank_loss",
    "to_loss",
    "validate_metrics_table",
]
