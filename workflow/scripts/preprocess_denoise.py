"""Optional NL-means denoising of one case's raw images (lesionbench.preprocess.jobs.denoise_case_files)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.preprocess.jobs import denoise_case_files  # loads no ITK yet

    denoise_case_files(
        smk.wildcards.case,
        {m: smk.input[m] for m in smk.params.modalities},
        smk.output[0],
        patch_radius=smk.params.patch_radius,
        search_radius=smk.params.search_radius,
        threads=1 if smk.params.deterministic else smk.threads,
    )


run_script(snakemake, main)  # noqa: F821
