"""Post-processing of a method's binary prediction: the minimum lesion size.

Connected components (``scipy.ndimage.label``, 6-connectivity as in the MS-SEG 2016 evaluation,
Commowick et al., Sci Rep 8:13650, 2018) smaller than ``min_lesion_mm3`` are removed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage


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
