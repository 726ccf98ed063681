"""Quality measures of preprocessing: registration, brain mask, harmonization.

* Registration without truth: normalized mutual information of the two images inside the brain
  mask, NMI = (H(A) + H(B)) / H(A, B) (Studholme et al., Pattern Recognit 32:71, 1999), from a
  joint histogram; 1 = independent, 2 = one determines the other.
* Registration with truth (synthetic cohort): the displacement between estimated and true
  transform at every brain voxel of the fixed grid (mean and max, mm).
* Brain mask: Dice = 2|A n B| / (|A| + |B|) (:func:`lesionbench.metrics.overlap.dice`).
* Harmonization: the 1-Wasserstein distance between two centers' pooled normal-appearing-WM
  intensity distributions (``scipy.stats.wasserstein_distance``), reported raw and divided by a
  scale of the same intensity space (the mean over cases of the brain-intensity SD), so that
  schemes with different output units are comparable and a global affine intensity change leaves
  it unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def joint_histogram(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, bins: int = 64) -> np.ndarray:
    """Joint histogram (counts) of two images on one grid, over ``mask``, equal-width bins over each range."""
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        a, b = np.asarray(a)[m], np.asarray(b)[m]
    hist, _, _ = np.histogram2d(np.ravel(a), np.ravel(b), bins=bins)
    return hist


def mutual_information(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, bins: int = 64) -> float:
    """Mutual information (nats) from the joint histogram."""
    p = joint_histogram(a, b, mask, bins)
    p = p / p.sum()
    return _entropy(p.sum(axis=1)) + _entropy(p.sum(axis=0)) - _entropy(p.ravel())


def normalized_mutual_information(
    a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, bins: int = 64
) -> float:
    p = joint_histogram(a, b, mask, bins)
    p = p / p.sum()
    joint = _entropy(p.ravel())
    return (_entropy(p.sum(axis=1)) + _entropy(p.sum(axis=0))) / joint if joint > 0 else 2.0


def transform_error_mm(estimated: np.ndarray, true: np.ndarray, points: np.ndarray) -> tuple[float, float]:
    """Mean and max distance (mm) between where two 4x4 world transforms send ``points`` (N, 3)."""
    pts = np.c_[np.asarray(points, dtype=float), np.ones(len(points))]
    diff = pts @ (np.asarray(estimated, float) - np.asarray(true, float)).T
    dist = np.linalg.norm(diff[:, :3], axis=1)
    return float(dist.mean()), float(dist.max())


def true_fixed_to_moving(pose_fixed: np.ndarray, pose_moving: np.ndarray) -> np.ndarray:
    """True world transform fixed -> moving from subject->scanner poses (``y = pose @ x``) of two series."""
    return np.asarray(pose_moving, float) @ np.linalg.inv(np.asarray(pose_fixed, float))


def nawm_mask(
    wm_prior: np.ndarray, brain_mask: np.ndarray, threshold: float = 0.9, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Normal-appearing WM: WM probability >= ``threshold`` in the brain, minus ``exclude`` (lesions, if known)."""
    m = (np.asarray(wm_prior) >= threshold) & np.asarray(brain_mask, dtype=bool)
    if exclude is not None:
        m &= ~np.asarray(exclude, dtype=bool)
    return m


def subsample(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``n`` values drawn without replacement (bounds the W1 cost; deterministic given ``rng``)."""
    values = np.asarray(values)
    if values.size <= n:
        return values
    return values[rng.choice(values.size, size=n, replace=False)]


def center_distances(samples: Mapping[str, Sequence[np.ndarray]], scales: Sequence[float]) -> pd.DataFrame:
    """W1 between the pooled samples of every pair of centers.

    ``samples[center]`` lists per-case NAWM intensity samples; ``scales`` are the per-case
    intensity scales (brain SD) of the same intensity space; their mean divides W1.
    Columns: center_a, center_b, w1, w1_normalized.
    """
    scale = float(np.mean(scales)) if len(scales) else float("nan")
    pooled = {c: np.concatenate([np.ravel(v) for v in vs]) for c, vs in samples.items() if len(vs)}
    rows = []
    for a, b in itertools.combinations(sorted(pooled), 2):
        w1 = float(stats.wasserstein_distance(pooled[a], pooled[b]))
        rows.append(
            {"center_a": a, "center_b": b, "w1": w1, "w1_normalized": w1 / scale if scale > 0 else float("nan")}
        )
    return pd.DataFrame(rows, columns=["center_a", "center_b", "w1", "w1_normalized"])


def harmonization_table(
    samples: Mapping[tuple[str, str], Mapping[str, np.ndarray]],
    scales: Mapping[tuple[str, str], Mapping[str, float]],
    centers: Mapping[str, str],
    schemes: Sequence[str],
    modalities: Sequence[str],
) -> pd.DataFrame:
    """W1 between centers before ("before" space) and after each scheme, per modality.

    ``samples[(space, modality)][case]`` are NAWM intensities of a case in that space,
    ``scales[(space, modality)][case]`` its brain SD, ``centers[case]`` its center. One row per
    modality x scheme x center pair, plus a ``mean`` row per modality x scheme; ``ratio`` =
    normalized W1 after / before (< 0.5: the scheme at least halves the between-center distance).
    """
    rows = []
    for modality in modalities:

        def by_center(space: str) -> tuple[dict[str, list[np.ndarray]], list[float]]:
            grouped: dict[str, list[np.ndarray]] = {}
            for case, values in samples[(space, modality)].items():  # noqa: B023
                grouped.setdefault(centers[case], []).append(values)
            return grouped, list(scales[(space, modality)].values())  # noqa: B023

        before = center_distances(*by_center("before"))
        for scheme in schemes:
            after = center_distances(*by_center(scheme))
            merged = before.merge(after, on=["center_a", "center_b"], suffixes=("_before", "_after"))
            merged.insert(0, "scheme", scheme)
            merged.insert(0, "modality", modality)
            if len(merged):
                mean = merged.drop(columns=["modality", "scheme", "center_a", "center_b"]).mean()
                merged = pd.concat(
                    [
                        merged,
                        pd.DataFrame(
                            [{"modality": modality, "scheme": scheme, "center_a": "mean", "center_b": "mean", **mean}]
                        ),
                    ],
                    ignore_index=True,
                )
            rows.append(merged)
    columns = [
        "modality",
        "scheme",
        "center_a",
        "center_b",
        "w1_before",
        "w1_normalized_before",
        "w1_after",
        "w1_normalized_after",
    ]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    table = table[columns]
    table["ratio"] = table["w1_normalized_after"] / table["w1_normalized_before"]
    return table
