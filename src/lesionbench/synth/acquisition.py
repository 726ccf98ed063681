"""Scanner acquisition: head pose, voxel grids, partial-volume blur, resampling, bias, noise, storage.

* Each raw image has its own grid in scanner coordinates (orientation codes, voxel size, field
  of view) and sees the head through a rigid pose (a few degrees, a few mm, plus the table
  position), so raw images are aligned neither with each other nor with the template.
* Thick voxels are modelled by a Gaussian point-spread function whose FWHM is the voxel size,
  applied on the fine template grid before sampling.
* The subject->template warp, the inverse pose and the raw grid are composed into one set of
  coordinates, so every raw voxel is sampled once with ``scipy.ndimage.map_coordinates``.
* Intensity non-uniformity is a smooth multiplicative log-polynomial field; noise is Rician
  (Gaussian on real and imaginary channels, magnitude taken), with the noise level given
  relative to the white-matter signal as in BrainWeb (Kwan et al., IEEE TMI 18:1085, 1999).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from .anatomy import DisplacementField

_AXIS_OF = {"L": 0, "R": 0, "P": 1, "A": 1, "I": 2, "S": 2}
_SIGN_OF = {"R": 1.0, "L": -1.0, "A": 1.0, "P": -1.0, "S": 1.0, "I": -1.0}


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``affine`` maps voxel indices to scanner-world mm (RAS)."""

    shape: tuple[int, int, int]
    affine: np.ndarray


def rigid_pose(
    rng: np.random.Generator, centre_mm: np.ndarray, max_rotation_deg: float, max_shift_mm: float, offset_mm: np.ndarray
) -> np.ndarray:
    """Subject->scanner rigid transform: rotation about ``centre_mm``, random shift, fixed offset."""
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, 3)
    rot = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    shift = rng.uniform(-max_shift_mm, max_shift_mm, 3)
    pose = np.eye(4)
    pose[:3, :3] = rot
    pose[:3, 3] = centre_mm - rot @ centre_mm + shift + offset_mm
    return pose


def make_grid(
    axcodes: Sequence[str], voxel_mm: Sequence[float], extent_mm: Sequence[float], centre_world: np.ndarray
) -> Grid:
    """An axis-aligned grid covering ``extent_mm`` (per world axis x, y, z) centred on ``centre_world``.

    ``axcodes[i]`` is the direction array axis ``i`` runs towards, ``voxel_mm[i]`` its spacing.
    """
    if sorted(_AXIS_OF[c] for c in axcodes) != [0, 1, 2]:
        raise ValueError(f"orientation codes {tuple(axcodes)} do not name three distinct axes")
    linear = np.zeros((3, 3))
    shape = []
    for i, code in enumerate(axcodes):
        world_axis = _AXIS_OF[code]
        linear[world_axis, i] = _SIGN_OF[code] * voxel_mm[i]
        shape.append(int(np.ceil(extent_mm[world_axis] / voxel_mm[i])))
    centre_index = (np.array(shape, dtype=float) - 1.0) / 2.0
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = centre_world - linear @ centre_index
    return Grid(shape=tuple(shape), affine=affine)  # type: ignore[arg-type]


def psf_sigma_vox(axcodes: Sequence[str], voxel_mm: Sequence[float], template_mm: float) -> tuple[float, float, float]:
    """Gaussian sigma (template voxels, per template axis) turning the template resolution into the acquired one.

    Uses the nominal axis directions; the pose's few-degree rotation is neglected here.
    """
    sigma = [0.0, 0.0, 0.0]
    for code, size in zip(axcodes, voxel_mm):
        extra = max(size**2 - template_mm**2, 0.0)
        sigma[_AXIS_OF[code]] = float(np.sqrt(extra) / 2.355 / template_mm)
    return tuple(sigma)  # type: ignore[return-value]


