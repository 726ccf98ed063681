"""One case through preprocessing, as the MS-SEG 2016 organizers prepared their data (and more).

Order (organizers' ``animaMSExamPreparationMSSEG2016.py``, docs/data-and-preprocessing.md
section 2, with template brain extraction instead of volBrain): every modality is rigidly
aligned to the FLAIR, whose grid is kept exactly as acquired (rater masks live there); the MNI
template is registered to the subject (T1 when present) and its brain mask and tissue priors are
propagated; N4 then runs inside that brain mask. Denoising, when enabled, happens before (its own
workflow rule); intensity harmonization after (:mod:`lesionbench.preprocess.harmonize`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .. import DEFAULT_SEED
from ..errors import InputError
from ..io import Volume, save_volume
from ..metrics.overlap import dice
from .bias import n4_correct
from .quality import normalized_mutual_information, transform_error_mm, true_fixed_to_moving
from .registration import (
    RegistrationError,
    RigidResult,
    TemplateRegistration,
    estimate_rigid,
    mni_template,
    register_template,
    warp_template_to_subject,
)
from .spatial import as_float32, resample_rigid, world_points

PRIORS: tuple[str, ...] = ("wm", "gm", "csf")


class MissingModalityError(InputError):
    kind = "missing_modality"


def require_modalities(
    available: Sequence[str], required: Sequence[str], *, case: str, who: str = "preprocessing"
) -> None:
    """Raise :class:`MissingModalityError` naming the case and the modalities it lacks."""
    missing = [m for m in required if m not in available]
    if missing:
        have = ", ".join(sorted(available)) or "none"
        raise MissingModalityError(
            f"{who} needs modality {', '.join(missing)}, which this case lacks (it has {have})", case=case
        )


@dataclass(frozen=True)
class PreprocessSettings:
    registration_mm: float = 3.0
    template_mm: float = 3.0
    rigid_iterations: tuple[int, ...] = (1000, 500, 250)
    syn_iterations: tuple[int, ...] = (40, 20, 0)
    seed: int | None = DEFAULT_SEED
    n4_shrink_factor: int = 4
    n4_iterations: tuple[int, ...] = (50, 50, 50, 50)
    brain_threshold: float = 0.5
    brain_dilation_mm: float = 0.0
    max_rotation_deg: float = 20.0
    min_nmi: float = 1.02

    @classmethod
    def from_config(cls, opts: Mapping[str, Any], *, seed: int | None) -> PreprocessSettings:
        """Settings from the ``preprocess:`` config section (unknown keys are ignored)."""
        return cls(
            registration_mm=float(opts["registration_mm"]),
            template_mm=float(opts["template_mm"]),
            rigid_iterations=tuple(int(i) for i in opts["rigid_iterations"]),
            syn_iterations=tuple(int(i) for i in opts["syn_iterations"]),
            seed=None if seed is None else int(seed),
            n4_shrink_factor=int(opts["n4_shrink_factor"]),
            n4_iterations=tuple(int(i) for i in opts["n4_iterations"]),
            brain_threshold=float(opts["brain_threshold"]),
            brain_dilation_mm=float(opts["brain_dilation_mm"]),
            max_rotation_deg=float(opts["max_rotation_deg"]),
            min_nmi=float(opts["min_nmi"]),
        )


@dataclass
class PreprocessedCase:
    case: str
    flair_affine: np.ndarray
    images: dict[str, np.ndarray]
    brain_mask: np.ndarray
    priors: dict[str, np.ndarray]
    rigid: dict[str, RigidResult]
    template: TemplateRegistration
    timings: dict[str, float] = field(default_factory=dict)


def _clean_mask(mask: np.ndarray, spacing: Sequence[float], dilation_mm: float) -> np.ndarray:
    """Largest connected component, holes filled, optionally dilated by ``dilation_mm``."""
    labels, n = ndimage.label(mask)
    if n > 1:
        sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
        mask = labels == 1 + int(np.argmax(sizes))
    mask = ndimage.binary_fill_holes(mask)
    if dilation_mm > 0:
        dist = ndimage.distance_transform_edt(~mask, sampling=spacing)
        mask = dist <= dilation_mm
    return np.asarray(mask, dtype=bool)


def check_rigid(result: RigidResult, settings: PreprocessSettings, *, case: str, path: str | None) -> None:
    """Stop at rotations no head motion between two series of one session produces.

    (Translations are not checked: they include the scanners' table/origin offsets.)
    """
    if result.rotation_deg > settings.max_rotation_deg:
        raise RegistrationError(
            f"rigid registration to FLAIR rotated by {result.rotation_deg:.1f} deg (limit {settings.max_rotation_deg:g}); "
            "it probably failed",
            case=case,
            path=path,
        )


def register_rigid(
    fixed: np.ndarray,
    fixed_affine: np.ndarray,
    moving: Volume,
    *,
    outprefix: str | Path,
    settings: PreprocessSettings,
    case: str,
) -> RigidResult:
    """:func:`.registration.estimate_rigid` of ``moving`` onto ``fixed`` with the preprocessing's
    settings (resolution, iterations, seed), then :func:`check_rigid` on the result."""
    result = estimate_rigid(
        fixed,
        fixed_affine,
        moving.data,
        moving.affine,
        outprefix=outprefix,
        work_mm=settings.registration_mm,
        seed=settings.seed,
        iterations=settings.rigid_iterations,
        case=case,
        moving_path=moving.path,
    )
    check_rigid(result, settings, case=case, path=moving.path)
    return result


def preprocess_case(
    images: Mapping[str, Volume],
    *,
    case: str,
    transforms_dir: str | Path,
    settings: PreprocessSettings = PreprocessSettings(),
) -> PreprocessedCase:
    """Co-register, brain-extract and N4-correct one case; see the module docstring."""
    require_modalities(list(images), ["flair"], case=case)
    transforms_dir = Path(transforms_dir)
    timings: dict[str, float] = {}
    flair = images["flair"]
    shape, affine = flair.shape, np.asarray(flair.affine, float)
    on_flair: dict[str, np.ndarray] = {"flair": as_float32(flair.data)}
    rigid: dict[str, RigidResult] = {}

    start = time.perf_counter()
    by_grid: dict[tuple[tuple[int, ...], bytes], RigidResult] = {}
    for modality, vol in images.items():
        if modality == "flair":
            continue
        # Series on one grid (dual-echo T2/PD) were acquired together: one registration serves both.
        grid_key = (vol.shape, np.round(np.asarray(vol.affine, float), 4).tobytes())
        if grid_key in by_grid:
            shared = by_grid[grid_key]
            copy = transforms_dir / f"{modality}_to_flair_0GenericAffine.mat"
            shutil.copyfile(shared.transform_file, copy)
            rigid[modality] = RigidResult(fixed_to_moving=shared.fixed_to_moving, transform_file=str(copy))
            on_flair[modality] = resample_rigid(vol.data, vol.affine, shared.fixed_to_moving, shape, affine, order=1)
            continue
        result = register_rigid(
            flair.data, affine, vol, outprefix=transforms_dir / f"{modality}_to_flair_", settings=settings, case=case
        )
        rigid[modality] = by_grid[grid_key] = result
        on_flair[modality] = resample_rigid(vol.data, vol.affine, result.fixed_to_moving, shape, affine, order=1)
    timings["coregistration"] = time.perf_counter() - start

    start = time.perf_counter()
    anchor = "t1" if "t1" in on_flair else "flair"
    template = register_template(
        on_flair[anchor],
        affine,
        outprefix=transforms_dir / "template_",
        work_mm=settings.template_mm,
        seed=settings.seed,
        syn_iterations=settings.syn_iterations,
        case=case,
        subject_path=images[anchor].path,
    )
    timings["template_registration"] = time.perf_counter() - start

    start = time.perf_counter()
    maps = mni_template()
    warped_mask = warp_template_to_subject(*maps["brain_mask"], template, shape, affine)
    brain = _clean_mask(warped_mask >= settings.brain_threshold, flair.spacing, settings.brain_dilation_mm)
    if brain.sum() < 100:
        raise RegistrationError(
            "the propagated brain mask is (almost) empty: template registration failed", case=case, path=flair.path
        )
    priors = {t: np.clip(warp_template_to_subject(*maps[t], template, shape, affine), 0.0, 1.0) * brain for t in PRIORS}
    timings["brain_extraction"] = time.perf_counter() - start

    start = time.perf_counter()
    corrected = {}
    for modality, data in on_flair.items():
        inside = brain & (data > 0)
        corrected[modality] = n4_correct(
            data, inside, flair.spacing, shrink_factor=settings.n4_shrink_factor, iterations=settings.n4_iterations
        ).corrected
    timings["bias_correction"] = time.perf_counter() - start
    return PreprocessedCase(
        case=case,
        flair_affine=affine,
        images=corrected,
        brain_mask=brain,
        priors={t: priors[t].astype(np.float32) for t in PRIORS},
        rigid=rigid,
        template=template,
        timings=timings,
    )


def write_preprocessed(result: PreprocessedCase, out_dir: str | Path) -> dict[str, Path]:
    """Write ``{modality}.nii.gz`` (float32), ``brain_mask.nii.gz`` (uint8), ``prior_*.nii.gz`` and rigid matrices."""
    out_dir = Path(out_dir)
    paths: dict[str, Path] = {}
    for modality, data in result.images.items():
        paths[modality] = out_dir / f"{modality}.nii.gz"
        save_volume(paths[modality], data, result.flair_affine, dtype=np.float32)
    paths["brain_mask"] = out_dir / "brain_mask.nii.gz"
    save_volume(paths["brain_mask"], result.brain_mask, result.flair_affine, dtype=np.uint8)
    for tissue, data in result.priors.items():
        paths[f"prior_{tissue}"] = out_dir / f"prior_{tissue}.nii.gz"
        save_volume(paths[f"prior_{tissue}"], data, result.flair_affine, dtype=np.float32)
    tdir = out_dir / "transforms"
    tdir.mkdir(parents=True, exist_ok=True)
    for modality, rig in result.rigid.items():
        np.savetxt(
            tdir / f"flair_to_{modality}_ras.txt",
            rig.fixed_to_moving,
            fmt="%.9f",
            header=f"RAS world matrix: FLAIR point -> {modality} point (pull-back); ANTs file {Path(rig.transform_file).name}",
        )
    return paths


def qc_rows(
    result: PreprocessedCase,
    raw: Mapping[str, Volume],
    settings: PreprocessSettings,
    *,
    truth_brain: np.ndarray | None = None,
    truth_poses: Mapping[str, np.ndarray] | None = None,
) -> list[dict[str, object]]:
    """Per-case QC measures as long rows (case_id, modality, measure, value, flagged)."""
    rows: list[dict[str, object]] = []
    case = result.case
    brain = result.brain_mask
    flair = result.images["flair"]
    shape, affine = flair.shape, result.flair_affine

    def add(modality: str, measure: str, value: float, flagged: bool = False) -> None:
        rows.append(
            {"case_id": case, "modality": modality, "measure": measure, "value": float(value), "flagged": bool(flagged)}
        )

    points = world_points(shape, affine, brain, step=3)
    for modality, rig in result.rigid.items():
        vol = raw[modality]
        # "Before" = the scanner headers' own alignment (identity world transform).
        before = resample_rigid(vol.data, vol.affine, np.eye(4), shape, affine, order=1)
        after = result.images[modality]
        nmi_before = normalized_mutual_information(flair, before, brain)
        nmi_after = normalized_mutual_information(flair, after, brain)
        add(modality, "nmi_before", nmi_before)
        add(modality, "nmi_after", nmi_after, nmi_after < settings.min_nmi or nmi_after < nmi_before - 0.01)
        add(modality, "rotation_deg", rig.rotation_deg, rig.rotation_deg > settings.max_rotation_deg)
        if truth_poses is not None and modality in truth_poses and "flair" in truth_poses:
            true = true_fixed_to_moving(truth_poses["flair"], truth_poses[modality])
            mean_err, max_err = transform_error_mm(rig.fixed_to_moving, true, points)
            voxel = float(min(vol.spacing))
            add(modality, "registration_error_mean_mm", mean_err, mean_err > voxel)
            add(modality, "registration_error_max_mm", max_err)
    voxel_ml = float(abs(np.linalg.det(affine[:3, :3]))) / 1000.0
    add("flair", "brain_volume_ml", float(brain.sum()) * voxel_ml)
    if truth_brain is not None:
        d = dice(brain, truth_brain)
        add("flair", "brain_mask_dice", d, d < 0.95)
    for stage, seconds in result.timings.items():
        add("all", f"time_{stage}_s", seconds)
    return rows
