"""Majority vote: the posterior is the fraction of raters voting lesion."""

from __future__ import annotations

import numpy as np

from .base import ConsensusResult, _check_mask, _check_threshold, check_votes, empty_result
from .patterns import _patterns, _performance_from_patterns, _votes_outside


def majority_vote(
    votes: np.ndarray,
    *,
    threshold: float = 0.5,
    mask: np.ndarray | None = None,
    case: str | None = None,
) -> ConsensusResult:
    """Majority vote: posterior = fraction of raters voting lesion; consensus = fraction > threshold.

    With the default 0.5 this is a strict majority (4 of 7, 2 of 3, 3 of 4). Sensitivity and
    specificity are each rater's against this binary consensus (inside the mask).
    """
    votes = check_votes(votes, case=case)
    mask = _check_mask(mask, votes.shape[1:], case, allow_empty=not votes.any())
    threshold = _check_threshold(threshold)
    if mask is not None and not mask.any():
        return empty_result("majority", votes.shape[0], votes.shape[1:], threshold=threshold, region=mask)
    pats = _patterns(votes, mask)
    fraction = pats.bits.mean(axis=1)
    perf = _performance_from_patterns(
        pats.bits.astype(np.float64), pats.counts, (fraction > threshold).astype(np.float64)
    )
    n_voxels = int(pats.counts.sum())
    prior = float(np.dot(pats.counts, fraction) / n_voxels)
    outside = 0 if mask is None else _votes_outside(votes, pats)
    return ConsensusResult(
        method="majority",
        posterior=pats.expand(fraction),
        sensitivity=perf.sensitivity,
        specificity=perf.specificity,
        prior=prior,
        iterations=0,
        converged=True,
        threshold=threshold,
        n_voxels=n_voxels,
        votes_outside_mask=outside,
        region=mask,
    )
