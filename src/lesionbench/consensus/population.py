"""Population lesion-frequency map: how often each template voxel is lesion across the cohort.

Lesion masks are taken to the MNI template space by preprocessing (the inverse of the
template-to-subject registration); the frequency map is their voxel-wise mean. MS lesions
cluster around the lateral ventricles and in the centrum semiovale, so the map is also a
sanity check of the registrations and, on the synthetic cohort, of the lesion generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import GridMismatchError


def frequency_map(masks: Sequence[np.ndarray], threshold: float = 0.5) -> np.ndarray:
    """Voxel-wise fraction of masks that mark the voxel (float32, same grid as the masks).

    Masks taken to the template with linear interpolation hold lesion *fractions*; a voxel
    counts as lesion where the fraction is ``>= threshold`` (boolean masks count as given).
    """
    if not masks:
        raise ValueError("a lesion-frequency map needs at least one mask")
    shape = np.shape(masks[0])
    total = np.zeros(shape, dtype=np.float32)
    for index, mask in enumerate(masks):
        if np.shape(mask) != shape:
            raise GridMismatchError(f"template-space mask {index} has shape {np.shape(mask)}, expected {shape}")
        total += np.asarray(mask, dtype=np.float32) >= threshold
    return total / np.float32(len(masks))


def plot_frequency_map(
    frequency: np.ndarray, affine: np.ndarray, out_png: str | Path, *, n_cases: int, title: str
) -> None:
    """Axial slices of the frequency map over the MNI152 template (nilearn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nibabel as nib
    from nilearn import datasets, plotting

    image = nib.Nifti1Image(np.asarray(frequency, dtype=np.float32), affine)
    figure = plt.figure(figsize=(12, 3.6))
    vmax = max(float(np.max(frequency)), 1.0 / max(n_cases, 1))
    display = plotting.plot_stat_map(
        image,
        bg_img=datasets.load_mni152_template(resolution=1),
        display_mode="z",
        cut_coords=(-10, 0, 10, 20, 30, 40),
        threshold=0.5 / max(n_cases, 1),
        vmax=vmax,
        cmap="hot",
        colorbar=True,
        figure=figure,
        title=f"{title} ({n_cases} cases): fraction of cases with a lesion",
        symmetric_cbar=False,
    )
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    display.savefig(str(out_png), dpi=110)
    display.close()
    plt.close(figure)


def frequency_map_files(
    masks: Mapping[str, str | Path],
    transforms: Sequence[str | Path],
    *,
    map_path: str | Path,
    figure_path: str | Path,
    title: str,
    threads: int = 1,
) -> np.ndarray:
    """The population lesion-frequency map in template (MNI) space from the cases' masks.

    ``masks`` maps each case to its FLAIR-grid mask; ``transforms`` are the cases' preprocessing
    transform folders, in the same order. Each mask is taken to the template by linear
    interpolation (a lesion fraction, counted from 0.5). Writes the map (float32 NIfTI) and its
    figure. Sets ITK's thread count before ANTs is loaded (in this one job: per case it is a
    second of work, while a job per case would pay the ANTs import every time).
    """
    from ..preprocess.registration import configure_itk

    configure_itk(threads)
    import nibabel as nib

    from ..io import load_mask
    from ..preprocess.registration import subject_to_template, template_registration_from_folder

    fractions: list[np.ndarray] = []
    affine = np.eye(4)
    for (case, mask_path), folder in zip(masks.items(), transforms):
        mask = load_mask(mask_path, case=case, policy="nonzero")
        registration = template_registration_from_folder(folder)
        fraction, affine = subject_to_template(
            mask.data.astype(np.float32), mask.affine, registration, interpolator="linear"
        )
        fractions.append(fraction)
    freq = frequency_map(fractions, threshold=0.5)
    nib.save(nib.Nifti1Image(freq.astype(np.float32), affine), map_path)
    plot_frequency_map(freq, affine, figure_path, n_cases=len(fractions), title=title)
    return freq
