"""Voxel overlap of two masks, for the library's own checks and tuning.

The evaluation's Dice (``compute_metrics(...).dice``) is computed from the same counts by
:mod:`.engine`, with its empty-case rules from :mod:`.info`. :func:`dice` is the plain
quantity other stages use on whole arrays: a method tuning its threshold on the training cases,
the brain-mask check of preprocessing, the synthetic raters' agreement.
"""

from __future__ import annotations

import numpy as np


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice = 2|A n B| / (|A| + |B|) of two masks (non-zero = inside); 1.0 when both are empty."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(a & b)) / total
