"""The run's story: a short generated paragraph on how the methods compare with the raters.

Written from the long table alone (``results/metrics/metrics.tsv``): the test cases (all cases
when the table has no ``test`` split), their centers, and whether a center had training cases
(the table's ``seen_center``, from the case sheet: a center with test cases only is *unseen*, as
center 03 in MS-SEG 2016, Commowick et al., Sci Rep 8:13650, 2018). Methods and raters are
compared like for like against ``rater_reference`` (the leave-one-rater-out fusions, ``loo``);
the methods alone against the ranking ``reference``; both against the synthetic ``truth`` when
the table has it. Every sentence is a comparison computed here; nothing is said that the
numbers do not show. Values are those the ranking uses (:func:`.table.cell_values`), a missing
or failed result counted at the metric's worst value (Dice and lesion F1: 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .table import RANKED_KINDS, cell_values, metric_spec

#: The metrics the story tells, and how it names them.
STORY_METRICS: tuple[tuple[str, str], ...] = (("dice", "Dice"), ("lesion_f1", "lesion F1"))


def _f(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f}"


def _rows(table: pd.DataFrame, reference: str, metric: str) -> pd.DataFrame:
    """The story's rows of one reference and metric, each with the value the ranking uses."""
    rows = table[(table["reference"] == reference) & (table["metric"] == metric)]
    if "split" in rows and (rows["split"] == "test").any():
        rows = rows[rows["split"] == "test"]
    values = cell_values(rows)
    worst = metric_spec(metric).worst
    if worst is not None:
        values = values.fillna(worst)
    return rows.assign(value=values)


def entry_means(table: pd.DataFrame, reference: str, metric: str, by: str | None = None) -> pd.DataFrame:
    """Mean value per entry (and per ``by`` column value): columns entry, entry_kind, [by], value."""
    rows = _rows(table, reference, metric)
    keys = ["entry", "entry_kind"] + ([by] if by else [])
    means = rows.groupby(keys, sort=True)["value"].mean()
    return means.reset_index()


def _methods(means: pd.DataFrame) -> pd.DataFrame:
    picked: pd.DataFrame = means.loc[means["entry_kind"].isin(RANKED_KINDS)]
    return picked


