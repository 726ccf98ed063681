"""Collect one case of a submission folder: check grid and binarity, record missing cases."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.jobs import collect_submission_case

    collect_submission_case(
        smk.params.entry,
        smk.wildcards.case,
        flair=smk.input.flair,
        output=smk.output[0],
        on_failure=smk.params.on_failure,
    )


run_script(snakemake, main)  # noqa: F821