def sample_on_grid(
    volumes: Sequence[np.ndarray],
    orders: Sequence[int],
    template_affine: np.ndarray,
    grid: Grid,
    pose: np.ndarray,
    warp: DisplacementField,
    support: np.ndarray | None = None,
    chunk_voxels: int = 1_500_000,
) -> list[np.ndarray]:
    """Sample template-grid volumes at every raw voxel: raw voxel -> scanner -> subject -> template.

    ``support`` (template grid, bool) marks where any volume may be non-zero *after* dilation by
    the largest displacement; raw voxels whose un-warped template position falls outside it are
    left at 0 without the (costly) warp and interpolation. Processed in slabs along the first
    axis to bound memory at 1 mm.
    """
    outputs = [np.zeros(grid.shape, dtype=np.float32) for _ in volumes]
    to_subject = np.linalg.inv(pose) @ grid.affine
    to_template_vox = np.linalg.inv(template_affine)
    nx, ny, nz = grid.shape
    per_slab = max(1, chunk_voxels // (ny * nz))
    jj, kk = np.meshgrid(np.arange(ny, dtype=float), np.arange(nz, dtype=float), indexing="ij")
    for start in range(0, nx, per_slab):
        stop = min(nx, start + per_slab)
        ii = np.arange(start, stop, dtype=float)
        idx = np.stack([np.repeat(ii, ny * nz), np.tile(jj.ravel(), stop - start), np.tile(kk.ravel(), stop - start)])
        subject = to_subject[:3, :3] @ idx + to_subject[:3, 3:4]
        if support is not None:
            rough = np.rint(to_template_vox[:3, :3] @ subject + to_template_vox[:3, 3:4]).astype(np.int64)
            inside = np.all((rough >= 0) & (rough < np.array(support.shape)[:, None]), axis=0)
            sel = np.flatnonzero(inside)
            sel = sel[support[rough[0, sel], rough[1, sel], rough[2, sel]]]
            subject = subject[:, sel]
        template = warp.apply(subject)
        tvox = to_template_vox[:3, :3] @ template + to_template_vox[:3, 3:4]
        for out, vol, order in zip(outputs, volumes, orders):
            values = ndimage.map_coordinates(vol, tvox, order=order, mode="constant", cval=0.0, prefilter=False)
            slab = out[start:stop].reshape(-1)
            if support is None:
                slab[:] = values
            else:
                slab[sel] = values
    return outputs


def sample_at_voxels(
    volumes: Sequence[np.ndarray],
    orders: Sequence[int],
    template_affine: np.ndarray,
    grid: Grid,
    pose: np.ndarray,
    warp: DisplacementField,
    voxel_indices: np.ndarray,
) -> list[np.ndarray]:
    """Like :func:`sample_on_grid` for selected raw voxels only (``voxel_indices`` of shape (N, 3))."""
    to_subject = np.linalg.inv(pose) @ grid.affine
    to_template_vox = np.linalg.inv(template_affine)
    idx = np.asarray(voxel_indices, dtype=float).T
    template = warp.apply(to_subject[:3, :3] @ idx + to_subject[:3, 3:4])
    tvox = to_template_vox[:3, :3] @ template + to_template_vox[:3, 3:4]
    return [
        ndimage.map_coordinates(vol, tvox, order=order, mode="constant", cval=0.0, prefilter=False)
        for vol, order in zip(volumes, orders)
    ]


def bias_field(shape: Sequence[int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative field with log peak-to-peak range ``strength`` over the grid.

    A random second-order polynomial of the normalised coordinates in the exponent: smooth at
    the scale of the head, like a receive-coil profile.
    """
    axes = [np.linspace(-1.0, 1.0, int(n)) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    terms = [x, y, z, x * x, y * y, z * z, x * y, x * z, y * z]
    coef = rng.standard_normal(len(terms))
    coef[3:] *= 0.6
    log_field = sum(c * t for c, t in zip(coef, terms))
    log_field = np.broadcast_to(log_field, tuple(int(n) for n in shape))
    lo, hi = float(log_field.min()), float(log_field.max())
    scaled = (log_field - 0.5 * (lo + hi)) / max(hi - lo, 1e-9) * strength
    return np.exp(scaled).astype(np.float32)


def rician_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of the image plus complex Gaussian noise of SD ``sigma`` per channel."""
    real = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
    imag = sigma * rng.standard_normal(image.shape, dtype=np.float32)
    return np.sqrt(real * real + imag * imag).astype(np.float32)


def quantize(image: np.ndarray, dtype: str, scaled: bool) -> np.ndarray:
    """What the scanner's converter stores: rounded integers, or float (scaling done by the writer)."""
    if scaled or dtype.startswith("float"):
        return image.astype(np.float32)
    info = np.iinfo(np.dtype(dtype))
    return np.clip(np.rint(image), max(info.min, 0), info.max).astype(dtype)