def _names(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def rater_comparison(means: pd.DataFrame, label: str) -> str:
    """One sentence placing every method's mean against the raters' means (higher is better)."""
    raters = means.loc[means["entry_kind"] == "rater", "value"]
    methods = _methods(means)
    if raters.empty or methods.empty:
        return ""
    lowest, average = float(raters.min()), float(raters.mean())
    above_mean = methods[methods["value"] >= average]
    if (methods["value"] < lowest).all():
        return f"Every method's mean {label} is below every rater's."
    if above_mean.empty:
        above_lowest = methods.loc[methods["value"] >= lowest, "entry"]
        return (
            f"Every method's mean {label} is below the raters' mean; "
            f"{_names(list(above_lowest))} reach{'es' if len(above_lowest) == 1 else ''} the lowest rater's."
        )
    verb = "reaches" if len(above_mean) == 1 else "reach"
    return f"{_names(list(above_mean.entry))} {verb} the raters' mean {label}."


def _best(methods: pd.DataFrame) -> str:
    top = methods.sort_values(["value", "entry"], ascending=[False, True]).iloc[0]
    return f"{top['entry']} ({_f(float(top['value']))})"


def _raters_sentence(means: pd.DataFrame, label: str) -> str:
    raters = means.loc[means["entry_kind"] == "rater", "value"]
    if raters.empty:
        return ""
    return f"a mean {label} of {_f(float(raters.mean()))} ({_f(float(raters.min()))} to {_f(float(raters.max()))})"


def _cohort_line(table: pd.DataFrame, reference: str) -> tuple[str, list[str]]:
    rows = _rows(table, reference, STORY_METRICS[0][0])
    cases = rows.drop_duplicates("case_id")
    centers = sorted(cases["center"].astype(str).unique())
    unseen = sorted(cases.loc[~cases["seen_center"].astype(bool), "center"].astype(str).unique())
    split = "test cases" if "split" in cases and (cases["split"] == "test").all() else "cases"
    line = f"{len(cases)} {split} from centers {_names(centers)}"
    if unseen:
        line += f"; {'center' if len(unseen) == 1 else 'centers'} {_names(unseen)} had no training case (unseen)."
    else:
        line += "; every center had training cases."
    return line, unseen


def _center_lines(table: pd.DataFrame, reference: str, unseen: list[str]) -> list[str]:
    per = {m: entry_means(table, reference, m, by="center") for m, _ in STORY_METRICS}
    lines = []
    for center in sorted(per["dice"]["center"].astype(str).unique()):
        parts = []
        for m, label in STORY_METRICS:
            here = per[m][per[m]["center"].astype(str) == center]
            methods, raters = _methods(here), here.loc[here["entry_kind"] == "rater", "value"]
            text = f"{label}: best method {_best(methods)}" if not methods.empty else f"{label}: no method"
            if not raters.empty:
                text += f", raters {_f(float(raters.mean()))}"
            parts.append(text)
        tag = "unseen" if center in unseen else "seen"
        lines.append(f"- center {center} ({tag}): " + "; ".join(parts))
    return lines


def unseen_center_sentence(table: pd.DataFrame, reference: str, unseen: list[str]) -> str:
    """Where the unseen centers stand: the methods' mean there vs on the seen centers, and for how
    many methods they are the lowest-scoring center, per story metric."""
    if not unseen:
        return ""
    parts = []
    for m, label in STORY_METRICS:
        per = _methods(entry_means(table, reference, m, by="center"))
        if per.empty:
            continue
        per = per.assign(center=per["center"].astype(str))
        inside = per["center"].isin(unseen)
        if not inside.any() or inside.all():
            continue
        worst_center = per.loc[per.groupby("entry")["value"].idxmin()]
        lowest = int(worst_center["center"].isin(unseen).sum())
        parts.append(
            f"the methods' mean {label} is {_f(float(per.loc[inside, 'value'].mean()))} there against "
            f"{_f(float(per.loc[~inside, 'value'].mean()))} on the seen centers, the lowest center for "
            f"{lowest} of {worst_center['entry'].nunique()} methods"
        )
    if not parts:
        return ""
    return f"At the unseen {'center' if len(unseen) == 1 else 'centers'} {_names(unseen)}, " + "; ".join(parts) + "."


def _methods_vs_reference(table: pd.DataFrame, reference: str, title: str) -> str:
    cells = []
    raters: list[str] = []
    for m, label in STORY_METRICS:
        means = entry_means(table, reference, m)
        if means.empty:
            continue
        methods = _methods(means).sort_values(["value", "entry"], ascending=[False, True])
        cells.append(f"{label} " + ", ".join(f"{e} {_f(v)}" for e, v in zip(methods["entry"], methods["value"])))
        if (means["entry_kind"] == "rater").any():
            raters.append(_raters_sentence(means, label))
    if not cells:
        return ""
    text = f"{title}: methods by mean " + "; ".join(cells) + "."
    if raters:
        text += " The raters have " + " and ".join(raters) + "."
    return text


def demo_story(table: pd.DataFrame, *, reference: str, rater_reference: str = "loo") -> str:
    """The story of a run as markdown (a heading and a few short paragraphs)."""
    like = rater_reference if (table["reference"] == rater_reference).any() else reference
    cohort, unseen = _cohort_line(table, like)
    out = ["## How the methods compare with the raters", "", cohort, ""]
    sentences = []
    for m, label in STORY_METRICS:
        means = entry_means(table, like, m)
        methods = _methods(means)
        if methods.empty:
            continue
        rater_part = _raters_sentence(means, label)
        n_raters = int((means["entry_kind"] == "rater").sum())
        lead = f"The {n_raters} raters have {rater_part}; the" if rater_part else "The"
        sentences.append(f"{lead} best method on {label} is {_best(methods)}. {rater_comparison(means, label)}".strip())
    if sentences:
        where = "the leave-one-rater-out fusions (like for like)" if like == rater_reference else f"`{like}`"
        out += [f"Against {where}: " + " ".join(sentences), ""]
    out += ["Per center (means over the center's cases):", "", *_center_lines(table, like, unseen), ""]
    unseen_text = unseen_center_sentence(table, like, unseen)
    if unseen_text:
        out += [unseen_text, ""]
    for ref, title in ((reference, f"Against the reference `{reference}`"), ("truth", "Against the synthetic truth")):
        if ref != like and (table["reference"] == ref).any():
            text = _methods_vs_reference(table, ref, title)
            if text:
                out += [text, ""]
    out.append("Missing or failed results count at the metric's worst value (0).")
    return "\n".join(out) + "\n"
