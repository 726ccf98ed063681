"""``lesionbench synth``: generate a synthetic MS-SEG 2016-style cohort (all cases, or some);
``lesionbench synth-longitudinal``: a synthetic MSSEG-2-style cohort of two-visit patients."""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import DEFAULT_SEED
from ..errors import ConfigError
from .longitudinal_plan import LONGITUDINAL_PRESETS, VARIANTS
from .plan import PRESETS

if TYPE_CHECKING:
    from .plan import CasePlan

PRESET_NAMES: tuple[str, ...] = tuple(sorted(PRESETS))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate a synthetic multi-center MS cohort with known truth (MS-SEG 2016 layout)",
        description=(
            "Generate a synthetic MS-SEG 2016-style cohort from the MNI152 template: raw images per "
            "center, rater masks, and a truth/ folder. Deterministic for a given preset and seed."
        ),
    )
    parser.add_argument(
        "--preset", default="demo", choices=PRESET_NAMES, help="cohort size and resolution (default: demo)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="cohort seed (default: %(default)s, the config's seed)"
    )
    parser.add_argument("--out", required=True, type=Path, help="output root (MS-SEG 2016 layout + truth/)")
    parser.add_argument("--raters", type=int, default=7, help="number of simulated raters (default: 7)")
    parser.add_argument("--cases", nargs="+", metavar="ID", help="only these case ids (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="cases generated in parallel processes (default: 1)")
    parser.add_argument("--figure", type=Path, help="also write the cohort overview figure (PNG) here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .generate import generate_case
    from .plan import plan_cohort

    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, not {args.jobs}")
    plans = _select(plan_cohort(args.preset, args.seed, args.raters), args.cases, "case_id", "case", args.preset)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _generate_all(generate_case, plans, (args.preset, args.raters, out), args.jobs, "synth", "case_id")
    if args.cases:
        # Per-case runs (one Snakemake job per case) must not race on a shared manifest.
        if args.figure:
            _figure(plans, args, out)
        return 0
    manifest = {
        "preset": args.preset,
        "seed": args.seed,
        "n_raters": args.raters,
        "cases": [
            {
                k: getattr(p, k)
                for k in ("case_id", "center", "scanner", "field_strength", "split", "patient", "relative_dir", "seed")
            }
            for p in plans
        ],
    }
    (out / "truth").mkdir(exist_ok=True)
    (out / "truth" / "cohort.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if args.figure:
        _figure(plans, args, out)
    return 0


def _figure(plans: list[CasePlan], args: argparse.Namespace, out: Path) -> None:
    from .figures import plot_cohort_overview
    from .plan import case_files

    cases = [(p, {k: out / v for k, v in case_files(p, args.raters).items()}) for p in plans]
    plot_cohort_overview(cases, args.figure)


def add_longitudinal_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth-longitudinal",
        help="generate a synthetic two-visit MS cohort with known new lesions (MSSEG-2 layout)",
        description=(
            "Generate a synthetic MSSEG-2-style cohort: per patient a baseline and a follow-up FLAIR "
            "of one anatomy (atrophy, scanner drift, new, grown and shrunk lesions), 4 raters' masks "
            "of the new lesions and their consensus, and a truth/ folder. Deterministic for a given "
            "preset, variant and seed."
        ),
    )
    parser.add_argument(
        "--preset",
        default="demo",
        choices=tuple(sorted(LONGITUDINAL_PRESETS)),
        help="cohort size and resolution (default: demo)",
    )
    parser.add_argument(
        "--variant",
        default="middle",
        choices=VARIANTS,
        help="middle: both visits on one grid (co-registered); raw: each visit on its own grid (default: middle)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="cohort seed (default: %(default)s, the config's seed)"
    )
    parser.add_argument("--out", required=True, type=Path, help="output root (one folder per patient + truth/)")
    parser.add_argument("--t1", action="store_true", help="also write a T1 image of each visit")
    parser.add_argument("--patients", nargs="+", metavar="ID", help="only these patient ids (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="patients generated in parallel processes (default: 1)")
    parser.set_defaults(func=run_longitudinal)


def run_longitudinal(args: argparse.Namespace) -> int:
    from .longitudinal_io import generate_patient, write_cohort_sheets
    from .longitudinal_plan import plan_longitudinal

    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, not {args.jobs}")
    plans = _select(plan_longitudinal(args.preset, args.seed), args.patients, "patient_id", "patient", args.preset)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    call = (args.preset, args.variant, out, args.t1)
    _generate_all(generate_patient, plans, call, args.jobs, "synth-longitudinal", "patient_id")
    if not args.patients:
        # Per-patient runs (one workflow job each) must not race on the shared sheets.
        write_cohort_sheets(plans, args.preset, args.variant, args.seed, out)
    return 0


def _select(plans: Sequence[Any], wanted: Sequence[str] | None, key: str, what: str, preset: str) -> list[Any]:
    """The plans whose ``key`` (``case_id``, ``patient_id``) is in ``wanted`` (all when empty), in
    the order asked; an unknown id is a ConfigError listing the known ones."""
    if not wanted:
        return list(plans)
    known = {getattr(p, key): p for p in plans}
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise ConfigError(f"unknown {what} id(s) {', '.join(unknown)} for preset {preset}; known: {', '.join(known)}")
    return [known[c] for c in dict.fromkeys(wanted)]


def _generate_all(
    generate: Callable[..., object], plans: Sequence[Any], call: tuple[Any, ...], jobs: int, verb: str, key: str
) -> None:
    """``generate(plan, *call)`` for every plan, in ``jobs`` processes, printing each one done."""
    if jobs == 1 or len(plans) == 1:
        for plan in plans:
            generate(plan, *call)
            print(f"{verb}: {getattr(plan, key)} done", file=sys.stderr)
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(generate, plan, *call): plan for plan in plans}
        for future in concurrent.futures.as_completed(futures):
            future.result()
            print(f"{verb}: {getattr(futures[future], key)} done", file=sys.stderr)
