"""The baseline visit of a two-visit case brought onto the follow-up visit's grid (new-lesion track).

MSSEG-2 scores new lesions on the follow-up visit's grid, where the raters' masks lie. When a
cohort delivers each visit in its own acquisition geometry, the baseline FLAIR is registered
rigidly onto the follow-up FLAIR with the intra-subject rigid registration of preprocessing
(:func:`.pipeline.register_rigid`: ANTs, Mattes MI, one thread and a fixed seed when the
caller asks for them) and the baseline's images (FLAIR, and T1 when given, through the same
world transform: a session's series share the scanner's frame up to head motion, which the
visit's own preprocessing then corrects) are resampled once, linearly, onto the follow-up grid.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import Volume, load_volume, save_volume
from .pipeline import PreprocessSettings, register_rigid, require_modalities
from .quality import normalized_mutual_information
from .registration import configure_itk
from .spatial import resample_rigid


@dataclass(frozen=True)
class VisitCoregistration:
    """The baseline's images on the follow-up grid (``affine``) and a record for QC:
    ``followup_to_baseline`` (4x4 RAS world matrix, follow-up point -> baseline point), rotation
    (degrees), displacement of the follow-up grid's centre (mm), and the normalized mutual
    information of the two FLAIRs inside the follow-up's head before (the scanners' headers'
    alignment) and after registration."""

    images: dict[str, np.ndarray]
    affine: np.ndarray
    record: dict[str, object]


def _head_mask(flair: np.ndarray) -> np.ndarray:
    """Voxels above a tenth of the 99th intensity percentile: the head, without the background."""
    values = np.asarray(flair, float)
    return values > 0.1 * float(np.percentile(values, 99))


def coregister_visits(
    baseline: Mapping[str, Volume],
    followup_flair: Volume,
    *,
    case: str,
    settings: PreprocessSettings = PreprocessSettings(),
    workdir: str | Path | None = None,
) -> VisitCoregistration:
    """Rigidly register ``baseline["flair"]`` onto ``followup_flair`` and resample every baseline
    image onto the follow-up grid (linear interpolation, zero outside the field of view).

    ``settings`` supplies the registration's resolution, iterations, seed and rotation limit (a
    larger rotation raises :class:`.registration.RegistrationError` naming the case and the
    baseline FLAIR). ANTs' transform file goes to ``workdir`` (a temporary folder when ``None``).
    """
    require_modalities(list(baseline), ["flair"], case=case, who="co-registration of the visits")
    flair = baseline["flair"]
    shape, affine = followup_flair.shape, np.asarray(followup_flair.affine, float)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(workdir) if workdir is not None else Path(scratch)
        result = register_rigid(
            followup_flair.data, affine, flair, outprefix=folder / "time01_to_time02_", settings=settings, case=case
        )
    images = {
        modality: resample_rigid(vol.data, vol.affine, result.fixed_to_moving, shape, affine, order=1)
        for modality, vol in baseline.items()
    }
    head = _head_mask(followup_flair.data)
    before = resample_rigid(flair.data, flair.affine, np.eye(4), shape, affine, order=1)
    centre = affine @ np.r_[(np.asarray(shape, float) - 1.0) / 2.0, 1.0]
    record: dict[str, object] = {
        "case_id": case,
        "followup_to_baseline": np.round(result.fixed_to_moving, 9).tolist(),
        "rotation_deg": result.rotation_deg,
        "centre_displacement_mm": float(np.linalg.norm((result.fixed_to_moving @ centre - centre)[:3])),
        "nmi_before": normalized_mutual_information(followup_flair.data, before, head),
        "nmi_after": normalized_mutual_information(followup_flair.data, images["flair"], head),
    }
    return VisitCoregistration(images=images, affine=affine, record=record)


def coregister_visit_files(
    case: str,
    baseline: Mapping[str, str | Path],
    followup_flair: str | Path,
    outputs: Mapping[str, str | Path],
    *,
    record_path: str | Path,
    settings: PreprocessSettings,
    threads: int = 1,
) -> dict[str, object]:
    """One workflow job: the baseline images (modality -> file) onto the follow-up FLAIR's grid,
    written to ``outputs`` (modality -> file, float32) with the record as JSON at ``record_path``.
    Sets ITK's thread count and ANTs' seed (``settings.seed``) before ITK is loaded."""
    configure_itk(threads, seed=settings.seed)
    images = {m: load_volume(p, case=case) for m, p in baseline.items()}
    result = coregister_visits(images, load_volume(followup_flair, case=case), case=case, settings=settings)
    for modality, path in outputs.items():
        save_volume(path, result.images[modality], result.affine, dtype=np.float32)
    Path(record_path).write_text(json.dumps(result.record, indent=2) + "\n")
    return result.record
