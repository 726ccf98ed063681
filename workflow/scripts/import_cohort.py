"""Write results/cohort/{cases,raters}.tsv (absolute paths).

For the synthetic cohort this runs the MS-SEG 2016 importer over what the generator wrote and
checks it finds exactly the planned cases, raters and files: the demo exercises the importer.
"""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    import pandas as pd

    from lesionbench.cohort.importers import import_msseg2016
    from lesionbench.cohort.sheet import CaseSheet, resolve_path, validate_case_sheet, write_case_sheet
    from lesionbench.errors import SheetError
    from lesionbench.workflow.config import centers_from_config, cohort_from_config

    config = smk.params.config
    planned = cohort_from_config(config)
    if config["dataset"]["source"] == "synthetic":
        imported = validate_case_sheet(
            import_msseg2016(Path(smk.params.synthetic_root), centers=centers_from_config(config)),
            required_modalities=config["modalities"]["required"],
        )
        for column in ("case_id", "center", "split", "flair", "t1", "t2", "pd"):
            got = sorted(zip(imported.cases["case_id"], imported.cases[column].astype(str)))
            want = sorted(zip(planned.cases["case_id"], planned.cases[column].astype(str)))
            if got != want:
                raise SheetError(f"MS-SEG import of the synthetic cohort disagrees with its plan in column {column!r}", path=smk.params.synthetic_root)
        if len(imported.raters) != len(planned.raters):
            raise SheetError("MS-SEG import found a different number of rater masks than planned", path=smk.params.synthetic_root)
        sheet = imported
    else:
        sheet = planned
    cases = sheet.cases.copy()
    for column in ("flair", "t1", "t2", "pd", "t1gd", "brain_mask", "consensus"):
        cases[column] = [str(sheet.path(c, column) or "") for c in cases["case_id"]]
    raters = sheet.raters.copy()
    raters["path"] = [
        str(resolve_path(sheet.root, path, case=case, what=f"rater {rater}"))
        for case, rater, path in zip(raters["case_id"], raters["rater"], raters["path"])
    ]
    write_case_sheet(CaseSheet(cases=cases, raters=raters, root=None), smk.output.cases, smk.output.raters)
    print(pd.Series(cases["split"]).value_counts().to_string())


run_script(snakemake, main)  # noqa: F821
