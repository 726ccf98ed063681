"""Leaderboard, analysis tables, strata and figures from results/metrics/metrics.tsv."""

from lesionbench.workflow.run import run_script


def main(smk):
    from pathlib import Path

    from lesionbench.ranking import read_metrics_table
    from lesionbench.ranking.pipeline import RankingOptions, run_ranking

    table = read_metrics_table(smk.input[0])
    options = RankingOptions(**smk.params.options)
    board = run_ranking(table, Path(smk.output.leaderboard).parent, options)
    print(board.to_string(index=False))


run_script(snakemake, main)  # noqa: F821
