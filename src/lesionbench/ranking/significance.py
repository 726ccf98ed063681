"""Test-then-rank and the significance map (challengeR 1.0.5 ``testThenRank``, ``R/testBased.R``).

For every ordered pair of entries (i, j) a paired one-sided Wilcoxon signed-rank test asks
whether i is better than j on their common cases, as challengeR's
``wilcox.test(x, y, paired=TRUE, exact=FALSE, alternative="greater")`` (larger-better
metric; "less" for a smaller-better one). :func:`signed_rank_p_greater` computes that
p-value with R's own steps (``stats:::wilcox.test.default``, R 4.x, non-exact branch); it is
written out rather than taken from ``scipy.stats.wilcoxon`` because scipy returns NaN where every
difference is zero, where R (and so challengeR) returns p = 1:

1. d = x - y on the common cases; zero differences are dropped, leaving n;
2. |d| is ranked with average ranks for ties; V = sum of the ranks of the positive d;
3. z = (V - n(n+1)/4 - 1/2) / sigma, sigma^2 = n(n+1)(2n+1)/24 - sum(t^3 - t)/48 over the
   tie groups t of |d| (the 1/2 is the continuity correction toward the null);
4. p = P(Z > z) for a standard normal Z.

With every difference zero (two identical submissions), n = 0 and sigma = 0, so
z = -1/2 / 0 = -Inf and p = 1, exactly as in R. A pair without any common case (possible
only with ``na.rm``) has no p-value: R's ``wilcox.test`` stops there ("not enough
(non-missing) 'x' observations"); we return NaN, never significant and, as R's
``p.adjust`` does with an NA, left out of the Holm family. That is the only point where we
go beyond challengeR.

We work on losses (smaller better), so "i better than j" is d = loss_j - loss_i > 0, the
same d as R's x - y on the metric. The K(K-1) p-values of a task are adjusted together
(``none`` = challengeR's ``testThenRank`` default, ``holm`` = its significance map);
i is significantly better than j when the adjusted p-value is ``<= alpha`` (challengeR's
``p.adjust(...) <= alpha``); an entry's score is the fraction of the other K-1 entries it
beats (``prop_significance``) and entries are ranked by score, larger better, ties min.
Checked against p-values worked out by hand from these formulas (``tests/test_ranking_challenger.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from ..errors import ConfigError
from .options import NaTreat
from .ranks import rank_min


@dataclass(frozen=True)
class SignificanceResult:
    """``p_adjusted[..., i, j]``: p-value of "i better than j" (NaN on the diagonal);
    ``significant[..., i, j]`` = ``p_adjusted <= alpha``; ``score``/``rank`` per entry."""

    p_raw: np.ndarray
    p_adjusted: np.ndarray
    significant: np.ndarray
    score: np.ndarray
    rank: np.ndarray


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjustment along the last axis over the finite p-values (NaN kept).

    Hand-vectorised because ``statsmodels.stats.multitest.multipletests`` is 1-D only and a
    Python loop over 1000 bootstrap samples dominated the run time; tested against
    statsmodels. Adjusted p_(j) = min(1, max_{i<=j} (m - i + 1) p_(i)), m = number of finite p.
    """
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, axis=-1)  # NaN sort last
    p_sorted = np.take_along_axis(p, order, axis=-1)
    m = np.isfinite(p).sum(axis=-1, keepdims=True)
    factor = m - np.arange(p.shape[-1])
    adj_sorted = np.minimum(np.maximum.accumulate(factor * p_sorted, axis=-1), 1.0)
    out = np.empty_like(p)
    np.put_along_axis(out, order, adj_sorted, axis=-1)
    return out


