"""challengeR-style figures (Wiesenfarth et al., Sci Rep 11:2369, 2021, report plots) + MS-SEG views.

Each function draws one figure from a table or a ranking result and saves a PNG; colours
per entry come from one :func:`method_palette`, so a method has the same colour in every
figure. Axes follow challengeR's plots (``R/boxplot.R``, ``podium.R``, ``rankingHeatmap.R``,
``stability.R``, ``violin.R``, ``significanceMap.R``, ``methodsplot.R``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import cast

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import ListedColormap

from ..errors import ConfigError
from .bootstrap import BootstrapResult
from .options import NaTreat
from .ranks import per_case_ranks
from .schemes import apply_na_treat
from .significance import SignificanceResult
from .table import NOT_APPLICABLE, RANKED_KINDS, TaskMatrix, cell_values

Palette = Mapping[str, tuple[float, float, float]]
_DPI = 120


def method_palette(entries: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per entry, assigned in sorted-name order so it is the same in every figure
    whatever the ranking; tab10/tab20 up to 20 entries, evenly spaced HUSL hues beyond."""
    names = sorted(set(entries))
    n = len(names)
    base = "tab10" if n <= 10 else "tab20" if n <= 20 else "husl"
    colours = sns.color_palette(base, n_colors=max(n, 1))
    return {name: tuple(colours[i]) for i, name in enumerate(names)}


def _save(fig: plt.Figure, out_path: str | Path) -> None:
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)


def _colour(palette: Palette, entry: str) -> tuple[float, float, float]:
    return tuple(palette.get(entry, (0.5, 0.5, 0.5)))  # type: ignore[return-value]


def _rows(table: pd.DataFrame, metric: str, reference: str | None, kinds: Sequence[str]) -> pd.DataFrame:
    """Rows of one metric with the values the ranking uses (:func:`~.table.cell_values`:
    both-empty cases at the metric's best, ...); not-applicable rows left out."""
    rows = table[
        (table["metric"] == metric) & table["entry_kind"].isin(list(kinds)) & (table["status"] != NOT_APPLICABLE)
    ]
    if reference is not None:
        rows = rows[rows["reference"] == reference]
    rows = rows.assign(value=cell_values(rows))
    if rows.empty:
        raise ConfigError(f"no rows to plot for metric {metric!r}, reference {reference!r}, kinds {list(kinds)}")
    return rows


def dot_boxplot(
    table: pd.DataFrame,
    out_path: str | Path,
    *,
    metric: str,
    reference: str,
    palette: Palette,
    order: Sequence[str] | None = None,
    kinds: Sequence[str] = RANKED_KINDS,
) -> None:
    """Dot-and-boxplot: x = entry (rank order if ``order`` given, else by median), y = value;
    box without outliers + one jittered dot per case (challengeR ``boxplot.ranked.list``)."""
    rows = _rows(table, metric, reference, kinds).dropna(subset=["value"])
    if order is None:
        order = list(rows.groupby("entry")["value"].median().sort_values(ascending=False).index)
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(order) + 2), 5))
    sns.boxplot(
        data=rows,
        x="entry",
        y="value",
        hue="entry",
        order=order,
        hue_order=order,
        palette=dict(palette),
        showfliers=False,
        ax=ax,
        legend=False,
        boxprops={"alpha": 0.5},
    )
    sns.stripplot(
        data=rows,
        x="entry",
        y="value",
        hue="entry",
        order=order,
        hue_order=order,
        palette=dict(palette),
        jitter=0.25,
        size=4,
        ax=ax,
        legend=False,
        edgecolor="black",
        linewidth=0.3,
    )
    ax.set(xlabel="entry (ranking order)", ylabel=metric, title=f"{metric} per case (reference {reference})")
    ax.tick_params(axis="x", rotation=45)
    _save(fig, out_path)


