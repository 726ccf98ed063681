"""Shared pieces of the segmentation methods: the per-case arrays a method sees, lesion-size
post-processing, overlap for tuning, and balanced voxel sampling.

Minimum lesion size: connected components (scipy.ndimage.label, 6-connectivity as the MS-SEG 2016
evaluation, Commowick et al. 2018) smaller than ``min_lesion_mm3`` are removed from a prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from scipy import ndimage

P = TypeVar("P")


def params_from_mapping(
    cls: type[P], params: Mapping[str, Any], *, float_tuples: Sequence[str] = (), int_triples: Sequence[str] = ()
) -> P:
    """A method's parameter dataclass from its config ``params``: keys that are not fields of
    ``cls`` are ignored (they belong to other kinds or to the workflow); ``float_tuples`` keys
    become tuples of floats, ``int_triples`` keys tuples of ints (a single number is repeated
    three times, one per axis)."""
    known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}  # type: ignore[attr-defined]
    for key in float_tuples:
        if key in known:
            known[key] = tuple(float(v) for v in known[key])
    for key in int_triples:
        if key in known:
            value = known[key]
            known[key] = tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value] * 3))
    return cls(**known)


@dataclass(frozen=True)
class CaseArrays:
    """What a built-in method sees of one case, all on the case's FLAIR grid.

    ``images`` is (channels, x, y, z) float32 in the order of the method's ``inputs``;
    ``priors`` is (3, x, y, z) (WM, GM, CSF probabilities) or None; ``label`` the training
    reference (bool) or None at inference; ``spacing`` mm per array axis.
    """

    case: str
    images: np.ndarray
    brain_mask: np.ndarray
    spacing: tuple[float, float, float]
    priors: np.ndarray | None = None
    label: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]


def remove_small_lesions(mask: np.ndarray, spacing: Sequence[float], min_lesion_mm3: float) -> np.ndarray:
    """Drop 6-connected components with volume below ``min_lesion_mm3``."""
    mask = np.asarray(mask, dtype=bool)
    if min_lesion_mm3 <= 0 or not mask.any():
        return mask
    labels, n = ndimage.label(mask)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    voxel_mm3 = float(np.prod(spacing))
    keep = sizes * voxel_mm3 >= min_lesion_mm3
    keep[0] = False
    return keep[labels]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks; 1.0 when both are empty (the tuning objective only)."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(a & b)) / total


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
