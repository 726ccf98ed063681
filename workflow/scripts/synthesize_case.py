"""Generate one synthetic case in the MS-SEG 2016 layout (thin adapter to lesionbench.synth)."""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.synth import generate_case, plan_cohort
    from lesionbench.synth.anatomy import read_template_anatomy
    from lesionbench.synth.plan import get_preset

    case_dir = smk.wildcards.case_dir
    plans = [
        p
        for p in plan_cohort(smk.params.preset, int(smk.params.seed), int(smk.params.raters))
        if p.relative_dir == case_dir
    ]
    if len(plans) != 1:
        raise RuntimeError(f"{case_dir} is not a case of the synthetic plan")
    anatomy = read_template_anatomy(smk.input.anatomy, get_preset(smk.params.preset).anatomy_mm)
    generate_case(plans[0], smk.params.preset, int(smk.params.raters), Path(smk.params.root), anatomy)


run_script(snakemake, main)  # noqa: F821
