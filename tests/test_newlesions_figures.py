"""The new-lesion track's figure of the cases without new lesions, on a hand-made long table."""

from __future__ import annotations

import numpy as np
from matplotlib.image import imread

from lesionbench.ranking.newlesions import empty_case_figure, write_new_lesion_leaderboard
from test_newlesions_ranking import long_table


def test_empty_case_figure_and_the_written_leaderboard(tmp_path):
    table = long_table()
    path = empty_case_figure(table, tmp_path / "empty.png", reference="consensus")
    image = np.asarray(imread(path))
    assert image.ndim == 3 and image.shape[0] > 100
    table.to_csv(tmp_path / "metrics.tsv", sep="\t", index=False)
    board = write_new_lesion_leaderboard(
        tmp_path / "metrics.tsv",
        reference="consensus",
        table_path=tmp_path / "board.tsv",
        markdown_path=tmp_path / "board.md",
        figure_path=tmp_path / "fig.png",
    )
    # method B reports nothing on the three empty cases: it ranks first on them
    assert board.set_index("entry").loc["B", "n_tested_lesions_rank"] == 1
    assert (tmp_path / "fig.png").exists() and "New lesions (MSSEG-2)" in (tmp_path / "board.md").read_text()
