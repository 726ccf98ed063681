"""Gather per-case metric rows into results/metrics/metrics.tsv (validated long table)."""

from lesionbench.workflow.run import run_script


def main(smk):
    import pandas as pd

    from lesionbench.ranking.table import validate_metrics_table

    frames = [pd.read_csv(p, sep="\t", dtype={"case_id": str, "center": str}) for p in smk.input]
    table = validate_metrics_table(pd.concat(frames, ignore_index=True))
    table = table.sort_values(["case_id", "entry_kind", "entry", "reference", "metric"], kind="stable")
    table.to_csv(smk.output[0], sep="\t", index=False, float_format="%.10g")


run_script(snakemake, main)  # noqa: F821
