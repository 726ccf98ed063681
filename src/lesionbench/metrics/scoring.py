"""From masks to rows of the long results table (``results/metrics/metrics.tsv``).

For one case, every entry (a method's prediction, an ensemble, a rater) is scored against its
references with :func:`lesionbench.metrics.compute_metrics`, and each metric becomes one row in
the format of :data:`lesionbench.ranking.table.METRICS_COLUMNS`: the raw value (NaN when
undefined) and a status saying which scoring rule applies (:mod:`lesionbench.metrics.info`:
``ok``, ``both_empty``, ``empty_reference``, ``not_applicable``, ``undefined``; ``missing`` or
``failed`` when the entry has no result). A missing or failed prediction still gives one row per
metric: results are never silently absent.

Which references each entry gets (:func:`case_rows`), reference labels in the table:

* ``consensus_<fusion>``: the reference consensus of all R raters. Methods only: every rater
  took part in it, so a rater scored against it would be compared with itself in part.
* ``truth``: the synthetic cohort's known truth. Methods and raters.
* ``loo`` (like for like, R - 1 raters on both sides): a rater is scored against the fusion of
  the *other* R - 1 raters (its leave-one-rater-out consensus, same fusion method as the
  reference consensus); a method is scored against each of the R leave-one-out fusions and its
  row holds, per metric, the mean over the R (:func:`mean_over_references`). A leaderboard with
  ``reference: loo`` therefore ranks the methods and shows the raters beside them against
  references of the same kind.
* ``consensus_shipped``: the dataset's own consensus mask (``consensus.reference: shipped``),
  which the workflow did not fuse from the raters. Methods and raters are scored against it,
  and each rater against every other rater (reference ``rater:<other>``, :func:`rater_reference_label`);
  there are no ``loo`` rows then (nothing is fused).

Lesion-wise detection is also reported per reference lesion size bin (``lesion_sensitivity@<bin>``)
so that the report can show where methods miss lesions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .engine import MetricsResult, compute_metrics, kept_lesion_volumes
from .info import (
    BOTH_EMPTY,
    EMPTY_REFERENCE,
    FAILED,
    METRIC_INFO,
    METRIC_KEYS,
    MISSING,
    NOT_APPLICABLE,
    OK,
    SIZE_BIN_METRICS,
    SIZE_BINS_MM3,
    UNDEFINED,
    ranking_value,
    size_bin_label,
)

if TYPE_CHECKING:
    from ..io import LabelPolicy, Volume

#: Reference label of the like-for-like (leave-one-rater-out) rows of raters and methods.
LOO_REFERENCE = "loo"
#: Reference label of the synthetic truth.
TRUTH_REFERENCE = "truth"
#: Every metric name of a row set, in output order.
ROW_METRICS: tuple[str, ...] = (*METRIC_KEYS, *SIZE_BIN_METRICS)
_EMPTY_REFERENCE_ONLY = tuple(k for k, m in METRIC_INFO.items() if m.group == "empty_reference")


@dataclass(frozen=True)
class CaseInfo:
    """What the long table records about a case besides the metric."""

    case_id: str
    center: str
    split: str
    seen_center: bool


@dataclass(frozen=True)
class MetricParameters:
    nsd_tolerance_mm: float = 1.0
    min_lesion_volume_mm3: float = 3.0
    match_threshold: float = 0.1

    @classmethod
    def from_config(cls, metrics: Mapping[str, object]) -> MetricParameters:
        """From the ``metrics:`` config section (other keys of the section are ignored)."""
        names = [f.name for f in fields(cls)]
        return cls(**{k: float(metrics[k]) for k in names if k in metrics})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scored:
    """One metric of one (entry, reference) pair: the scoring rule's status and the raw value."""

    status: str
    value: float  # NaN when undefined or without result


def consensus_reference_label(fusion: str) -> str:
    return f"consensus_{fusion}"


def rater_reference_label(rater: str) -> str:
    """Reference label of the rows of a rater scored against another rater ``rater``."""
    return f"rater:{rater}"


