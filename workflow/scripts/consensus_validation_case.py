"""Synthetic cohorts only: each rater and each consensus against the generator's true lesions
(lesionbench.consensus.case.truth_table_files: Dice, MS-SEG 2016 lesion F1, relative volume error)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.consensus.case import truth_table_files

    fusions = smk.params.fusions
    truth_table_files(
        smk.wildcards.case,
        truth=smk.input.truth,
        raters=dict(zip(smk.params.raters, smk.input.raters)),
        fusions=dict(zip(fusions, smk.input.fusions)),
        rater_tables=dict(zip(fusions, smk.input.tables)),
        min_lesion_volume_mm3=smk.params.min_lesion_volume_mm3,
        out_path=smk.output[0],
    )


run_script(snakemake, main)  # noqa: F821
