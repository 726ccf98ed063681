"""Generate one two-visit patient of the synthetic longitudinal cohort in the MSSEG-2 layout
(thin adapter to lesionbench.synth.longitudinal_io.generate_planned_patient)."""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.synth.longitudinal_io import generate_planned_patient

    generate_planned_patient(
        smk.wildcards.patient,
        smk.params.preset,
        int(smk.params.seed),
        smk.params.variant,
        Path(smk.params.root),
        t1=bool(smk.params.t1),
        anatomy_file=smk.input.anatomy,
    )


run_script(snakemake, main)  # noqa: F821
