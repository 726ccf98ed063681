"""One case's consensus for the workflow, and the comparison of raters and fusions with a truth.

:func:`fuse_case` runs every configured fusion of :mod:`lesionbench.consensus` on one case's
rater masks, each in its computation region (``grid``, ``brain`` or ``union``; see
``docs/consensus.md``), with the leave-one-rater-out fusions and the rater table, and puts every
fusion, leave-one-out ones included, through the empty-consensus guard
(:func:`lesionbench.consensus.check_consensus`). :func:`truth_table` and :func:`summarize_truth`
score raters and fusions against a known truth (synthetic cohorts) with the workflow's own
metrics (:func:`lesionbench.metrics.compute_metrics`): Dice, MS-SEG 2016 lesion-wise F1 and the
signed relative volume error.

Everything here works on arrays; reading and writing files is left to the workflow scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError
from .base import ConsensusResult, check_votes
from .fusion import fuse
from .guard import check_consensus
from .performance import performance_table
from .region import fusion_region
from .settings import (
    ConsensusOptions,
    check_methods,
    method_params,
    needs_brain_mask,
)

if TYPE_CHECKING:
    from ..io import LabelPolicy


@dataclass
class CaseFusion:
    """One method's outcome on one case: the fusion, its leave-one-rater-out fusions (rater k
    left out, in rater order; empty with one rater), the rater table and the guard's flags."""

    result: ConsensusResult
    loo: list[ConsensusResult]
    table: pd.DataFrame
    flags: list[str] = field(default_factory=list)


def fuse_guarded(
    votes: np.ndarray,
    method: str,
    label: str,
    brain_mask: np.ndarray | None,
    options: ConsensusOptions,
    case: str | None,
) -> tuple[ConsensusResult, str | None]:
    """One fusion of ``votes`` with ``method`` in its configured region, put through the guard
    (:func:`lesionbench.consensus.check_consensus`): returns the result and the guard's message,
    None when the consensus passed. A failing consensus raises :class:`ConsensusError` (naming
    the case and ``label``) when ``options.on_failure`` is ``stop`` and some voxel is marked by
    more than half of the raters; when none is, an empty consensus agrees with the raters and is
    only flagged (the guard's ``exempt_without_majority``). ``label`` names the fusion in messages."""
    kind = options.region_of(method)
    region = fusion_region(votes, kind, brain=brain_mask, dilation=int(options.region_dilation), case=case)
    params = method_params(method, options)
    if params.get("weights") == "uniform":
        params["weights"] = np.full(votes.shape[0], 1.0 / votes.shape[0])
    result = fuse(votes, method, mask=region, case=case, **params)
    check = check_consensus(
        result,
        votes,
        case=case,
        method=label,
        policy=cast(Literal["stop", "flag"], options.on_failure),
        exempt_without_majority=True,
    )
    if check.ok:
        return result, None
    where = "" if case is None else f"case {case}: "
    return result, f"{where}consensus method {label}: {check.reason}"


def fuse_case(
    votes: np.ndarray,
    names: Sequence[str],
    methods: Sequence[str],
    brain_mask: np.ndarray | None,
    options: ConsensusOptions,
    *,
    case: str | None = None,
    voxel_ml: float = 0.001,
    loo: bool = True,
) -> dict[str, CaseFusion]:
    """Every method's fusion of one case's raters, guarded, with leave-one-out fusions and tables.

    ``votes``: (R, *grid) binary rater masks; ``names``: the R rater names; ``brain_mask``: the
    case's brain mask on the same grid (needed only when a method's region is ``brain``).
    Each fusion (and each leave-one-out fusion, whose ``union`` region is recomputed from the
    raters it fuses) goes through :func:`lesionbench.consensus.check_consensus` with
    ``options.on_failure``: ``stop`` raises :class:`lesionbench.errors.ConsensusError` naming the
    case and the method (``<method> without <rater>`` for a leave-one-out fusion); ``flag``
    records the problem in :attr:`CaseFusion.flags` and in the table's ``flag`` column.
    """
    votes = check_votes(votes, case=case)
    names = list(names)
    if len(names) != votes.shape[0]:
        raise InputError(f"{votes.shape[0]} rater masks but {len(names)} rater names", case=case)
    methods = check_methods(methods)
    if brain_mask is None and needs_brain_mask(methods, options):
        raise ConfigError("a consensus method runs in the 'brain' region but no brain mask was given")
    out: dict[str, CaseFusion] = {}
    n_raters = votes.shape[0]
    for method in methods:
        result, flag = fuse_guarded(votes, method, method, brain_mask, options, case)
        flags = [flag] if flag else []
        loo_results: list[ConsensusResult] = []
        if loo and n_raters > 1:
            keep = np.arange(n_raters)
            for k, name in enumerate(names):
                fused, loo_flag = fuse_guarded(
                    votes[keep != k], method, f"{method} without {name}", brain_mask, options, case
                )
                loo_results.append(fused)
                if loo_flag:
                    flags.append(loo_flag)
        region = result.region
        table = performance_table(result, names, votes, mask=region, voxel_ml=voxel_ml, loo=loo_results or None)
        table.insert(0, "case_id", case)
        table["region"] = options.region_of(method)
        table["flag"] = "; ".join(flags)
        out[method] = CaseFusion(result=result, loo=loo_results, table=table, flags=flags)
    return out


