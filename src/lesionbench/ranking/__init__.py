"""Ranking statistics and challengeR-style figures for the lesion segmentation challenge.

Tables in (the long ``metrics.tsv``, :mod:`.table`), rankings, leaderboards and figures out.
Implements challengeR's schemes, bootstrap and consensus (Wiesenfarth et al., Sci Rep
11:2369, 2021) and a leaderboard in the spirit of MS-SEG 2016 (Commowick et al., Sci Rep 8:13650,
2018), whose own rank-aggregation rule was not published (see :mod:`.leaderboard`).
Figures live in :mod:`.figures` (imports matplotlib; not imported here).
"""

from __future__ import annotations

from .analysis import Analysis, analyse, analysis_tables
from .bootstrap import BootstrapResult, bootstrap_task, kendall_tau_to
from .leaderboard import DEFAULT_LEADERBOARD_METRICS, leaderboard_markdown, msseg_leaderboard
from .schemes import (
    METHODSPLOT_SCHEMES,
    SCHEMES,
    Scheme,
    TaskRanking,
    aggregate_then_rank,
    apply_na_treat,
    consensus_ranking,
    get_scheme,
    rank_min,
    rank_task,
    rank_then_aggregate,
    to_loss,
)
from .significance import SignificanceResult, holm_adjust, pairwise_wilcoxon, test_then_rank_loss
from .strata import STRATA, leaderboard_by_stratum, lesion_size_bin_labels, load_tertiles, stratify
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

__all__ = [
    "Analysis", "analyse", "analysis_tables", "BootstrapResult", "bootstrap_task", "kendall_tau_to",
    "DEFAULT_LEADERBOARD_METRICS", "leaderboard_markdown", "msseg_leaderboard", "METHODSPLOT_SCHEMES",
    "SCHEMES", "Scheme", "TaskRanking", "aggregate_then_rank", "apply_na_treat", "consensus_ranking",
    "get_scheme", "rank_min", "rank_task", "rank_then_aggregate", "to_loss", "SignificanceResult",
    "holm_adjust", "pairwise_wilcoxon", "test_then_rank_loss", "STRATA", "leaderboard_by_stratum",
    "lesion_size_bin_labels", "load_tertiles", "stratify", "DEFAULT_METRIC_INFO", "METRICS_COLUMNS",
    "RANKED_KINDS", "MetricSpec", "TaskMatrix", "metric_spec", "read_metrics_table", "task_matrix",
    "validate_metrics_table",
]
