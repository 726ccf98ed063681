"""``lesionbench consensus``: fuse several raters' masks into one consensus (STAPLE, LOP-STAPLE, vote).

Reads the rater masks with :func:`lesionbench.io.load_mask` (the first rater defines the grid;
every other rater and ``--mask`` must be on it), fuses them with :mod:`lesionbench.consensus`,
writes the binary consensus (uint8, ``posterior > threshold``) and optionally the posterior map
(float32), and prints a JSON summary: method, n_raters, per-rater estimated sensitivity and
specificity, iterations, converged, prior, consensus_volume_ml. Undefined numbers are ``null``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import consensus as cs
from .errors import ConfigError
from .io import load_mask, save_volume


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


def run(args: argparse.Namespace) -> int:
    case = args.case
    paths = [Path(p) for p in args.raters]
    first = load_mask(paths[0], case=case, policy=args.label_policy)
    raters = [first] + [load_mask(p, case=case, reference=first, policy=args.label_policy) for p in paths[1:]]
    mask = None
    if args.mask is not None:
        mask = load_mask(args.mask, case=case, reference=first, policy="nonzero").data
    votes = np.stack([r.data for r in raters])
    common: dict[str, Any] = {"mask": mask, "threshold": args.threshold, "case": case}
    if args.method != "majority":
        common.update(confidence_weight=args.confidence_weight, max_iterations=args.max_iterations)
    if args.method == "lop-staple":
        common["weights"] = _weights(args.weights)
    elif args.weights is not None:
        raise ConfigError("--weights only applies to --method lop-staple")
    result = cs.fuse(votes, args.method, **common)
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
        "weights": None if result.weights is None else [float(w) for w in result.weights],
        "masked": mask is not None,
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


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "consensus",
        help="fuse rater masks (STAPLE, LOP-STAPLE, majority vote) and report rater performance",
        description=(
            "Fuse binary rater masks into a consensus. Binary output is posterior > threshold. "
            "With --mask (recommended), the prior and all statistics come from inside the mask "
            "and votes outside it are ignored; without it, STAPLE matches SimpleITK's "
            "STAPLEImageFilter, whose prior depends on the image's field of view."
        ),
    )
    p.add_argument("raters", nargs="+", metavar="RATER", help="rater masks (NIfTI); the first defines the grid")
    p.add_argument("--method", choices=cs.METHODS, default="staple")
    p.add_argument("--output", required=True, help="binary consensus (uint8 NIfTI)")
    p.add_argument("--probability", default=None, help="posterior / vote-fraction map (float32 NIfTI)")
    p.add_argument("--mask", default=None, help="brain mask: prior and statistics from inside it only")
    p.add_argument("--threshold", type=float, default=0.5, help="binary consensus is posterior > THRESHOLD")
    p.add_argument("--weights", default=None, help="LOP-STAPLE rater weights, comma-separated (default 1/R each)")
    p.add_argument("--confidence-weight", type=float, default=1.0, help="STAPLE prior multiplier (ITK's)")
    p.add_argument("--max-iterations", type=int, default=None, help="EM iteration cap (default: ITK's UINT_MAX)")
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