# ----------------------------------------------------------------------------------------------
# Against a known truth

#: Columns of :func:`truth_table` that :func:`summarize_truth` averages.
TRUTH_METRICS: tuple[str, ...] = (
    "dice",
    "lesion_f1",
    "lesion_sensitivity",
    "lesion_precision",
    "relative_volume_error_pct",
    "abs_relative_volume_error_pct",
    "volume_ml",
)


def _score(
    truth: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, float, float],
    min_lesion_volume_mm3: float,
    case: str | None,
) -> dict[str, float]:
    from ..metrics import compute_metrics

    m = compute_metrics(truth, mask, spacing, min_lesion_volume_mm3=min_lesion_volume_mm3, case=case)

    def value(x: float | None) -> float:
        return float("nan") if x is None else float(x)

    rve = value(m.relative_volume_error_pct)
    return {
        "dice": value(m.dice),
        "lesion_f1": value(m.lesion_f1),
        "lesion_sensitivity": value(m.lesion_sensitivity),
        "lesion_precision": value(m.lesion_precision),
        "relative_volume_error_pct": rve,
        "abs_relative_volume_error_pct": abs(rve),
        "volume_ml": float(m.volume_prediction_ml),
        "voxel_sensitivity": value(m.sensitivity),
    }


def truth_table(
    votes: np.ndarray,
    names: Sequence[str],
    fusions: Mapping[str, np.ndarray],
    truth: np.ndarray,
    spacing: Sequence[float],
    *,
    min_lesion_volume_mm3: float = 3.0,
    estimated_sensitivity: Mapping[str, Sequence[float]] | None = None,
    case: str | None = None,
) -> pd.DataFrame:
    """Each rater and each fusion against the truth: one row per entry (raters first, then
    ``consensus_<method>``) with Dice, MS-SEG 2016 lesion-wise sensitivity, precision and F1
    (lesions of ``min_lesion_volume_mm3`` or less dropped on both sides, as the metrics stage
    does), signed and absolute relative volume error (100 (|entry| - |truth|) / |truth|), the
    entry's volume (mL) and its voxel-wise sensitivity. Rater rows also carry each fusion's
    estimate of that rater's sensitivity (``estimated_sensitivity[method][k]``), so that the
    estimate's error can be summarized."""
    votes = check_votes(votes, case=case)
    truth = check_votes(np.asarray(truth)[None], case=case)[0]
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 3:
        raise InputError(f"spacing must have 3 values; got {list(spacing)}", case=case)
    rows = []
    for k, name in enumerate(names):
        row: dict[str, Any] = {"entry": str(name), "kind": "rater"}
        row.update(_score(truth, votes[k], sp, min_lesion_volume_mm3, case))
        for method, values in (estimated_sensitivity or {}).items():
            row[f"estimated_sensitivity_{method}"] = float(values[k])
        rows.append(row)
    for method, fused in fusions.items():
        row = {"entry": f"consensus_{method}", "kind": "consensus"}
        row.update(_score(truth, np.asarray(fused, dtype=bool), sp, min_lesion_volume_mm3, case))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if case is not None:
        frame.insert(0, "case_id", case)
    return frame


def summarize_truth(table: pd.DataFrame) -> pd.DataFrame:
    """Cohort means of :func:`truth_table` rows (with a ``case_id`` column): one row per fusion
    (``consensus_<method>``), then ``median rater`` (per case the median over raters of each
    metric, then the mean over cases) and each rater. Columns: ``mean_<metric>`` for
    :data:`TRUTH_METRICS`, ``n_cases``, ``beats_median_rater_dice`` (share of cases where the
    entry's Dice exceeds that case's median rater Dice) and, for fusions with rater estimates,
    ``sensitivity_estimate_mae`` (mean absolute error of the method's estimate of the raters'
    voxel-wise sensitivity). NaN metrics (e.g. lesion F1 with no lesion on either side) are left
    out of the means."""
    if "case_id" not in table.columns:
        raise InputError("summarize_truth needs a case_id column")
    raters = table[table["kind"] == "rater"]
    median = raters.groupby("case_id")[list(TRUTH_METRICS)].median()
    median_dice = median["dice"]
    rows = []

    def summary_row(entry: str, kind: str, per_case: pd.DataFrame) -> dict[str, Any]:
        row: dict[str, Any] = {"entry": entry, "kind": kind, "n_cases": int(len(per_case))}
        for metric in TRUTH_METRICS:
            row[f"mean_{metric}"] = float(per_case[metric].mean())
        dice = per_case["dice"].reindex(median_dice.index)
        row["beats_median_rater_dice"] = float((dice > median_dice).mean())
        return row

    consensus = table[table["kind"] == "consensus"]
    for entry, group in consensus.groupby("entry", sort=False):
        row = summary_row(str(entry), "consensus", group.set_index("case_id"))
        column = f"estimated_sensitivity_{str(entry).removeprefix('consensus_')}"
        if column in raters.columns:
            row["sensitivity_estimate_mae"] = float((raters[column] - raters["voxel_sensitivity"]).abs().mean())
        rows.append(row)
    median_row = summary_row("median rater", "rater", median)
    median_row["beats_median_rater_dice"] = float("nan")
    rows.append(median_row)
    for entry, group in raters.groupby("entry", sort=False):
        rows.append(summary_row(str(entry), "rater", group.set_index("case_id")))
    return pd.DataFrame(rows)


