"""Template anatomy and random smooth diffeomorphic deformations for synthetic subjects.

Anatomy comes from the MNI ICBM152 2009 (nlin sym) 1 mm GM/WM probability maps and brain mask
that nilearn ships offline (Fonov et al., NeuroImage 54:313, 2011). CSF is the brain mask minus
GM and WM (the nilearn package has no CSF map). Subjects differ from the template by a
diffeomorphism ``exp(v)`` of a smooth stationary velocity field, integrated by scaling and
squaring (Arsigny et al., MICCAI 2006), plus an optional radial term that enlarges the lateral
ventricles (atrophy). The inverse is ``exp(-v)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from scipy import ndimage

#: Regions used for lesion placement (Pongratz et al., NeuroImage Clin 2023; Filippi et al. 2019).
LESION_REGIONS: tuple[str, ...] = ("periventricular", "deep", "juxtacortical", "infratentorial")


@dataclass(frozen=True)
class TemplateAnatomy:
    """Tissue fractions on a cropped template grid (``affine``: voxel -> MNI mm)."""

    affine: np.ndarray
    spacing_mm: float
    csf: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    brain: np.ndarray
    ventricles: np.ndarray
    ventricle_distance_mm: np.ndarray
    #: distance (mm) from each voxel to the brain (0 inside)
    outside_distance_mm: np.ndarray
    #: flat voxel indices of candidate lesion centres, per region
    candidates: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.csf.shape)  # type: ignore[return-value]

    def brain_centre_mm(self) -> np.ndarray:
        idx = np.argwhere(self.brain).mean(axis=0)
        return (self.affine @ np.append(idx, 1.0))[:3]

    def brain_extent_mm(self) -> tuple[np.ndarray, np.ndarray]:
        idx = np.argwhere(self.brain)
        lo = (self.affine @ np.append(idx.min(axis=0), 1.0))[:3]
        hi = (self.affine @ np.append(idx.max(axis=0), 1.0))[:3]
        return np.minimum(lo, hi), np.maximum(lo, hi)


_MNI_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


def _load_mni_1mm() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GM, WM, brain mask and affine of nilearn's bundled 1 mm MNI152 2009 template.

    Read straight from nilearn's package data with nibabel because importing nilearn costs
    ~4 s per process (one process per case in the workflow). Same scaling as
    ``nilearn.datasets.load_mni152_*_template`` (divide by the maximum) and the same mask as
    ``load_mni152_brain_mask`` (T1 template > 0.2).
    """
    import importlib.util
    from pathlib import Path

    import nibabel as nib

    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nilearn is required for the synthetic cohort (it ships the MNI152 template)")
    data_dir = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    arrays = {}
    affine = None
    for key, name in _MNI_FILES.items():
        img = cast(nib.Nifti1Image, nib.load(str(data_dir / name)))
        arr = np.asarray(img.dataobj, dtype=np.float32)
        arrays[key] = arr / arr.max()
        affine = np.asarray(img.affine, dtype=float)
    assert affine is not None
    return arrays["gm"], arrays["wm"], arrays["t1"] > 0.2, affine


