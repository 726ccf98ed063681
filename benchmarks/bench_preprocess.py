"""Per-case preprocessing time by stage, and ratios against reference tools.

Usage: .venv/bin/python benchmarks/bench_preprocess.py [--preset demo] [--cases 2] [--repeats 3]

Generates ``--cases`` synthetic cases of the preset (lesionbench.synth) in a temporary folder,
runs lesionbench.preprocess.pipeline.preprocess_case on each (timing every stage), then compares
single steps with reference implementations on the first case:
SimpleITK N4 (ours, shrink + full-resolution field) vs ants.n4_bias_field_correction;
Nyul apply vs medpy IntensityRangeStandardization.transform; z-score vs MONAI NormalizeIntensity.
Prints medians (s) and ratios ours/reference. Timings are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--cases", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)
    os.environ.setdefault("ANTS_RANDOM_SEED", "2016")

    import numpy as np

    from lesionbench.cohort.layout import RAW_STEMS
    from lesionbench.io import load_volume
    from lesionbench.preprocess.bias import n4_correct
    from lesionbench.preprocess.harmonize import apply_nyul, fit_nyul, zscore
    from lesionbench.preprocess.itk_bridge import to_ants
    from lesionbench.preprocess.pipeline import PreprocessSettings, preprocess_case
    from lesionbench.synth import generate_case, plan_cohort

    plans = plan_cohort(args.preset, 2016, 1)[: args.cases]
    stage_times: dict[str, list[float]] = {}
    totals = []
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for plan in plans:
            generate_case(plan, args.preset, 1, root)
            images = {
                m: load_volume(root / plan.relative_dir / "Raw_Data" / f"{RAW_STEMS[m]}.nii.gz", case=plan.case_id)
                for m in ("flair", "t1", "t2", "pd")
            }
            start = time.perf_counter()
            result = preprocess_case(
                images, case=plan.case_id, transforms_dir=root / plan.case_id, settings=PreprocessSettings()
            )
            totals.append(time.perf_counter() - start)
            for stage, seconds in result.timings.items():
                stage_times.setdefault(stage, []).append(seconds)
            shape = images["flair"].shape
            spacing = ", ".join(f"{s:.2f}" for s in images["flair"].spacing)
            print(
                f"{plan.case_id}: FLAIR {shape} @ ({spacing}) mm, total {totals[-1]:.1f} s "
                + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
            )
            if first is None:
                first = (images, result)

        print(f"\nper-case preprocessing (preset {args.preset}, {len(plans)} cases, {args.threads} ITK thread(s)):")
        for stage, values in stage_times.items():
            print(f"  {stage:24s} median {statistics.median(values):6.2f} s")
        print(f"  {'total':24s} median {statistics.median(totals):6.2f} s")

        import ants
        from medpy.filter import IntensityRangeStandardization
        from monai.transforms import NormalizeIntensity

        assert first is not None
        images, result = first
        t1 = result.images["t1"]
        brain = result.brain_mask
        affine = result.flair_affine
        spacing = images["flair"].spacing
        ours = median_time(lambda: n4_correct(t1, brain, spacing), args.repeats)
        ref = median_time(
            lambda: ants.n4_bias_field_correction(
                to_ants(t1, affine), mask=to_ants(brain.astype(np.float32), affine), shrink_factor=4
            ),
            args.repeats,
        )
        print(
            f"\nN4 (T1): SimpleITK ours {ours:.2f} s, ants.n4_bias_field_correction {ref:.2f} s, ratio {ours / ref:.2f}"
        )
        scale = fit_nyul([t1], [brain], modality="t1")
        irs = IntensityRangeStandardization(cutoffp=(1, 99), landmarkp=list(range(10, 100, 10)), stdrange=(1, 100))
        irs.train([t1[brain].astype(np.float64)])
        ours = median_time(lambda: apply_nyul(t1, brain, scale), args.repeats)
        ref = median_time(
            lambda: irs.transform(t1[brain].astype(np.float64), surpress_mapping_check=True), args.repeats
        )
        print(f"Nyul apply: ours {ours:.3f} s, medpy {ref:.3f} s, ratio {ours / ref:.2f}")
        masked = np.where(brain, t1, 0.0)[None]
        ours = median_time(lambda: zscore(t1, brain), args.repeats)
        ref = median_time(lambda: NormalizeIntensity(nonzero=True)(masked), args.repeats)
        print(f"z-score: ours {ours:.3f} s, MONAI NormalizeIntensity {ref:.3f} s, ratio {ours / ref:.2f}")
        print(
            f"\nload average at the end: {os.getloadavg()[0]:.2f} (2-core machine; contended timings run 1.5-3x slower)"
        )


if __name__ == "__main__":
    main()
