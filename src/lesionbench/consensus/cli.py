"""``lesionbench consensus``: fuse several raters' masks into one consensus (STAPLE, MAP-STAPLE,
LOP-STAPLE, local LOP-STAPLE, majority vote).

Reads the rater masks with :func:`lesionbench.io.load_mask` (the first rater defines the grid;
every other rater and ``--mask`` must be on it), fuses them with :mod:`lesionbench.consensus`,
writes the binary consensus (uint8, ``posterior > threshold``) and optionally the posterior map
(float32), and prints a JSON summary: method, n_raters, per-rater estimated sensitivity and
specificity, iterations, converged, prior, consensus_volume_ml, and the guard's verdict
(:func:`lesionbench.consensus.check_consensus`). Undefined numbers are ``null``. ``--region``
chooses the computation region (docs/consensus.md); without it, ``--mask`` (if given) is the
region, else each method's own default.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .options import DEFAULT_DILATION, MAP_MODE_NAMES, METHODS, REGIONS

if TYPE_CHECKING:
    import numpy as np


def _number(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise ConfigError(f"--weights must be comma-separated numbers; got {text!r}") from exc


def _weight_summary(weights: np.ndarray | None) -> list[float] | None:
    """Per-rater weights as given, or each rater's mean weight for voxel-wise maps."""
    if weights is None:
        return None
    import numpy as np

    arr = np.asarray(weights, dtype=np.float64)
    if arr.ndim > 1:
        arr = arr.reshape(arr.shape[0], -1).mean(axis=1)
    return [float(w) for w in arr]


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import consensus as cs
    from ..io import load_mask, save_volume

    case = args.case
    paths = [Path(p) for p in args.raters]
    first = load_mask(paths[0], case=case, policy=args.label_policy)
    raters = [first] + [load_mask(p, case=case, reference=first, policy=args.label_policy) for p in paths[1:]]
    brain = None
    if args.mask is not None:
        brain = load_mask(args.mask, case=case, reference=first, policy="nonzero").data
    votes = np.stack([r.data for r in raters])
    mask: np.ndarray | None
    if args.region is not None:
        mask = cs.fusion_region(votes, args.region, brain=brain, dilation=args.dilation, case=case)
    else:
        mask = brain
    common: dict[str, Any] = {"mask": mask, "threshold": args.threshold, "case": case}
    if args.method == "staple":
        common["confidence_weight"] = args.confidence_weight
    elif args.confidence_weight != 1.0:
        raise ConfigError("--confidence-weight only applies to --method staple")
    if args.method != "majority" and args.max_iterations is not None:
        common["max_iterations"] = args.max_iterations
    if args.method in ("map-staple", "local-lop-staple"):
        common["map_mode"] = None if args.map_mode == "ml" else args.map_mode
    if args.method in ("lop-staple", "local-lop-staple"):
        common["weights"] = _weights(args.weights)
    elif args.weights is not None:
        raise ConfigError("--weights only applies to --method lop-staple or local-lop-staple")
    if args.method == "local-lop-staple":
        common["half_size"] = args.half_size
    result = cs.fuse(votes, args.method, **common)
    check = cs.check_consensus(result, votes, case=case, policy=args.guard)
    binary = result.binary()
    save_volume(args.output, binary, first.affine, dtype=np.uint8)
    if args.probability is not None:
        save_volume(args.probability, result.posterior, first.affine, dtype=np.float32)
    voxel_ml = float(np.prod(first.spacing)) / 1000.0
    agreement = cs.rater_performance(votes, binary, mask=mask)
    summary: dict[str, Any] = {
        "method": result.method,
        "case": case,
        "n_raters": len(paths),
        "raters": [
            {
                "rater": p.name,
                "sensitivity": _number(result.sensitivity[j]),
                "specificity": _number(result.specificity[j]),
                "dice_to_consensus": _number(agreement.dice[j]),
                "volume_ml": float(agreement.volume_voxels[j]) * voxel_ml,
            }
            for j, p in enumerate(paths)
        ],
        "iterations": int(result.iterations),
        "converged": bool(result.converged),
        "prior": _number(result.prior),
        "threshold": result.threshold,
        "weights": _weight_summary(result.weights),
        "masked": mask is not None,
        "region": args.region,
        "guard": {"ok": check.ok, "reason": check.reason},
        "votes_outside_mask": int(result.votes_outside_mask),
        "consensus_volume_ml": float(np.count_nonzero(binary)) * voxel_ml,
    }
    if args.leave_one_out:
        if len(paths) < 2:
            raise ConfigError("--leave-one-out needs at least two raters")
        loo = cs.leave_one_out_performance(votes, args.method, **common)
        for j, row in enumerate(summary["raters"]):
            row["leave_one_out"] = {
                "sensitivity": _number(loo.sensitivity[j]),
                "specificity": _number(loo.specificity[j]),
                "dice": _number(loo.dice[j]),
            }
    text = json.dumps(summary, indent=2)
    if args.json is not None:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "consensus",
        help="fuse rater masks (STAPLE, MAP-/LOP-STAPLE, majority vote) and report rater performance",
        description=(
            "Fuse binary rater masks into a consensus. Binary output is posterior > threshold. "
            "With --mask (recommended), the prior and all statistics come from inside the mask "
            "and votes outside it are ignored; without it, STAPLE matches SimpleITK's "
            "STAPLEImageFilter, whose prior depends on the image's field of view."
        ),
    )
    p.add_argument("raters", nargs="+", metavar="RATER", help="rater masks (NIfTI); the first defines the grid")
    p.add_argument("--method", choices=METHODS, default="staple")
    p.add_argument("--output", required=True, help="binary consensus (uint8 NIfTI)")
    p.add_argument("--probability", default=None, help="posterior / vote-fraction map (float32 NIfTI)")
    p.add_argument("--mask", default=None, help="brain mask: prior and statistics from inside it only")
    p.add_argument(
        "--region",
        choices=REGIONS,
        default=None,
        help="computation region: grid (whole image), brain (--mask), union (raters' union dilated by --dilation)",
    )
    p.add_argument("--dilation", type=int, default=DEFAULT_DILATION, help="union region dilation (voxels, ITK ball)")
    p.add_argument("--map-mode", choices=MAP_MODE_NAMES, default="diag", help="MAP-STAPLE / local LOP prior")
    p.add_argument("--half-size", type=int, default=2, help="local LOP-STAPLE window half-size (voxels)")
    p.add_argument(
        "--guard",
        choices=("stop", "flag"),
        default="flag",
        help="implausibly empty/small consensus: stop with an error, or flag it in the JSON",
    )
    p.add_argument("--threshold", type=float, default=0.5, help="binary consensus is posterior > THRESHOLD")
    p.add_argument(
        "--weights", default=None, help="LOP-STAPLE rater weights, comma-separated (default: local agreement maps)"
    )
    p.add_argument("--confidence-weight", type=float, default=1.0, help="STAPLE prior multiplier (ITK's)")
    p.add_argument("--max-iterations", type=int, default=None, help="EM iteration cap (default: the method's)")
    p.add_argument(
        "--label-policy",
        choices=("binary", "nonzero"),
        default="binary",
        help="binary: reject masks with values other than 0/1; nonzero: any non-zero voxel is lesion",
    )
    p.add_argument("--leave-one-out", action="store_true", help="also score each rater against the others' fusion")
    p.add_argument("--case", default=None, help="case id, used in error messages and the JSON")
    p.add_argument("--json", default=None, help="also write the JSON summary to this file")
    p.set_defaults(func=run)
