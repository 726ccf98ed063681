"""One job of the preprocessing stage, from its input files to its output files.

Each function here is what one workflow rule does (the rule's script only hands it the rule's
files and parameters): optional denoising of a case (:func:`denoise_case_files`), a case through
:mod:`.pipeline` (:func:`preprocess_case_files`), the Nyul scale fitted on the training split
(:func:`fit_nyul_files`), a case in every harmonization scheme (:func:`harmonize_case_files`) and
the between-center NAWM distances before and after each scheme (:func:`harmonization_qc_files`).
The science is in the sibling modules. ITK reads its thread count when first loaded, so the jobs
that use ANTs set it (:func:`.registration.configure_itk`) before anything loads ITK: this module
and the ones it imports at the top do not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import Volume, check_same_grid, load_mask, load_volume, save_volume
from .harmonize import NyulScale, fit_nyul, harmonize
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


def fit_nyul_files(
    modality: str,
    cases: Sequence[str],
    images: Sequence[str | Path],
    masks: Sequence[str | Path],
    out_path: str | Path,
    *,
    percentiles: Sequence[float],
    scale_range: Sequence[float],
) -> NyulScale:
    """Fit the Nyul standard scale of ``modality`` on the training cases' images and brain masks."""
    arrays, brains = [], []
    for case, image, mask in zip(cases, images, masks):
        vol = load_volume(image, case=case)
        arrays.append(vol.data)
        brains.append(load_mask(mask, case=case, reference=vol).data)
    low, high = scale_range
    scale = fit_nyul(arrays, brains, modality=modality, percentiles=percentiles, scale_range=(low, high), cases=cases)
    scale.to_json(out_path)
    return scale


def read_images_and_mask(
    images: Mapping[str, str | Path], brain_mask: str | Path, case: str
) -> tuple[dict[str, Volume], np.ndarray]:
    """Each image (modality -> file) read once, the brain mask checked against every one of them."""
    volumes = {m: load_volume(p, case=case) for m, p in images.items()}
    first, *others = volumes.values()
    mask = load_mask(brain_mask, case=case, reference=first)
    for vol in others:
        check_same_grid(mask, vol, what="mask is not on the reference image grid", case=case)
    return volumes, mask.data


def harmonize_case_files(
    case: str,
    images: Mapping[str, str | Path],
    brain_mask: str | Path,
    outputs: Mapping[tuple[str, str], str | Path],
    *,
    whitestripe_width: float = 0.05,
    nyul_scales: Mapping[str, str | Path] | None = None,
    reference: tuple[str, Mapping[str, str | Path], str | Path] | None = None,
) -> None:
    """Write each ``outputs[(scheme, modality)]``: the case's image of that modality harmonized by
    that scheme (float32), schemes in the order given.

    ``nyul_scales`` (modality -> fitted scale file) is needed for ``nyul``; ``reference`` (case,
    its images, its brain mask) for ``histmatch``.
    """
    volumes, mask = read_images_and_mask(images, brain_mask, case)
    if reference is not None:
        ref_case, ref_images, ref_mask_path = reference
        ref_volumes, ref_mask = read_images_and_mask(ref_images, ref_mask_path, ref_case)
    for (scheme, modality), path in outputs.items():
        vol = volumes[modality]
        scale = NyulScale.from_json(nyul_scales[modality]) if scheme == "nyul" and nyul_scales is not None else None
        ref = (ref_volumes[modality].data, ref_mask) if scheme == "histmatch" and reference is not None else None
        data = harmonize(
            scheme,
            vol.data,
            mask,
            modality=modality,
            nyul_scale=scale,
            reference=ref,
            whitestripe_width=whitestripe_width,
            case=case,
        )
        save_volume(path, data, vol.affine, dtype=np.float32)


def harmonization_qc_files(
    centers: Mapping[str, str],
    *,
    preprocessed: str,
    harmonized: str,
    modalities: Sequence[str],
    schemes: Sequence[str],
    wm_threshold: float,
    max_voxels: int,
    seed: int,
    table_path: str | Path,
    figure_path: str | Path,
) -> pd.DataFrame:
    """Between-center 1-Wasserstein distance of NAWM intensities before and after each scheme.

    ``centers`` maps each case to its center. ``preprocessed`` is the pattern of a case's
    preprocessed folder (``{case}``: its ``flair``, ``brain_mask``, ``prior_wm`` and modality
    images) and ``harmonized`` that of a harmonized image (``{scheme}``, ``{case}``,
    ``{modality}``). Per case, at most ``max_voxels`` NAWM voxels are drawn (a fresh generator
    seeded with ``seed``), the same voxels in every intensity space so the schemes are compared on
    equal terms. Writes :func:`.quality.harmonization_table` to ``table_path`` and the
    distributions' figure to ``figure_path``.
    """
    from .figures import plot_nawm_distributions
    from .quality import harmonization_table, nawm_mask, subsample

    samples: dict[tuple[str, str], dict[str, np.ndarray]] = {}  # (space, modality) -> {case: values}
    scales: dict[tuple[str, str], dict[str, float]] = {}  # (space, modality) -> {case: brain SD}
    for case in centers:
        pre = preprocessed.format(case=case)
        flair = load_volume(f"{pre}/flair.nii.gz", case=case)
        brain = load_mask(f"{pre}/brain_mask.nii.gz", case=case, reference=flair).data
        wm = load_volume(f"{pre}/prior_wm.nii.gz", case=case).data
        nawm = nawm_mask(wm, brain, threshold=wm_threshold)
        rng = np.random.default_rng(seed)
        idx = subsample(np.flatnonzero(nawm), max_voxels, rng)
        for modality in modalities:
            spaces = {"before": f"{pre}/{modality}.nii.gz"}
            spaces.update({s: harmonized.format(scheme=s, case=case, modality=modality) for s in schemes})
            for space, path in spaces.items():
                data = load_volume(path, case=case).data
                samples.setdefault((space, modality), {})[case] = data.ravel()[idx]
                scales.setdefault((space, modality), {})[case] = float(data[brain].std())
    table = harmonization_table(samples, scales, centers, schemes, modalities)
    table.to_csv(table_path, sep="\t", index=False, float_format="%.6g")
    plot_nawm_distributions(samples, centers, list(schemes), list(modalities), figure_path)
    return table