def detection_by_size(
    result: MetricsResult, bins: Sequence[tuple[float, float]] = SIZE_BINS_MM3
) -> dict[str, float | None]:
    """MS-SEG 2016 detection rate of the reference lesions in each size bin (None: no lesion there)."""
    seen: dict[int, tuple[float, bool]] = {}
    for record in result.lesions:
        if record.reference_lesion is not None and record.reference_volume_mm3 is not None:
            seen[record.reference_lesion] = (float(record.reference_volume_mm3), bool(record.reference_detected))
    volumes = np.array([v for v, _ in seen.values()], dtype=float)
    detected = np.array([d for _, d in seen.values()], dtype=bool)
    out: dict[str, float | None] = {}
    for low, high in bins:
        in_bin = (volumes >= low) & (volumes < high)
        key = f"lesion_sensitivity@{size_bin_label(low, high)}"
        out[key] = float(detected[in_bin].mean()) if in_bin.any() else None
    return out


def score_pair(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing: tuple[float, float, float],
    parameters: MetricParameters = MetricParameters(),
    *,
    case: str | None = None,
) -> dict[str, Scored]:
    """Every metric of :data:`ROW_METRICS` for one computed pair, with its status."""
    result = compute_metrics(
        reference,
        prediction,
        spacing,
        nsd_tolerance_mm=parameters.nsd_tolerance_mm,
        min_lesion_volume_mm3=parameters.min_lesion_volume_mm3,
        match_threshold=parameters.match_threshold,
        case=case,
    )
    statuses = result.statuses()
    out = {k: Scored(statuses[k], math.nan if v is None else float(v)) for k, v in result.as_dict().items()}
    for key, value in detection_by_size(result).items():
        out[key] = Scored(OK if value is not None else NOT_APPLICABLE, math.nan if value is None else value)
    return out


def no_result(
    reference: np.ndarray,
    spacing: tuple[float, float, float],
    status: str,
    parameters: MetricParameters = MetricParameters(),
    *,
    case: str | None = None,
) -> dict[str, Scored]:
    """The rows of an entry without result (``missing``/``failed``) against ``reference``.

    Every metric gets ``status`` and NaN, except those the reference makes ``not_applicable``
    (never ranked, whatever the entry did): the empty-reference metrics when the reference has a
    kept lesion, a size bin without reference lesion. The reference is never taken as empty
    here: a row without result is not a both-empty row.
    """
    if status not in (MISSING, FAILED):
        raise ValueError(f"status of an entry without result must be {MISSING!r} or {FAILED!r}, got {status!r}")
    volumes = kept_lesion_volumes(reference, spacing, min_lesion_volume_mm3=parameters.min_lesion_volume_mm3, case=case)
    out = {k: Scored(status, math.nan) for k in ROW_METRICS}
    if volumes.size:
        for key in _EMPTY_REFERENCE_ONLY:
            out[key] = Scored(NOT_APPLICABLE, math.nan)
    for (low, high), key in zip(SIZE_BINS_MM3, SIZE_BIN_METRICS):
        if not ((volumes >= low) & (volumes < high)).any():
            out[key] = Scored(NOT_APPLICABLE, math.nan)
    return out


def mean_over_references(scores: Sequence[Mapping[str, Scored]]) -> dict[str, Scored]:
    """Per metric, one row from the rows against several references (a method against the R
    leave-one-out fusions).

    ``not_applicable`` parts are left out (all of them: ``not_applicable``). When every remaining
    part has the same status, that status is kept with the mean raw value, so the ranking applies
    the same rule. Mixed statuses: ``undefined`` (NaN) if a part is undefined, ``missing``/``failed``
    if a part is, else ``ok`` with the mean of the parts' ranking values (:func:`ranking_value`). In
    every case without an undefined part, the ranking value of the result is the mean of the
    parts' ranking values.
    """
    if not scores:
        raise ValueError("no references to average over")
    out: dict[str, Scored] = {}
    for key in scores[0]:
        parts = [s[key] for s in scores if s[key].status != NOT_APPLICABLE]
        statuses = {p.status for p in parts}
        if not parts:
            out[key] = Scored(NOT_APPLICABLE, math.nan)
        elif len(statuses) == 1:
            values = np.array([p.value for p in parts], dtype=float)
            out[key] = Scored(parts[0].status, float(values.mean()) if np.isfinite(values).all() else math.nan)
        elif statuses & {MISSING, FAILED, UNDEFINED}:
            worst = next(s for s in (FAILED, MISSING, UNDEFINED) if s in statuses)
            out[key] = Scored(worst, math.nan)
        else:
            out[key] = Scored(OK, float(np.mean([ranking_value(key, p.status, p.value) for p in parts])))
    return out


