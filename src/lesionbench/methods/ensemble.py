"""``ensemble``: fuse several methods' binary masks with the consensus library.

MS-SEG 2016 fused the automatic results with the same method as the raters (Commowick et al.,
Sci Rep 8:13650, 2018): here majority vote (strictly more than half the members) or STAPLE
(Warfield et al., IEEE TMI 23:903, 2004), both from :mod:`lesionbench.consensus`, inside the
brain mask. A member that failed or is missing on a case is left out of that case's fusion
(recorded); fewer than two usable members make the case fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..consensus import fuse
from ..errors import InputError


@dataclass(frozen=True)
class EnsembleResult:
    mask: np.ndarray
    probability: np.ndarray
    members_used: tuple[str, ...]


def fuse_members(
    masks: Mapping[str, np.ndarray], fusion: str, *, brain_mask: np.ndarray | None = None, case: str | None = None
) -> EnsembleResult:
    """Fuse the members' masks (name -> bool array, same grid) by ``fusion``."""
    if len(masks) < 2:
        raise InputError(
            f"ensemble: only {len(masks)} usable member result(s) ({', '.join(masks) or 'none'}); two are needed",
            case=case,
        )
    names = tuple(masks)
    votes = np.stack([np.asarray(masks[n], dtype=bool) for n in names])
    result = fuse(votes, fusion, mask=brain_mask, case=case)
    probability = np.asarray(result.posterior, dtype=np.float32)
    if brain_mask is not None:
        probability = np.where(brain_mask, probability, 0.0).astype(np.float32)
    mask = result.binary()
    if brain_mask is not None:
        mask = mask & brain_mask.astype(bool)
    return EnsembleResult(mask=np.asarray(mask, dtype=bool), probability=probability, members_used=names)
