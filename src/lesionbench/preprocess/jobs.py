"""One job of the preprocessing stage, from its input files to its output files.

Each function here is what one workflow rule does (the rule's script only hands it the rule's
files and parameters): optional denoising of a case (:func:`denoise_case_files`) and a case
through :mod:`.pipeline` (:func:`preprocess_case_files`); the harmonization jobs, which need no
ANTs, are :mod:`.harmonize_jobs`. The science is in the sibling modules. ITK reads its thread count when first loaded, so the jobs
that use ANTs set it (:func:`.registration.configure_itk`) before anything loads ITK: this module
and the ones it imports at the top do not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import load_mask, load_volume, save_volume
from .pipeline import PreprocessSettings, preprocess_case, qc_rows, write_preprocessed
from .registration import RegistrationError, configure_itk

#: QC measures whose flag means the registration failed (the others only inform).
REGISTRATION_MEASURES: tuple[str, ...] = ("nmi", "registration_error", "rotation")


def denoise_case_files(
    case: str,
    images: Mapping[str, str | Path],
    out_dir: str | Path,
    *,
    patch_radius: int,
    search_radius: int,
    threads: int = 1,
) -> None:
    """NL-means denoise each image (modality -> file) into ``out_dir/{modality}.nii.gz`` (float32)."""
    configure_itk(threads)
    from .bias import nlmeans_denoise

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for modality, path in images.items():
        vol = load_volume(path, case=case)
        data = nlmeans_denoise(vol.data, vol.affine, patch_radius=patch_radius, search_radius=search_radius)
        save_volume(out / f"{modality}.nii.gz", data, vol.affine, dtype=np.float32)


def read_truth_poses(path: str | Path) -> dict[str, np.ndarray]:
    """The synthetic cohort's true subject-to-scanner pose of each image (its ``truth_transforms`` file)."""
    spec = json.loads(Path(path).read_text())
    return {m: np.asarray(v["pose_subject_to_scanner"], float) for m, v in spec["images"].items()}


def preprocess_case_files(
    case: str,
    sources: Mapping[str, str | Path],
    out_dir: str | Path,
    *,
    qc_path: str | Path,
    settings: PreprocessSettings,
    columns: Mapping[str, str] | None = None,
    truth: Mapping[str, str | Path] | None = None,
    threads: int = 1,
    stop_on_failure: bool = True,
) -> pd.DataFrame:
    """One case from its raw (or denoised) images to its preprocessed folder and QC table.

    ``sources`` maps each modality to its image. Sets ITK's thread count and ANTs' seed
    (``settings.seed``) first, then writes :func:`.pipeline.write_preprocessed`'s files into
    ``out_dir``, the ANTs transforms into ``out_dir/transforms``, and the
    :func:`.pipeline.qc_rows` to ``qc_path`` with ``columns`` (e.g. the case's center and split)
    inserted after ``case_id``. On the synthetic cohort ``truth`` holds the generator's
    ``truth_brain`` mask and ``truth_transforms`` (poses) files, and the QC rows measure against
    them. A flagged registration measure raises :class:`.registration.RegistrationError` naming
    the modality's file when ``stop_on_failure``; otherwise it stays flagged in the table.
    """
    configure_itk(threads, seed=settings.seed)
    truth = truth or {}
    images = {m: load_volume(p, case=case) for m, p in sources.items()}
    transforms_dir = Path(out_dir) / "transforms"
    transforms_dir.mkdir(parents=True, exist_ok=True)
    result = preprocess_case(images, case=case, transforms_dir=transforms_dir, settings=settings)
    write_preprocessed(result, out_dir)
    brain = (
        load_mask(truth["truth_brain"], case=case, reference=images["flair"]).data if "truth_brain" in truth else None
    )
    poses = read_truth_poses(truth["truth_transforms"]) if "truth_transforms" in truth else None
    rows = pd.DataFrame(qc_rows(result, images, settings, truth_brain=brain, truth_poses=poses))
    for position, (column, value) in enumerate((columns or {}).items(), start=1):
        rows.insert(position, column, value)
    rows.to_csv(qc_path, sep="\t", index=False, float_format="%.6g")
    failed = rows[rows["flagged"] & rows["measure"].str.startswith(REGISTRATION_MEASURES)]
    if len(failed) and stop_on_failure:
        first = failed.iloc[0]
        raise RegistrationError(
            f"registration QC failed: {first['measure']} = {first['value']:.4g} for {first['modality']} "
            "(set on_failure.registration: flag to keep going)",
            case=case,
            path=str(sources.get(first["modality"], "")),
        )
    return rows
