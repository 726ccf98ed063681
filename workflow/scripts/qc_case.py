"""Input QC of one case (lesionbench.cohort.qc): stop on the first problem, or record it."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.cohort.qc import first_error, inspect_task_case, records_table

    records = inspect_task_case(
        smk.wildcards.case,
        **smk.params.files,  # images, masks
        task=smk.params.task,
        required=smk.params.required,
        label_policy=smk.params.label_policy,
        affine_tolerance_mm=float(smk.params.affine_tolerance_mm),
        coregistered=bool(smk.params.coregistered),
    )
    error = first_error(records)
    if error is not None and smk.params.stop_on_failure:
        raise error
    records_table(records).to_csv(smk.output[0], sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
