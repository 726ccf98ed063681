"""Gather per-case QC tables into the cohort QC table, per-case status and the excluded list."""

from lesionbench.workflow.run import run_script


def main(smk):
    import pandas as pd

    from lesionbench.cohort.qc import case_summary

    table = pd.concat([pd.read_csv(p, sep="\t", dtype={"case_id": str}) for p in smk.input.cases], ignore_index=True)
    table.to_csv(smk.output.table, sep="\t", index=False)
    status = case_summary(table)
    status.to_csv(smk.output.status, sep="\t", index=False)
    status[~status["passed"]].to_csv(smk.output.excluded, sep="\t", index=False)
    print(f"{int(status['passed'].sum())} of {len(status)} cases passed input QC")


run_script(snakemake, main)  # noqa: F821
