"""The computation region of a fusion: which voxels enter the prior, the counts and the posterior.

Every EM fusion estimates a lesion prior and each rater's specificity from the voxels it is run
on, so the region is part of the method, not a detail (docs/consensus.md, "Computation region").
Three documented choices:

* ``grid``: every voxel of the image grid (SimpleITK's STAPLEImageFilter; CRKit's
  crlLOPSTAPLE without ``-m``). The answer then depends on how much empty background the field
  of view carries.
* ``brain``: a given brain mask.
* ``union``: the voxels any rater marked, dilated by ``dilation`` voxels with an ITK-style ball
  (Anima's animaMultiThreadedSTAPLE default, radius 2). ``dilation = 0`` is the bare union.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy import ndimage as ndi

from ..errors import ConfigError, GridMismatchError
from .base import _check_mask, check_votes
from .options import DEFAULT_DILATION, REGIONS


def itk_ball(radius: int, ndim: int = 3) -> np.ndarray:
    """Boolean ball structuring element as ITK's ``BinaryBallStructuringElement`` rasterises it.

    Offsets ``(d_1, ..., d_n)`` with ``|d_j| <= radius`` are kept when
    ``sum d_j**2 <= (radius + 0.5)**2`` (the voxel centre lies inside the ellipsoid of semi-axes
    ``radius + 0.5``). Radius in voxels along every axis; spacing is ignored, as in Anima. Radius 1
    gives 19 voxels and radius 2 gives 81 in 3-D. Radius 0 is the single centre voxel.
    """
    radius = int(radius)
    if radius < 0:
        raise ConfigError(f"ball radius must be >= 0 voxels; got {radius}")
    axis = np.arange(-radius, radius + 1)
    grids = np.meshgrid(*([axis] * ndim), indexing="ij")
    return sum(g.astype(np.int64) ** 2 for g in grids) <= (radius + 0.5) ** 2


def union_region(votes: np.ndarray, dilation: int = DEFAULT_DILATION) -> np.ndarray:
    """Voxels any rater marked, dilated by an ITK ball of radius ``dilation`` voxels.

    Computed on the bounding box of the union (plus the radius) only, so it costs little on a
    full-size grid. All raters empty gives an empty region.
    """
    votes = np.asarray(votes)
    union = cast(np.ndarray, votes.any(axis=0))
    dilation = int(dilation)
    if dilation < 0:
        raise ConfigError(f"dilation must be >= 0 voxels; got {dilation}")
    if dilation == 0 or not union.any():
        return union
    nz = np.nonzero(union)
    lo = [max(int(a.min()) - dilation, 0) for a in nz]
    hi = [min(int(a.max()) + dilation + 1, n) for a, n in zip(nz, union.shape)]
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    out = np.zeros_like(union)
    out[box] = ndi.binary_dilation(union[box], structure=itk_ball(dilation, union.ndim))
    return out


def fusion_region(
    votes: np.ndarray,
    kind: str,
    *,
    brain: np.ndarray | None = None,
    dilation: int = DEFAULT_DILATION,
    case: str | None = None,
) -> np.ndarray:
    """The computation region (boolean grid) of kind ``grid``, ``brain`` or ``union``.

    ``grid`` returns an all-true grid (pass it as ``mask``: STAPLE then matches SimpleITK).
    ``brain`` needs ``brain`` (binary, on the raters' grid). ``union`` dilates the raters' union
    by ``dilation`` voxels (ITK ball; 0 = bare union); it is empty when every rater is empty,
    which every method accepts (the consensus is then empty without EM).
    """
    votes = check_votes(votes, case=case)
    grid = votes.shape[1:]
    if kind == "grid":
        return np.ones(grid, dtype=bool)
    if kind == "brain":
        if brain is None:
            raise ConfigError("fusion region 'brain' needs a brain mask")
        if np.shape(brain) != grid:
            raise GridMismatchError(
                f"brain mask shape {np.shape(brain)} differs from the raters' grid {grid}", case=case
            )
        checked = _check_mask(brain, grid, case)
        assert checked is not None
        return checked
    if kind == "union":
        return union_region(votes, dilation)
    raise ConfigError(f"unknown fusion region {kind!r}; choose one of {', '.join(REGIONS)}")


def region_or_default(
    votes: np.ndarray, mask: np.ndarray | None, dilation: int | None, case: str | None
) -> np.ndarray | None:
    """``mask`` when given, else the dilated union (``dilation`` > 0), the whole grid (None)."""
    if mask is not None:
        checked = _check_mask(mask, votes.shape[1:], case, allow_empty=not votes.any())
        return checked
    if dilation is None or int(dilation) == 0:
        return None
    return union_region(votes, int(dilation))


__all__ = ["fusion_region", "itk_ball", "union_region"]
