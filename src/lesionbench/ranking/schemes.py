"""challengeR's ranking schemes on entries x cases arrays (Wiesenfarth et al., Sci Rep 11:2369, 2021;
challengeR 1.0.5).

Every scheme works on a *loss* array of shape ``(..., K, N)`` (K entries, N cases, any
leading batch axes, e.g. bootstrap samples), where smaller is better: a higher-better
metric is negated, a signed error is taken in absolute value (:func:`to_loss`). Ranks are
1 = best with ties ``"min"`` (R ``rank(ties.method="min")`` = ``scipy.stats.rankdata(method="min")``),
computed on the raw aggregates, as challengeR does (no rounding). The mean is R's
``mean.default`` (:func:`.ranks.r_mean`: a long-double sum, divided by n, plus the mean residual),
so two entries whose values are the same multiset of numbers in another order get the
same mean and tie, as in R.

Missing values (NaN) follow ``na_treat`` (:func:`apply_na_treat`). challengeR's
``as.challenge(na.treat=)`` takes a number (substituted for every NA), a function (called
with the vector of the NA values themselves and its result substituted), or ``"na.rm"``
(rows dropped); without ``na.treat`` rank-then-aggregate ranks an NA last in its case
(``rankNA2``: rank ``max(rank) + 1``) and the other schemes stop. Ours:

- a number: substitute that value (in metric units); challengeR's numeric ``na.treat``.
- ``"worst"`` (default): a number chosen per task, ``w = max(spec worst, worst observed
  value)`` in loss order (:func:`worst_loss`), substituted as above. This equals
  challengeR's ``na.treat = w``; it is *not* challengeR's ``na.treat = max`` or any other
  function, which R would call on the NA values only. When the metric declares a worst
  value (Dice 0, distances 373 mm) and nothing observed is worse, w is that value; when it
  declares none (signed volume errors) w is the worst observed loss, so a missing result
  never scores better than an observed one.
- ``"na.rm"``: drop the missing cell, challengeR's ``"na.rm"`` (aggregates over the
  remaining cases; per-case ranks among the entries present; tests on the cases common to
  both entries).
- ``"last"``: no substitute. Rank-then-aggregate gives a missing cell rank ``max(rank) + 1``
  in its case, challengeR's behaviour without ``na.treat``. Aggregate-then-rank: an entry
  with any missing case has an NA aggregate and ``rankNA2`` ranks it after all others
  (challengeR would stop and ask for ``na.treat``). Not defined for test-then-rank
  (challengeR: "Please specify na.treat").

Schemes (challengeR ``R/rankingMethods.R``):

- aggregate-then-rank (``aggregateThenRank``): aggregate each entry's loss over cases
  (mean or median), rank the aggregates.
- rank-then-aggregate (``rankThenAggregate``): rank the entries within each case, aggregate
  the ranks (mean or median), rank the aggregated ranks.
- test-then-rank (``testThenRank``): see :mod:`.significance`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ..errors import ConfigError
from .options import DEFAULT_SCHEME, Aggregate, NaTreat, Scheme, get_scheme
from .ranks import r_mean, rank_min
from .significance import test_then_rank_loss
from .table import MetricSpec, TaskMatrix

if TYPE_CHECKING:
    import pandas as pd


def to_loss(values: np.ndarray, spec: MetricSpec) -> np.ndarray:
    """Metric values -> loss (smaller better), NaN kept."""
    values = np.asarray(values, dtype=float)
    if spec.rank_absolute:
        values = np.abs(values)
    return -values if spec.higher_is_better else values


def worst_loss(values: np.ndarray, spec: MetricSpec) -> float:
    """Loss substituted under ``na_treat="worst"``: the spec's worst, or the worst observed if worse."""
    loss = to_loss(values, spec)
    observed = np.nanmax(loss) if np.isfinite(loss).any() else -np.inf
    if spec.worst is None:
        if not np.isfinite(observed):
            raise ConfigError("na_treat='worst' needs a MetricSpec.worst when no value is observed")
        return float(observed)
    return float(max(to_loss(np.array([spec.worst]), spec)[0], observed))


def check_na_treat(na_treat: NaTreat) -> None:
    if isinstance(na_treat, (int, float)) and not isinstance(na_treat, bool):
        if not np.isfinite(na_treat):
            raise ConfigError(f"na_treat number must be finite, got {na_treat}")
        return
    if na_treat not in ("worst", "na.rm", "last"):
        raise ConfigError(f"na_treat must be 'worst', 'na.rm', 'last' or a number, got {na_treat!r}")


def apply_na_treat(values: np.ndarray, spec: MetricSpec, na_treat: NaTreat = "worst") -> np.ndarray:
    """Loss array with missing cells substituted (``worst``/number) or left NaN (``na.rm``/``last``)."""
    check_na_treat(na_treat)
    loss = to_loss(values, spec)
    if na_treat in ("na.rm", "last") or not np.isnan(loss).any():
        return loss
    if na_treat == "worst":
        fill = worst_loss(values, spec)
    else:
        fill = float(to_loss(np.array([float(na_treat)]), spec)[0])
    return np.where(np.isnan(loss), fill, loss)


