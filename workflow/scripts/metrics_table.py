"""Gather the scoring jobs' rows into results/metrics/metrics.tsv (lesionbench.metrics.tables.gather_metrics_tables)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.metrics.tables import gather_metrics_tables

    table = gather_metrics_tables(smk.input.tables, smk.input.failures)
    table.to_csv(smk.output[0], sep="\t", index=False, float_format="%.10g")


run_script(snakemake, main)  # noqa: F821
