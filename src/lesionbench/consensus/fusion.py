"""One entry point for every fusion method: :func:`fuse` dispatches by name (:data:`.options.METHODS`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError
from .base import ConsensusResult
from .lop import local_lop_staple, lop_staple
from .map_em import map_staple
from .ml_staple import staple
from .options import METHODS
from .vote import majority_vote

_FUNCTIONS: dict[str, Any] = {
    "staple": staple,
    "map-staple": map_staple,
    "lop-staple": lop_staple,
    "local-lop-staple": local_lop_staple,
    "majority": majority_vote,
}


def fuse(votes: np.ndarray, method: str, **kwargs: Any) -> ConsensusResult:
    """Fuse (R, *grid) binary rater masks with ``method`` (one of :data:`METHODS`).

    Common keywords: ``mask`` (the computation region, e.g. from :func:`fusion_region`),
    ``threshold`` (binary consensus is posterior > threshold) and ``case`` (for error messages);
    the others are the method's own parameters (see each function). An unknown parameter for the
    chosen method is a :class:`ConfigError`.
    """
    function = _FUNCTIONS.get(method)
    if function is None:
        raise ConfigError(f"unknown consensus method {method!r}; choose one of {', '.join(METHODS)}")
    try:
        return function(votes, **kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            raise ConfigError(f"consensus method {method}: {exc}") from exc
        raise
