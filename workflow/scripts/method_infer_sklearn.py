"""Run a trained flair_hyperintensity or random_forest method on one test case."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.sklearn_jobs import infer_sklearn_case

    infer_sklearn_case(
        smk.params.entry,
        smk.wildcards.case,
        flair=smk.input.flair,
        images=smk.input.images,
        brain_mask=smk.input.brain_mask,
        priors=smk.input.priors,
        model_path=smk.input.model,
        output=smk.output[0],
        threads=smk.threads,
        on_failure=smk.params.on_failure,
    )


run_script(snakemake, main)  # noqa: F821
