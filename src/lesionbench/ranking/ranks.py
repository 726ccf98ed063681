"""Rank primitives every ranking scheme shares: ranks with R's ties and NA rules, R's mean.

challengeR ranks with R's ``rank(ties.method="min")`` and puts missing values last
(``rankNA2``), and averages with R's ``mean.default``; :func:`rank_min` and :func:`r_mean`
reproduce both on numpy arrays, so that the schemes (:mod:`.schemes`), the test-based ranking
(:mod:`.significance`) and the leaderboard (:mod:`.leaderboard`) rank and average the same way.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def rank_min(loss: np.ndarray, axis: int = -1) -> np.ndarray:
    """Ranks along ``axis`` (1 = smallest loss), ties ``"min"``, NaN ranked last as challengeR's
    ``rankNA2``: every NaN gets ``max(rank of the non-NaN) + 1`` (1 if all are NaN)."""
    loss = np.asarray(loss, dtype=float)
    nan = np.isnan(loss)
    if not nan.any():
        return stats.rankdata(loss, method="min", axis=axis)
    ranks = stats.rankdata(loss, method="min", axis=axis, nan_policy="omit")
    top = np.nanmax(np.where(nan, 0.0, ranks), axis=axis, keepdims=True)
    return np.where(nan, top + 1.0, ranks)


def r_mean(x: np.ndarray, *, skip_nan: bool = False) -> np.ndarray:
    """Mean along the last axis computed as R's ``mean.default`` (``summary.c``): a
    sequential sum in C ``long double``, divided by n, then the mean of the residuals
    ``x - s`` (again summed in long double) added, and the result rounded to double.

    Bit-identical to R where numpy's ``longdouble`` is the C ``long double`` R was built
    with (x86-64 Linux: 80-bit extended); where long double is plain double (e.g. MSVC
    builds) it is still the two-pass mean. ``skip_nan`` averages the non-NaN cells (R's
    ``na.rm=TRUE``); an all-NaN (or empty) row gives NaN.
    """
    x = np.asarray(x, dtype=float)
    present = ~np.isnan(x)
    if not skip_nan:
        present = np.ones(x.shape, dtype=bool)
    n = present.sum(axis=-1)
    xl = np.where(present, x, 0.0).astype(np.longdouble)
    with np.errstate(all="ignore"):
        # cumsum is sequential (np.sum is pairwise); its last element is R's running sum.
        s = (np.cumsum(xl, axis=-1)[..., -1] if x.shape[-1] else np.zeros(x.shape[:-1], np.longdouble)) / n
        resid = np.where(present, xl - s[..., None], 0.0)
        t = np.cumsum(resid, axis=-1)[..., -1] if x.shape[-1] else 0.0
        out = np.where(np.isfinite(s), s + t / n, s)
    return np.where(n > 0, out.astype(float), np.nan)


def per_case_ranks(loss: np.ndarray) -> np.ndarray:
    """Ranks of the entries within each case (axis -2), ties min, NaN last (rankNA2)."""
    return rank_min(loss, axis=-2)
