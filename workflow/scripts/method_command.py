"""Run a participant's command on one case in its sandbox and check the mask it writes (its
stdout and stderr go to the rule's log, where run_script sends this script's stdout)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.jobs import run_command_case

    run_command_case(
        smk.params.entry,
        smk.wildcards.case,
        flair=smk.input.flair,
        images=dict(zip(smk.params.modalities, smk.input.images)),
        output=smk.output[0],
        threads=smk.threads,
        on_failure=smk.params.on_failure,
        limits=smk.params.limits,
    )


run_script(snakemake, main)  # noqa: F821
