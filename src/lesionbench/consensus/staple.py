"""Consensus ground truth from several raters: STAPLE, LOP-STAPLE and majority vote.

MS-SEG 2016 fused seven expert masks per patient with LOP-STAPLE (Commowick et al., Sci Rep
8:13650, 2018). This module implements, for binary masks:

* **STAPLE** (Warfield, Zou & Wells, IEEE TMI 23(7):903-921, 2004), with the iteration of ITK /
  SimpleITK ``STAPLEImageFilter`` reproduced exactly when no mask is given: the first estimate of
  the truth W is the mean vote; the prior ``g = mean(W) * confidence_weight`` is fixed once; each
  iteration is an M-step (sensitivity ``p_j = sum W D_j / sum W``, specificity
  ``q_j = sum (1-W)(1-D_j) / sum (1-W)``) followed by an E-step
  (``W = g a / (g a + (1-g) b)`` with ``a = prod p_j^D (1-p_j)^(1-D)`` and
  ``b = prod q_j^(1-D) (1-q_j)^D``); from the second iteration on, it stops when every squared
  change of every ``p_j`` and ``q_j`` is ``<= tolerance`` (1e-14). ``iterations`` carries ITK's
  ``ElapsedIterations`` meaning: the index (0-based) of the iteration that confirmed convergence,
  or ``max_iterations`` when the cap stopped it.
* **LOP-STAPLE** (Akhondi-Asl, Hoyte, Lockhart & Warfield, IEEE TMI 33(10):1997-2009, 2014):
  the product of rater likelihoods is replaced by a logarithmic opinion pool, i.e. each rater's
  likelihood is raised to a reliability weight ``w_j >= 0`` with ``sum w_j = 1``:
  ``W = g A / (g A + (1-g) B)``, ``A = prod a_j^w_j``, ``B = prod b_j^w_j``. The paper's weighted
  M-step ``theta_j = sum_i w_ij W_i [D_ij] / sum_i w_ij W_i`` reduces to STAPLE's M-step when the
  weights are global per rater (the weight cancels), which is what is implemented here. Default
  weights are uniform (1/R): the paper derives weights from local image similarity between a
  registered template and the target, which has no meaning for human raters who all drew on the
  same image, and the MS-SEG 2016 settings were never published (see
  ``shared/docs/msseg2016-evaluation.md`` section 2.3). Callers may pass their own weights.
  Caution: the prior is not tempered (its exponent is sum w_j = 1), so with a global lesion
  prior of ~0.2 % and uniform weights, EM on MS-like raters drifts to the uninformative fixed
  point (p_j = 1 - q_j, empty consensus); MS-SEG's tool estimated in local windows, which is
  not implemented here.
* **Majority vote**: the posterior is the fraction of raters voting lesion.

Binary consensus everywhere: ``posterior > threshold`` (strict), default 0.5.

Computation. Voxels with the same vote pattern (the R-bit word of the raters' decisions) share
one posterior, so EM runs on the counts of the at most ``2**R`` patterns present and the
posterior map is one table look-up at the end. This is exact, not an approximation: every sum
in the M-step is a sum over voxels grouped by pattern.

The field-of-view trap and the mask. SimpleITK computes ``g`` over the whole image grid, so
padding or cropping the image changes the answer, and with the tiny lesion prior of MS data a
single vote is strong evidence (specificity ~ 1 - 1e-5), which makes the 0.5-consensus as loose
as "2 of 7 raters". With ``mask`` (a brain mask; the recommended default in lesionbench) the prior,
the counts and the statistics all come from inside the mask only, votes outside it are ignored,
and the posterior is 0 outside it. The answer then no longer depends on how much empty
background the grid happens to carry. Masking does not cure the over-inclusion on MS-like raters
(lesion-wise misses, outline errors): in simulation, masked STAPLE still equals ">= 2 of 7",
while the masked majority vote beats the median rater (tests/test_consensus_validation.py).

Degenerate inputs. All raters empty (inside the mask): ITK returns NaN everywhere; lesionbench
returns an all-zero posterior, sensitivity NaN (undefined, no lesion in the estimate),
specificity 1, ``iterations = 0``, ``converged = True``. The mirror case (every rater marks every
voxel) gives posterior 1, sensitivity 1, specificity NaN. A voxel pattern whose likelihood is
exactly zero under both hypotheses (raters that contradict each other with certainty, e.g.
``p_j = 1`` and ``q_k = 1``) would be 0/0 (NaN in ITK); lesionbench keeps that pattern's
previous posterior instead, so the result stays finite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from .errors import ConfigError, GridMismatchError, InputError, NonBinaryMaskError

Method = Literal["staple", "lop-staple", "majority"]
METHODS: tuple[str, ...] = ("staple", "lop-staple", "majority")

#: SimpleITK's convergence threshold on squared changes of sensitivity and specificity.
ITK_TOLERANCE = 1e-14
#: SimpleITK's default iteration cap (``UINT_MAX``); EM is monotone, so in practice it stops
#: long before. Each iteration here costs microseconds (it works on at most 2**R patterns).
ITK_MAX_ITERATIONS = 2**32 - 1
#: Up to this many raters, patterns are counted with ``np.bincount`` over ``2**R`` bins;
#: beyond it, with ``np.unique`` (slower, but no table of 2**R entries).
_BINCOUNT_MAX_RATERS = 20
#: Voxels per chunk when encoding patterns (fits in L2 cache with its temporaries).
_CHUNK = 1 << 17


@dataclass(frozen=True)
class ConsensusResult:
    """The outcome of a fusion.

    ``posterior``: float64 map on the full grid (0 outside ``mask``). ``sensitivity`` and
    ``specificity``: per rater (R,), as estimated by the method (majority vote: measured
    against its own binary consensus); NaN where undefined. ``prior``: the lesion prior used
    (mean vote inside the mask, times the confidence weight). ``iterations``: ITK's
    ``ElapsedIterations`` meaning (0 for majority vote). ``weights``: LOP weights, else None.
    """

    method: str
    posterior: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray
    prior: float
    iterations: int
    converged: bool
    threshold: float = 0.5
    weights: np.ndarray | None = None
    n_voxels: int = 0
    votes_outside_mask: int = 0

    def binary(self) -> np.ndarray:
        """The binary consensus: ``posterior > threshold``."""
        return binarize(self.posterior, self.threshold)


@dataclass(frozen=True)
class RaterPerformance:
    """Per-rater agreement with a reference mask, each array of shape (R,); NaN where undefined
    (sensitivity and Dice with an empty reference and empty rater, specificity with no
    background)."""

    sensitivity: np.ndarray
    specificity: np.ndarray
    dice: np.ndarray
    volume_voxels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# Input checks


def check_votes(votes: np.ndarray, *, case: str | None = None) -> np.ndarray:
    """Return ``votes`` as a boolean array of shape (R, ...), or raise.

    Accepts booleans or numbers that are exactly 0 or 1; anything else is a
    :class:`NonBinaryMaskError` naming the rater index.
    """
    votes = np.asarray(votes)
    if votes.ndim < 2 or votes.shape[0] < 1:
        raise InputError(
            f"votes must have shape (raters, *grid) with at least one rater; got {votes.shape}", case=case
        )
    if votes.dtype == bool:
        return votes
    binary = (votes == 0) | (votes == 1)
    if not np.all(binary):
        bad = sorted({int(j) for j in np.nonzero(~binary.reshape(votes.shape[0], -1))[0]})
        raise NonBinaryMaskError(
            f"rater(s) {bad} (0-based) have values other than 0 and 1; raters must be binary masks",
            case=case,
        )
    return votes == 1


def _check_mask(mask: np.ndarray | None, grid: tuple[int, ...], case: str | None) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != grid:
        raise GridMismatchError(f"mask shape {mask.shape} differs from the raters' grid {grid}", case=case)
    if mask.dtype != bool:
        binary = (mask == 0) | (mask == 1)
        if not np.all(binary):
            raise NonBinaryMaskError("mask has values other than 0 and 1", case=case)
        mask = mask == 1
    if not mask.any():
        raise InputError("mask is empty: no voxel to fuse raters in", case=case)
    return mask


def stack_votes(
    raters: Sequence[np.ndarray], *, names: Sequence[str] | None = None, case: str | None = None
) -> np.ndarray:
    """Stack separate rater masks into a (R, ...) boolean array, checking grids and binarity.

    Errors name the rater (``names[j]`` when given, else its 0-based index) and the case.
    """
    if len(raters) == 0:
        raise InputError("no rater masks given", case=case)
    label = list(names) if names is not None else [f"rater {j}" for j in range(len(raters))]
    arrays = [np.asarray(r) for r in raters]
    grid = arrays[0].shape
    for j, arr in enumerate(arrays):
        if arr.shape != grid:
            raise GridMismatchError(
                f"{label[j]} has shape {arr.shape}, but {label[0]} has {grid}; raters must share one grid",
                case=case,
                path=label[j] if names is not None else None,
            )
        if arr.dtype != bool and not np.all((arr == 0) | (arr == 1)):
            raise NonBinaryMaskError(
                f"{label[j]} has values other than 0 and 1", case=case, path=label[j] if names is not None else None
            )
    return np.stack([a if a.dtype == bool else a == 1 for a in arrays])


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not 0.0 <= threshold < 1.0:
        raise ConfigError(f"threshold must be in [0, 1) (binary consensus is posterior > threshold); got {threshold}")
    return threshold


def binarize(posterior: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Binary consensus: ``posterior > threshold`` (strict, so 0.5 exactly is background)."""
    return np.asarray(posterior) > _check_threshold(threshold)