def average_ranks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks along the last axis (R ``rank(ties.method="average")``) and, per
    element, the size of its tie group; NaN cells are left out (rank NaN, group size 0).

    ``scipy.stats.rankdata``; a tie group's size is its max rank - min rank + 1.
    """
    a = np.asarray(a, dtype=float)

    def rank(method: str) -> np.ndarray:
        return stats.rankdata(a, method=method, axis=-1, nan_policy="omit")

    ties = np.where(np.isnan(a), 0, rank("max") - rank("min") + 1).astype(np.int64)
    return rank("average"), ties


def signed_rank_p_greater(d: np.ndarray) -> np.ndarray:
    """One-sided p-value of R's ``wilcox.test(d, exact=FALSE, correct=TRUE, alternative="greater")``
    along the last axis (see the module docstring); NaN cells are absent cases.

    Returns p ``(...)``: 1 where every present difference is 0, NaN where no case is present.
    """
    d = np.asarray(d, dtype=float)
    present = ~np.isnan(d)
    nonzero = present & (d != 0)
    n = nonzero.sum(axis=-1).astype(float)
    ranks, ties = average_ranks(np.where(nonzero, np.abs(d), np.nan))
    v = np.where(nonzero & (d > 0), ranks, 0.0).sum(axis=-1)
    # sum over tie groups of t^3 - t == sum over elements of t_e^2 - 1
    tie_term = np.where(nonzero, ties.astype(float) ** 2 - 1.0, 0.0).sum(axis=-1)
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24.0 - tie_term / 48.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (v - n * (n + 1) / 4.0 - 0.5) / sigma  # n = 0: -0.5 / 0 = -inf -> p = 1
    p = stats.norm.sf(z)
    return np.where(present.any(axis=-1), p, np.nan)


def pairwise_wilcoxon(loss: np.ndarray) -> np.ndarray:
    """Raw one-sided p-values ``(..., K, K)`` of "row entry has smaller loss than column entry".

    All ordered pairs and leading axes at once; NaN cells (``na.rm``) are dropped pairwise,
    leaving each pair its common cases. The diagonal is NaN.
    """
    loss = np.asarray(loss, dtype=float)
    k = loss.shape[-2]
    p = np.full(loss.shape[:-2] + (k, k), np.nan)
    if k < 2:
        return p
    rows, cols = np.nonzero(~np.eye(k, dtype=bool))
    # row better than column <=> loss_col - loss_row > 0 (NaN if either is missing)
    p[..., rows, cols] = signed_rank_p_greater(loss[..., cols, :] - loss[..., rows, :])
    return p


def test_then_rank_loss(
    loss: np.ndarray,
    *,
    alpha: float = 0.05,
    p_adjust: Literal["none", "holm"] = "none",
    na_treat: NaTreat = "worst",
) -> SignificanceResult:
    """Test-then-rank on a prepared loss array ``(..., K, N)`` (see module docstring)."""
    if na_treat == "last":
        raise ConfigError(
            "test-then-rank needs na_treat 'worst', 'na.rm' or a number (challengeR: 'Please specify na.treat')"
        )
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    k = loss.shape[-2]
    p_raw = pairwise_wilcoxon(loss)
    if p_adjust == "none":
        p_adj = p_raw
    elif p_adjust == "holm":
        off = ~np.eye(k, dtype=bool)
        flat = p_raw[..., off]
        p_adj = np.full_like(p_raw, np.nan)
        p_adj[..., off] = holm_adjust(flat)
    else:
        raise ConfigError(f"p_adjust must be 'none' or 'holm', got {p_adjust!r}")
    significant = np.nan_to_num(p_adj, nan=1.0) <= alpha  # challengeR: p.adjust(p) <= alpha
    score = significant.sum(axis=-1) / max(k - 1, 1)
    # An entry without any observed case (possible under na.rm) has nothing to be tested
    # on: score NaN, ranked last (challengeR would drop it from the task altogether).
    score = np.where(np.isnan(loss).all(axis=-1), np.nan, score)
    return SignificanceResult(p_raw, p_adj, significant, score, rank_min(-score, axis=-1))


# Not a pytest test despite the challengeR-given name.
test_then_rank_loss.__test__ = False  # type: ignore[attr-defined]
