"""Shared pieces of the consensus package: result types, input checks, binarisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, GridMismatchError, InputError, NonBinaryMaskError


@dataclass(frozen=True)
class ConsensusResult:
    """The outcome of a fusion.

    ``posterior``: float64 map on the full grid (0 outside ``mask``). ``sensitivity`` and
    ``specificity``: per rater (R,), as estimated by the method (majority vote: measured
    against its own binary consensus; LOP-STAPLE: the rater parameters theta, not the tempered
    opinions; local LOP-STAPLE: the region-wide mean of the local estimates); NaN where
    undefined. ``prior``: the lesion prior used (mean vote inside the region, times the
    confidence weight for STAPLE). ``iterations``: STAPLE: ITK's ``ElapsedIterations`` meaning;
    MAP-/LOP-STAPLE: the number of E+M passes run (Anima's count); 0 for majority vote and for
    an all-empty input. ``weights``: LOP weights as used (per rater (R,) or voxel-wise (R, *grid)),
    else None. ``region``: the computation region (boolean grid) or None for the whole grid.
    ``details``: method-specific extras (e.g. ``theta_change``, ``phi_sensitivity``, the MAP mode).
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
    region: np.ndarray | None = None
    details: dict[str, object] = field(default_factory=dict)

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
        raise InputError(f"votes must have shape (raters, *grid) with at least one rater; got {votes.shape}", case=case)
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


def _check_mask(
    mask: np.ndarray | None, grid: tuple[int, ...], case: str | None, *, allow_empty: bool = False
) -> np.ndarray | None:
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
    if not allow_empty and not mask.any():
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


def empty_result(
    method: str, n_raters: int, grid: tuple[int, ...], *, threshold: float, region: np.ndarray | None, **details: object
) -> ConsensusResult:
    """The consensus of raters who marked nothing (inside the region): all zero, no EM run.

    Sensitivity is undefined (NaN: no lesion in the estimate) and specificity 1.
    """
    return ConsensusResult(
        method=method,
        posterior=np.zeros(grid, dtype=np.float64),
        sensitivity=np.full(n_raters, np.nan),
        specificity=np.ones(n_raters),
        prior=0.0,
        iterations=0,
        converged=True,
        threshold=threshold,
        n_voxels=int(np.prod(grid)) if region is None else int(np.count_nonzero(region)),
        region=region,
        details=dict(details),
    )
