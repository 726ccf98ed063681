"""MSSEG-2 scores of one two-visit test case (lesionbench.metrics.newlesions): methods against
the consensus, raters against the fusion of the others."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.newlesion_jobs import score_new_lesion_case_files

    score_new_lesion_case_files(
        smk.wildcards.case,
        reference=smk.input.reference,
        reference_name=smk.params.reference,
        entries=smk.params.entries,
        prediction_dirs=smk.input.predictions,
        raters=smk.params.raters,
        rater_masks=smk.input.raters,
        loo_dir=smk.input.loo,
        fields=smk.params.fields,
        output=smk.output[0],
        detections_output=smk.output.detections,
    )


run_script(snakemake, main)  # noqa: F821
