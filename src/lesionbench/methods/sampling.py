"""Training-voxel sampling of the voxel-classifier methods: class-balanced draws inside the brain."""

from __future__ import annotations

import numpy as np


def balanced_voxel_sample(
    label: np.ndarray,
    mask: np.ndarray,
    n_per_class: int,
    rng: np.random.Generator,
    background_ratio: float = 1.0,
) -> np.ndarray:
    """Flat indices of up to ``n_per_class`` lesion voxels and ``background_ratio`` times as many
    non-lesion voxels inside ``mask``, drawn without replacement (class-balanced sampling, as in
    voxel-classifier MS baselines, e.g. Geremia et al., NeuroImage 57:378, 2011)."""
    label = np.asarray(label, dtype=bool).ravel()
    inside = np.asarray(mask, dtype=bool).ravel()
    lesion = np.flatnonzero(label & inside)
    background = np.flatnonzero(~label & inside)
    n_lesion = min(n_per_class, lesion.size)
    n_background = min(int(round(max(n_lesion, 1) * background_ratio)), background.size)
    picked = [
        rng.choice(lesion, size=n_lesion, replace=False) if n_lesion else np.empty(0, dtype=np.int64),
        rng.choice(background, size=n_background, replace=False) if n_background else np.empty(0, dtype=np.int64),
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)
