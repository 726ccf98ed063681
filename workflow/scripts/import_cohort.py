"""Write results/cohort/{cases,raters}.tsv (absolute paths). The synthetic cohort is imported with the
MS-SEG 2016 importer and checked against its plan (lesionbench.cohort.importers.check_against_plan)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.cohort.importers import check_against_plan, import_msseg2016
    from lesionbench.cohort.sheet import validate_case_sheet, with_absolute_paths, write_case_sheet
    from lesionbench.workflow.config import centers_from_config, cohort_from_config

    config, root = smk.params.config, smk.params.synthetic_root
    sheet = cohort_from_config(config)
    if config["dataset"]["source"] == "synthetic":
        found = import_msseg2016(root, centers=centers_from_config(config))
        imported = validate_case_sheet(found, required_modalities=config["modalities"]["required"])
        sheet = check_against_plan(imported, sheet, root=root)
    sheet = with_absolute_paths(sheet)
    write_case_sheet(sheet, smk.output.cases, smk.output.raters)
    print(sheet.cases["split"].value_counts().to_string())


run_script(snakemake, main)  # noqa: F821
