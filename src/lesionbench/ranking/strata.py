"""Strata of the long table and the leaderboard per stratum.

MS-SEG 2016 reports results varying with the centre, the unseen centre 03 as a
generalisation test, and lesion load (very low loads give unstable Dice/F1; Commowick et
al., Sci Rep 8:13650, 2018). Strata:

- ``center``: one stratum per centre;
- ``seen_center``: ``seen`` / ``unseen`` (centres absent from training);
- ``load_tertile``: ``low`` / ``medium`` / ``high`` tertiles of the reference lesion load,
  computed per reference over its cases (cases ordered by load then id, split in three
  as equal as possible; a case without a load is ``unknown``);
- ``lesion_size``: detection metrics per lesion-size bin, which the metrics stage emits as
  metric names ``<metric>@<bin>`` (e.g. ``lesion_sensitivity@3-10mm3``, bins from
  :func:`lesion_size_bin_labels`); each bin becomes a stratum with the suffix stripped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..metrics.info import SIZE_BIN_SEPARATOR, SIZE_BINS_MM3, size_bin_label
from .leaderboard import msseg_leaderboard
from .options import STRATA

TERTILE_LABELS: tuple[str, str, str] = ("low", "medium", "high")


def lesion_size_bin_labels(volumes_mm3: np.ndarray, edges: Sequence[float] | None = None) -> np.ndarray:
    """Bin labels such as ``"3-10mm3"`` / ``">=500mm3"`` for lesion volumes (``"<3mm3"`` below the
    first edge). The default edges are the metrics stage's size bins
    (:data:`lesionbench.metrics.info.SIZE_BINS_MM3`), labelled as its per-bin metric names are."""
    lows = np.asarray([low for low, _ in SIZE_BINS_MM3] if edges is None else edges, dtype=float)
    if lows.ndim != 1 or lows.size < 1 or np.any(np.diff(lows) <= 0):
        raise ConfigError(f"lesion size edges must be increasing, got {lows.tolist()}")
    bounds = [*lows.tolist(), math.inf]
    names = [f"<{lows[0]:g}mm3"] + [size_bin_label(a, b) for a, b in itertools.pairwise(bounds)]
    idx = np.digitize(np.asarray(volumes_mm3, dtype=float), lows)
    return np.asarray(names, dtype=object)[idx]


def load_tertiles(table: pd.DataFrame) -> pd.Series:
    """Per row, the tertile label of its case's reference lesion load (per reference)."""
    labels = pd.Series("unknown", index=table.index, dtype=object)
    for _, rows in table.groupby("reference", sort=True):
        loads = rows.groupby("case_id")["lesion_load_ml"].first().dropna()
        ordered = loads.reset_index().sort_values(["lesion_load_ml", "case_id"], kind="stable")["case_id"].to_numpy()
        n = len(ordered)
        tertile = {case: TERTILE_LABELS[(3 * i) // n] for i, case in enumerate(ordered)}
        labels.loc[rows.index] = rows["case_id"].map(tertile).fillna("unknown").to_numpy()
    return labels


def stratify(table: pd.DataFrame, by: str) -> dict[str, pd.DataFrame]:
    """Split a validated long table into strata ``{label: sub-table}`` (see module docstring)."""
    if by == "center":
        return {str(k): g for k, g in table.groupby("center", sort=True)}
    if by == "seen_center":
        return {("seen" if k else "unseen"): g for k, g in table.groupby("seen_center", sort=True)}
    if by == "load_tertile":
        lab = load_tertiles(table)
        return {k: table[lab == k] for k in (*TERTILE_LABELS, "unknown") if (lab == k).any()}
    if by == "lesion_size":
        parts = table["metric"].str.split(SIZE_BIN_SEPARATOR, n=1, expand=True)
        if parts.shape[1] < 2:
            return {}
        binned = table[parts[1].notna()].copy()
        binned["metric"] = parts.loc[binned.index, 0]
        return {str(k): g for k, g in binned.groupby(parts.loc[binned.index, 1], sort=True)}
    raise ConfigError(f"unknown stratum {by!r}; choose from {', '.join(STRATA)}")


def leaderboard_by_stratum(table: pd.DataFrame, by: str, **leaderboard_kwargs: Any) -> pd.DataFrame:
    """:func:`~.leaderboard.msseg_leaderboard` per stratum, stacked with ``stratum`` and
    ``stratum_value`` columns. A stratum lacking the leaderboard's metrics is skipped."""
    boards = []
    for label, sub in stratify(table, by).items():
        try:
            board = msseg_leaderboard(sub, **leaderboard_kwargs)
        except ConfigError:
            continue
        board.insert(0, "stratum_value", label)
        board.insert(0, "stratum", by)
        boards.append(board)
    if not boards:
        raise ConfigError(f"no stratum of {by!r} has the leaderboard's metrics")
    return pd.concat(boards, ignore_index=True)
