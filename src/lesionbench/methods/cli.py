"""``lesionbench methods check-submission``: check a participant's folder of masks before the run.

Each case's FLAIR is given as ``CASE=PATH``; every case gets one line: ok, missing, or failed
with the lesionbench error (off the FLAIR grid, not binary, unreadable). Exit code 0 when all are
ok, 1 otherwise (2 for a usage or configuration error, from the main CLI).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError, LesionbenchError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("methods", help="segmentation methods: check a submission folder")
    verbs = parser.add_subparsers(dest="methods_verb", metavar="ACTION")
    verbs.required = True
    check = verbs.add_parser("check-submission", help="check submitted masks against each case's FLAIR grid")
    check.add_argument("--folder", required=True, help="folder of submitted masks")
    check.add_argument("--pattern", default="{case}.nii.gz", help="file name of a case's mask, with {case}")
    check.add_argument(
        "--flair", action="append", required=True, metavar="CASE=PATH", help="a case's raw FLAIR (repeat per case)"
    )
    check.add_argument("--probabilities", action="store_true", help="masks are probability maps in [0, 1]")
    check.add_argument("--threshold", type=float, default=0.5)
    check.set_defaults(func=check_submission)


def check_submission(args: argparse.Namespace) -> int:
    from ..io import load_volume
    from .participants import SubmissionMissingError, load_submission

    if "{case}" not in args.pattern:
        raise ConfigError("--pattern must contain {case}")
    all_ok = True
    for item in args.flair:
        case, sep, path = item.partition("=")
        if not sep or not case or not path:
            raise ConfigError(f"--flair takes CASE=PATH, got {item!r}")
        try:
            flair = load_volume(path, case=case)
            checked = load_submission(
                args.folder, args.pattern, case, flair, probabilities=args.probabilities, threshold=args.threshold
            )
            print(f"{case}\tok\t{int(checked.mask.sum())} lesion voxels")
        except SubmissionMissingError as exc:
            all_ok = False
            print(f"{case}\tmissing\t{exc}")
        except LesionbenchError as exc:
            all_ok = False
            print(f"{case}\tfailed\t{exc}")
    sys.stdout.flush()
    return 0 if all_ok else 1
