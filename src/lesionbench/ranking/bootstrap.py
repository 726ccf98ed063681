"""Bootstrap ranking stability (challengeR ``bootstrap``, ``R/Bootstrap.R``; Wiesenfarth et al. 2021).

Each sample draws N case indices with replacement (paired: every entry keeps its values on
the drawn cases), reruns the same scheme with the same missing-value treatment and stores
the ranks. Missing values are treated once on the full data (so a "worst observed"
substitute is the same in every sample). All samples are ranked at once as one
``(B, K, N)`` array; test-then-rank runs one vectorised Wilcoxon call per chunk of samples.

Stability summaries: Kendall's tau-b (``scipy.stats.kendalltau``, = R ``cor(method="kendall")``)
between the full-data ranking and each sample's ranking, samples without rank variation
giving NaN (excluded from summaries and counted); winner frequencies (share of samples
ranking each entry first, challengeR ``winnerFrequencies``); the rank distribution per
entry (the blob plot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .options import DEFAULT_SCHEME, NaTreat, Scheme, get_scheme
from .schemes import apply_na_treat, rank_loss
from .table import TaskMatrix

#: Samples ranked per array operation; bounds memory of test-then-rank to ~100 MB at K=15, N=38.
_CHUNK = 100


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap of one task. ``ranks[b, k]``: rank of ``entries[k]`` in sample ``b``;
    ``case_index[b]``: the drawn case indices; ``kendall_tau[b]``: tau-b to ``full_rank``."""

    task: TaskMatrix
    scheme: Scheme
    na_treat: NaTreat
    full_rank: np.ndarray
    ranks: np.ndarray
    case_index: np.ndarray
    kendall_tau: np.ndarray

    @property
    def entries(self) -> tuple[str, ...]:
        return self.task.entries

    @property
    def n_boot(self) -> int:
        return int(self.ranks.shape[0])

    @property
    def n_tau_undefined(self) -> int:
        return int(np.isnan(self.kendall_tau).sum())

    @property
    def winner_frequency(self) -> np.ndarray:
        return (self.ranks == 1).mean(axis=0)

    @property
    def rank_distribution(self) -> np.ndarray:
        """``(K, K)`` counts: ``[k, r-1]`` = samples ranking entry k at rank r."""
        k = len(self.entries)
        r = self.ranks.astype(int) - 1
        return np.stack([np.bincount(r[:, j], minlength=k)[:k] for j in range(k)])

    def summary_frame(self) -> pd.DataFrame:
        """Per entry: full rank, median and 2.5/97.5 % bootstrap ranks, winner frequency."""
        q = np.quantile(self.ranks, [0.025, 0.5, 0.975], axis=0)
        df = pd.DataFrame(
            {
                "metric": self.task.metric,
                "reference": self.task.reference,
                "scheme": self.scheme.name,
                "entry": list(self.entries),
                "rank": self.full_rank.astype(int),
                "median_boot_rank": q[1],
                "boot_rank_q025": q[0],
                "boot_rank_q975": q[2],
                "winner_frequency": self.winner_frequency,
                "n_boot": self.n_boot,
            }
        )
        return df.sort_values(["rank", "entry"], kind="stable").reset_index(drop=True)

    def tau_summary(self) -> dict[str, float]:
        """challengeR's tau table: mean, median, q25, q75 over defined taus, + count undefined."""
        tau = self.kendall_tau[~np.isnan(self.kendall_tau)]
        if tau.size == 0:
            return {"mean": np.nan, "median": np.nan, "q25": np.nan, "q75": np.nan, "n_undefined": self.n_tau_undefined}
        q25, med, q75 = np.quantile(tau, [0.25, 0.5, 0.75])
        return {
            "mean": float(tau.mean()),
            "median": float(med),
            "q25": float(q25),
            "q75": float(q75),
            "n_undefined": self.n_tau_undefined,
        }


def kendall_tau_to(full_rank: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``full_rank`` and each row of ``ranks`` (NaN if undefined).

    tau-b = sum_{i<j} s_x s_y / sqrt(sum s_x^2 * sum s_y^2) with s = sign of the pair
    difference (Kendall 1945). Hand-vectorised over samples because one
    ``scipy.stats.kendalltau`` call per sample dominated the bootstrap's run time; the tests
    check it against scipy. A ranking without variation has a zero denominator -> NaN.
    """
    full_rank = np.asarray(full_rank, dtype=float)
    ranks = np.atleast_2d(np.asarray(ranks, dtype=float))
    i, j = np.triu_indices(full_rank.size, k=1)
    sx = np.sign(full_rank[i] - full_rank[j])
    sy = np.sign(ranks[:, i] - ranks[:, j])
    denom = np.sqrt(np.sum(sx * sx) * np.sum(sy * sy, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (sy @ sx) / denom
    return np.where(denom > 0, tau, np.nan)


def bootstrap_task(
    task: TaskMatrix,
    scheme: str | Scheme = DEFAULT_SCHEME,
    *,
    rng: np.random.Generator,
    n_boot: int = 1000,
    na_treat: NaTreat = "worst",
) -> BootstrapResult:
    """Bootstrap the ranking of ``task`` over cases; deterministic given ``rng``'s state.

    Raises :class:`~lesionbench.errors.ConfigError` for a task with one case or one entry
    (challengeR skips those) or ``n_boot < 1``.
    """
    scheme = get_scheme(scheme)
    k, n = task.values.shape
    if n < 2 or k < 2:
        raise ConfigError(
            f"task {task.metric}/{task.reference}: bootstrap needs >= 2 cases and >= 2 entries, got {n} and {k}"
        )
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    loss = apply_na_treat(task.values, task.spec, na_treat)
    _, full_rank, _ = rank_loss(loss, scheme, na_treat)
    case_index = rng.integers(0, n, size=(n_boot, n))
    ranks = np.empty((n_boot, k))
    for start in range(0, n_boot, _CHUNK):
        idx = case_index[start : start + _CHUNK]
        # (K, b, N) -> (b, K, N): every entry on the same drawn cases.
        sample = np.moveaxis(loss[:, idx], 1, 0)
        ranks[start : start + len(idx)] = rank_loss(sample, scheme, na_treat)[1]
    return BootstrapResult(
        task=task,
        scheme=scheme,
        na_treat=na_treat,
        full_rank=full_rank,
        ranks=ranks,
        case_index=case_index,
        kendall_tau=kendall_tau_to(full_rank, ranks),
    )
