"""Rigid intra-subject co-registration and template (MNI) registration with ANTsPy.

* Intra-subject: each modality is aligned rigidly to the case's FLAIR (the MS-SEG 2016 reference
  space: Commowick et al., Sci Rep 8:13650, 2018; organizers' Anima scripts register T1 -> FLAIR
  rigidly). The rigid transform is estimated on anti-aliased copies at ``work_mm`` (2-3 mm;
  Dice of WM 0.909 vs 0.910 for a full 1 mm registration, docs/data-and-preprocessing.md
  section 2) and applied once at full resolution.
* Template: the nilearn MNI152 2009 T1 (skull-stripped) is registered to the subject with an
  affine + SyN stage (Avants et al., MedIA 12:26, 2008) at ``work_mm``; its brain mask and
  GM/WM/CSF priors are propagated to the FLAIR grid, and the transform files are kept so that
  FLAIR-grid masks can be taken to template space (population lesion-frequency maps).

Reproducibility: ANTs draws random metric samples; with one ITK thread and a fixed
``--random-seed`` its output is bit-identical (measured, same doc section 2.1). The thread count
is read by ITK when first loaded, so callers set ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS`` before
importing ants/SimpleITK; the seed is passed per call here.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from ..errors import InputError
from .itk_bridge import affine_of_ants, downsample, to_ants
from .spatial import itk_affine_to_matrix


def configure_itk(threads: int, *, deterministic: bool = False, seed: int | None = None) -> None:
    """Set ITK's thread count (one when ``deterministic``) and ANTs' random seed for this process.

    ITK reads them when it is first loaded: call this before anything imports ants or SimpleITK.
    """
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(1 if deterministic else max(1, int(threads)))
    if seed is not None:
        os.environ["ANTS_RANDOM_SEED"] = str(seed)


class RegistrationError(InputError):
    """A registration that failed or produced an implausible transform."""

    kind = "registration_failed"


@contextlib.contextmanager
def _ants_seed(seed: int | None) -> Iterator[None]:
    # ants.registration reads the module-level seed to add --random-seed; there is no argument for it.
    import ants

    previous = ants.config._random_seed
    ants.config._random_seed = None if seed is None else int(seed)
    try:
        yield
    finally:
        ants.config._random_seed = previous


@dataclass(frozen=True)
class RigidResult:
    """``fixed_to_moving``: 4x4 RAS world matrix (fixed point -> moving point); ``transform_file``: ANTs .mat."""

    fixed_to_moving: np.ndarray
    transform_file: str

    @property
    def rotation_deg(self) -> float:
        """Rotation angle of the transform (degrees)."""
        cos = (np.trace(self.fixed_to_moving[:3, :3]) - 1.0) / 2.0
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def estimate_rigid(
    fixed: np.ndarray,
    fixed_affine: np.ndarray,
    moving: np.ndarray,
    moving_affine: np.ndarray,
    *,
    outprefix: str | Path,
    work_mm: float = 3.0,
    seed: int | None = 2016,
    iterations: Sequence[int] = (1000, 500, 250),
    case: str | None = None,
    moving_path: str | None = None,
) -> RigidResult:
    """Rigid transform aligning ``moving`` to ``fixed``, estimated at ``work_mm`` with Mattes MI.

    Initialised by matching intensity centres of mass (ANTs ``[fixed,moving,1]``), so poses that
    differ by centimetres are recovered. Raises :class:`RegistrationError` (naming ``case`` and
    ``moving_path``) when ANTs fails or returns a non-rigid or non-finite matrix.
    """
    import ants

    fixed_small = downsample(to_ants(fixed, fixed_affine), work_mm)
    moving_small = downsample(to_ants(moving, moving_affine), work_mm)
    Path(outprefix).parent.mkdir(parents=True, exist_ok=True)
    levels = len(iterations)
    shrink = tuple(2 ** (levels - 1 - i) for i in range(levels))
    try:
        with _ants_seed(seed):
            reg = ants.registration(
                fixed_small,
                moving_small,
                type_of_transform="Rigid",
                outprefix=str(outprefix),
                aff_iterations=tuple(int(i) for i in iterations),
                aff_shrink_factors=shrink,
                aff_smoothing_sigmas=tuple(float(s - 1) for s in shrink),
            )
    except (RuntimeError, ValueError, OSError) as exc:
        raise RegistrationError(
            f"rigid registration to FLAIR failed ({type(exc).__name__}: {exc})", case=case, path=moving_path
        ) from exc
    mat_file = reg["fwdtransforms"][0]
    tx = ants.read_transform(mat_file)
    matrix = itk_affine_to_matrix(tx.parameters, tx.fixed_parameters)
    linear = matrix[:3, :3]
    if not np.all(np.isfinite(matrix)) or not np.allclose(linear @ linear.T, np.eye(3), atol=1e-3):
        raise RegistrationError(
            "rigid registration returned a non-rigid or non-finite transform", case=case, path=moving_path
        )
    return RigidResult(fixed_to_moving=matrix, transform_file=str(mat_file))


@functools.lru_cache(maxsize=1)
def mni_template() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """nilearn's MNI152 2009 1 mm T1, brain mask and GM/WM/CSF probabilities, as (array, RAS affine).

    Read from nilearn's bundled files with nibabel (importing nilearn costs seconds per
    process); scaled as ``nilearn.datasets.load_mni152_*`` (divided by the maximum), the mask as
    ``load_mni152_brain_mask`` (T1 > 0.2). CSF = mask - GM - WM clipped to [0, 1] (no CSF map ships).
    """
    import importlib.util

    import nibabel as nib

    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nilearn is required: it ships the MNI152 template used for brain extraction")
    data_dir = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key in ("t1", "gm", "wm"):
        img = cast(nib.Nifti1Image, nib.load(str(data_dir / f"mni_icbm152_{key}_tal_nlin_sym_09a_converted.nii.gz")))
        arr = np.asarray(img.dataobj, dtype=np.float32)
        out[key] = (arr / arr.max(), np.asarray(img.affine, dtype=float))
    affine = out["t1"][1]
    mask = (out["t1"][0] > 0.2).astype(np.float32)
    gm = np.clip(out["gm"][0], 0, 1) * mask
    wm = np.clip(out["wm"][0], 0, 1) * mask
    total = gm + wm
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-6), 1.0)
    gm, wm = gm * scale, wm * scale
    out["gm"] = (gm.astype(np.float32), affine)
    out["wm"] = (wm.astype(np.float32), affine)
    out["csf"] = (np.clip(mask - gm - wm, 0.0, 1.0).astype(np.float32), affine)
    out["brain_mask"] = (mask, affine)
    return out


@dataclass(frozen=True)
class TemplateRegistration:
    """ANTs transform files between the template and one subject grid.

    ``template_to_subject`` takes template images onto the subject grid (apply in list order);
    ``subject_to_template`` with ``subject_to_template_invert`` takes subject images to the template.
    """

    template_to_subject: tuple[str, ...]
    subject_to_template: tuple[str, ...]
    subject_to_template_invert: tuple[bool, ...]


def register_template(
    subject: np.ndarray,
    subject_affine: np.ndarray,
    *,
    outprefix: str | Path,
    work_mm: float = 2.5,
    seed: int | None = 2016,
    syn_iterations: Sequence[int] = (40, 20, 0),
    subject_mask: np.ndarray | None = None,
    case: str | None = None,
    subject_path: str | None = None,
) -> TemplateRegistration:
    """Affine + SyN registration of the MNI T1 template (moving) to a subject image (fixed) at ``work_mm``.

    The subject image should be T1-weighted when available (same contrast as the template);
    Mattes MI makes other contrasts usable. Transform files are written with ``outprefix``.
    """
    import ants

    template, template_affine = mni_template()["t1"]
    fixed = downsample(to_ants(subject, subject_affine), work_mm)
    moving = downsample(to_ants(template, template_affine), work_mm)
    Path(outprefix).parent.mkdir(parents=True, exist_ok=True)
    kwargs = {}
    if subject_mask is not None:
        mask_img = to_ants(subject_mask.astype(np.float32), subject_affine)
        kwargs["mask"] = ants.resample_image_to_target(mask_img, fixed, interp_type="nearestNeighbor")
    try:
        with _ants_seed(seed):
            reg = ants.registration(
                fixed,
                moving,
                type_of_transform="SyN",
                outprefix=str(outprefix),
                reg_iterations=tuple(int(i) for i in syn_iterations),
                aff_iterations=(1000, 500, 250, 0),
                aff_shrink_factors=(4, 2, 1, 1),
                aff_smoothing_sigmas=(2, 1, 0, 0),
                **kwargs,
            )
    except (RuntimeError, ValueError, OSError) as exc:
        raise RegistrationError(
            f"template registration failed ({type(exc).__name__}: {exc})", case=case, path=subject_path
        ) from exc
    fwd = tuple(str(p) for p in reg["fwdtransforms"])
    inv = tuple(str(p) for p in reg["invtransforms"])
    # ANTs lists the affine first for the inverse direction; it must be inverted, the inverse warp not.
    invert = tuple(p.endswith(".mat") for p in inv)
    return TemplateRegistration(template_to_subject=fwd, subject_to_template=inv, subject_to_template_invert=invert)


def warp_template_to_subject(
    template_image: np.ndarray,
    template_affine: np.ndarray,
    registration: TemplateRegistration,
    subject_shape: Sequence[int],
    subject_affine: np.ndarray,
    interpolator: str = "linear",
) -> np.ndarray:
    """A template-space image on the subject grid."""
    import ants

    fixed = to_ants(np.zeros(tuple(int(n) for n in subject_shape), np.float32), subject_affine)
    out = ants.apply_transforms(
        fixed=fixed,
        moving=to_ants(template_image, template_affine),
        transformlist=list(registration.template_to_subject),
        interpolator=interpolator,
    )
    return out.numpy().astype(np.float32)


def subject_to_template(
    image: np.ndarray,
    affine: np.ndarray,
    registration: TemplateRegistration,
    *,
    interpolator: str = "linear",
    template_shape: Sequence[int] | None = None,
    template_affine: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A subject (FLAIR-grid) image or mask resampled onto the template grid (default: MNI 1 mm).

    For a binary mask use ``interpolator="linear"`` and read the output as a lesion fraction
    (or threshold it at 0.5): it keeps partial volumes that nearest-neighbour would drop.
    """
    import ants

    if template_shape is None or template_affine is None:
        t1, t1_affine = mni_template()["t1"]
        template_shape, template_affine = t1.shape, t1_affine
    fixed = to_ants(np.zeros(tuple(int(n) for n in template_shape), np.float32), template_affine)
    out = ants.apply_transforms(
        fixed=fixed,
        moving=to_ants(np.asarray(image, np.float32), affine),
        transformlist=list(registration.subject_to_template),
        whichtoinvert=list(registration.subject_to_template_invert),
        interpolator=interpolator,
    )
    return out.numpy().astype(np.float32), affine_of_ants(fixed)


def template_registration_from_folder(folder: str | Path, prefix: str = "template_") -> TemplateRegistration:
    """The :class:`TemplateRegistration` written by :func:`register_template` with ``outprefix=folder/prefix``."""
    folder = Path(folder)
    affine = folder / f"{prefix}0GenericAffine.mat"
    warp = folder / f"{prefix}1Warp.nii.gz"
    inverse = folder / f"{prefix}1InverseWarp.nii.gz"
    for path in (affine, warp, inverse):
        if not path.exists():
            raise RegistrationError("template transform file is missing (run preprocessing first)", path=path)
    return TemplateRegistration(
        template_to_subject=(str(warp), str(affine)),
        subject_to_template=(str(affine), str(inverse)),
        subject_to_template_invert=(True, False),
    )
