"""Lesion-wise detection: the MS-SEG 2016 (Anima) rule and a one-to-one matched variant.

Lesions are 6-connected components (:mod:`lesionbench.metrics.sparse`). Components smaller than
the minimum volume are removed on both sides and become background for everything below.

**MS-SEG 2016 rule** (Commowick et al., Sci. Rep. 8:13650, 2018; Anima
``animaSegPerfCAnalyzer.cxx``). With the overlap table
O[i][j] (i: reference lesion, j: predicted lesion, 0: background), a reference lesion R_i is
detected iff

* (α) the fraction of R_i covered by kept predicted lesions, TP_i / |R_i|, is > α, and
* (β, γ) walking the predicted lesions overlapping R_i by decreasing overlap, with cumulative
  share c = Σ O[i][j] / TP_i, every lesion visited while c < γ has at most a fraction β of its
  volume in reference background (outside *all* kept reference lesions).

A predicted lesion is a true positive by the same test with the roles swapped. SensL = detected
reference lesions / N_R, PPVL = true-positive predicted lesions / N_S, F1 = their harmonic mean.
This is not a one-to-one matching: one predicted lesion may detect several reference lesions.
Ties in overlap (which Anima leaves to ``std::sort``) are broken here by lesion number, i.e. by
raster order of the lesion's first voxel.

**Matched variant** (one-to-one): candidate pairs are (reference, predicted) lesions with positive
overlap and lesion Dice 2·O[i][j] / (|R_i| + |S_j|) > ``match_threshold`` (default 0.1, panoptica's
``binaryMS`` configuration, Kofler et al., arXiv 2312.02608). Pairs are accepted greedily in
decreasing Dice (ties: lower reference, then lower predicted number) when neither lesion is matched
yet. Matched pairs are TP, unmatched reference lesions FN, unmatched predicted lesions FP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def min_lesion_voxels(min_volume_mm3: float, voxel_volume_mm3: float) -> int:
    """Smallest kept lesion size in voxels, as Anima: floor(V_min / v) + 1 (keeps n·v > V_min)."""
    return int(math.floor(min_volume_mm3 / voxel_volume_mm3)) + 1


def keep_map(component_sizes: np.ndarray, n_min: int) -> np.ndarray:
    """Map old component number -> new number (1..n_kept, raster order kept) or 0 when removed."""
    keep = component_sizes >= n_min
    keep[0] = False
    new = np.zeros(component_sizes.size, dtype=np.int64)
    new[keep] = np.arange(1, int(keep.sum()) + 1)
    return new


@dataclass(frozen=True)
class OverlapTable:
    """Sparse overlap table between kept lesions.

    ``ref_sizes[i-1]`` = |R_i|, ``pred_sizes[j-1]`` = |S_j| (voxels); the pairs (``pair_ref``,
    ``pair_pred``, ``pair_overlap``) list every O[i][j] > 0 with i, j >= 1, sorted by i then j.
    """

    ref_sizes: np.ndarray
    pred_sizes: np.ndarray
    pair_ref: np.ndarray
    pair_pred: np.ndarray
    pair_overlap: np.ndarray

    @property
    def n_ref(self) -> int:
        return int(self.ref_sizes.size)

    @property
    def n_pred(self) -> int:
        return int(self.pred_sizes.size)


def overlap_table(
    ref_labels_at_overlap: np.ndarray, pred_labels_at_overlap: np.ndarray, ref_sizes: np.ndarray, pred_sizes: np.ndarray
) -> OverlapTable:
    """Build the table from the kept labels of the voxels that are foreground in both masks."""
    both = (ref_labels_at_overlap > 0) & (pred_labels_at_overlap > 0)
    n_cols = pred_sizes.size + 1
    keys = ref_labels_at_overlap[both].astype(np.int64) * n_cols + pred_labels_at_overlap[both]
    uniq, counts = np.unique(keys, return_counts=True)
    return OverlapTable(
        ref_sizes=np.asarray(ref_sizes, dtype=np.int64),
        pred_sizes=np.asarray(pred_sizes, dtype=np.int64),
        pair_ref=(uniq // n_cols).astype(np.int64),
        pair_pred=(uniq % n_cols).astype(np.int64),
        pair_overlap=counts.astype(np.int64),
    )


def _detected(
    row: np.ndarray,
    col: np.ndarray,
    overlap: np.ndarray,
    row_sizes: np.ndarray,
    col_sizes: np.ndarray,
    alpha: float,
    beta: float,
    gamma: float,
) -> np.ndarray:
    """Anima's detection test for every lesion on the "row" side against the "column" side.

    ``row``/``col``/``overlap`` list the positive overlaps; sizes are indexed by lesion number - 1.
    """
    n_rows = row_sizes.size
    covered = np.bincount(row - 1, weights=overlap, minlength=n_rows).astype(np.int64)
    col_covered = np.bincount(col - 1, weights=overlap, minlength=col_sizes.size).astype(np.int64)
    # fraction of each column lesion lying outside every kept row lesion: O[0][j] / |S_j|
    col_outside = (col_sizes - col_covered) / np.maximum(col_sizes, 1)
    detected = np.zeros(n_rows, dtype=bool)
    # walk order: by row, then decreasing overlap, then column number
    order = np.lexsort((col, -overlap, row))
    row_s, col_s, ov_s = row[order], col[order], overlap[order]
    starts = np.searchsorted(row_s, np.arange(1, n_rows + 1), side="left")
    ends = np.searchsorted(row_s, np.arange(1, n_rows + 1), side="right")
    # one Python step per lesion pair (tens to hundreds), never per voxel
    for i in range(n_rows):
        tp_i = int(covered[i])
        if not tp_i / row_sizes[i] > alpha:
            continue
        share = 0.0
        ok = True
        for k in range(starts[i], ends[i]):
            if not share < gamma:
                break
            if col_outside[col_s[k] - 1] > beta:
                ok = False
                break
            share += float(ov_s[k]) / tp_i
        detected[i] = ok
    return detected


@dataclass(frozen=True)
class AnimaDetection:
    reference_detected: np.ndarray  # per reference lesion (index = number - 1)
    prediction_true_positive: np.ndarray  # per predicted lesion


def anima_detection(
    table: OverlapTable, *, alpha: float = 0.10, beta: float = 0.70, gamma: float = 0.65
) -> AnimaDetection:
    """The MS-SEG 2016 detection test on both sides (see the module docstring)."""
    ref_det = _detected(
        table.pair_ref, table.pair_pred, table.pair_overlap, table.ref_sizes, table.pred_sizes, alpha, beta, gamma
    )
    pred_det = _detected(
        table.pair_pred, table.pair_ref, table.pair_overlap, table.pred_sizes, table.ref_sizes, alpha, beta, gamma
    )
    return AnimaDetection(reference_detected=ref_det, prediction_true_positive=pred_det)


@dataclass(frozen=True)
class LesionMatching:
    """One-to-one matching: ``ref`` and ``pred`` numbers of matched pairs, their overlap and Dice."""

    ref: np.ndarray
    pred: np.ndarray
    overlap: np.ndarray
    dice: np.ndarray
    n_ref: int
    n_pred: int

    @property
    def tp(self) -> int:
        return int(self.ref.size)

    @property
    def fn(self) -> int:
        return self.n_ref - self.tp

    @property
    def fp(self) -> int:
        return self.n_pred - self.tp


def greedy_match(table: OverlapTable, *, threshold: float = 0.1) -> LesionMatching:
    """Greedy one-to-one matching by lesion Dice (> ``threshold``; see the module docstring)."""
    ov = table.pair_overlap
    dice = 2.0 * ov / (table.ref_sizes[table.pair_ref - 1] + table.pred_sizes[table.pair_pred - 1])
    order = np.lexsort((table.pair_pred, table.pair_ref, -dice))
    ref_used = np.zeros(table.n_ref + 1, dtype=bool)
    pred_used = np.zeros(table.n_pred + 1, dtype=bool)
    chosen: list[int] = []
    for k in order:
        if not dice[k] > threshold:
            break  # sorted by decreasing Dice: nothing later passes
        i, j = table.pair_ref[k], table.pair_pred[k]
        if ref_used[i] or pred_used[j]:
            continue
        ref_used[i] = pred_used[j] = True
        chosen.append(int(k))
    idx = np.asarray(chosen, dtype=np.int64)
    idx = idx[np.argsort(table.pair_ref[idx], kind="stable")]
    return LesionMatching(
        ref=table.pair_ref[idx],
        pred=table.pair_pred[idx],
        overlap=ov[idx],
        dice=dice[idx],
        n_ref=table.n_ref,
        n_pred=table.n_pred,
    )
