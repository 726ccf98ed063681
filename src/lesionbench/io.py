"""NIfTI input/output at the edge of the library, with checks that turn bad files into clear errors.

The science modules take numpy arrays plus voxel spacing; these helpers are where files become
arrays. Every check here raises a :mod:`lesionbench.errors` type naming the case and the file:
missing file, unreadable or truncated image, not 3-D, NaN/Inf voxels, a singular or non-finite
affine, a mask on another grid, a mask that is not binary.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nibabel as nib
import numpy as np
from nibabel.affines import voxel_sizes
from nibabel.filebasedimages import ImageFileError

from .errors import (
    AffineError,
    DimensionError,
    GridMismatchError,
    MissingFileError,
    NonBinaryMaskError,
    NonFiniteError,
    UnreadableImageError,
)

#: How masks with values other than {0, 1} are read: ``binary`` rejects them, ``nonzero``
#: takes every non-zero voxel as lesion (e.g. masks stored as {0, 255}).
LabelPolicy = Literal["binary", "nonzero"]

#: Default tolerance (mm) when comparing two affines for "same grid".
AFFINE_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class Volume:
    """A 3-D image as an array with its geometry.

    ``spacing`` is the voxel size in mm along the array axes (0, 1, 2), from the affine.
    """

    data: np.ndarray
    affine: np.ndarray
    path: str | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in voxel_sizes(self.affine))  # type: ignore[return-value]

    @property
    def orientation(self) -> str:
        return "".join(nib.orientations.aff2axcodes(self.affine))


def _open(path: Path, case: str | None) -> nib.Nifti1Image:
    if not path.exists():
        raise MissingFileError("file does not exist", case=case, path=path)
    if not path.is_file():
        raise MissingFileError("path is not a regular file", case=case, path=path)
    try:
        img = nib.load(str(path))
    except (ImageFileError, OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile) as exc:
        raise UnreadableImageError(
            f"cannot be read as a NIfTI image ({type(exc).__name__}: {exc})", case=case, path=path
        ) from exc
    return img  # type: ignore[return-value]


def check_affine(affine: np.ndarray, *, case: str | None = None, path: str | Path | None = None) -> None:
    """Reject affines that cannot describe a scanner grid: non-finite, singular, absurd spacing."""
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise AffineError("affine has non-finite entries", case=case, path=path)
    linear = affine[:3, :3]
    if abs(np.linalg.det(linear)) < 1e-9:
        raise AffineError("affine is singular (zero voxel volume)", case=case, path=path)
    sizes = voxel_sizes(affine)
    if np.any(sizes < 1e-3) or np.any(sizes > 50.0):
        sizes_txt = ", ".join(f"{s:g}" for s in sizes)
        raise AffineError(f"implausible voxel size ({sizes_txt}) mm", case=case, path=path)


def load_volume(
    path: str | Path,
    *,
    case: str | None = None,
    dtype: type | np.dtype = np.float32,
    check_finite: bool = True,
) -> Volume:
    """Read a 3-D NIfTI image fully (so truncated files fail here) and check it.

    A 4-D image whose extra axes all have length 1 is accepted as 3-D; any other 4-D image
    is a :class:`DimensionError`.
    """
    path = Path(path)
    img = _open(path, case)
    try:
        data = np.asanyarray(img.dataobj)
    except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile) as exc:
        raise UnreadableImageError(
            f"image data cannot be read, the file may be truncated ({type(exc).__name__}: {exc})",
            case=case,
            path=path,
        ) from exc
    if data.ndim > 3 and all(s == 1 for s in data.shape[3:]):
        data = data.reshape(data.shape[:3])
    if data.ndim != 3:
        raise DimensionError(
            f"image is {data.ndim}-D with shape {tuple(data.shape)}; a 3-D volume is required",
            case=case,
            path=path,
        )
    check_affine(img.affine, case=case, path=path)
    if check_finite and np.issubdtype(data.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise NonFiniteError(f"{bad} voxels are NaN or infinite", case=case, path=path)
    return Volume(data=np.asarray(data, dtype=dtype), affine=np.asarray(img.affine, dtype=float), path=str(path))


def same_grid(
    shape_a: tuple[int, ...],
    affine_a: np.ndarray,
    shape_b: tuple[int, ...],
    affine_b: np.ndarray,
    atol_mm: float = AFFINE_TOLERANCE_MM,
) -> bool:
    """True when two images share a voxel grid: same shape, affines equal within ``atol_mm``."""
    return tuple(shape_a) == tuple(shape_b) and bool(np.allclose(affine_a, affine_b, rtol=0.0, atol=atol_mm))


def check_same_grid(
    volume: Volume,
    reference: Volume,
    *,
    what: str,
    case: str | None = None,
    atol_mm: float = AFFINE_TOLERANCE_MM,
) -> None:
    """Raise :class:`GridMismatchError` ("<what>: <how the grids differ>", naming the case and
    ``volume``'s file) unless ``volume`` is on ``reference``'s voxel grid."""
    if not same_grid(reference.shape, reference.affine, volume.shape, volume.affine, atol_mm):
        raise GridMismatchError(f"{what}: " + describe_grid_difference(reference, volume), case=case, path=volume.path)


def describe_grid_difference(a: Volume, b: Volume) -> str:
    if a.shape != b.shape:
        return f"shape {b.shape} differs from reference shape {a.shape}"
    worst = float(np.max(np.abs(np.asarray(a.affine) - np.asarray(b.affine))))
    return f"affine differs from the reference grid by up to {worst:.4g} mm"


def binarize_mask(
    data: np.ndarray,
    *,
    policy: LabelPolicy = "binary",
    case: str | None = None,
    path: str | Path | None = None,
) -> np.ndarray:
    """Turn mask voxel values into a boolean array according to ``policy``.

    ``binary`` accepts only 0 and 1 (any dtype); ``nonzero`` accepts any finite values and
    takes non-zero as lesion. Non-finite values are always an error.
    """
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise NonFiniteError("mask has NaN or infinite voxels", case=case, path=path)
    if policy == "nonzero":
        return data != 0
    if policy != "binary":
        raise ValueError(f"unknown label policy {policy!r}")
    if data.dtype == bool:
        return data
    is_zero = data == 0
    is_one = data == 1
    if not np.all(is_zero | is_one):
        values = np.unique(data[~(is_zero | is_one)])
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if values.size > 5 else "")
        raise NonBinaryMaskError(
            f"mask is not binary: found values other than 0 and 1 ({shown}); "
            "set the label policy to 'nonzero' if every non-zero voxel is lesion",
            case=case,
            path=path,
        )
    return is_one


def load_mask(
    path: str | Path,
    *,
    case: str | None = None,
    reference: Volume | None = None,
    policy: LabelPolicy = "binary",
    atol_mm: float = AFFINE_TOLERANCE_MM,
) -> Volume:
    """Read a binary mask; check it is on ``reference``'s grid when one is given.

    Returns a :class:`Volume` whose data is a boolean array.
    """
    vol = load_volume(path, case=case, dtype=np.float64, check_finite=True)
    if reference is not None:
        check_same_grid(vol, reference, what="mask is not on the reference image grid", case=case, atol_mm=atol_mm)
    mask = binarize_mask(vol.data, policy=policy, case=case, path=path)
    return Volume(data=mask, affine=vol.affine, path=vol.path)


def save_volume(
    path: str | Path,
    data: np.ndarray,
    affine: np.ndarray,
    *,
    dtype: type | np.dtype | None = None,
) -> None:
    """Write an array as NIfTI (compressed when the name ends in .gz), creating folders.

    Booleans are stored as uint8. The header's qform and sform both carry ``affine`` so that
    every reader (nibabel, ITK, ANTs) sees the same grid.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(data)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8)
    img = nib.Nifti1Image(arr, np.asarray(affine, dtype=float))
    img.set_qform(np.asarray(affine, dtype=float), code=1)
    img.set_sform(np.asarray(affine, dtype=float), code=1)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, str(path))
