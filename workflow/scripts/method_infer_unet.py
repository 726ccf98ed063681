"""Run a trained unet3d method on one test case (sliding window, optional flip TTA)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.unet_jobs import infer_unet_case

    infer_unet_case(
        smk.params.entry,
        smk.wildcards.case,
        flair=smk.input.flair,
        images=smk.input.images,
        brain_mask=smk.input.brain_mask,
        model_path=smk.input.model,
        output=smk.output[0],
        threads=smk.threads,
        on_failure=smk.params.on_failure,
    )


run_script(snakemake, main)  # noqa: F821
