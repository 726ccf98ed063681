"""A guard against implausible consensus masks (the failure mode of a mis-specified fusion).

A fusion that returns an empty mask, or one far smaller than every rater's, while most raters
marked lesions, is almost surely a method failure (e.g. an un-normalised opinion pool drifting
to "posterior = prior"), not a finding. :func:`check_consensus` detects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import ConfigError, ConsensusError
from .base import ConsensusResult, check_votes

#: Consensus volume below this fraction of the smallest non-empty rater volume is implausible.
DEFAULT_MIN_VOLUME_RATIO = 0.1
#: The guard applies when at least this fraction of the raters marked some lesion.
DEFAULT_MIN_RATER_FRACTION = 0.5


@dataclass(frozen=True)
class ConsensusCheck:
    """Outcome of :func:`check_consensus`. ``ok`` False means implausible; ``reason`` says why."""

    ok: bool
    reason: str
    consensus_voxels: int
    smallest_rater_voxels: int
    raters_marking: int
    n_raters: int


def check_consensus(
    consensus: np.ndarray | ConsensusResult,
    votes: np.ndarray,
    *,
    method: str | None = None,
    case: str | None = None,
    policy: Literal["stop", "flag"] = "stop",
    min_volume_ratio: float = DEFAULT_MIN_VOLUME_RATIO,
    min_rater_fraction: float = DEFAULT_MIN_RATER_FRACTION,
    exempt_without_majority: bool = False,
) -> ConsensusCheck:
    """Flag a consensus that is empty or below ``min_volume_ratio`` x the smallest non-empty rater
    volume while at least ``min_rater_fraction`` of the raters marked lesions.

    ``consensus``: a binary mask or a :class:`ConsensusResult` (its ``binary()``; its method name
    is used when ``method`` is None). ``policy`` "stop" raises :class:`ConsensusError` naming the
    case and the method; "flag" returns the check with ``ok`` False. Volumes are voxel counts on
    the raters' grid (the rater volumes count every voxel, in or out of the fusion region).

    ``exempt_without_majority``: when no voxel is marked by more than half of the raters, an empty
    (or tiny) consensus agrees with them (e.g. several raters each marking a few voxels nobody
    else marks); such a check is returned with ``ok`` False and a reason saying so, but never
    raised, whatever the policy.
    """
    if policy not in ("stop", "flag"):
        raise ConfigError(f"consensus guard policy must be 'stop' or 'flag'; got {policy!r}")
    if not 0.0 <= float(min_volume_ratio) <= 1.0 or not 0.0 < float(min_rater_fraction) <= 1.0:
        raise ConfigError(
            f"min_volume_ratio must be in [0, 1] and min_rater_fraction in (0, 1]; got {min_volume_ratio}, {min_rater_fraction}"
        )
    if isinstance(consensus, ConsensusResult):
        method = method or consensus.method
        mask = consensus.binary()
    else:
        mask = np.asarray(consensus).astype(bool)
    votes = check_votes(votes, case=case)
    volumes = votes.reshape(votes.shape[0], -1).sum(axis=1)
    marking = int(np.count_nonzero(volumes))
    smallest = int(volumes[volumes > 0].min()) if marking else 0
    fused = int(np.count_nonzero(mask))
    applies = marking > 0 and marking >= float(min_rater_fraction) * votes.shape[0]
    reason = ""
    if applies and fused == 0:
        reason = f"the consensus is empty although {marking} of {votes.shape[0]} raters marked lesions"
    elif applies and fused < float(min_volume_ratio) * smallest:
        reason = (
            f"the consensus has {fused} voxels, below {min_volume_ratio:g} x the smallest rater volume "
            f"({smallest} voxels), although {marking} of {votes.shape[0]} raters marked lesions"
        )
    if reason and exempt_without_majority and not (votes.sum(axis=0, dtype=np.int64) * 2 > votes.shape[0]).any():
        reason += " (no voxel is marked by more than half of the raters)"
        policy = "flag"
    check = ConsensusCheck(
        ok=not reason,
        reason=reason,
        consensus_voxels=fused,
        smallest_rater_voxels=smallest,
        raters_marking=marking,
        n_raters=int(votes.shape[0]),
    )
    if reason and policy == "stop":
        raise ConsensusError(f"consensus method {method or 'unknown'}: {reason}", case=case)
    return check