# ----------------------------------------------------------------------------------------------
# Vote patterns


@dataclass(frozen=True)
class _Patterns:
    """The distinct vote patterns inside the mask and how to map per-pattern values back."""

    bits: np.ndarray  # (P, R) bool: decisions of each rater for pattern p
    counts: np.ndarray  # (P,) float64: voxels (inside the mask) with pattern p
    index: np.ndarray  # (N,) intp-compatible: per voxel, row into the look-up table
    table_size: int  # look-up table length (>= P)
    rows: np.ndarray  # (P,) position of each pattern in the look-up table
    mask: np.ndarray | None  # flat mask (N,) or None
    grid: tuple[int, ...]

    def expand(self, per_pattern: np.ndarray) -> np.ndarray:
        """Per-pattern values -> full-grid float64 map (0 outside the mask)."""
        table = np.zeros(self.table_size, dtype=np.float64)
        table[self.rows] = per_pattern
        out = table[self.index]  # one gather over the grid
        if self.mask is not None:
            out[~self.mask] = 0.0
        return out.reshape(self.grid)


def _patterns(votes: np.ndarray | Sequence[np.ndarray], mask: np.ndarray | None) -> _Patterns:
    """Group voxels by vote pattern. ``votes``: (R, *grid) array or R boolean arrays of one grid."""
    layers = [np.ascontiguousarray(v).reshape(-1) for v in votes]
    n_raters = len(layers)
    grid = tuple(int(s) for s in np.shape(votes[0]))
    flat_mask = None if mask is None else np.ascontiguousarray(mask).reshape(-1)
    if n_raters <= _BINCOUNT_MAX_RATERS:
        n_codes = 2**n_raters
        # One spare code (n_codes) marks voxels outside the mask: its table entry stays 0, so the
        # final gather also applies the mask, and one bincount does all the counting.
        code_dtype = np.uint8 if n_raters <= 7 else np.uint16 if n_raters <= 15 else np.uint32
        n = layers[0].size
        codes = np.empty(n, dtype=code_dtype)
        shifted = np.empty(min(n, _CHUNK), dtype=code_dtype)
        all_counts = np.zeros(n_codes + 1, dtype=np.int64)
        # Work in cache-sized chunks: the grid is streamed once instead of once per rater.
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            part = codes[start:stop]
            tmp = shifted[: stop - start]
            np.copyto(part, layers[0][start:stop].view(np.uint8), casting="unsafe")
            for j in range(1, n_raters):
                np.left_shift(layers[j][start:stop].view(np.uint8), code_dtype(j), out=tmp, casting="unsafe")
                part |= tmp
            if flat_mask is not None:
                np.copyto(part, code_dtype(n_codes), where=~flat_mask[start:stop])
            all_counts += np.bincount(part, minlength=n_codes + 1)
        all_counts = all_counts[:n_codes]
        rows = np.flatnonzero(all_counts)
        bits = ((rows[:, None] >> np.arange(n_raters)[None, :]) & 1).astype(bool)
        return _Patterns(
            bits=bits,
            counts=all_counts[rows].astype(np.float64),
            index=codes,
            table_size=n_codes + 1,
            rows=rows,
            mask=None,  # already folded into the codes
            grid=grid,
        )
    flat = np.stack(layers)
    # Many raters: a 2**R table is too large, so group identical packed rows instead.
    packed = np.packbits(flat, axis=0).T.copy()  # (N, ceil(R/8)) uint8, one row per voxel
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    sample = keys if flat_mask is None else keys[flat_mask]
    uniq, counts = np.unique(sample, return_counts=True)
    # Voxels outside the mask may carry patterns absent inside; they get row len(uniq) (value 0).
    pos = np.searchsorted(uniq, keys)
    pos = np.minimum(pos, len(uniq) - 1)
    found = uniq[pos] == keys
    index = np.where(found, pos, len(uniq))
    uniq_bytes = uniq.view(np.uint8).reshape(len(uniq), -1)
    bits = np.unpackbits(uniq_bytes, axis=1, count=n_raters).astype(bool)
    return _Patterns(
        bits=bits,
        counts=counts.astype(np.float64),
        index=index,
        table_size=len(uniq) + 1,
        rows=np.arange(len(uniq)),
        mask=flat_mask,
        grid=grid,
    )


