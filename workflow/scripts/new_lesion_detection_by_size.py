"""Detection of the reference new lesions by lesion volume, per method and rater
(lesionbench.ranking.newlesions.write_new_lesion_detection_by_size), from the per-case detection tables."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.ranking.newlesions import write_new_lesion_detection_by_size

    table = write_new_lesion_detection_by_size(
        list(smk.input),
        reference=smk.params.reference,
        table_path=smk.output.table,
        figure_path=smk.output.figure,
    )
    print(table.to_string(index=False))


run_script(snakemake, main)  # noqa: F821
