"""Fit the Nyul standard scale of one modality on the training split (lesionbench.preprocess.harmonize_jobs)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.preprocess.harmonize_jobs import fit_nyul_files

    fit_nyul_files(
        smk.wildcards.modality,
        smk.params.cases,
        smk.input.images,
        smk.input.masks,
        smk.output[0],
        percentiles=smk.params.nyul["percentiles"],
        scale_range=smk.params.nyul["scale_range"],
    )


run_script(snakemake, main)  # noqa: F821