def _votes_outside(votes: np.ndarray, pats: _Patterns) -> int:
    inside = float(np.dot(pats.counts, pats.bits.sum(axis=1)))
    return int(np.count_nonzero(votes)) - int(round(inside))


def _performance_from_patterns(bits: np.ndarray, counts: np.ndarray, reference: np.ndarray) -> RaterPerformance:
    """Per-rater sensitivity, specificity, Dice from pattern counts; ``reference`` is per pattern."""
    ref_pos = float(np.dot(counts, reference))
    ref_neg = float(counts.sum()) - ref_pos
    tp = (counts * reference) @ bits
    rater_pos = counts @ bits
    fp = rater_pos - tp
    n_raters = bits.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = tp / ref_pos if ref_pos else np.full(n_raters, np.nan)
        spec = (ref_neg - fp) / ref_neg if ref_neg else np.full(n_raters, np.nan)
        denom = rater_pos + ref_pos
        dice = np.where(denom > 0, 2.0 * tp / np.where(denom > 0, denom, 1.0), np.nan)
    return RaterPerformance(
        sensitivity=np.asarray(sens, dtype=np.float64),
        specificity=np.asarray(spec, dtype=np.float64),
        dice=np.asarray(dice, dtype=np.float64),
        volume_voxels=np.rint(rater_pos).astype(np.int64),
    )