def podium_plot(
    task: TaskMatrix, out_path: str | Path, *, palette: Palette, rng: np.random.Generator, na_treat: NaTreat = "worst"
) -> None:
    """Podium plot (challengeR ``podium``): per case, entries ranked with random tie-breaking
    (from ``rng``) and drawn as a dot in their own sub-column under the place achieved,
    a case's dots joined by a line; below, each entry's relative frequency of each place."""
    loss = apply_na_treat(task.values, task.spec, na_treat)
    k, n = loss.shape
    # Random tie-break: order by (loss, random key).
    places = np.empty((k, n), dtype=int)
    for c in range(n):
        order = np.lexsort((np.asarray(rng.random(k)), loss[:, c]))
        places[order, c] = np.arange(k)
    shown = np.where(np.isnan(task.values), task.spec.worst if task.spec.worst is not None else np.nan, task.values)
    fig, (ax, axb) = plt.subplots(
        2, 1, figsize=(max(7, 1.1 * k + 2), 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    width = 1.0 / (k + 1)
    xs = places + (np.arange(k)[:, None] + 1) * width
    for c in range(n):
        o = np.argsort(places[:, c])
        ax.plot(xs[o, c], shown[o, c], color="grey", alpha=0.4, linewidth=0.6, zorder=1)
    for j, e in enumerate(task.entries):
        ax.scatter(
            xs[j], shown[j], color=_colour(palette, e), s=14, zorder=2, label=e, edgecolor="black", linewidth=0.2
        )
        freq = np.bincount(places[j], minlength=k) / n
        axb.bar(np.arange(k) + (j + 1) * width, freq, width=width, color=_colour(palette, e))
    for p in range(1, k):
        ax.axvline(p, color="lightgrey", linewidth=0.8)
        axb.axvline(p, color="lightgrey", linewidth=0.8)
    ax.set(ylabel=task.metric, title=f"Podium: {task.metric} (reference {task.reference}, {n} cases)")
    axb.set(
        xlabel="podium place", ylabel="frequency", xticks=np.arange(k) + 0.5, xticklabels=[str(p + 1) for p in range(k)]
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="entry", fontsize=8)
    _save(fig, out_path)


def ranking_heatmap(
    task: TaskMatrix, out_path: str | Path, *, order: Sequence[str] | None = None, na_treat: NaTreat = "worst"
) -> None:
    """Ranking heatmap (challengeR ``rankingHeatmap``): cell (rank i, entry j) = number of cases
    where entry j had rank i (per-case ranks, ties min); reversed viridis, 0..n cases."""
    ranks = per_case_ranks(apply_na_treat(task.values, task.spec, na_treat)).astype(int)
    k, n = ranks.shape
    counts = np.stack([np.bincount(ranks[j] - 1, minlength=k)[:k] for j in range(k)], axis=1)
    idx = [task.entries.index(e) for e in (order or task.entries)]
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * k + 2), max(4, 0.45 * k + 1.5)))
    sns.heatmap(
        pd.DataFrame(counts[:, idx], index=np.arange(1, k + 1), columns=[task.entries[i] for i in idx]),
        cmap="viridis_r",
        vmin=0,
        vmax=n,
        annot=k <= 20,
        fmt="d",
        ax=ax,
        cbar_kws={"label": "number of cases"},
    )
    ax.set(xlabel="entry (ranking order)", ylabel="rank", title=f"Per-case ranks: {task.metric} ({n} cases)")
    ax.tick_params(axis="x", rotation=45)
    _save(fig, out_path)


def bootstrap_blob_plot(boot: BootstrapResult, out_path: str | Path, *, palette: Palette) -> None:
    """Blob plot (challengeR ``stabilityByTask``): x = entries in full-data rank order, y = rank;
    blob area proportional to the share of bootstrap samples giving that rank; x = median,
    vertical line = 2.5-97.5 % bootstrap rank interval; dotted diagonal."""
    k = len(boot.entries)
    order = np.lexsort((np.array(boot.entries), boot.full_rank))
    dist = boot.rank_distribution / boot.n_boot
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * k + 2), max(5, 0.4 * k + 2)))
    for x, j in enumerate(order):
        e = boot.entries[j]
        r = np.nonzero(dist[j])[0]
        ax.scatter(
            np.full(r.size, x), r + 1, s=dist[j, r] * 600, color=_colour(palette, e), alpha=0.8, edgecolor="none"
        )
        lo, med, hi = np.quantile(boot.ranks[:, j], [0.025, 0.5, 0.975])
        ax.vlines(x, lo, hi, color="black", linewidth=1)
        ax.scatter([x], [med], marker="x", color="black", s=30, zorder=3)
    ax.plot([0, k - 1], [1, k], linestyle=":", color="grey")
    ax.set_xticks(range(k), [f"{boot.entries[j]}\n({int(boot.full_rank[j])})" for j in order], rotation=45, ha="right")
    ax.set_yticks(range(1, k + 1))
    ax.invert_yaxis()
    for size in (0.1, 0.5, 1.0):
        ax.scatter([], [], s=size * 600, color="grey", alpha=0.6, label=f"{size:.0%}")
    ax.legend(title="bootstrap samples", loc="center left", bbox_to_anchor=(1.0, 0.5), labelspacing=2.0, frameon=False)
    ax.set(
        xlabel="entry (full-data rank)",
        ylabel="rank",
        title=f"Bootstrap ranks: {boot.task.metric}, {boot.scheme.name}, {boot.n_boot} samples",
    )
    _save(fig, out_path)


