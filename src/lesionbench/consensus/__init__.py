"""Consensus ground truth from several raters' binary masks.

Methods (docs/consensus.md has the equations, the defaults and a hand-worked example):

* ``staple``: STAPLE (Warfield, Zou & Wells, IEEE TMI 23(7), 2004) with SimpleITK's iteration;
* ``map-staple``: MAP-STAPLE (Commowick & Warfield, MICCAI 2010) as Anima's
  ``animaMultiThreadedSTAPLE`` computes it;
* ``lop-staple``: LOP-STAPLE (Akhondi-Asl et al., IEEE TMI 33(10), 2014) as CRKit's
  ``crlLOPSTAPLE`` computes it, with local-agreement weights by default;
* ``local-lop-staple``: the same with parameters estimated in a window around each voxel;
* ``majority``: the fraction of raters voting lesion.

:func:`fuse` dispatches by name; :func:`fusion_region` builds the computation region every EM
method depends on (``grid``, ``brain`` or the raters' dilated ``union``); :func:`check_consensus`
flags a consensus that is implausibly empty or small. MS-SEG 2016 fused its raters with
LOP-STAPLE, but its exact settings (tool, region, weights, window, threshold) were never
published, so no method here is "the method MS-SEG used". The names of methods, regions and
modes are in :mod:`.options` (no numpy). Importing this package imports no submodule: each name
below is loaded from its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .base import ConsensusResult, RaterPerformance, binarize, check_votes, empty_result, stack_votes
    from .fusion import fuse
    from .guard import DEFAULT_MIN_RATER_FRACTION, DEFAULT_MIN_VOLUME_RATIO, ConsensusCheck, check_consensus
    from .lop import agreement_weights, check_weights, local_lop_staple, lop_staple, weighted_fixed_point
    from .map_em import map_pseudo_counts, map_staple
    from .ml_staple import ITK_MAX_ITERATIONS, ITK_TOLERANCE, staple
    from .options import DEFAULT_DILATION, EM_METHODS, MAP_MODE_NAMES, METHODS, REGIONS
    from .performance import (
        leave_one_out,
        leave_one_out_performance,
        performance_against_fusions,
        performance_table,
        rater_performance,
    )
    from .region import fusion_region, itk_ball, union_region
    from .vote import majority_vote

#: Public names by the submodule that defines them; each submodule is imported on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "base": ("ConsensusResult", "RaterPerformance", "binarize", "check_votes", "empty_result", "stack_votes"),
    "fusion": ("fuse",),
    "guard": ("DEFAULT_MIN_RATER_FRACTION", "DEFAULT_MIN_VOLUME_RATIO", "ConsensusCheck", "check_consensus"),
    "lop": ("agreement_weights", "check_weights", "local_lop_staple", "lop_staple", "weighted_fixed_point"),
    "map_em": ("map_pseudo_counts", "map_staple"),
    "ml_staple": ("ITK_MAX_ITERATIONS", "ITK_TOLERANCE", "staple"),
    "options": ("DEFAULT_DILATION", "EM_METHODS", "MAP_MODE_NAMES", "METHODS", "REGIONS"),
    "performance": (
        "leave_one_out",
        "leave_one_out_performance",
        "performance_against_fusions",
        "performance_table",
        "rater_performance",
    ),
    "region": ("fusion_region", "itk_ball", "union_region"),
    "vote": ("majority_vote",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "DEFAULT_DILATION",
    "DEFAULT_MIN_RATER_FRACTION",
    "DEFAULT_MIN_VOLUME_RATIO",
    "EM_METHODS",
    "ITK_MAX_ITERATIONS",
    "ITK_TOLERANCE",
    "MAP_MODE_NAMES",
    "METHODS",
    "REGIONS",
    "ConsensusCheck",
    "ConsensusResult",
    "RaterPerformance",
    "agreement_weights",
    "binarize",
    "check_consensus",
    "check_votes",
    "check_weights",
    "empty_result",
    "fuse",
    "fusion_region",
    "itk_ball",
    "leave_one_out",
    "leave_one_out_performance",
    "local_lop_staple",
    "lop_staple",
    "majority_vote",
    "map_pseudo_counts",
    "map_staple",
    "performance_against_fusions",
    "performance_table",
    "rater_performance",
    "stack_votes",
    "staple",
    "union_region",
    "weighted_fixed_point",
]
