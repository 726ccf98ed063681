"""Jobs of the new-lesion track, from files to files: the fused brain mask of a two-visit case,
the subtraction baseline's training and inference, and the MSSEG-2 scoring of one case.

A two-visit case's files, as a training job's ``cases`` gives them (the layout of
:mod:`.jobs`): ``flair`` (the follow-up FLAIR as acquired: the grid of the outputs), ``images``
(the two harmonized FLAIRs, baseline first), ``brain_mask`` (the fused mask written by
:func:`fuse_brain_mask_files`), ``priors`` (empty) and ``label`` (the new-lesion reference).
The two-time-point U-Net runs through :mod:`.unet_jobs` unchanged on that layout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import load_mask, load_volume, save_volume
from .files import MASK_FILE, load_case_arrays, read_status, run_case, write_model_record, write_prediction
from .jobs import training_cases
from .newlesions import SubtractionParams, fuse_brain_masks, subtraction_segment, tune_subtraction

#: The model file of a trained subtraction method (JSON: the tuned threshold and size, the params).
SUBTRACTION_MODEL_FORMAT = "lesionbench-subtraction-1"


def fuse_brain_mask_files(
    case: str, time01: str | Path, time02: str | Path, output: str | Path, *, rule: str = "intersection"
) -> Path:
    """Write the fused brain mask of the two visits' masks (:func:`.newlesions.fuse_brain_masks`),
    on the follow-up mask's grid; the baseline mask must be on the same grid."""
    second = load_mask(time02, case=case)
    first = load_mask(time01, case=case, reference=load_volume(time02, case=case))
    fused = fuse_brain_masks(first.data, second.data, rule, case=case)
    save_volume(output, fused, second.affine, dtype=np.uint8)
    return Path(output)


def train_subtraction(
    name: str,
    params: Mapping[str, Any],
    cases: Mapping[str, Mapping[str, Any]],
    *,
    model_path: str | Path,
    record_dir: str | Path,
) -> dict[str, Any]:
    """Tune the subtraction baseline on the training ``cases`` (module docstring) and write its
    model (JSON) and its record and tuning curve (:func:`.files.write_model_record`); returns the model."""
    checked = SubtractionParams.from_mapping(dict(params))
    start = time.perf_counter()
    arrays = training_cases(cases, priors=False)
    choice = tune_subtraction(arrays, checked)
    model = {
        "format": SUBTRACTION_MODEL_FORMAT,
        "threshold": choice.threshold,
        "min_lesion_mm3": choice.min_lesion_mm3,
        "score": choice.score,
        "metric": choice.metric,
        "params": {k: getattr(checked, k) for k in ("smoothing_mm", "softness")},
    }
    Path(model_path).parent.mkdir(parents=True, exist_ok=True)
    Path(model_path).write_text(json.dumps(model, indent=2) + "\n")
    record = {
        "name": name,
        "kind": "subtraction",
        "params": dict(params),
        "training_cases": list(cases),
        "train_seconds": round(time.perf_counter() - start, 3),
        **{k: model[k] for k in ("threshold", "min_lesion_mm3", "score", "metric")},
    }
    curve = [{**row, "grid_point": i} for i, row in enumerate(choice.grid)]
    write_model_record(
        record_dir, record, curve, x="grid_point", y=checked.score, title=f"{name}: tuning grid (train {checked.score})"
    )
    return model


def read_subtraction_model(path: str | Path) -> dict[str, Any]:
    """A model written by :func:`train_subtraction` (a clear error for any other file)."""
    try:
        model = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the subtraction model: {exc}", path=str(path)) from exc
    if not isinstance(model, dict) or model.get("format") != SUBTRACTION_MODEL_FORMAT:
        raise InputError(f"not a subtraction model (format {SUBTRACTION_MODEL_FORMAT})", path=str(path))
    return model


def infer_subtraction_case(
    name: str,
    case: str,
    *,
    flair: str | Path,
    images: Sequence[str | Path],
    brain_mask: str | Path,
    model_path: str | Path,
    output: str | Path,
    on_failure: str = "flag",
) -> None:
    """Run a trained subtraction method on one two-visit case and write its prediction folder."""
    affine: dict[str, np.ndarray] = {}

    def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        arrays, flair_volume = load_case_arrays(case, flair, images, brain_mask)
        affine["flair"] = flair_volume.affine
        model = read_subtraction_model(model_path)
        params = SubtractionParams.from_mapping(dict(model["params"]))
        mask, probability = subtraction_segment(
            arrays, params, threshold=float(model["threshold"]), min_lesion_mm3=float(model["min_lesion_mm3"])
        )
        return mask, probability, {"threshold": model["threshold"], "min_lesion_mm3": model["min_lesion_mm3"]}

    outcome = run_case(name, case, run, on_failure=on_failure)
    write_prediction(output, outcome, affine.get("flair"), method=name, case=case)


