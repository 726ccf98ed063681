"""Report figures of the preprocessing stage (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .spatial import reorient_canonical  # nibabel + scipy, no ANTs


def _axial(data: np.ndarray, affine: np.ndarray, z: int | None = None) -> tuple[np.ndarray, int]:
    # Display in RAS so every case reads the same way whatever its acquisition orientation.
    ras, _ = reorient_canonical(data, affine)
    if z is None:
        z = ras.shape[2] // 2
    return np.rot90(ras[:, :, z]), z


def plot_overlays(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    out_png: str | Path,
    second_label: str = "T1",
) -> None:
    """One row per case: FLAIR + brain-mask contour; co-registered image with FLAIR edges; checkerboard."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(panels), 1)
    fig, axes = plt.subplots(n, 3, figsize=(9, 3 * n), squeeze=False)
    for row, (case, flair, second, brain, affine) in enumerate(panels):
        ras_brain, _ = reorient_canonical(brain.astype(np.uint8), affine)
        z = int(np.argwhere(ras_brain).mean(axis=0)[2]) if ras_brain.any() else None
        f, z = _axial(flair, affine, z)
        s, _ = _axial(second, affine, z)
        b, _ = _axial(brain.astype(np.float32), affine, z)

        def norm(img: np.ndarray) -> np.ndarray:
            lo, hi = np.percentile(img[b > 0], [1, 99]) if (b > 0).any() else (img.min(), img.max())  # noqa: B023
            return np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1)

        fn, sn = norm(f), norm(s)
        axes[row, 0].imshow(fn, cmap="gray")
        axes[row, 0].contour(b, levels=[0.5], colors="r", linewidths=0.8)
        axes[row, 0].set_title(f"{case}: FLAIR + brain mask", fontsize=8)
        axes[row, 1].imshow(sn, cmap="gray")
        edges = np.hypot(*np.gradient(fn))
        axes[row, 1].contour(
            edges, levels=[np.percentile(edges[b > 0], 90) if (b > 0).any() else 0.5], colors="c", linewidths=0.5
        )
        axes[row, 1].set_title(f"{second_label} on FLAIR grid + FLAIR edges", fontsize=8)
        tiles = (np.indices(fn.shape) // 8).sum(axis=0) % 2 == 0
        axes[row, 2].imshow(np.where(tiles, fn, sn), cmap="gray")
        axes[row, 2].set_title(f"checkerboard FLAIR / {second_label}", fontsize=8)
        for ax in axes[row]:
            ax.axis("off")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def plot_nawm_distributions(
    samples: Mapping[tuple[str, str], Mapping[str, np.ndarray]],
    centers: Mapping[str, str],
    schemes: Sequence[str],
    modalities: Sequence[str],
    out_png: str | Path,
) -> None:
    """Rows: before + each scheme; columns: modalities; one NAWM intensity density per center."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spaces = ["before", *schemes]
    fig, axes = plt.subplots(
        len(spaces), len(modalities), figsize=(3.2 * len(modalities), 2.4 * len(spaces)), squeeze=False
    )
    colors = dict(zip(sorted(set(centers.values())), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for i, space in enumerate(spaces):
        for j, modality in enumerate(modalities):
            ax = axes[i, j]
            by_center: dict[str, list[np.ndarray]] = {}
            for case, values in samples[(space, modality)].items():
                by_center.setdefault(centers[case], []).append(values)
            pooled = np.concatenate([np.concatenate(v) for v in by_center.values()])
            lo, hi = np.percentile(pooled, [0.5, 99.5])
            for center, center_values in sorted(by_center.items()):
                ax.hist(
                    np.concatenate(center_values),
                    bins=60,
                    range=(lo, hi),
                    density=True,
                    histtype="step",
                    color=colors[center],
                    label=f"center {center}",
                )
            ax.set_title(f"{modality}: {space}", fontsize=8)
            ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6)
    fig.suptitle("Normal-appearing WM intensities per center", fontsize=9)
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