def kendall_violin(boots: Mapping[str, BootstrapResult], out_path: str | Path) -> None:
    """Violin + narrow boxplot of Kendall's tau (full vs each bootstrap ranking) per task,
    tasks sorted by median tau (challengeR ``violin``). Undefined taus (a ranking without
    variation, all entries tied) are left out and counted under each task's name; a task
    with no defined tau shows "tau undefined" text instead of a violin."""
    df = pd.DataFrame(
        [{"task": t, "tau": v} for t, b in boots.items() for v in b.kendall_tau if not np.isnan(v)],
        columns=["task", "tau"],
    )
    medians = df.groupby("task")["tau"].median()
    order = list(medians.sort_values(ascending=False, kind="stable").index) + [
        t for t in boots if t not in medians.index
    ]
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(order) + 2), 5))
    if not df.empty:
        sns.violinplot(data=df, x="task", y="tau", order=order, color="lightsteelblue", cut=0, inner=None, ax=ax)
        sns.boxplot(data=df, x="task", y="tau", order=order, width=0.12, showfliers=False, color="white", ax=ax)
    for x, t in enumerate(order):
        if t not in medians.index:
            ax.text(
                x,
                0.5,
                "Kendall's tau\nundefined\nin every sample",
                ha="center",
                va="center",
                fontsize=9,
                color="dimgrey",
            )
    ax.set_xticks(range(len(order)), [f"{t}\n({boots[t].n_tau_undefined}/{boots[t].n_boot} undefined)" for t in order])
    low = df["tau"].min() if not df.empty else 0.0
    ax.set(
        xlim=(-0.5, len(order) - 0.5),
        xlabel="task (metric)",
        ylabel="Kendall's tau",
        ylim=(min(-0.05, low - 0.05), 1.02),
        title="Ranking stability: Kendall's tau, full data vs bootstrap",
    )
    _save(fig, out_path)


def significance_map(task: TaskMatrix, sig: SignificanceResult, rank: np.ndarray, out_path: str | Path) -> None:
    """Significance map (challengeR ``significanceMap``): entries in rank order on both axes;
    yellow = x entry significantly better than y entry, blue = not; diagonal blank."""
    order = np.lexsort((np.array(task.entries), rank))
    names = [task.entries[i] for i in order]
    m = sig.significant[np.ix_(order, order)].T.astype(float)  # [y, x]: x better than y
    np.fill_diagonal(m, np.nan)
    cmap = ListedColormap([plt.get_cmap("cividis")(0.05), plt.get_cmap("cividis")(0.95)])
    k = len(names)
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * k + 2.5), max(4.5, 0.5 * k + 1.5)))
    ax.imshow(m, cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks(range(k), [f"{n}\n({int(rank[i])})" for n, i in zip(names, order)], rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set(
        xlabel="entry (rank)",
        ylabel="entry",
        title=f"Significance map: {task.metric}\none-sided Wilcoxon, Holm, alpha=0.05",
    )
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=cmap(1.0), label="x better than y"), Patch(color=cmap(0.0), label="not significant")],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
    )
    _save(fig, out_path)


def scheme_lineplot(scheme_ranks: pd.DataFrame, out_path: str | Path, *, palette: Palette) -> None:
    """Ranks across ranking schemes (challengeR ``methodsplot``): x = scheme, y = rank, one
    line per entry, one panel per metric. Input: columns metric, scheme, entry, rank."""
    metrics = list(dict.fromkeys(scheme_ranks["metric"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics) + 1.5, 5), sharey=True, squeeze=False)
    for ax, m in zip(axes[0], metrics):
        sub = scheme_ranks[scheme_ranks["metric"] == m]
        schemes = list(dict.fromkeys(sub["scheme"]))
        for e, g in sub.groupby("entry", sort=True):
            g = g.set_index("scheme").reindex(schemes)
            ax.plot(range(len(schemes)), g["rank"], marker="o", color=_colour(palette, e), label=e)
        ax.set_xticks(range(len(schemes)), schemes, rotation=45, ha="right")
        ax.set(title=m, xlabel="ranking scheme")
    axes[0][0].set_ylabel("rank")
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="entry", fontsize=8)
    fig.suptitle("Ranks under different ranking schemes")
    _save(fig, out_path)


