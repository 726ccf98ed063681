"""Collect one case of a submission folder (read as untrusted): check grid and values, record missing cases."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.jobs import collect_submission_case

    collect_submission_case(
        smk.params.entry,
        smk.wildcards.case,
        flair=smk.input.flair,
        output=smk.output[0],
        on_failure=smk.params.on_failure,
        limits=smk.params.limits,
    )


run_script(snakemake, main)  # noqa: F821