def _rows(
    info: CaseInfo, entry: str, kind: str, reference: str, load_ml: float, scores: Mapping[str, Scored]
) -> list[dict[str, object]]:
    return [
        {
            "case_id": info.case_id,
            "center": info.center,
            "split": info.split,
            "seen_center": info.seen_center,
            "lesion_load_ml": load_ml,
            "entry": entry,
            "entry_kind": kind,
            "reference": reference,
            "metric": metric,
            "value": s.value,
            "status": s.status,
        }
        for metric, s in scores.items()
    ]


def _load_ml(mask: np.ndarray, spacing: tuple[float, float, float]) -> float:
    return float(np.count_nonzero(mask)) * float(np.prod(spacing)) / 1000.0


def score_entry(
    info: CaseInfo,
    *,
    entry: str,
    kind: str,
    reference_name: str,
    reference: np.ndarray,
    prediction: np.ndarray | None,
    spacing: tuple[float, float, float],
    parameters: MetricParameters = MetricParameters(),
    status: str | None = None,
) -> list[dict[str, object]]:
    """Rows of the long table for one (entry, reference) pair of a case.

    ``prediction`` None means the entry has no result for this case; ``status`` then says why
    (``missing``, the default, or ``failed``); see :func:`no_result`.
    """
    if prediction is None:
        scores = no_result(reference, spacing, status or MISSING, parameters, case=info.case_id)
    else:
        scores = score_pair(reference, prediction, spacing, parameters, case=info.case_id)
    return _rows(info, entry, kind, reference_name, _load_ml(reference, spacing), scores)


@dataclass(frozen=True)
class EntryResult:
    """A method's or ensemble's outcome on the case: its mask, or None with the status (missing/failed)."""

    name: str
    kind: str
    mask: np.ndarray | None
    status: str = OK


def case_rows(
    info: CaseInfo,
    *,
    spacing: tuple[float, float, float],
    consensus_name: str,
    consensus: np.ndarray,
    raters: Mapping[str, np.ndarray],
    loo: Mapping[str, np.ndarray],
    entries: Sequence[EntryResult],
    truth: np.ndarray | None = None,
    parameters: MetricParameters = MetricParameters(),
    methods_against_loo: bool = True,
    raters_against_consensus: bool = False,
) -> list[dict[str, object]]:
    """Every row of one case (see the module docstring for who is scored against what).

    ``consensus_name``: the reference label (``consensus_<fusion>``); ``loo[rater]``: the fusion
    of every rater but ``rater``. ``methods_against_loo`` False leaves out the methods' ``loo``
    rows (R extra metric computations per method). ``raters_against_consensus`` (a consensus
    not fused from these raters, e.g. the shipped one) also scores every rater against the
    consensus and against each other rater (R x R - 1 ordered pairs).
    """
    rows: list[dict[str, object]] = []
    case = info.case_id
    for name, mask in raters.items():
        # a rater's references, in the table's order: the consensus and every other rater (when
        # the consensus is not fused from these raters), the truth, its leave-one-out fusion
        rater_refs: list[tuple[str, np.ndarray]] = []
        if raters_against_consensus:
            rater_refs.append((consensus_name, consensus))
            rater_refs += [(rater_reference_label(o), m) for o, m in raters.items() if o != name]
        if truth is not None:
            rater_refs.append((TRUTH_REFERENCE, truth))
        if name in loo:
            rater_refs.append((LOO_REFERENCE, loo[name]))
        for ref_name, ref in rater_refs:
            rows += score_entry(
                info,
                entry=name,
                kind="rater",
                reference_name=ref_name,
                reference=ref,
                prediction=mask,
                spacing=spacing,
                parameters=parameters,
            )
    references = {consensus_name: consensus}
    if truth is not None:
        references[TRUTH_REFERENCE] = truth
    loo_refs = [loo[r] for r in raters if r in loo] if methods_against_loo else []
    loo_load = float(np.mean([_load_ml(m, spacing) for m in loo_refs])) if loo_refs else math.nan
    for e in entries:
        if e.mask is None and e.status not in (MISSING, FAILED):
            raise ValueError(f"case {case}: entry {e.name} has no mask but status {e.status!r}")
        for ref_name, ref in references.items():
            rows += score_entry(
                info,
                entry=e.name,
                kind=e.kind,
                reference_name=ref_name,
                reference=ref,
                prediction=e.mask,
                spacing=spacing,
                parameters=parameters,
                status=e.status,
            )
        if loo_refs:
            parts = [
                score_pair(ref, e.mask, spacing, parameters, case=case)
                if e.mask is not None
                else no_result(ref, spacing, e.status, parameters, case=case)
                for ref in loo_refs
            ]
            rows += _rows(info, e.name, e.kind, LOO_REFERENCE, loo_load, mean_over_references(parts))
    return rows


