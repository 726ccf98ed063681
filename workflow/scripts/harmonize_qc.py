"""Between-center distance of normal-appearing-WM intensities before/after each harmonization scheme."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.preprocess.harmonize_jobs import harmonization_qc_files

    p = smk.params
    harmonization_qc_files(
        p.centers,
        files=p.files,
        modalities=p.modalities,
        schemes=p.schemes,
        wm_threshold=p.wm_threshold,
        max_voxels=p.max_voxels,
        seed=p.seed,
        table_path=smk.output.table,
        figure_path=smk.output.figure,
    )


run_script(snakemake, main)  # noqa: F821