#: Columns of a case's table of reference new lesions and their detection by each entry.
DETECTION_COLUMNS: tuple[str, ...] = ("case_id", "entry", "entry_kind", "reference", "lesion", "volume_mm3", "detected")


def score_new_lesion_case_tables(
    case: str,
    *,
    reference: str | Path,
    reference_name: str,
    predictions: Mapping[str, tuple[str, str | Path]],
    raters: Mapping[str, tuple[str | Path, str | Path]] | None = None,
    rater_reference_name: str = "loo",
    fields: Mapping[str, object] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long-table rows (:mod:`lesionbench.ranking.table`) of one two-visit case, scored as
    MSSEG-2 (:func:`lesionbench.metrics.newlesions.score_new_lesions`).

    ``predictions`` maps an entry to (entry kind, prediction folder): a folder whose status is
    not ``ok`` gives that status on the metrics that apply to the case. ``raters`` maps a rater
    to (its mask, the reference it is scored against, e.g. the consensus without it), under
    ``rater_reference_name``. ``fields`` are the case's columns (center, split, ...);
    ``lesion_load_ml``, when not among them, is the reference's new-lesion volume.

    Returns the metric rows and the detection rows (:data:`DETECTION_COLUMNS`: every reference
    new lesion, its volume and whether the entry detected it; entries without an ``ok``
    prediction give none).
    """
    from ..metrics.newlesions import detection_rows, has_new_lesions, new_lesion_rows, score_new_lesions

    grid = load_volume(reference, case=case)
    ref = load_mask(reference, case=case, reference=grid).data
    voxel_ml = float(np.prod(grid.spacing)) / 1000.0
    base = {"case_id": case, "lesion_load_ml": float(np.count_nonzero(ref)) * voxel_ml, **dict(fields or {})}
    rows: list[dict[str, object]] = []
    lesions: list[dict[str, object]] = []
    for entry, (kind, folder) in predictions.items():
        status = read_status(folder).get("status", "missing")
        head = {**base, "entry": entry, "entry_kind": kind, "reference": reference_name}
        if status != "ok":
            empty = not has_new_lesions(ref, grid.spacing, case=case)
            rows += new_lesion_rows(None, reference_has_new_lesions=not empty, status=status, fields=head)
            continue
        mask = load_mask(Path(folder) / MASK_FILE, case=case, reference=grid).data
        scores = score_new_lesions(ref, mask, grid.spacing, case=case)
        rows += new_lesion_rows(scores, fields=head)
        lesions += detection_rows(scores, fields=head)
    for rater, (mask_path, rater_reference) in (raters or {}).items():
        other = load_mask(rater_reference, case=case, reference=grid).data
        mask = load_mask(mask_path, case=case, reference=grid).data
        head = {**base, "entry": rater, "entry_kind": "rater", "reference": rater_reference_name}
        scores = score_new_lesions(other, mask, grid.spacing, case=case)
        rows += new_lesion_rows(scores, fields=head)
        lesions += detection_rows(scores, fields=head)
    detections = pd.DataFrame(lesions).reindex(columns=list(DETECTION_COLUMNS))
    return pd.DataFrame(rows), detections


def score_new_lesion_case_files(
    case: str,
    *,
    reference: str | Path,
    reference_name: str,
    entries: Sequence[tuple[str, str]],
    prediction_dirs: Sequence[str | Path],
    raters: Sequence[str],
    rater_masks: Sequence[str | Path],
    loo_dir: str | Path,
    fields: Mapping[str, object],
    output: str | Path,
    detections_output: str | Path | None = None,
) -> None:
    """:func:`score_new_lesion_case_tables` from the workflow's files, its rows written as a TSV: ``entries``
    (name, kind) with their prediction folders in the same order; each rater scored against the
    fusion of the others (``<loo_dir>/<rater>.nii.gz``, reference ``loo``). With
    ``detections_output``, also its detection rows."""
    if len(entries) != len(prediction_dirs) or len(raters) != len(rater_masks):
        raise ValueError("score_new_lesion_case_files needs one folder per entry and one mask per rater")
    table, detections = score_new_lesion_case_tables(
        case,
        reference=reference,
        reference_name=reference_name,
        predictions={name: (kind, folder) for (name, kind), folder in zip(entries, prediction_dirs)},
        raters={r: (m, Path(loo_dir) / f"{r}.nii.gz") for r, m in zip(raters, rater_masks)},
        fields=fields,
    )
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(output, sep="\t", index=False, float_format="%.10g")
    if detections_output is not None:
        Path(detections_output).parent.mkdir(parents=True, exist_ok=True)
        detections.to_csv(detections_output, sep="\t", index=False, float_format="%.10g")
