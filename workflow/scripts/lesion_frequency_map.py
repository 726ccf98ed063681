"""Population lesion-frequency map in MNI space from the cases' reference consensus masks
(lesionbench.consensus.population.frequency_map_files: all cases in one job, one ANTs import)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.consensus.population import frequency_map_files  # loads no ITK yet

    frequency_map_files(
        dict(zip(smk.params.cases, smk.input.masks)),
        smk.input.transforms,
        map_path=smk.output.map,
        figure_path=smk.output.figure,
        title=smk.params.title,
        threads=smk.threads,
    )


run_script(snakemake, main)  # noqa: F821