# ----------------------------------------------------------------------------------------------
# EM on patterns


def _em(
    bits: np.ndarray,
    counts: np.ndarray,
    *,
    prior: float,
    weights: np.ndarray | None,
    max_iterations: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """STAPLE (weights None) or LOP-STAPLE EM on pattern counts; returns W, p, q, iterations, converged."""
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
        if weights is not None:
            a_j **= weights
            b_j **= weights
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
    weights: np.ndarray | None,
    confidence_weight: float,
    max_iterations: int | None,
    tolerance: float,
    threshold: float,
    case: str | None,
) -> ConsensusResult:
    votes = check_votes(votes, case=case)
    mask = _check_mask(mask, votes.shape[1:], case)
    threshold = _check_threshold(threshold)
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
            weights=weights,
            n_voxels=n_voxels,
            votes_outside_mask=outside,
        )
    w, p, q, iterations, converged = _em(
        pats.bits, pats.counts, prior=prior, weights=weights, max_iterations=max_iterations, tolerance=tolerance
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
        weights=weights,
        n_voxels=n_voxels,
        votes_outside_mask=outside,
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
        weights=None,
        confidence_weight=confidence_weight,
        max_iterations=max_iterations,
        tolerance=tolerance,
        threshold=threshold,
        case=case,
    )


def lop_weights(weights: Sequence[float] | np.ndarray | None, n_raters: int) -> np.ndarray:
    """Validate LOP reliability weights: non-negative, one per rater, rescaled to sum to 1.

    None gives uniform weights 1/R.
    """
    if weights is None:
        return np.full(n_raters, 1.0 / n_raters)
    arr = np.asarray(weights, dtype=np.float64).reshape(-1)
    if arr.size != n_raters:
        raise ConfigError(f"LOP-STAPLE needs one weight per rater: got {arr.size} weights for {n_raters} raters")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise ConfigError(f"LOP-STAPLE weights must be finite, non-negative and not all zero; got {arr.tolist()}")
    return arr / arr.sum()


def lop_staple(
    votes: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    confidence_weight: float = 1.0,
    max_iterations: int | None = None,
    tolerance: float = ITK_TOLERANCE,
    threshold: float = 0.5,
    case: str | None = None,
) -> ConsensusResult:
    """LOP-STAPLE (Akhondi-Asl et al. 2014) with global per-rater weights (default uniform 1/R).

    Same initialisation, prior, M-step and stopping rule as :func:`staple`; the E-step pools the
    raters' likelihoods geometrically with the weights (rescaled to sum to 1).
    """
    votes = check_votes(votes, case=case)
    return _fuse_em(
        votes,
        method="lop-staple",
        mask=mask,
        weights=lop_weights(weights, votes.shape[0]),
        confidence_weight=confidence_weight,
        max_iterations=max_iterations,
        tolerance=tolerance,
        threshold=threshold,
        case=case,
    )


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
    mask = _check_mask(mask, votes.shape[1:], case)
    threshold = _check_threshold(threshold)
    pats = _patterns(votes, mask)
    fraction = pats.bits.mean(axis=1)
    perf = _performance_from_patterns(pats.bits.astype(np.float64), pats.counts, (fraction > threshold).astype(np.float64))
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
        weights=None,
        n_voxels=n_voxels,
        votes_outside_mask=outside,
    )


