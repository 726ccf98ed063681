"""Cohort tables: rater performance per fusion method, and (synthetic) each consensus method, each
rater and the median rater against the truth (lesionbench.consensus.case.summarize_truth)."""

from lesionbench.workflow.run import run_script


def main(smk):
    import pandas as pd

    from lesionbench.consensus.case import summarize_truth

    performance = pd.concat(
        [pd.read_csv(p, sep="\t", dtype={"case_id": str}) for p in smk.input.tables], ignore_index=True
    )
    performance.to_csv(smk.output.performance, sep="\t", index=False)
    if smk.output.get("validation"):
        validation = pd.concat(
            [pd.read_csv(p, sep="\t", dtype={"case_id": str}) for p in smk.input.validation], ignore_index=True
        )
        validation.to_csv(smk.output.validation, sep="\t", index=False)
        summarize_truth(validation).to_csv(smk.output.summary, sep="\t", index=False, float_format="%.4f")


run_script(snakemake, main)  # noqa: F821