def read_entry(name: str, kind: str, folder: str | Path, *, case: str, reference_volume: Volume) -> EntryResult:
    """A method's prediction folder (``status.json`` + ``mask.nii.gz``, :mod:`lesionbench.methods.files`)
    as an :class:`EntryResult`; the mask must lie on the case's FLAIR grid (``reference_volume``)."""
    from ..io import load_mask
    from ..methods.files import MASK_FILE, read_status

    status = str(read_status(folder).get("status", MISSING))
    if status == OK:
        return EntryResult(name, kind, load_mask(Path(folder) / MASK_FILE, case=case, reference=reference_volume).data)
    return EntryResult(name, kind, None, FAILED if status == FAILED else MISSING)


def evaluate_case_files(
    info: CaseInfo,
    *,
    flair: str | Path,
    consensus_fusion: str,
    consensus: str | Path,
    raters: Mapping[str, str | Path],
    loo_folder: str | Path | None,
    entries: Sequence[tuple[str, str, str | Path]],
    truth: str | Path | None = None,
    label_policy: LabelPolicy = "binary",
    parameters: MetricParameters = MetricParameters(),
    methods_against_loo: bool = True,
) -> pd.DataFrame:
    """The file edge of :func:`case_rows`: read the case's masks and return its validated rows.

    ``raters``: name -> mask file; ``loo_folder``: ``<rater>.nii.gz`` per rater (absent for a case
    with one rater; ``None`` when nothing is fused: ``consensus_fusion`` ``shipped``, whose raters
    are scored against the shipped consensus and each other); ``entries``: (name, kind,
    prediction folder).
    """
    from ..consensus.options import SHIPPED_REFERENCE
    from ..io import load_mask, load_volume

    case = info.case_id
    ref_vol = load_volume(flair, case=case)

    def mask(path: str | Path, policy: LabelPolicy = label_policy) -> np.ndarray:
        return load_mask(path, case=case, reference=ref_vol, policy=policy).data

    rater_masks = {name: mask(path) for name, path in raters.items()}
    loo = {
        name: mask(Path(loo_folder) / f"{name}.nii.gz")
        for name in raters
        if loo_folder is not None and (Path(loo_folder) / f"{name}.nii.gz").exists()
    }
    rows = case_rows(
        info,
        spacing=ref_vol.spacing,
        consensus_name=consensus_reference_label(consensus_fusion),
        consensus=mask(consensus),
        raters=rater_masks,
        loo=loo,
        entries=[read_entry(n, k, f, case=case, reference_volume=ref_vol) for n, k, f in entries],
        truth=None if truth is None else mask(truth, "binary"),
        parameters=parameters,
        methods_against_loo=methods_against_loo,
        raters_against_consensus=consensus_fusion == SHIPPED_REFERENCE,
    )
    return rows_frame(rows)


