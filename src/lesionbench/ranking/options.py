"""The ranking stage's choices and defaults: scheme names, strata, leaderboard metrics, options.

Standard library only, so the ``lesionbench rank`` parser and the workflow's parse step can
offer and check these choices without importing numpy or pandas. The schemes themselves are
computed in :mod:`.schemes`, the strata in :mod:`.strata`, the leaderboard in :mod:`.leaderboard`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .. import DEFAULT_SEED
from ..errors import ConfigError

#: Missing-value treatment: ``"worst"``, ``"na.rm"``, ``"last"`` or a number (see :mod:`.schemes`).
NaTreat = str | float
Aggregate = Literal["mean", "median"]
SchemeKind = Literal["aggregate-then-rank", "rank-then-aggregate", "test-then-rank"]


#: Figures drawn per analysis metric, ``figures/<name>_<metric>.png``.
FIGURES: tuple[str, ...] = (
    "dot_boxplot",
    "podium",
    "ranking_heatmap",
    "significance_map",
    "bootstrap_blob",
    "vs_lesion_load",
    "center_heatmap",
    "methods_vs_raters",
)
#: Figures drawn once, ``figures/<name>.png``.
SUMMARY_FIGURES: tuple[str, ...] = ("kendall_tau_violin", "scheme_lineplot")


@dataclass(frozen=True)
class Scheme:
    """A ranking scheme: its kind, aggregate (``mean``/``median``), and the test settings."""

    kind: SchemeKind
    aggregate: Aggregate = "mean"
    alpha: float = 0.05
    p_adjust: Literal["none", "holm"] = "none"

    @property
    def name(self) -> str:
        if self.kind == "aggregate-then-rank":
            return f"{self.aggregate}-then-rank"
        if self.kind == "rank-then-aggregate":
            return f"rank-then-{self.aggregate}"
        return "test-then-rank" + ("" if self.p_adjust == "none" else f"-{self.p_adjust}")


#: Named schemes: the five of challengeR's ``methodsplot`` (``R/methodsplot.R``) + Holm.
SCHEMES: dict[str, Scheme] = {
    "mean-then-rank": Scheme("aggregate-then-rank", "mean"),
    "median-then-rank": Scheme("aggregate-then-rank", "median"),
    "rank-then-mean": Scheme("rank-then-aggregate", "mean"),
    "rank-then-median": Scheme("rank-then-aggregate", "median"),
    "test-then-rank": Scheme("test-then-rank"),
    "test-then-rank-holm": Scheme("test-then-rank", p_adjust="holm"),
}
#: The line plot across schemes uses these (challengeR ``methodsplot``).
METHODSPLOT_SCHEMES: tuple[str, ...] = (
    "test-then-rank",
    "mean-then-rank",
    "median-then-rank",
    "rank-then-mean",
    "rank-then-median",
)

#: Scheme of the analysis and the bootstrap when none is chosen.
DEFAULT_SCHEME = "mean-then-rank"

#: Strata of the per-stratum leaderboards (:func:`.strata.stratify`).
STRATA: tuple[str, ...] = ("center", "seen_center", "load_tertile", "lesion_size")
#: Strata written when none are configured.
DEFAULT_STRATA: tuple[str, ...] = ("center", "seen_center", "load_tertile")

#: Metrics of the leaderboard when none are configured.
DEFAULT_LEADERBOARD_METRICS: tuple[str, ...] = ("dice", "lesion_f1")


def get_scheme(scheme: str | Scheme) -> Scheme:
    if isinstance(scheme, Scheme):
        return scheme
    try:
        return SCHEMES[scheme]
    except KeyError:
        raise ConfigError(f"unknown ranking scheme {scheme!r}; choose from {', '.join(SCHEMES)}") from None


@dataclass(frozen=True)
class RankingOptions:
    """What :func:`.pipeline.run_ranking` computes and writes (the ``rank`` verb's options)."""

    reference: str
    metrics: tuple[str, ...] = DEFAULT_LEADERBOARD_METRICS
    weights: tuple[float, ...] | None = None
    analysis_metrics: tuple[str, ...] = DEFAULT_LEADERBOARD_METRICS
    scheme: str = DEFAULT_SCHEME
    na_treat: NaTreat = "worst"
    n_bootstrap: int = 1000
    seed: int = DEFAULT_SEED
    strata: tuple[str, ...] = DEFAULT_STRATA
    figures: bool = True
    rater_reference: str | None = None
    #: Participants' ``command`` entries and the tool that isolated their process (``bwrap``,
    #: ``apptainer``, ``podman``, or ``none``: unsandboxed), marked on the leaderboard; empty
    #: when there are none (the leaderboard then has no ``sandbox`` column).
    sandboxes: tuple[tuple[str, str], ...] = ()
