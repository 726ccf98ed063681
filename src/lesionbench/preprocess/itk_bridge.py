"""Bridges between (array, RAS affine) images and ANTsPy / SimpleITK images.

The conventions are :mod:`.spatial`'s: ITK and ANTs work in LPS world coordinates, so an affine
``A`` (RAS) is ``diag(-1, -1, 1, 1) @ A`` for them. ANTsPy and SimpleITK are imported inside the
functions, so a caller can set ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS`` before ITK is first loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .spatial import LPS_FLIP

if TYPE_CHECKING:
    import ants
    import SimpleITK as sitk


def to_ants(data: np.ndarray, affine: np.ndarray) -> ants.ANTsImage:
    """ANTs image of an array on a RAS affine (same index order; LPS physical space)."""
    import ants

    lps = LPS_FLIP @ np.asarray(affine, dtype=float)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    return ants.from_numpy(
        np.ascontiguousarray(data, dtype=np.float32),
        origin=tuple(float(v) for v in lps[:3, 3]),
        spacing=tuple(float(v) for v in spacing),
        direction=direction,
    )


def affine_of_ants(image: ants.ANTsImage) -> np.ndarray:
    """RAS affine of an ANTs image."""
    lps = np.eye(4)
    lps[:3, :3] = np.asarray(image.direction) * np.asarray(image.spacing)[None, :]
    lps[:3, 3] = image.origin
    return LPS_FLIP @ lps


def to_sitk(data: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """SimpleITK image of an array on a RAS affine; SimpleITK arrays are indexed [k, j, i]."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(np.asarray(data), (2, 1, 0))))
    lps = LPS_FLIP @ np.asarray(affine, dtype=float)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image.SetSpacing(tuple(float(v) for v in spacing))
    image.SetDirection(tuple(float(v) for v in (lps[:3, :3] / spacing).ravel()))
    image.SetOrigin(tuple(float(v) for v in lps[:3, 3]))
    return image


def from_sitk(image: sitk.Image) -> np.ndarray:
    """The array of a SimpleITK image, indexed ``[i, j, k]`` like the rest of the library."""
    import SimpleITK as sitk

    return np.ascontiguousarray(np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0)))


def downsample(image: ants.ANTsImage, work_mm: float) -> ants.ANTsImage:
    """Anti-aliased copy of an ANTs image on a ``work_mm`` isotropic grid (unchanged if already coarser).

    Gaussian pre-smoothing with the FWHM that turns each axis's voxel into ``work_mm``
    (sigma = sqrt(w^2 - s^2) / 2.355), then linear resampling.
    """
    import ants

    spacing = np.asarray(image.spacing, dtype=float)
    if np.all(spacing >= work_mm * 0.95):
        return image
    sigma = np.sqrt(np.maximum(work_mm**2 - spacing**2, 0.0)) / 2.355
    smoothed = ants.smooth_image(image, sigma=tuple(float(s) for s in sigma), sigma_in_physical_coordinates=True)
    return ants.resample_image(smoothed, (work_mm, work_mm, work_mm), use_voxels=False, interp_type=0)