@contextmanager
def _quiet_nan_warnings() -> Iterator[None]:
    """Silence "Mean of empty slice": an all-missing entry is a legitimate NaN aggregate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _aggregate(x: np.ndarray, how: Aggregate, *, skip_nan: bool) -> np.ndarray:
    if how == "mean":
        return r_mean(x, skip_nan=skip_nan)
    if how == "median":
        return np.nanmedian(x, axis=-1) if skip_nan else np.median(x, axis=-1)
    raise ConfigError(f"aggregate must be 'mean' or 'median', got {how!r}")


def aggregate_then_rank(
    loss: np.ndarray, aggregate: Aggregate = "mean", na_treat: NaTreat = "worst"
) -> tuple[np.ndarray, np.ndarray]:
    """(aggregated loss ``(..., K)``, ranks ``(..., K)``) of a prepared loss array ``(..., K, N)``.

    With ``na.rm`` missing cells are skipped; with ``last`` any missing cell makes the
    aggregate NaN and the entry is ranked after all others.
    """
    with np.errstate(all="ignore"), _quiet_nan_warnings():
        agg = _aggregate(loss, aggregate, skip_nan=(na_treat == "na.rm"))
    return agg, rank_min(agg, axis=-1)


def rank_then_aggregate(
    loss: np.ndarray, aggregate: Aggregate = "mean", na_treat: NaTreat = "worst"
) -> tuple[np.ndarray, np.ndarray]:
    """(aggregated per-case ranks ``(..., K)``, final ranks ``(..., K)``).

    Per-case ranks over entries (axis -2) with ties min; a missing cell gets ``max+1`` under
    ``last`` (``rankNA2``) and is skipped under ``na.rm``.
    """
    if na_treat == "na.rm" and np.isnan(loss).any():
        per_case = stats.rankdata(loss, method="min", axis=-2, nan_policy="omit")
    else:
        per_case = rank_min(loss, axis=-2)
    with np.errstate(all="ignore"), _quiet_nan_warnings():
        agg = _aggregate(per_case, aggregate, skip_nan=True)
    return agg, rank_min(agg, axis=-1)


@dataclass(frozen=True)
class TaskRanking:
    """A ranking of one task: per entry its score and rank (1 = best, ties min).

    ``score`` is in the scheme's own units: the aggregated *metric value* for
    aggregate-then-rank (sign restored), the aggregated rank for rank-then-aggregate, the
    fraction of other entries beaten significantly for test-then-rank.
    """

    task: TaskMatrix
    scheme: Scheme
    na_treat: NaTreat
    score: np.ndarray
    rank: np.ndarray
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def entries(self) -> tuple[str, ...]:
        return self.task.entries

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        df = pd.DataFrame(
            {
                "metric": self.task.metric,
                "reference": self.task.reference,
                "scheme": self.scheme.name,
                "entry": list(self.entries),
                "score": self.score,
                "rank": self.rank.astype(int),
                "n_cases": len(self.task.cases),
                "n_missing": np.isnan(self.task.values).sum(axis=1),
            }
        )
        return df.sort_values(["rank", "entry"], kind="stable").reset_index(drop=True)


def rank_loss(
    loss: np.ndarray, scheme: Scheme, na_treat: NaTreat = "worst"
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Run ``scheme`` on a prepared loss array ``(..., K, N)``: (score, rank, extra)."""
    if scheme.kind == "aggregate-then-rank":
        agg, ranks = aggregate_then_rank(loss, scheme.aggregate, na_treat)
        return agg, ranks, {}
    if scheme.kind == "rank-then-aggregate":
        agg, ranks = rank_then_aggregate(loss, scheme.aggregate, na_treat)
        return agg, ranks, {}
    if scheme.kind == "test-then-rank":
        res = test_then_rank_loss(loss, alpha=scheme.alpha, p_adjust=scheme.p_adjust, na_treat=na_treat)
        return res.score, res.rank, {"p_adjusted": res.p_adjusted, "significant": res.significant}
    raise ConfigError(f"unknown scheme kind {scheme.kind!r}")


def rank_task(task: TaskMatrix, scheme: str | Scheme = DEFAULT_SCHEME, na_treat: NaTreat = "worst") -> TaskRanking:
    """Rank the entries of one :class:`~.table.TaskMatrix` with a named or given scheme."""
    scheme = get_scheme(scheme)
    loss = apply_na_treat(task.values, task.spec, na_treat)
    score, ranks, extra = rank_loss(loss, scheme, na_treat)
    if scheme.kind == "aggregate-then-rank":
        # Report the aggregate in metric units, not as a loss.
        score = -score if task.spec.higher_is_better else score
    return TaskRanking(task=task, scheme=scheme, na_treat=na_treat, score=score, rank=ranks, extra=extra)


def consensus_ranking(ranks: Mapping[str, Mapping[str, float]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Consensus over tasks, challengeR ``consensus(method="euclidean")``: mean rank across
    tasks, then ranks of the means (ties min).

    ``ranks`` maps task -> {entry: rank}; an entry absent from a task is an error (every
    task ranks every entry after missing-value treatment). Returns (entries, mean rank, rank).
    """
    tasks = list(ranks)
    if not tasks:
        raise ConfigError("consensus ranking needs at least one task")
    entries = sorted(ranks[tasks[0]])
    for t in tasks[1:]:
        if sorted(ranks[t]) != entries:
            raise ConfigError(f"task {t!r} ranks entries {sorted(ranks[t])}, task {tasks[0]!r} ranks {entries}")
    table = np.array([[float(ranks[t][e]) for t in tasks] for e in entries])
    mean = r_mean(table)
    return entries, mean, rank_min(mean)
