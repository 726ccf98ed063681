"""Vote patterns: voxels grouped by the R-bit word of the raters' decisions.

With global rater parameters and one prior for the whole region, a voxel's posterior depends only
on its vote pattern, so EM can run on the counts of the (at most ``2**R``) patterns present. This
is exact: every M-step sum over voxels is a sum over patterns weighted by their counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .base import RaterPerformance

#: Up to this many raters, patterns are counted with ``np.bincount`` over ``2**R`` bins;
#: beyond it, with ``np.unique`` (slower, but no table of 2**R entries).
_BINCOUNT_MAX_RATERS = 20
#: Voxels per chunk when encoding patterns (fits in L2 cache with its temporaries).
_CHUNK = 1 << 17


@dataclass(frozen=True)
class _Patterns:
    """The distinct vote patterns inside the mask and how to map per-pattern values back."""

    bits: np.ndarray  # (P, R) bool: decisions of each rater for pattern p
    counts: np.ndarray  # (P,) float64: voxels (inside the mask) with pattern p
    index: np.ndarray  # (N,) intp-compatible: per voxel, row into the look-up table
    table_size: int  # look-up table length (>= P)
    rows: np.ndarray  # (P,) position of each pattern in the look-up table
    mask: np.ndarray | None  # flat mask (N,) or None
    grid: tuple[int, ...]

    def expand(self, per_pattern: np.ndarray) -> np.ndarray:
        """Per-pattern values -> full-grid float64 map (0 outside the mask)."""
        table = np.zeros(self.table_size, dtype=np.float64)
        table[self.rows] = per_pattern
        out = table[self.index]  # one gather over the grid
        if self.mask is not None:
            out[~self.mask] = 0.0
        return out.reshape(self.grid)


def _patterns(votes: np.ndarray | Sequence[np.ndarray], mask: np.ndarray | None) -> _Patterns:
    """Group voxels by vote pattern. ``votes``: (R, *grid) array or R boolean arrays of one grid."""
    layers = [np.ascontiguousarray(v).reshape(-1) for v in votes]
    n_raters = len(layers)
    grid = tuple(int(s) for s in np.shape(votes[0]))
    flat_mask = None if mask is None else np.ascontiguousarray(mask).reshape(-1)
    if n_raters <= _BINCOUNT_MAX_RATERS:
        n_codes = 2**n_raters
        # One spare code (n_codes) marks voxels outside the mask: its table entry stays 0, so the
        # final gather also applies the mask, and one bincount does all the counting.
        code_dtype = np.uint8 if n_raters <= 7 else np.uint16 if n_raters <= 15 else np.uint32
        n = layers[0].size
        codes: np.ndarray = np.empty(n, dtype=code_dtype)
        shifted = np.empty(min(n, _CHUNK), dtype=code_dtype)
        all_counts = np.zeros(n_codes + 1, dtype=np.int64)
        # Work in cache-sized chunks: the grid is streamed once instead of once per rater.
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            part = codes[start:stop]
            tmp = shifted[: stop - start]
            np.copyto(part, layers[0][start:stop].view(np.uint8), casting="unsafe")
            for j in range(1, n_raters):
                np.left_shift(layers[j][start:stop].view(np.uint8), code_dtype(j), out=tmp, casting="unsafe")
                part |= tmp
            if flat_mask is not None:
                np.copyto(part, code_dtype(n_codes), where=~flat_mask[start:stop])
            all_counts += np.bincount(part, minlength=n_codes + 1)
        all_counts = all_counts[:n_codes]
        rows = np.flatnonzero(all_counts)
        bits = ((rows[:, None] >> np.arange(n_raters)[None, :]) & 1).astype(bool)
        return _Patterns(
            bits=bits,
            counts=all_counts[rows].astype(np.float64),
            index=codes,
            table_size=n_codes + 1,
            rows=rows,
            mask=None,  # already folded into the codes
            grid=grid,
        )
    flat = np.stack(layers)
    # Many raters: a 2**R table is too large, so group identical packed rows instead.
    packed = np.packbits(flat, axis=0).T.copy()  # (N, ceil(R/8)) uint8, one row per voxel
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    sample = keys if flat_mask is None else keys[flat_mask]
    uniq, counts = np.unique(sample, return_counts=True)
    # Voxels outside the mask may carry patterns absent inside; they get row len(uniq) (value 0).
    pos = np.searchsorted(uniq, keys)
    pos = np.minimum(pos, len(uniq) - 1)
    found = uniq[pos] == keys
    index = np.where(found, pos, len(uniq))
    uniq_bytes = uniq.view(np.uint8).reshape(len(uniq), -1)
    bits = np.unpackbits(uniq_bytes, axis=1, count=n_raters).astype(bool)
    return _Patterns(
        bits=bits,
        counts=counts.astype(np.float64),
        index=index,
        table_size=len(uniq) + 1,
        rows=np.arange(len(uniq)),
        mask=flat_mask,
        grid=grid,
    )


def _votes_outside(votes: np.ndarray, pats: _Patterns) -> int:
    inside = float(np.dot(pats.counts, pats.bits.sum(axis=1)))
    return int(np.count_nonzero(votes)) - int(round(inside))


def _performance_from_patterns(bits: np.ndarray, counts: np.ndarray, reference: np.ndarray) -> RaterPerformance:
    """Per-rater sensitivity, specificity, Dice from pattern counts; ``reference`` is per pattern."""
    ref_pos = float(np.dot(counts, reference))
    ref_neg = float(counts.sum()) - ref_pos
    tp = (counts * reference) @ bits
    rater_pos = counts @ bits
    fp = rater_pos - tp
    n_raters = bits.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = tp / ref_pos if ref_pos else np.full(n_raters, np.nan)
        spec = (ref_neg - fp) / ref_neg if ref_neg else np.full(n_raters, np.nan)
        denom = rater_pos + ref_pos
        dice = np.where(denom > 0, 2.0 * tp / np.where(denom > 0, denom, 1.0), np.nan)
    return RaterPerformance(
        sensitivity=np.asarray(sens, dtype=np.float64),
        specificity=np.asarray(spec, dtype=np.float64),
        dice=np.asarray(dice, dtype=np.float64),
        volume_voxels=np.rint(rater_pos).astype(np.int64),
    )
