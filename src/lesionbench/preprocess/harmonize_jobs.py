"""One job of the harmonization stage, from its input files to its output files.

Each function here is what one workflow rule does (the rule's script only hands it the rule's
files and parameters): the Nyul scale fitted on the training split (:func:`fit_nyul_files`), a
case in every harmonization scheme (:func:`harmonize_case_files`) and the between-center NAWM
distances before and after each scheme (:func:`harmonization_qc_files`). The science is in
:mod:`.harmonize` and :mod:`.quality`; nothing here loads ANTs or ITK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import Volume, check_same_grid, load_mask, load_volume, save_volume
from .harmonize import NyulScale, fit_nyul, harmonize


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
    files: Mapping[str, Mapping[str, Any]],
    modalities: Sequence[str],
    schemes: Sequence[str],
    wm_threshold: float,
    max_voxels: int,
    seed: int,
    table_path: str | Path,
    figure_path: str | Path,
) -> pd.DataFrame:
    """Between-center 1-Wasserstein distance of NAWM intensities before and after each scheme.

    ``centers`` maps each case to its center; ``files[case]`` names the case's ``flair``,
    ``brain_mask`` and ``prior_wm`` files and, under ``images[space][modality]``, each modality
    before harmonization (space ``before``) and after each scheme (space = the scheme). Per case, at most ``max_voxels`` NAWM voxels are drawn (a fresh generator
    seeded with ``seed``), the same voxels in every intensity space so the schemes are compared on
    equal terms. Writes :func:`.quality.harmonization_table` to ``table_path`` and the
    distributions' figure to ``figure_path``.
    """
    from .figures import plot_nawm_distributions
    from .quality import harmonization_table, nawm_mask, subsample

    samples: dict[tuple[str, str], dict[str, np.ndarray]] = {}  # (space, modality) -> {case: values}
    scales: dict[tuple[str, str], dict[str, float]] = {}  # (space, modality) -> {case: brain SD}
    for case in centers:
        case_files = files[case]
        flair = load_volume(case_files["flair"], case=case)
        brain = load_mask(case_files["brain_mask"], case=case, reference=flair).data
        wm = load_volume(case_files["prior_wm"], case=case).data
        nawm = nawm_mask(wm, brain, threshold=wm_threshold)
        rng = np.random.default_rng(seed)
        idx = subsample(np.flatnonzero(nawm), max_voxels, rng)
        for modality in modalities:
            for space in ("before", *schemes):
                data = load_volume(case_files["images"][space][modality], case=case).data
                samples.setdefault((space, modality), {})[case] = data.ravel()[idx]
                scales.setdefault((space, modality), {})[case] = float(data[brain].std())
    table = harmonization_table(samples, scales, centers, schemes, modalities)
    table.to_csv(table_path, sep="\t", index=False, float_format="%.6g")
    plot_nawm_distributions(samples, centers, list(schemes), list(modalities), figure_path)
    return table
