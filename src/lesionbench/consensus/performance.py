"""Scoring raters against a reference or against fusions, and the workflow's tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import GridMismatchError, InputError
from .base import ConsensusResult, RaterPerformance, _check_mask, check_votes
from .patterns import _patterns, _performance_from_patterns


def rater_performance(votes: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None) -> RaterPerformance:
    """Sensitivity, specificity and Dice of each rater against a binary reference (inside ``mask``).

    Undefined ratios (0/0) are NaN: sensitivity with an empty reference, specificity with no
    reference background, Dice when both rater and reference are empty.
    """
    votes = check_votes(votes)
    reference = np.asarray(reference)
    if reference.shape != votes.shape[1:]:
        raise GridMismatchError(f"reference shape {reference.shape} differs from the raters' grid {votes.shape[1:]}")
    reference = check_votes(reference[None])[0]
    mask = _check_mask(mask, votes.shape[1:], None)
    # The reference is one more "rater" in the pattern word; its bit is the last column.
    pats = _patterns([*votes, reference], mask)
    bits = pats.bits.astype(np.float64)
    return _performance_from_patterns(bits[:, :-1], pats.counts, bits[:, -1])


def leave_one_out(votes: np.ndarray, method: str, **kwargs: object) -> list[ConsensusResult]:
    """For each rater k, the consensus of all the other raters (needs at least 2 raters).

    ``kwargs`` go to :func:`fuse` unchanged (a given ``mask``/region is kept as given), except
    ``weights``, whose entry or layer k is dropped.
    """
    from .fusion import fuse

    votes = check_votes(votes, case=kwargs.get("case"))  # type: ignore[arg-type]
    n_raters = votes.shape[0]
    if n_raters < 2:
        raise InputError("leave-one-rater-out needs at least two raters", case=kwargs.get("case"))  # type: ignore[arg-type]
    keep = np.arange(n_raters)
    results = []
    for k in range(n_raters):
        others = votes[keep != k]
        kw = dict(kwargs)
        if kwargs.get("weights") is not None:
            # Per-rater (R,) or voxel-wise (R, *grid) weights: drop the left-out rater's entry or
            # layer. Default weights (None) are recomputed by the method from the others.
            kw["weights"] = np.delete(np.asarray(kwargs["weights"], dtype=np.float64), k, axis=0)
        results.append(fuse(others, method, **kw))
    return results


def leave_one_out_performance(votes: np.ndarray, method: str, **kwargs: object) -> RaterPerformance:
    """Rater k scored (sensitivity, specificity, Dice) against the binary fusion of the others."""
    votes = check_votes(votes, case=kwargs.get("case"))  # type: ignore[arg-type]
    fusions = leave_one_out(votes, method, **kwargs)
    return performance_against_fusions(votes, fusions, mask=kwargs.get("mask"))  # type: ignore[arg-type]


def performance_against_fusions(
    votes: np.ndarray, fusions: Sequence[ConsensusResult], *, mask: np.ndarray | None = None
) -> RaterPerformance:
    """Rater k scored against ``fusions[k]`` (e.g. the leave-one-out fusion of the others)."""
    rows = [rater_performance(votes[k : k + 1], fusions[k].binary(), mask=mask) for k in range(votes.shape[0])]
    return RaterPerformance(
        sensitivity=np.concatenate([r.sensitivity for r in rows]),
        specificity=np.concatenate([r.specificity for r in rows]),
        dice=np.concatenate([r.dice for r in rows]),
        volume_voxels=np.concatenate([r.volume_voxels for r in rows]),
    )


# ----------------------------------------------------------------------------------------------
# Tables for the workflow


def performance_table(
    result: ConsensusResult,
    names: Sequence[str],
    votes: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    voxel_ml: float = 0.001,
    loo: Sequence[ConsensusResult] | None = None,
) -> pd.DataFrame:
    """One row per rater: the method's estimated sensitivity/specificity, the rater's Dice to
    the binary consensus, its lesion volume, and (with ``loo``) its Dice and sensitivity against
    the fusion of the other raters (leave-one-rater-out)."""
    binary = result.binary()
    agreement = rater_performance(votes, binary, mask=mask)
    frame = pd.DataFrame(
        {
            "rater": list(names),
            "estimated_sensitivity": result.sensitivity,
            "estimated_specificity": result.specificity,
            "dice_to_consensus": agreement.dice,
            "volume_ml": agreement.volume_voxels * voxel_ml,
        }
    )
    if loo is not None:
        against_others = performance_against_fusions(votes, loo, mask=mask)
        frame["loo_dice"] = against_others.dice
        frame["loo_sensitivity"] = against_others.sensitivity
    frame["method"] = result.method
    frame["iterations"] = result.iterations
    frame["converged"] = result.converged
    frame["prior"] = result.prior
    frame["consensus_volume_ml"] = float(np.count_nonzero(binary)) * voxel_ml
    return frame
