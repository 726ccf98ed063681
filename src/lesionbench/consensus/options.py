"""The consensus stage's choices and defaults: method names, computation regions, MAP prior modes.

Standard library only, so the ``lesionbench consensus`` parser and the workflow's config checks
offer and check these names without importing numpy. The methods themselves are run by
:func:`.fusion.fuse`, the regions built by :func:`.region.fusion_region`.
"""

from __future__ import annotations

from typing import Literal

#: Method names accepted by :func:`.fusion.fuse`.
METHODS: tuple[str, ...] = ("staple", "map-staple", "lop-staple", "local-lop-staple", "majority")
#: Methods that run EM (and whose answer depends on the computation region).
EM_METHODS: tuple[str, ...] = ("staple", "map-staple", "lop-staple", "local-lop-staple")

#: The fusion the workflow scores methods against unless ``consensus.reference`` says otherwise
#: (closest to the synthetic truth of the fusions measured in ``benchmarks/consensus_vs_truth.md``).
DEFAULT_REFERENCE = "local-lop-staple"
#: ``consensus.reference`` naming the dataset's own consensus mask (the case sheet's ``consensus``
#: column: MS-SEG 2016 ``Consensus``, MSSEG-2 ``ground_truth``, a BIDS ``derivatives/consensus``
#: mask) as the ground truth; no fusion is computed then.
SHIPPED_REFERENCE = "shipped"
#: Every value of ``consensus.reference``: a fusion method or the shipped mask.
REFERENCES: tuple[str, ...] = (*METHODS, SHIPPED_REFERENCE)

RegionKind = Literal["grid", "brain", "union"]
#: Computation regions of a fusion (:func:`.region.fusion_region`).
REGIONS: tuple[str, ...] = ("grid", "brain", "union")
#: Anima's default dilation radius (voxels) of the raters' union (``--mask-dil``).
DEFAULT_DILATION = 2

#: MAP-STAPLE's prior modes as the config and the CLI name them; ``ml`` (maximum likelihood, no
#: prior) is ``map_mode=None`` of :func:`.map_em.map_staple`.
MAP_MODE_NAMES: tuple[str, ...] = ("diag", "full", "ml")
