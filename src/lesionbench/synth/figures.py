"""Overview figure of a synthetic cohort: one case per center, every raw modality, rater outlines
over FLAIR and per-center intensity histograms, so a reader sees how the centers differ.

Reads only the raw images and rater masks (never ``truth/``). Images are shown in the closest
canonical (RAS) orientation; the other modalities show the axial slice nearest in scanner
coordinates to the FLAIR slice, which, as in raw data, is not exactly the same anatomy.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from ..io import load_volume
from .plan import SYNTH_MODALITIES, CasePlan

_LABELS = {"flair": "FLAIR", "t1": "T1", "t2": "T2", "pd": "PD"}
_CENTER_COLORS = {"01": "#1f77b4", "03": "#d62728", "07": "#2ca02c", "08": "#9467bd"}


def _canonical(path: Path, case: str) -> tuple[np.ndarray, np.ndarray]:
    vol = load_volume(path, case=case)
    img = nib.as_closest_canonical(nib.Nifti1Image(vol.data, vol.affine))
    return np.asarray(img.dataobj, dtype=np.float32), np.asarray(img.affine)


def _display_range(data: np.ndarray) -> tuple[float, float]:
    values = data[data > 0]
    if values.size == 0:
        return 0.0, 1.0
    return float(np.percentile(values, 1.0)), float(np.percentile(values, 99.5))


def _foreground(data: np.ndarray) -> np.ndarray:
    """Voxels above a tenth of the 99th percentile: tissue, not the air around the head."""
    values = data[data > 0]
    if values.size == 0:
        return values
    return values[values > 0.1 * np.percentile(values, 99.0)]


def plot_cohort_overview(cases: list[tuple[CasePlan, dict[str, Path]]], out_png: Path) -> None:
    """One row per center (its first case in ``cases``), columns FLAIR, T1, T2, PD, FLAIR + raters;
    a last row of per-modality histograms of log10 raw intensity, one curve per center."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen: dict[str, tuple[CasePlan, dict[str, Path]]] = {}
    for plan, files in cases:
        chosen.setdefault(plan.center, (plan, files))
    if not chosen:
        raise ValueError("no cases to plot")
    centers = sorted(chosen)
    n_cols = len(SYNTH_MODALITIES) + 1
    fig, axes = plt.subplots(len(centers) + 1, n_cols, figsize=(3.0 * n_cols, 3.0 * (len(centers) + 1)), squeeze=False)
    histograms: dict[str, dict[str, np.ndarray]] = {m: {} for m in SYNTH_MODALITIES}
    rater_colors = plt.get_cmap("tab10")
    for row, center in enumerate(centers):
        plan, files = chosen[center]
        flair, flair_affine = _canonical(Path(files["flair"]), plan.case_id)
        raters = sorted((k for k in files if k.startswith("rater")), key=lambda k: int(k[5:]))
        rater_masks = [(_canonical(Path(files[k]), plan.case_id)[0] > 0.5) for k in raters]
        union = np.any(rater_masks, axis=0) if rater_masks else np.zeros(flair.shape, bool)
        per_slice = union.sum(axis=(0, 1))
        k_flair = int(np.argmax(per_slice)) if per_slice.max() > 0 else flair.shape[2] // 2
        centre_vox = np.array([flair.shape[0] / 2.0, flair.shape[1] / 2.0, k_flair, 1.0])
        centre_world = flair_affine @ centre_vox
        for col, modality in enumerate(SYNTH_MODALITIES):
            ax = axes[row, col]
            if modality == "flair":
                data, k = flair, k_flair
            else:
                data, affine = _canonical(Path(files[modality]), plan.case_id)
                k = int(np.clip(np.rint((np.linalg.inv(affine) @ centre_world)[2]), 0, data.shape[2] - 1))
            histograms[modality][center] = _foreground(data)
            lo, hi = _display_range(data)
            ax.imshow(data[:, :, k].T, origin="lower", cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(_LABELS[modality])
            if col == 0:
                ax.set_ylabel(f"center {center}\n{plan.scanner} {plan.field_strength:g} T\n{plan.case_id}", fontsize=8)
        ax = axes[row, n_cols - 1]
        lo, hi = _display_range(flair)
        ax.imshow(flair[:, :, k_flair].T, origin="lower", cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        for i, mask in enumerate(rater_masks):
            sl = mask[:, :, k_flair].T.astype(float)
            if sl.any():
                ax.contour(sl, levels=[0.5], colors=[rater_colors(i % 10)], linewidths=0.7)
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title(f"FLAIR + {len(rater_masks)} raters")
    for col, modality in enumerate(SYNTH_MODALITIES):
        ax = axes[len(centers), col]
        for center in centers:
            values = histograms[modality].get(center)
            if values is None or values.size == 0:
                continue
            # Histogram of log10 intensity: vendors' scales differ by orders of magnitude.
            ax.hist(
                np.log10(values),
                bins=60,
                density=True,
                histtype="step",
                color=_CENTER_COLORS.get(center),
                label=f"center {center}",
            )
        ax.set_yticks([])
        ax.set_xlabel(f"log10 raw {_LABELS[modality]} intensity")
        if col == 0:
            ax.legend(fontsize=7)
    axes[len(centers), n_cols - 1].axis("off")
    fig.suptitle("Synthetic MS-SEG 2016-style cohort: raw data per center")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
