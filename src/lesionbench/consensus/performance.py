"""Scoring raters against a reference or against fusions, and the workflow's tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import GridMismatchError, InputError
from .base import ConsensusResult, RaterPerformance, _check_mask, check_votes
from .patterns import _patterns, _performance_from_patterns


def rater_performance(
    votes: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None
) -> RaterPerformance:
    """Sensitivity, specificity and Dice of each rater against a binary reference (inside ``mask``).

    Undefined ratios (0/0) are NaN: sensitivity with an empty reference, specificity with no
    reference background, Dice when both rater and reference are empty.
    """
    votes = check_votes(votes)
    reference = np.asarray(reference)
    if reference.shape != votes.shape[1:]:
        raise GridMismatchError(f"reference shape {reference.shape} differs from the raters' grid {votes.shape[1:]}")
    reference = check_votes(reference[None])[0]
    mask = _check_mask(mask, votes.shape[1:], None)
    # The reference is one more "rater" in the pattern word; its bit is the last column.
    pats = _patterns([*votes, reference], mask)
    bits = pats.bits.astype(np.float64)
    return _performance_from_patterns(bits[:, :-1], pats.counts, bits[:, -1])


def leave_one_out(votes: np.ndarray, method: str, **kwargs: object) -> list[ConsensusResult]:
    """For each rater k, the consensus of all the other raters (needs at least 2 raters).

    ``kwargs`` go to :func:`fuse` unchanged (a given ``mask``/region is kept as given), except
    ``weights``, whose entry or layer k is dropped.
    """
    from .fusion import fuse

    votes = check_votes(votes, case=kwargs.get("case"))  # type: ignore[arg-type]
    n_raters = votes.shape[0]
    if n_raters < 2:
        raise InputError("leave-one-rater-out needs at least two raters", case=kwargs.get("case"))  # type: ignore[arg-type]
    keep = np.arange(n_raters)
    results = []
    for k in range(n_raters):
        others = votes[keep != k]
        kw = dict(kwargs)
        if kwargs.get("weights") is not None:
            # Per-rater (R,) or voxel-wise (R, *grid) weights: drop the left-out rater's entry or
            # layer. Default weights (None) are recomputed by the method from the others.
            kw["weights"] = np.delete(np.asarray(kwargs["weights"], dtype=np.float64), k, axis=0)
        results.append(fuse(others, method, **kw))
    return results


def leave_one_out_performance(votes: np.ndarray, method: str, **kwargs: object) -> RaterPerformance:
    """Rater k scored (sensitivity, specificity, Dice) against the binary fusion of the others."""
    votes = check_votes(votes, case=kwargs.get("case"))  # type: ignore[arg-type]
    fusions = leave_one_out(votes, method, **kwargs)
    return performance_against_fusions(votes, fusions, mask=kwargs.get("mask"))  # type: ignore[arg-type]


def performance_against_fusions(
    votes: np.ndarray, fusions: Sequence[ConsensusResult], *, mask: np.ndarray | None = None
) -> RaterPerformance:
    """Rater k scored against ``fusions[k]`` (e.g. the leave-one-out fusion of the others)."""
    rows = [rater_performance(votes[k : k + 1], fusions[k].binary(), mask=mask) for k in range(votes.shape[0])]
    return RaterPerformance(
        sensitivity=np.concatenate([r.sensitivity for r in rows]),
        specificity=np.concatenate([r.specificity for r in rows]),
        dice=np.concatenate([r.dice for r in rows]),
        volume_voxels=np.concatenate([r.volume_voxels for r in rows]),
    )


# ----------------------------------------------------------------------------------------------
# Tables for the workflow


def performance_table(
    result: ConsensusResult,
    names: Sequence[str],
    votes: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    voxel_ml: float = 0.001,
    loo: Sequence[ConsensusResult] | None = None,
) -> pd.DataFrame:
    """One row per rater: the method's estimated sensitivity/specificity, the rater's Dice to
    the binary consensus, its lesion volume, and (with ``loo``) its Dice and sensitivity against
    the fusion of the other raters (leave-one-rater-out)."""
    binary = result.binary()
    agreement = rater_performance(votes, binary, mask=mask)
    frame = pd.DataFrame(
        {
            "rater": list(names),
            "estimated_sensitivity": result.sensitivity,
            "estimated_specificity": result.specificity,
            "dice_to_consensus": agreement.dice,
            "volume_ml": agreement.volume_voxels * voxel_ml,
        }
    )
    if loo is not None:
        against_others = performance_against_fusions(votes, loo, mask=mask)
        frame["loo_dice"] = against_others.dice
        frame["loo_sensitivity"] = against_others.sensitivity
    frame["method"] = result.method
    frame["iterations"] = result.iterations
    frame["converged"] = result.converged
    frame["prior"] = result.prior
    frame["consensus_volume_ml"] = float(np.count_nonzero(binary)) * voxel_ml
    return frame


def truth_agreement(
    votes: np.ndarray,
    names: Sequence[str],
    fusions: dict[str, np.ndarray],
    truth: np.ndarray,
    *,
    estimated_sensitivity: dict[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Validation against a known truth (synthetic cohorts): one row per rater and per fusion
    with its Dice, sensitivity and specificity to the truth; raters also carry each fusion
    method's estimate of their sensitivity (``estimated_sensitivity[method][k]``)."""
    rows = []
    raters = rater_performance(votes, truth)
    for k, name in enumerate(names):
        row = {
            "entry": name,
            "kind": "rater",
            "dice_to_truth": float(raters.dice[k]),
            "true_sensitivity": float(raters.sensitivity[k]),
            "true_specificity": float(raters.specificity[k]),
        }
        for method, values in (estimated_sensitivity or {}).items():
            row[f"estimated_sensitivity_{method}"] = float(values[k])
        rows.append(row)
    for method, fused in fusions.items():
        perf = rater_performance(np.asarray(fused, dtype=bool)[None], truth)
        rows.append(
            {
                "entry": f"consensus_{method}",
                "kind": "consensus",
                "dice_to_truth": float(perf.dice[0]),
                "true_sensitivity": float(perf.sensitivity[0]),
                "true_specificity": float(perf.specificity[0]),
            }
        )
    return pd.DataFrame(rows)


def summarize_validation(validation: pd.DataFrame) -> pd.DataFrame:
    """Cohort summary of :func:`truth_agreement` rows: mean Dice to truth of each consensus, of
    the median rater and of each rater, and the mean absolute error of each method's rater
    sensitivity estimates. One row per entry (consensus methods first)."""
    per_entry = validation.groupby(["kind", "entry"], sort=False)["dice_to_truth"].mean().reset_index()
    per_case_median = validation[validation["kind"] == "rater"].groupby("case_id")["dice_to_truth"].median().mean()
    rows = [
        {"entry": "median rater", "kind": "rater", "mean_dice_to_truth": float(per_case_median)},
    ]
    for _, row in per_entry.iterrows():
        rows.append({"entry": row["entry"], "kind": row["kind"], "mean_dice_to_truth": float(row["dice_to_truth"])})
    summary = pd.DataFrame(rows)
    raters = validation[validation["kind"] == "rater"]
    for column in [c for c in validation.columns if c.startswith("estimated_sensitivity_")]:
        method = column.removeprefix("estimated_sensitivity_")
        error = (raters[column] - raters["true_sensitivity"]).abs().mean()
        summary.loc[summary["entry"] == f"consensus_{method}", "sensitivity_estimate_mae"] = float(error)
    order = {"consensus": 0, "rater": 1}
    return summary.sort_values(by="kind", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