def fuse(votes: np.ndarray, method: str, **kwargs: object) -> ConsensusResult:
    """Dispatch to :func:`staple`, :func:`lop_staple` or :func:`majority_vote` by name."""
    if method == "staple":
        return staple(votes, **kwargs)  # type: ignore[arg-type]
    if method == "lop-staple":
        return lop_staple(votes, **kwargs)  # type: ignore[arg-type]
    if method == "majority":
        return majority_vote(votes, **kwargs)  # type: ignore[arg-type]
    raise ConfigError(f"unknown consensus method {method!r}; choose one of {', '.join(METHODS)}")


# ----------------------------------------------------------------------------------------------
# Scoring raters


def rater_performance(
    votes: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None
) -> RaterPerformance:
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
    """For each rater k, the consensus of all the other raters (needs at least 2 raters)."""
    votes = check_votes(votes, case=kwargs.get("case"))  # type: ignore[arg-type]
    n_raters = votes.shape[0]
    if n_raters < 2:
        raise InputError("leave-one-rater-out needs at least two raters", case=kwargs.get("case"))  # type: ignore[arg-type]
    keep = np.arange(n_raters)
    results = []
    for k in range(n_raters):
        others = votes[keep != k]
        if method == "lop-staple" and kwargs.get("weights") is not None:
            kw = dict(kwargs)
            kw["weights"] = np.delete(np.asarray(kwargs["weights"], dtype=np.float64), k)
            results.append(fuse(others, method, **kw))
        else:
            results.append(fuse(others, method, **kwargs))
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


def truth_agreement(
    votes: np.ndarray,
    names: Sequence[str],
    fusions: dict[str, np.ndarray],
    truth: np.ndarray,
    *,
    estimated_sensitivity: dict[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Validation against a known truth (synthetic cohorts): one row per rater and per fusion
    with its Dice, sensitivity and specificity to the truth; raters also carry each fusion
    method's estimate of their sensitivity (``estimated_sensitivity[method][k]``)."""
    rows = []
    raters = rater_performance(votes, truth)
    for k, name in enumerate(names):
        row = {
            "entry": name,
            "kind": "rater",
            "dice_to_truth": float(raters.dice[k]),
            "true_sensitivity": float(raters.sensitivity[k]),
            "true_specificity": float(raters.specificity[k]),
        }
        for method, values in (estimated_sensitivity or {}).items():
            row[f"estimated_sensitivity_{method}"] = float(values[k])
        rows.append(row)
    for method, fused in fusions.items():
        perf = rater_performance(np.asarray(fused, dtype=bool)[None], truth)
        rows.append(
            {
                "entry": f"consensus_{method}",
                "kind": "consensus",
                "dice_to_truth": float(perf.dice[0]),
                "true_sensitivity": float(perf.sensitivity[0]),
                "true_specificity": float(perf.specificity[0]),
            }
        )
    return pd.DataFrame(rows)


def summarize_validation(validation: pd.DataFrame) -> pd.DataFrame:
    """Cohort summary of :func:`truth_agreement` rows: mean Dice to truth of each consensus, of
    the median rater and of each rater, and the mean absolute error of each method's rater
    sensitivity estimates. One row per entry (consensus methods first)."""
    per_entry = validation.groupby(["kind", "entry"], sort=False)["dice_to_truth"].mean().reset_index()
    per_case_median = validation[validation["kind"] == "rater"].groupby("case_id")["dice_to_truth"].median().mean()
    rows = [
        {"entry": "median rater", "kind": "rater", "mean_dice_to_truth": float(per_case_median)},
    ]
    for _, row in per_entry.iterrows():
        rows.append({"entry": row["entry"], "kind": row["kind"], "mean_dice_to_truth": float(row["dice_to_truth"])})
    summary = pd.DataFrame(rows)
    raters = validation[validation["kind"] == "rater"]
    for column in [c for c in validation.columns if c.startswith("estimated_sensitivity_")]:
        method = column.removeprefix("estimated_sensitivity_")
        error = (raters[column] - raters["true_sensitivity"]).abs().mean()
        summary.loc[summary["entry"] == f"consensus_{method}", "sensitivity_estimate_mae"] = float(error)
    order = {"consensus": 0, "rater": 1}
    return summary.sort_values(by="kind", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
