"""The new-lesion leaderboard (lesionbench.ranking.newlesions) from results/metrics/metrics.tsv."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.ranking.newlesions import write_new_lesion_leaderboard

    board = write_new_lesion_leaderboard(
        smk.input[0],
        reference=smk.params.reference,
        table_path=smk.output.table,
        markdown_path=smk.output.markdown,
        figure_path=smk.output.figure,
    )
    print(board.to_string(index=False))


run_script(snakemake, main)  # noqa: F821
