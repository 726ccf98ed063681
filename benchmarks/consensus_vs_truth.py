"""Consensus methods against the known truth of a synthetic cohort: the evidence behind the
default ``consensus.reference``.

For every case of a preset it simulates the case in memory (lesionbench.synth.simulate_case: the
raters draw on the simulated FLAIR, so the images are simulated too, but nothing is written),
fuses the raters with every method in every computation region (lesionbench.consensus.case,
the workflow's own code and defaults; the guard in ``flag`` mode, so a failing fusion is
recorded, not fatal), and scores each fusion, each rater and the median rater against the true
lesions with lesionbench.consensus.case.truth_table (Dice, MS-SEG 2016 lesion F1 with lesions of
3 mm3 or less dropped, relative volume error). The ``brain`` region uses the simulator's true
brain mask (tissue + lesion fraction >= 0.5) in place of the workflow's registered template mask.

Writes ``<out>/consensus_vs_truth_<preset>.tsv`` (one row per case and entry),
``..._summary.tsv`` (cohort means) and ``..._summary.md`` (the table as markdown, best fusion
first by mean Dice, then mean lesion F1), and prints the seconds per case.

Usage: .venv/bin/python benchmarks/consensus_vs_truth.py --preset demo
       .venv/bin/python benchmarks/consensus_vs_truth.py --preset msseg2016 \
           --skip lop-staple@grid lop-staple@brain local-lop-staple@grid local-lop-staple@brain
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

REGIONS = ("union", "brain", "grid")


def run_case(
    plan, preset: str, n_raters: int, anatomy, methods, regions, skip, min_lesion_mm3: float
) -> tuple[pd.DataFrame, dict]:
    from nibabel.affines import voxel_sizes

    from lesionbench.consensus.case import ConsensusOptions, fuse_guarded, truth_table
    from lesionbench.synth import simulate_case

    t0 = time.perf_counter()
    sim = simulate_case(plan, preset, n_raters, anatomy)
    t_sim = time.perf_counter() - t0
    votes = np.stack(sim.raters).astype(bool)
    names = [f"rater{k + 1}" for k in range(n_raters)]
    truth = sim.truth_mask
    brain = sim.brain_mask
    spacing = tuple(float(s) for s in voxel_sizes(sim.flair_affine))
    fusions: dict[str, np.ndarray] = {}
    flags: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for region in regions:
        options = ConsensusOptions(region=region, on_failure="flag")
        for method in methods:
            label = f"{method}@{region}"
            if label in skip:
                continue
            t = time.perf_counter()
            result, flag = fuse_guarded(votes, method, label, brain, options, plan.case_id)
            seconds[label] = time.perf_counter() - t
            fusions[label] = result.binary()
            if flag:
                flags[label] = flag
    t = time.perf_counter()
    table = truth_table(votes, names, fusions, truth, spacing, min_lesion_volume_mm3=min_lesion_mm3, case=plan.case_id)
    t_score = time.perf_counter() - t
    table["flag"] = table["entry"].map(lambda e: flags.get(e.removeprefix("consensus_"), ""))
    table["seconds"] = table["entry"].map(lambda e: seconds.get(e.removeprefix("consensus_"), np.nan))
    timing = {"case_id": plan.case_id, "simulate_s": t_sim, "fuse_s": sum(seconds.values()), "score_s": t_score}
    return table, timing


def markdown(summary: pd.DataFrame, preset: str, n_cases: int) -> str:
    from lesionbench.consensus.case import best_method

    fusions = summary[summary["kind"] == "consensus"].copy()
    fusions["_dice"] = fusions["mean_dice"].round(3)
    fusions = fusions.sort_values(["_dice", "mean_lesion_f1"], ascending=[False, False]).drop(columns="_dice")
    rows = pd.concat([fusions, summary[summary["kind"] == "rater"]])
    lines = [
        f"Synthetic preset `{preset}`, {n_cases} cases; means over cases (median rater: per case the median over raters).",
        "",
        "| entry | Dice | lesion F1 | lesion sens. | lesion prec. | RVE % | abs RVE % | beats median rater (Dice) | cases flagged |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for _, r in rows.iterrows():
        beats = "" if pd.isna(r["beats_median_rater_dice"]) else f"{r['beats_median_rater_dice']:.2f}"
        flagged = "" if pd.isna(r.get("n_flagged", np.nan)) else str(int(r["n_flagged"]))
        lines.append(
            f"| {r['entry']} | {r['mean_dice']:.3f} | {r['mean_lesion_f1']:.3f} | {r['mean_lesion_sensitivity']:.3f} | "
            f"{r['mean_lesion_precision']:.3f} | {r['mean_relative_volume_error_pct']:+.1f} | "
            f"{r['mean_abs_relative_volume_error_pct']:.1f} | {beats} | {flagged} |"
        )
    lines += ["", f"Best fusion (mean Dice to 3 decimals, then mean lesion F1): `{best_method(summary)}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    from lesionbench.consensus.case import METHODS, summarize_truth
    from lesionbench.synth import plan_cohort
    from lesionbench.synth.anatomy import load_template_anatomy
    from lesionbench.synth.plan import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--raters", type=int, default=7)
    parser.add_argument("--cases", type=int, default=0, help="first N cases only (0: all)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--regions", nargs="+", default=list(REGIONS), choices=REGIONS)
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        help="method@region pairs left out (e.g. lop-staple@grid: voxel-wise weights on the whole grid are slow)",
    )
    parser.add_argument("--min-lesion-mm3", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()

    anatomy = load_template_anatomy(PRESETS[args.preset].anatomy_mm)
    plans = plan_cohort(args.preset, args.seed, args.raters)
    if args.cases:
        plans = plans[: args.cases]
    tables, timings = [], []
    for plan in plans:
        table, timing = run_case(
            plan, args.preset, args.raters, anatomy, args.methods, args.regions, set(args.skip), args.min_lesion_mm3
        )
        tables.append(table)
        timings.append(timing)
        print(
            f"{plan.case_id}: simulate {timing['simulate_s']:.1f} s, fuse {timing['fuse_s']:.1f} s, score {timing['score_s']:.1f} s",
            flush=True,
        )
    per_case = pd.concat(tables, ignore_index=True)
    summary = summarize_truth(per_case.drop(columns=["flag", "seconds"]))
    flagged = per_case[per_case["flag"] != ""].groupby("entry")["case_id"].nunique()
    summary["n_flagged"] = summary["entry"].map(flagged).fillna(0).where(summary["kind"] == "consensus")
    seconds = per_case.groupby("entry")["seconds"].mean()
    summary["mean_seconds"] = summary["entry"].map(seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"consensus_vs_truth_{args.preset}"
    per_case.to_csv(f"{stem}.tsv", sep="\t", index=False, float_format="%.6g")
    summary.to_csv(f"{stem}_summary.tsv", sep="\t", index=False, float_format="%.4f")
    Path(f"{stem}_summary.md").write_text(markdown(summary, args.preset, len(plans)))
    t = pd.DataFrame(timings)
    print(
        f"{len(plans)} cases; mean per case: simulate {t['simulate_s'].mean():.1f} s, fuse {t['fuse_s'].mean():.1f} s, "
        f"score {t['score_s'].mean():.1f} s"
    )
    print(Path(f"{stem}_summary.md").read_text())


if __name__ == "__main__":
    main()
