"""The cohort overview figure: one case per center, all modalities, rater outlines, histograms."""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.synth import case_files, plan_cohort, plot_cohort_overview

    root = Path(smk.params.root)
    plans = plan_cohort(smk.params.preset, int(smk.params.seed), int(smk.params.raters))
    cases = [(p, {k: root / v for k, v in case_files(p, int(smk.params.raters)).items()}) for p in plans]
    plot_cohort_overview(cases, Path(smk.output[0]))


run_script(snakemake, main)  # noqa: F821
