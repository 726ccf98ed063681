"""Cohort tables: rater performance per fusion method, and (synthetic) validation against truth."""

from lesionbench.workflow_support import run_script


def main(smk):
    import pandas as pd

    from lesionbench.consensus import summarize_validation

    performance = pd.concat([pd.read_csv(p, sep="\t", dtype={"case_id": str}) for p in smk.input.tables], ignore_index=True)
    performance.to_csv(smk.output.performance, sep="\t", index=False)
    if smk.output.get("validation"):
        validation = pd.concat([pd.read_csv(p, sep="\t", dtype={"case_id": str}) for p in smk.input.validation], ignore_index=True)
        validation.to_csv(smk.output.validation, sep="\t", index=False)
        summarize_validation(validation).to_csv(smk.output.summary, sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
