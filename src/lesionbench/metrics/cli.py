"""``lesionbench metrics REFERENCE PREDICTION``: print every metric of one pair as one JSON object.

File reading and checks happen here (lesionbench.io): the prediction must lie on the reference
grid, masks must be binary unless ``--binarize`` says how to make them so, and the affine must
have orthogonal axes (distances are computed from the voxel spacing).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AffineError, ConfigError

if TYPE_CHECKING:
    from ..io import Volume

#: Largest |cos| between two affine axes still treated as orthogonal (no shear).
_SHEAR_TOLERANCE = 1e-4


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "metrics",
        help="evaluation metrics of one (reference, prediction) pair as JSON",
        description="Voxel, surface and MS-SEG 2016 lesion-wise metrics of PREDICTION against REFERENCE "
        "(definitions: lesionbench.metrics.METRIC_INFO). Prints one JSON object; undefined values are null.",
    )
    p.add_argument("reference", type=Path, help="reference (ground-truth) mask, NIfTI")
    p.add_argument("prediction", type=Path, help="predicted mask on the reference grid, NIfTI")
    p.add_argument("--nsd-tolerance", type=float, default=1.0, metavar="MM", help="NSD tolerance in mm (1.0)")
    p.add_argument(
        "--min-lesion-volume",
        type=float,
        default=3.0,
        metavar="MM3",
        help="lesions of at most this volume are ignored in lesion-wise metrics (3.0, MS-SEG 2016)",
    )
    p.add_argument(
        "--match-threshold",
        type=float,
        default=0.1,
        metavar="DICE",
        help="lesion Dice a one-to-one match must exceed (0.1)",
    )
    p.add_argument(
        "--binarize",
        choices=("none", "nonzero", "threshold"),
        default="none",
        help="how to read non-binary masks: none = reject (default), nonzero = every non-zero voxel "
        "is lesion, threshold = voxels >= --threshold are lesion (probability maps)",
    )
    p.add_argument("--threshold", type=float, default=0.5, help="threshold for --binarize threshold (0.5)")
    p.add_argument(
        "--image-edge",
        choices=("background", "foreground"),
        default="background",
        help="how voxels outside the image count for borders: background (medpy/MONAI, default) "
        "or foreground (ITK/Anima)",
    )
    p.add_argument("--case", default=None, help="case label used in error messages and the output")
    p.add_argument(
        "--lesions-tsv",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the per-lesion table (matched variant) to this TSV file",
    )
    p.set_defaults(func=run)


def _check_orthogonal(vol: Volume, case: str | None) -> None:
    import numpy as np

    axes = np.asarray(vol.affine, dtype=float)[:3, :3]
    unit = axes / np.linalg.norm(axes, axis=0)
    cos = unit.T @ unit - np.eye(3)
    if np.max(np.abs(cos)) > _SHEAR_TOLERANCE:
        raise AffineError(
            "affine has sheared (non-orthogonal) axes; surface distances assume an orthogonal grid",
            case=case,
            path=vol.path,
        )


def _load(path: Path, *, case: str | None, reference: Volume | None, binarize: str, threshold: float) -> Volume:
    import numpy as np

    from ..io import Volume, check_same_grid, load_mask, load_volume

    if binarize == "threshold":
        vol = load_volume(path, case=case, dtype=np.float64)
        if reference is not None:
            check_same_grid(vol, reference, what="mask is not on the reference image grid", case=case)
        return Volume(data=vol.data >= threshold, affine=vol.affine, path=vol.path)
    return load_mask(path, case=case, reference=reference, policy="nonzero" if binarize == "nonzero" else "binary")


def run(args: argparse.Namespace) -> int:
    from .engine import LesionRecord, compute_metrics

    if args.binarize == "threshold" and not math.isfinite(args.threshold):
        raise ConfigError("--threshold must be a finite number")
    ref = _load(args.reference, case=args.case, reference=None, binarize=args.binarize, threshold=args.threshold)
    _check_orthogonal(ref, args.case)
    pred = _load(args.prediction, case=args.case, reference=ref, binarize=args.binarize, threshold=args.threshold)
    result = compute_metrics(
        ref.data,
        pred.data,
        ref.spacing,
        nsd_tolerance_mm=args.nsd_tolerance,
        min_lesion_volume_mm3=args.min_lesion_volume,
        match_threshold=args.match_threshold,
        edge_is_background=args.image_edge == "background",
        case=args.case,
    )
    out = result.as_dict()
    if args.lesions_tsv is not None:
        args.lesions_tsv.parent.mkdir(parents=True, exist_ok=True)
        rows = result.lesion_rows()
        with open(args.lesions_tsv, "w", newline="") as fh:
            names = [f.name for f in fields(LesionRecord)]
            writer = csv.DictWriter(fh, fieldnames=names, delimiter="\t", lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0