def tissue_fractions(gm: np.ndarray, wm: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSF/GM/WM fractions summing to 1 in the brain mask and 0 outside."""
    gm = np.clip(gm, 0.0, 1.0) * mask
    wm = np.clip(wm, 0.0, 1.0) * mask
    total = gm + wm
    over = total > 1.0
    gm = np.where(over, gm / np.maximum(total, 1e-6), gm)
    wm = np.where(over, wm / np.maximum(total, 1e-6), wm)
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0) * mask
    return csf.astype(np.float32), gm.astype(np.float32), wm.astype(np.float32)


def _resample_to_grid(volume: np.ndarray, start: np.ndarray, step: float, shape: tuple[int, ...]) -> np.ndarray:
    """Sample a 1 mm volume on a coarser axis-aligned grid, low-passed to avoid aliasing."""
    if step > 1.0:
        # Gaussian whose FWHM matches the new voxel, minus the 1 mm already there.
        sigma = np.sqrt(step**2 - 1.0) / 2.355
        volume = ndimage.gaussian_filter(volume, sigma=sigma, mode="constant")
    axes = [start[i] + step * np.arange(shape[i]) for i in range(3)]
    coords = np.meshgrid(*axes, indexing="ij")
    return ndimage.map_coordinates(volume, coords, order=1, mode="constant", cval=0.0, prefilter=False).astype(
        np.float32
    )


def build_template_anatomy(
    gm_1mm: np.ndarray, wm_1mm: np.ndarray, mask_1mm: np.ndarray, affine_1mm: np.ndarray, spacing_mm: float
) -> TemplateAnatomy:
    """Crop the 1 mm template to the brain, resample to ``spacing_mm`` and derive region maps."""
    csf1, gm1, wm1 = tissue_fractions(gm_1mm, wm_1mm, mask_1mm)
    idx = np.argwhere(mask_1mm)
    margin = 6.0 + 2 * spacing_mm
    lo = idx.min(axis=0) - margin
    hi = idx.max(axis=0) + margin
    shape = tuple(int(np.ceil((hi[i] - lo[i]) / spacing_mm)) + 1 for i in range(3))
    # Crop before filtering (half the voxels of the full template); keep a blur-wide border.
    c0 = np.maximum(np.floor(lo - 3 * spacing_mm).astype(int), 0)
    c1 = np.minimum(np.ceil(hi + 3 * spacing_mm).astype(int) + 1, mask_1mm.shape)
    crop = tuple(slice(c0[i], c1[i]) for i in range(3))
    csf, gm, wm = (_resample_to_grid(t[crop], lo - c0, spacing_mm, shape) for t in (csf1, gm1, wm1))
    brain = (csf + gm + wm) > 0.5
    total = np.maximum(csf + gm + wm, 1e-6)
    # Renormalise so the blurred fractions still sum to 1 inside the brain.
    csf, gm, wm = (np.where(brain, t / total, 0.0).astype(np.float32) for t in (csf, gm, wm))
    affine = np.asarray(affine_1mm, dtype=float) @ np.array(
        [[spacing_mm, 0, 0, lo[0]], [0, spacing_mm, 0, lo[1]], [0, 0, spacing_mm, lo[2]], [0, 0, 0, 1.0]]
    )
    sampling = (spacing_mm,) * 3
    depth = ndimage.distance_transform_edt(brain, sampling=sampling)
    # Ventricles: CSF deep inside the brain (sulcal CSF lies near the surface).
    vent = (csf > 0.5) & (depth > 12.0)
    labels, n = ndimage.label(vent)
    if n:
        sizes = ndimage.sum_labels(vent, labels, index=np.arange(1, n + 1)) * spacing_mm**3
        vent = np.isin(labels, 1 + np.flatnonzero(sizes >= 500.0))
    vent_dist = ndimage.distance_transform_edt(~vent, sampling=sampling).astype(np.float32)
    gm_dist = ndimage.distance_transform_edt(gm < 0.5, sampling=sampling)
    _ii, jj, kk = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    y_mm = affine[1, 1] * jj + affine[1, 3]
    z_mm = affine[2, 2] * kk + affine[2, 3]
    infra = (z_mm < -20.0) | ((z_mm < -8.0) & (y_mm < -55.0))
    region_masks = {
        "periventricular": (wm > 0.5) & (vent_dist <= 6.0) & (vent_dist > 0) & ~infra,
        "deep": (wm > 0.7) & (vent_dist > 6.0) & (gm_dist > 4.0) & ~infra,
        "juxtacortical": (wm > 0.35) & (gm_dist <= 3.5) & (vent_dist > 10.0) & ~infra,
        "infratentorial": (wm > 0.5) & infra,
    }
    candidates = {name: np.flatnonzero(m) for name, m in region_masks.items()}
    return TemplateAnatomy(
        affine=affine,
        spacing_mm=float(spacing_mm),
        csf=csf,
        gm=gm,
        wm=wm,
        brain=brain,
        ventricles=vent,
        ventricle_distance_mm=vent_dist,
        outside_distance_mm=ndimage.distance_transform_edt(~brain, sampling=sampling).astype(np.float32),
        candidates=candidates,
    )


@functools.lru_cache(maxsize=2)
def load_template_anatomy(spacing_mm: float) -> TemplateAnatomy:
    """The nilearn MNI152 2009 template on a ``spacing_mm`` grid (cached per process)."""
    gm, wm, mask, affine = _load_mni_1mm()
    return build_template_anatomy(gm, wm, mask, affine, spacing_mm)


_ARRAYS = ("affine", "csf", "gm", "wm", "brain", "ventricles", "ventricle_distance_mm", "outside_distance_mm")


def save_template_anatomy(anatomy: TemplateAnatomy, path: str | Path) -> None:
    """Write ``anatomy`` as an uncompressed ``.npz`` (building it costs 3 s per case at 1.5 mm,
    10 s at 1 mm; a workflow builds it once and every case job reads it back in a fraction of that)."""
    arrays = {name: getattr(anatomy, name) for name in _ARRAYS}
    arrays.update({f"candidates_{region}": idx for region, idx in anatomy.candidates.items()})
    with open(path, "wb") as handle:  # a file handle: np.savez would append .npz to the name
        np.savez(handle, spacing_mm=np.float64(anatomy.spacing_mm), **arrays)


def read_template_anatomy(path: str | Path, spacing_mm: float) -> TemplateAnatomy:
    """The anatomy written by :func:`save_template_anatomy`, checked to be on ``spacing_mm``."""
    with np.load(path) as data:
        saved = float(data["spacing_mm"])
        if not np.isclose(saved, spacing_mm):
            raise ValueError(f"{path}: template anatomy is on a {saved:g} mm grid, this preset needs {spacing_mm:g} mm")
        arrays = {name: data[name] for name in _ARRAYS}
        candidates = {region: data[f"candidates_{region}"] for region in LESION_REGIONS}
    return TemplateAnatomy(spacing_mm=saved, candidates=candidates, **arrays)


@dataclass(frozen=True)
class DisplacementField:
    """Dense displacement ``u`` (mm, MNI axes) on a grid: a point ``x`` maps to ``x + u(x)``."""

    field: np.ndarray  # (X, Y, Z, 3) float32
    affine: np.ndarray  # grid voxel -> mm

    def apply(self, points_mm: np.ndarray) -> np.ndarray:
        """Map points of shape (3, N); outside the grid the edge displacement is used."""
        inv = np.linalg.inv(self.affine)
        vox = inv[:3, :3] @ points_mm + inv[:3, 3:4]
        out = np.empty_like(points_mm)
        for c in range(3):
            out[c] = points_mm[c] + ndimage.map_coordinates(
                self.field[..., c], vox, order=1, mode="nearest", prefilter=False
            )
        return out


def smooth_random_velocity(
    shape: tuple[int, int, int], spacing_mm: float, amplitude_mm: float, smoothness_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Gaussian-smoothed white noise, scaled so each component has SD ``amplitude_mm``."""
    noise = rng.standard_normal((3, *shape))
    field = np.stack(
        [ndimage.gaussian_filter(noise[c], sigma=smoothness_mm / spacing_mm, mode="reflect") for c in range(3)], axis=-1
    )
    sd = field.reshape(-1, 3).std(axis=0)
    return (field * (amplitude_mm / np.maximum(sd, 1e-12))).astype(np.float64)


def exponentiate(velocity: np.ndarray, spacing_mm: float, squarings: int = 6) -> np.ndarray:
    """Displacement of ``exp(v)`` by scaling and squaring on an isotropic grid (mm in, mm out)."""
    disp = velocity / 2.0**squarings
    grid = np.indices(velocity.shape[:3], dtype=np.float64)
    for _ in range(squarings):
        vox = grid + np.moveaxis(disp, -1, 0) / spacing_mm
        warped = np.stack(
            [ndimage.map_coordinates(disp[..., c], vox, order=1, mode="nearest", prefilter=False) for c in range(3)],
            axis=-1,
        )
        disp = disp + warped
    return disp


def min_jacobian(displacement: np.ndarray, spacing_mm: float) -> float:
    """Smallest Jacobian determinant of ``x -> x + u(x)`` (positive for a diffeomorphism)."""
    grads = np.stack([np.stack(np.gradient(displacement[..., c], spacing_mm), axis=-1) for c in range(3)], axis=-2)
    jac = grads + np.eye(3)
    return float(np.linalg.det(jac).min())


def _max_near_brain(displacement: np.ndarray, affine: np.ndarray, anatomy: TemplateAnatomy, within_mm: float) -> float:
    """Largest displacement at warp-grid points within ``within_mm`` of the template brain.

    Only there does the displacement decide whether a raw voxel sees brain; the far field
    (which can be larger) is irrelevant and would only inflate the sampling support.
    """
    pts = np.indices(displacement.shape[:3]).reshape(3, -1).astype(float)
    mm = affine[:3, :3] @ pts + affine[:3, 3:4]
    inv = np.linalg.inv(anatomy.affine)
    vox = np.rint(inv[:3, :3] @ mm + inv[:3, 3:4]).astype(int)
    ok = np.all((vox >= 0) & (vox < np.array(anatomy.shape)[:, None]), axis=0)
    near = np.zeros(pts.shape[1], dtype=bool)
    near[ok] = anatomy.outside_distance_mm[vox[0, ok], vox[1, ok], vox[2, ok]] <= within_mm
    norms = np.linalg.norm(displacement.reshape(-1, 3), axis=1)
    return float(norms[near].max()) if near.any() else float(norms.max())


@dataclass(frozen=True)
class SubjectWarp:
    """``to_template`` maps subject points to template points; ``to_subject`` is its inverse."""

    to_template: DisplacementField
    to_subject: DisplacementField
    ventricle_scale: float
    min_jacobian: float
    max_displacement_mm: float


def random_subject_warp(
    anatomy: TemplateAnatomy,
    rng: np.random.Generator,
    amplitude_mm: float,
    ventricle_enlargement: float,
    grid_mm: float = 4.0,
    smoothness_mm: float = 14.0,
) -> SubjectWarp:
    """A smooth random diffeomorphism, optionally enlarging the ventricles.

    ``ventricle_enlargement`` (0 = none, ~0.3 = strong) scales a velocity pointing towards the
    ventricle centre inside a Gaussian envelope: subject points are pulled from nearer the
    centre of the template, so the subject's ventricles (and periventricular anatomy) grow.
    """
    lo_mm, hi_mm = anatomy.brain_extent_mm()
    lo_mm = lo_mm - 20.0
    hi_mm = hi_mm + 20.0
    shape = tuple(int(np.ceil((hi_mm[i] - lo_mm[i]) / grid_mm)) + 1 for i in range(3))
    affine = np.array([[grid_mm, 0, 0, lo_mm[0]], [0, grid_mm, 0, lo_mm[1]], [0, 0, grid_mm, lo_mm[2]], [0, 0, 0, 1.0]])
    velocity = smooth_random_velocity(shape, grid_mm, amplitude_mm, smoothness_mm, rng)  # type: ignore[arg-type]
    if ventricle_enlargement > 0 and anatomy.ventricles.any():
        vent_idx = np.argwhere(anatomy.ventricles).mean(axis=0)
        centre = (anatomy.affine @ np.append(vent_idx, 1.0))[:3]
        pts = np.stack(np.meshgrid(*[lo_mm[i] + grid_mm * np.arange(shape[i]) for i in range(3)], indexing="ij"), -1)
        rel = pts - centre
        # Ventricles are long front-to-back: an anisotropic envelope (mm) that covers them.
        envelope = np.exp(-0.5 * np.sum((rel / np.array([18.0, 35.0, 20.0])) ** 2, axis=-1))
        velocity = velocity - ventricle_enlargement * rel * envelope[..., None]
    forward = exponentiate(velocity, grid_mm)
    inverse = exponentiate(-velocity, grid_mm)
    return SubjectWarp(
        to_template=DisplacementField(forward.astype(np.float32), affine),
        to_subject=DisplacementField(inverse.astype(np.float32), affine),
        ventricle_scale=float(ventricle_enlargement),
        min_jacobian=min_jacobian(forward, grid_mm),
        max_displacement_mm=_max_near_brain(forward, affine, anatomy, 25.0),
    )
