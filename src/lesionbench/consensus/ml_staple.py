"""STAPLE (Warfield, Zou & Wells, IEEE TMI 23(7):903-921, 2004) with SimpleITK's semantics.

With no mask, the iteration of ITK / SimpleITK ``STAPLEImageFilter`` is reproduced exactly: the
first estimate of the truth W is the mean vote; the prior ``g = mean(W) * confidence_weight`` is
fixed once; each iteration is an M-step (sensitivity ``p_j = sum W D_j / sum W``, specificity
``q_j = sum (1-W)(1-D_j) / sum (1-W)``) followed by an E-step (``W = g a / (g a + (1-g) b)`` with
``a = prod p_j^D (1-p_j)^(1-D)`` and ``b = prod q_j^(1-D) (1-q_j)^D``); from the second iteration
on, it stops when every squared change of every ``p_j`` and ``q_j`` is ``<= tolerance`` (1e-14).
``iterations`` carries ITK's ``ElapsedIterations`` meaning: the index (0-based) of the iteration
that confirmed convergence, or ``max_iterations`` when the cap stopped it.

With ``mask`` (a computation region, see :func:`lesionbench.consensus.fusion_region`) the prior,
the counts and the statistics come from inside it only, votes outside are ignored and the
posterior is 0 outside. SimpleITK has no mask: the masked result equals SimpleITK run on the
masked voxels alone, not SimpleITK on the image (docs/consensus.md).

Degenerate inputs. All raters empty (inside the mask): ITK returns NaN everywhere; lesionbench
returns an all-zero posterior, sensitivity NaN, specificity 1, ``iterations = 0``,
``converged = True``. Every rater marks every voxel: posterior 1, sensitivity 1, specificity NaN.
A vote pattern whose likelihood is exactly zero under both hypotheses keeps its previous
posterior (NaN in ITK), so the result stays finite.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import ConsensusResult, _check_mask, _check_threshold, check_votes, empty_result
from .patterns import _patterns, _votes_outside

#: SimpleITK's convergence threshold on squared changes of sensitivity and specificity.
ITK_TOLERANCE = 1e-14
#: SimpleITK's default iteration cap (``UINT_MAX``); EM is monotone, so in practice it stops
#: long before. Each iteration here costs microseconds (it works on at most 2**R patterns).
ITK_MAX_ITERATIONS = 2**32 - 1


# ----------------------------------------------------------------------------------------------
# EM on patterns


def _em(
    bits: np.ndarray,
    counts: np.ndarray,
    *,
    prior: float,
    max_iterations: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """STAPLE EM (ITK's order of steps) on pattern counts; returns W, p, q, iterations, converged."""
    n_raters = bits.shape[1]
    decisions = bits.astype(np.float64)
    rejections = 1.0 - decisions
    w = decisions.mean(axis=1)  # first estimate: the mean vote
    last_p = np.full(n_raters, np.nan)
    last_q = np.full(n_raters, np.nan)
    p = q = last_p
    iterations = max_iterations
    converged = False
    for k in range(max_iterations):
        cw = counts * w
        cnw = counts * (1.0 - w)
        p = (cw @ decisions) / cw.sum()
        q = (cnw @ rejections) / cnw.sum()
        # Likelihood of each pattern under "lesion" (a) and "background" (b), all patterns at once.
        a_j = np.where(bits, p, 1.0 - p)
        b_j = np.where(bits, 1.0 - q, q)
        a = prior * a_j.prod(axis=1)
        b = (1.0 - prior) * b_j.prod(axis=1)
        total = a + b
        # (no np.errstate, max() for all(): small-array numpy calls are most of an iteration's
        # cost, and EM on near-empty cases runs 1e5 iterations)
        positive = total > 0
        w = np.where(positive, a / np.where(positive, total, 1.0), w)
        if k >= 1 and ((p - last_p) ** 2).max() <= tolerance and ((q - last_q) ** 2).max() <= tolerance:
            iterations, converged = k, True
            break
        last_p, last_q = p, q
    return w, p, q, iterations, converged


def _fuse_em(
    votes: np.ndarray,
    *,
    method: str,
    mask: np.ndarray | None,
    confidence_weight: float,
    max_iterations: int | None,
    tolerance: float,
    threshold: float,
    case: str | None,
) -> ConsensusResult:
    votes = check_votes(votes, case=case)
    mask = _check_mask(mask, votes.shape[1:], case, allow_empty=not votes.any())
    threshold = _check_threshold(threshold)
    if mask is not None and not mask.any():  # no rater marked anything: the region may be empty
        return empty_result(method, votes.shape[0], votes.shape[1:], threshold=threshold, region=mask)
    max_iterations = ITK_MAX_ITERATIONS if max_iterations is None else int(max_iterations)
    if max_iterations < 1:
        raise ConfigError(f"max_iterations must be at least 1; got {max_iterations}")
    n_raters = votes.shape[0]
    pats = _patterns(votes, mask)
    n_voxels = int(pats.counts.sum())
    outside = 0 if mask is None else _votes_outside(votes, pats)
    mean_vote = pats.bits.mean(axis=1)
    vote_mass = float(np.dot(pats.counts, mean_vote))
    prior = vote_mass / n_voxels * float(confidence_weight)
    degenerate = bool(np.all(mean_vote == 0.0) or np.all(mean_vote == 1.0))
    if not degenerate and not (confidence_weight > 0 and 0.0 < prior < 1.0):
        raise ConfigError(
            f"confidence_weight {confidence_weight} makes the lesion prior {prior:.4g}; it must be in (0, 1)",
        )
    if degenerate:
        value = float(mean_vote[0])
        sens = np.full(n_raters, np.nan if value == 0.0 else 1.0)
        spec = np.full(n_raters, 1.0 if value == 0.0 else np.nan)
        return ConsensusResult(
            method=method,
            posterior=pats.expand(np.full(len(mean_vote), value)),
            sensitivity=sens,
            specificity=spec,
            prior=prior,
            iterations=0,
            converged=True,
            threshold=threshold,
            n_voxels=n_voxels,
            votes_outside_mask=outside,
        )
    w, p, q, iterations, converged = _em(
        pats.bits, pats.counts, prior=prior, max_iterations=max_iterations, tolerance=tolerance
    )
    return ConsensusResult(
        method=method,
        posterior=pats.expand(w),
        sensitivity=p,
        specificity=q,
        prior=prior,
        iterations=iterations,
        converged=converged,
        threshold=threshold,
        n_voxels=n_voxels,
        votes_outside_mask=outside,
        region=mask,
    )


# ----------------------------------------------------------------------------------------------
# Public fusion functions


def staple(
    votes: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    confidence_weight: float = 1.0,
    max_iterations: int | None = None,
    tolerance: float = ITK_TOLERANCE,
    threshold: float = 0.5,
    case: str | None = None,
) -> ConsensusResult:
    """Binary STAPLE (Warfield 2004) with SimpleITK's iteration, prior and stopping rule.

    ``votes``: (R, *grid) boolean (or 0/1) rater masks. ``mask``: optional boolean grid; when
    given, prior and statistics come from inside it only (recommended; see module docstring).
    ``max_iterations`` None means ITK's default (``UINT_MAX``).
    """
    return _fuse_em(
        votes,
        method="staple",
        mask=mask,
        confidence_weight=confidence_weight,
        max_iterations=max_iterations,
        tolerance=tolerance,
        threshold=threshold,
        case=case,
    )
