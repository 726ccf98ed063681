"""Voxel grids, reorientation, rigid resampling and ITK transform matrices (numpy, nibabel, scipy).

Conventions (kept everywhere in :mod:`lesionbench.preprocess`):

* an image is a numpy array indexed ``[i, j, k]`` plus a 4x4 ``affine`` mapping voxel indices to
  world millimetres in NIfTI's RAS+ convention (nibabel's view of the file);
* a spatial transform between two images is a 4x4 matrix acting on RAS world points; a
  transform "fixed -> moving" maps a point of the fixed image's world to the point of the moving
  image's world that shows the same anatomy. This is the direction ITK/ANTs estimate (and what a
  pull-back resampler needs), so an ITK transform converts by the LPS<->RAS flip only;
* ITK and ANTs work in LPS world coordinates (DICOM convention), so an affine ``A`` (RAS) is
  ``diag(-1, -1, 1, 1) @ A`` for them (ITK Software Guide, section "Image", physical space).

The bridges to ANTsPy and SimpleITK images are in :mod:`.itk_bridge`.

Canonical reorientation is nibabel's closest-to-RAS axis permutation/flip
(:func:`nibabel.as_closest_canonical`): it only reorders voxels, never interpolates.
"""

from __future__ import annotations

from collections.abc import Sequence

import nibabel as nib
import numpy as np
from scipy import ndimage

#: RAS <-> LPS flip of world coordinates (its own inverse).
LPS_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def reorient_canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same image with array axes permuted/flipped to be closest to RAS+ (no interpolation)."""
    img = nib.Nifti1Image(np.asarray(data), np.asarray(affine, dtype=float))
    canonical = nib.as_closest_canonical(img)
    return np.asarray(canonical.dataobj), np.asarray(canonical.affine, dtype=float)


def as_float32(data: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 copy (or view) of ``data``."""
    return np.ascontiguousarray(data, dtype=np.float32)


def world_points(shape: Sequence[int], affine: np.ndarray, mask: np.ndarray | None = None, step: int = 1) -> np.ndarray:
    """World (RAS mm) coordinates, shape (N, 3), of the voxels of a grid (or of ``mask``), every ``step``-th."""
    if mask is not None:
        idx = np.argwhere(mask)[::step].astype(float)
    else:
        idx = (
            np.stack(np.meshgrid(*[np.arange(0, n, step) for n in shape], indexing="ij"), -1)
            .reshape(-1, 3)
            .astype(float)
        )
    return idx @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]


def resample_rigid(
    moving: np.ndarray,
    moving_affine: np.ndarray,
    fixed_to_moving: np.ndarray,
    fixed_shape: Sequence[int],
    fixed_affine: np.ndarray,
    order: int = 1,
    cval: float = 0.0,
) -> np.ndarray:
    """Pull ``moving`` onto the fixed grid through a world transform (fixed -> moving, RAS).

    One composed voxel->voxel matrix, so every output voxel is interpolated exactly once
    (``scipy.ndimage.affine_transform``; order 0 for labels, 1 for images).
    """
    vox = (
        np.linalg.inv(np.asarray(moving_affine, float))
        @ np.asarray(fixed_to_moving, float)
        @ np.asarray(fixed_affine, float)
    )
    out = ndimage.affine_transform(
        np.asarray(moving, dtype=np.float32),
        vox[:3, :3],
        offset=vox[:3, 3],
        output_shape=tuple(int(n) for n in fixed_shape),
        order=order,
        mode="constant",
        cval=cval,
        prefilter=False,
    )
    return out.astype(np.float32)


def itk_affine_to_matrix(parameters: Sequence[float], fixed_parameters: Sequence[float]) -> np.ndarray:
    """4x4 RAS world matrix of an ITK 3-D matrix-offset transform (Euler3D, Affine, ... as saved by ANTs).

    ITK stores ``y = M (x - c) + c + t`` in LPS with parameters ``M`` (row-major), ``t`` and the
    fixed parameters ``c`` (centre); the matrix maps fixed-space points to moving-space points.
    """
    params = np.asarray(parameters, dtype=float)
    centre = np.asarray(fixed_parameters, dtype=float)[:3]
    linear = params[:9].reshape(3, 3)
    translation = params[9:12]
    lps = np.eye(4)
    lps[:3, :3] = linear
    lps[:3, 3] = translation + centre - linear @ centre
    return LPS_FLIP @ lps @ LPS_FLIP
