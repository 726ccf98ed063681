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
published, so no method here is "the method MS-SEG used".
"""

from .base import ConsensusResult, RaterPerformance, binarize, check_votes, empty_result, stack_votes
from .fusion import EM_METHODS, METHODS, fuse
from .guard import DEFAULT_MIN_RATER_FRACTION, DEFAULT_MIN_VOLUME_RATIO, ConsensusCheck, check_consensus
from .lop import agreement_weights, check_weights, local_lop_staple, lop_staple, weighted_fixed_point
from .map_staple import MAP_MODES, map_pseudo_counts, map_staple
from .performance import (
    leave_one_out,
    leave_one_out_performance,
    performance_against_fusions,
    performance_table,
    rater_performance,
)
from .region import DEFAULT_DILATION, REGIONS, fusion_region, itk_ball, union_region
from .ml_staple import ITK_MAX_ITERATIONS, ITK_TOLERANCE, staple
from .vote import majority_vote

__all__ = [
    "DEFAULT_DILATION",
    "DEFAULT_MIN_RATER_FRACTION",
    "DEFAULT_MIN_VOLUME_RATIO",
    "EM_METHODS",
    "ITK_MAX_ITERATIONS",
    "ITK_TOLERANCE",
    "MAP_MODES",
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