def best_method(summary: pd.DataFrame) -> str:
    """The fusion with the highest mean Dice to the truth; ties (to 3 decimals) go to the higher
    mean lesion F1, then to the earlier row. Returns the method name (without ``consensus_``)."""
    fusions = summary[summary["kind"] == "consensus"].copy()
    if fusions.empty:
        raise InputError("no consensus rows in the summary")
    fusions["_dice"] = fusions["mean_dice"].round(3)
    fusions["_order"] = np.arange(len(fusions))
    best = fusions.sort_values(["_dice", "mean_lesion_f1", "_order"], ascending=[False, False, True]).iloc[0]
    return str(best["entry"]).removeprefix("consensus_")


# ----------------------------------------------------------------------------------------------
# The file edge: one workflow job each


@dataclass(frozen=True)
class FusionFiles:
    """Where one fusion method's results of a case go: binary mask (uint8), posterior (float32),
    rater table (TSV) and the folder of leave-one-rater-out masks (``{rater}.nii.gz``)."""

    mask: str
    posterior: str
    table: str
    loo: str


def fuse_case_files(
    case: str,
    *,
    flair: str,
    raters: Mapping[str, str],
    brain_mask: str | None,
    outputs: Mapping[str, FusionFiles],
    options: ConsensusOptions,
    label_policy: LabelPolicy = "binary",
) -> dict[str, CaseFusion]:
    """Read one case's rater masks (name -> file, on the FLAIR grid), fuse them with every method
    of ``outputs`` (:func:`fuse_case`) and write each method's :class:`FusionFiles`.

    The brain mask (read with the ``nonzero`` policy) is needed only when a method's region is
    ``brain``. The guard's messages are printed as warnings (the job's log).
    """
    from pathlib import Path

    from ..io import load_mask, load_volume, save_volume

    names = list(raters)
    reference = load_volume(flair, case=case)
    votes = np.stack([load_mask(p, case=case, reference=reference, policy=label_policy).data for p in raters.values()])
    brain = None
    if brain_mask:
        brain = load_mask(brain_mask, case=case, reference=reference, policy="nonzero").data
    voxel_ml = float(np.prod(reference.spacing)) / 1000.0
    fused = fuse_case(votes, names, list(outputs), brain, options, case=case, voxel_ml=voxel_ml)
    for method, files in outputs.items():
        result = fused[method]
        for flag in result.flags:
            print(f"WARNING: {flag}")
        save_volume(files.mask, result.result.binary(), reference.affine, dtype=np.uint8)
        save_volume(files.posterior, result.result.posterior, reference.affine, dtype=np.float32)
        Path(files.loo).mkdir(parents=True, exist_ok=True)
        for name, loo in zip(names, result.loo):
            save_volume(Path(files.loo) / f"{name}.nii.gz", loo.binary(), reference.affine, dtype=np.uint8)
        result.table.to_csv(files.table, sep="\t", index=False)
    return fused


def truth_table_files(
    case: str,
    *,
    truth: str,
    raters: Mapping[str, str],
    fusions: Mapping[str, str],
    rater_tables: Mapping[str, str],
    min_lesion_volume_mm3: float,
    out_path: str,
) -> pd.DataFrame:
    """Synthetic cohorts: each rater (name -> mask file) and each fusion (method -> mask file)
    against the generator's true lesion mask (:func:`truth_table`), with each fusion's estimated
    rater sensitivities from its rater table (method -> TSV); written to ``out_path``."""
    from ..io import load_mask

    reference = load_mask(truth, case=case)
    votes = np.stack([load_mask(p, case=case, reference=reference).data for p in raters.values()])
    masks = {m: load_mask(p, case=case, reference=reference).data for m, p in fusions.items()}
    estimates: dict[str, Any] = {
        m: pd.read_csv(p, sep="\t")["estimated_sensitivity"].to_numpy() for m, p in rater_tables.items()
    }
    table = truth_table(
        votes,
        list(raters),
        masks,
        reference.data,
        reference.spacing,
        min_lesion_volume_mm3=float(min_lesion_volume_mm3),
        estimated_sensitivity=estimates,
        case=case,
    )
    table.to_csv(out_path, sep="\t", index=False)
    return table
