"""Run a tuned subtraction method on one two-visit test case."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.newlesion_jobs import infer_subtraction_case

    infer_subtraction_case(
        smk.params.entry["name"],
        smk.wildcards.case,
        flair=smk.input.flair,
        images=smk.input.images,
        brain_mask=smk.input.brain_mask,
        model_path=smk.input.model,
        output=smk.output[0],
        on_failure=smk.params.on_failure,
    )


run_script(snakemake, main)  # noqa: F821
