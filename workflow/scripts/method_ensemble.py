"""Fuse the members' masks of one case (majority vote or STAPLE)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.jobs import ensemble_case

    ensemble_case(
        smk.params.entry,
        smk.wildcards.case,
        flair=smk.input.flair,
        brain_mask=smk.input.brain_mask,
        members=dict(zip(smk.params.members, smk.input.members)),
        output=smk.output[0],
        on_failure=smk.params.on_failure,
    )


run_script(snakemake, main)  # noqa: F821