def metric_vs_lesion_load(
    table: pd.DataFrame,
    out_path: str | Path,
    *,
    metric: str,
    reference: str,
    palette: Palette,
    kinds: Sequence[str] = RANKED_KINDS,
) -> None:
    """Metric value against the reference lesion load (log x), one colour per entry, with
    each entry's values joined in load order (low loads give unstable scores)."""
    rows = _rows(table, metric, reference, kinds).dropna(subset=["value", "lesion_load_ml"])
    fig, ax = plt.subplots(figsize=(8, 5))
    for e, g in rows.groupby("entry", sort=True):
        g = g.sort_values("lesion_load_ml")
        ax.plot(
            g["lesion_load_ml"],
            g["value"],
            marker="o",
            markersize=4,
            linewidth=0.8,
            alpha=0.8,
            color=_colour(palette, cast(str, e)),
            label=e,
        )
    if (rows["lesion_load_ml"] > 0).all():
        ax.set_xscale("log")
    ax.set(xlabel="reference lesion load (ml)", ylabel=metric, title=f"{metric} vs lesion load (reference {reference})")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="entry", fontsize=8)
    _save(fig, out_path)


def center_heatmap(
    table: pd.DataFrame,
    out_path: str | Path,
    *,
    metric: str,
    reference: str,
    kinds: Sequence[str] = ("method", "ensemble", "rater"),
) -> None:
    """Mean metric per entry (rows) and centre (columns); unseen centres are marked "(unseen)"."""
    rows = _rows(table, metric, reference, kinds)
    seen = rows.groupby("center")["seen_center"].first()
    grid = rows.pivot_table(index="entry", columns="center", values="value", aggfunc="mean")
    grid = grid.loc[grid.mean(axis=1).sort_values(ascending=False).index]
    grid.columns = [f"{c}" + ("" if seen[c] else "\n(unseen)") for c in grid.columns]
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * grid.shape[1] + 3), max(4, 0.45 * grid.shape[0] + 1.5)))
    sns.heatmap(grid, annot=True, fmt=".2f", cmap="mako", ax=ax, cbar_kws={"label": f"mean {metric}"})
    ax.set(xlabel="centre", ylabel="entry", title=f"Mean {metric} per centre (reference {reference})")
    _save(fig, out_path)


def methods_vs_raters(
    table: pd.DataFrame,
    out_path: str | Path,
    *,
    metric: str,
    reference: str,
    palette: Palette,
    rater_reference: str | None = None,
) -> None:
    """Box + dots per entry, methods left of raters (against ``rater_reference``, default
    ``reference``), separated by a line; raters hatched, on the methods' cases. Methods are drawn against the raters'
    reference when they are scored on it (like for like: the leave-one-rater-out fusions), else
    against ``reference``."""
    rater_reference = rater_reference or reference
    like = table[
        (table["metric"] == metric) & (table["reference"] == rater_reference) & table["entry_kind"].isin(RANKED_KINDS)
    ]
    if len(like):
        reference = rater_reference
    meth = _rows(table, metric, reference, RANKED_KINDS)
    rat = table[
        (table["metric"] == metric) & (table["entry_kind"] == "rater") & (table["reference"] == rater_reference)
    ]
    rat = rat[(rat["status"] != NOT_APPLICABLE) & rat["case_id"].isin(set(meth["case_id"]))]  # the methods' cases
    rat = rat.assign(value=cell_values(rat))
    rows = pd.concat([meth, rat]).dropna(subset=["value"])
    order = list(meth.groupby("entry")["value"].median().sort_values(ascending=False).index)
    order += list(rat.groupby("entry")["value"].median().sort_values(ascending=False).index)
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(order) + 2), 5))
    sns.boxplot(
        data=rows,
        x="entry",
        y="value",
        hue="entry",
        order=order,
        hue_order=order,
        palette=dict(palette),
        showfliers=False,
        ax=ax,
        legend=False,
        boxprops={"alpha": 0.6},
    )
    sns.stripplot(data=rows, x="entry", y="value", order=order, color="black", size=3, jitter=0.2, ax=ax)
    n_meth = meth["entry"].nunique()
    for patch in ax.patches[n_meth:]:
        patch.set_hatch("//")
    if len(rat):
        ax.axvline(n_meth - 0.5, color="black", linestyle="--", linewidth=1)
        ax.text(n_meth - 0.4, ax.get_ylim()[1], f"raters (vs {rater_reference})", va="top", fontsize=9)
    ax.set(xlabel="entry", ylabel=metric, title=f"Methods (vs {reference}) and raters: {metric}")
    ax.tick_params(axis="x", rotation=45)
    _save(fig, out_path)
