"""Gather the scoring jobs' rows into results/metrics/metrics.tsv (lesionbench.metrics.scoring.gather_metrics_tables)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.metrics.scoring import gather_metrics_tables

    table = gather_metrics_tables(smk.input.tables, smk.input.failures)
    table.to_csv(smk.output[0], sep="\t", index=False, float_format="%.10g")


run_script(snakemake, main)  # noqa: F821
