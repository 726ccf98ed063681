"""Write results/cohort/{cases,raters}.tsv (absolute paths). The synthetic cohort is read back with
the importer of its layout and checked against its plan (lesionbench.workflow.config.import_synthetic_cohort)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.cohort.sheet import with_absolute_paths, write_case_sheet
    from lesionbench.workflow.config import cohort_from_config, import_synthetic_cohort

    config, root = smk.params.config, smk.params.synthetic_root
    if config["dataset"]["source"] == "synthetic":
        sheet = import_synthetic_cohort(config, root)
    else:
        sheet = cohort_from_config(config)
    sheet = with_absolute_paths(sheet)
    write_case_sheet(sheet, smk.output.cases, smk.output.raters)
    print(sheet.cases["split"].value_counts().to_string())


run_script(snakemake, main)  # noqa: F821
