"""The long results table from the scoring jobs' tables (``results/metrics/metrics.tsv``).

Kept apart from :mod:`lesionbench.metrics.scoring` so that gathering the tables does not import
the metric engine (scipy): only pandas and the table's own checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import LesionbenchError

#: Columns of a batch's failures table: the case and the one-line error that stopped its scoring.
FAILURE_COLUMNS: tuple[str, ...] = ("case_id", "error")


def gather_metrics_tables(tables: Sequence[str | Path], failures: Sequence[str | Path] = ()) -> pd.DataFrame:
    """The long results table from the scoring jobs' tables: validated, sorted by case, entry kind,
    entry, reference and metric (so the batching does not show in it).

    Raises :class:`~lesionbench.errors.LesionbenchError` when a scoring job recorded a case it could
    not score: one line naming every such case and its error (the first file and problem per case).
    """
    from ..ranking.table import METRICS_COLUMNS, validate_metrics_table

    failed = [pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False) for p in failures]
    failed_rows = pd.concat(failed, ignore_index=True) if failed else pd.DataFrame(columns=list(FAILURE_COLUMNS))
    if not failed_rows.empty:
        listed = "; ".join(failed_rows["error"])
        raise LesionbenchError(f"{len(failed_rows)} case(s) could not be scored: {listed}")
    frames = [pd.read_csv(p, sep="\t", dtype={"case_id": str, "center": str}) for p in tables]
    frames = [f for f in frames if not f.empty]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(METRICS_COLUMNS))
    table = validate_metrics_table(table)
    return table.sort_values(["case_id", "entry_kind", "entry", "reference", "metric"], kind="stable")