@dataclass(frozen=True)
class CaseFiles:
    """One case's inputs of :func:`evaluate_case_files` (paths as strings): what a batch scores."""

    info: CaseInfo
    flair: str
    consensus: str
    raters: Mapping[str, str]
    loo_folder: str | None
    entries: Sequence[tuple[str, str, str]]
    truth: str | None = None

    @classmethod
    def from_mapping(cls, files: Mapping[str, object]) -> CaseFiles:
        """From the plain mapping the workflow passes (keys: the fields, ``info`` a mapping)."""
        info = dict(files["info"])  # type: ignore[call-overload]
        return cls(
            info=CaseInfo(
                case_id=str(info["case_id"]),
                center=str(info["center"]),
                split=str(info["split"]),
                seen_center=bool(info["seen_center"]),
            ),
            flair=str(files["flair"]),
            consensus=str(files["consensus"]),
            raters={str(k): str(v) for k, v in dict(files["raters"]).items()},  # type: ignore[call-overload]
            loo_folder=None if not files.get("loo_folder") else str(files["loo_folder"]),
            entries=[(str(n), str(k), str(f)) for n, k, f in files.get("entries") or []],  # type: ignore[attr-defined]
            truth=None if not files.get("truth") else str(files["truth"]),
        )


def evaluate_batch_files(
    cases: Sequence[CaseFiles],
    *,
    consensus_fusion: str,
    label_policy: LabelPolicy = "binary",
    parameters: MetricParameters = MetricParameters(),
    methods_against_loo: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score a batch of cases one after another: (their rows, the cases that could not be scored).

    Each case's rows are exactly :func:`evaluate_case_files`'s for that case alone. A case whose
    files cannot be scored (a :class:`~lesionbench.errors.LesionbenchError`: unreadable, off the
    grid, non-binary) gets no rows and one line in the failures table, and the other cases of the
    batch are still scored; :func:`gather_metrics_tables` refuses a run with failures.
    """
    from ..errors import LesionbenchError
    from .tables import FAILURE_COLUMNS

    frames: list[pd.DataFrame] = []
    failures: list[dict[str, str]] = []
    for case in cases:
        try:
            frames.append(
                evaluate_case_files(
                    case.info,
                    flair=case.flair,
                    consensus_fusion=consensus_fusion,
                    consensus=case.consensus,
                    raters=case.raters,
                    loo_folder=case.loo_folder,
                    entries=case.entries,
                    truth=case.truth,
                    label_policy=label_policy,
                    parameters=parameters,
                    methods_against_loo=methods_against_loo,
                )
            )
        except LesionbenchError as exc:
            message = " ".join(str(exc).split())
            if f"case {case.info.case_id}" not in message:
                message = f"case {case.info.case_id}: {message}"
            failures.append({"case_id": case.info.case_id, "error": message})
    rows = pd.concat(frames, ignore_index=True) if frames else rows_frame([])
    return rows, pd.DataFrame(failures, columns=list(FAILURE_COLUMNS))


def rows_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    from ..ranking.table import METRICS_COLUMNS

    return pd.DataFrame(rows, columns=list(METRICS_COLUMNS))


__all__ = [
    "BOTH_EMPTY",
    "EMPTY_REFERENCE",
    "LOO_REFERENCE",
    "METRIC_INFO",
    "ROW_METRICS",
    "SIZE_BINS_MM3",
    "CaseFiles",
    "CaseInfo",
    "EntryResult",
    "MetricParameters",
    "Scored",
    "case_rows",
    "consensus_reference_label",
    "detection_by_size",
    "evaluate_batch_files",
    "evaluate_case_files",
    "mean_over_references",
    "no_result",
    "rater_reference_label",
    "read_entry",
    "rows_frame",
    "score_entry",
    "score_pair",
    "size_bin_label",
]
