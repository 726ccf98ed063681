"""The file edge of the methods stage: reading a case for a method, writing the prediction
folder and the model folder. The science lives in the sibling modules; workflow scripts and the
CLI call these.

Prediction folder (read by the evaluation stage), ``results/predictions/{method}/{case}/``:
``status.json`` (``{"status": "ok"|"failed"|"missing", "error": ..., "seconds": ...}``),
``mask.nii.gz`` (uint8 0/1 on the case's raw FLAIR grid) when ok, ``probability.nii.gz``
(float32) when the method has one. Model folder ``results/models/{method}/``: the weights, the
method record ``method.json``, the training curve ``training_curve.tsv`` and its plot.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, LesionbenchError
from ..io import Volume, check_same_grid, load_mask, load_volume, save_volume
from .inputs import CaseArrays

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
MASK_FILE = "mask.nii.gz"
PROBABILITY_FILE = "probability.nii.gz"


class MethodFailedError(LesionbenchError):
    """A method failed on a case and ``on_failure.methods`` is ``stop``."""


def load_case_arrays(
    case: str,
    flair_path: str | Path,
    image_paths: Sequence[str | Path],
    brain_mask_path: str | Path,
    prior_paths: Sequence[str | Path] | None = None,
    label_path: str | Path | None = None,
) -> tuple[CaseArrays, Volume]:
    """Read what a built-in method needs, checking that everything is on the raw FLAIR grid.

    Returns the arrays and the raw FLAIR volume (whose grid the outputs must have).
    """
    flair = load_volume(flair_path, case=case)

    def on_grid(path: str | Path) -> np.ndarray:
        vol = load_volume(path, case=case)
        check_same_grid(vol, flair, what="image is not on the case's FLAIR grid", case=case)
        return vol.data.astype(np.float32)

    images = np.stack([on_grid(p) for p in image_paths])
    brain = load_mask(brain_mask_path, case=case, reference=flair).data
    priors = np.stack([on_grid(p) for p in prior_paths]) if prior_paths else None
    label = load_mask(label_path, case=case, reference=flair).data if label_path else None
    arrays = CaseArrays(case=case, images=images, brain_mask=brain, spacing=flair.spacing, priors=priors, label=label)
    return arrays, flair


@dataclass
class CaseOutcome:
    """What a method produced on a case (or why it did not)."""

    status: str
    seconds: float
    error: str = ""
    mask: np.ndarray | None = None
    probability: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_case(
    method: str,
    case: str,
    compute: Callable[[], tuple[np.ndarray, np.ndarray | None, dict[str, Any]]],
    *,
    on_failure: str = "flag",
) -> CaseOutcome:
    """Run ``compute`` (returning mask, probability or None, extra status fields) for one case.

    ``on_failure="flag"``: any error becomes a ``failed`` outcome carrying its message (a
    submission's absent file, ``missing``), so other cases keep their results. ``"stop"``: a
    :class:`MethodFailedError` naming method and case (a missing submission is still recorded).
    """
    from .participants import SubmissionMissingError

    start = time.perf_counter()
    try:
        mask, probability, extra = compute()
    except Exception as exc:  # a method's crash must not lose the other cases
        seconds = time.perf_counter() - start
        if isinstance(exc, LesionbenchError):
            message = str(exc)
        else:
            message = f"case {case}: {type(exc).__name__}: {exc}"
            log.error("method %s crashed on case %s:\n%s", method, case, traceback.format_exc())
        status = "missing" if isinstance(exc, SubmissionMissingError) else "failed"
        # an absent submission is data (scored with the worst value), not a method failure
        if on_failure == "stop" and status == "failed":
            raise MethodFailedError(f"method {method} {status} on case {case}: {message}") from exc
        log.warning("method %s %s on case %s: %s", method, status, case, message)
        return CaseOutcome(status=status, seconds=seconds, error=message)
    return CaseOutcome(
        status="ok", seconds=time.perf_counter() - start, mask=mask, probability=probability, extra=extra
    )


def write_prediction(
    folder: str | Path, outcome: CaseOutcome, affine: np.ndarray | None, *, method: str, case: str
) -> Path:
    """Write the prediction folder of one (method, case)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (MASK_FILE, PROBABILITY_FILE):
        (folder / name).unlink(missing_ok=True)
    if outcome.status == "ok":
        if outcome.mask is None or affine is None:
            raise InputError(f"method {method} produced no mask", case=case)
        save_volume(folder / MASK_FILE, np.asarray(outcome.mask, dtype=bool), affine, dtype=np.uint8)
        if outcome.probability is not None:
            save_volume(folder / PROBABILITY_FILE, outcome.probability, affine, dtype=np.float32)
    record = {
        "status": outcome.status,
        "error": outcome.error,
        "seconds": round(float(outcome.seconds), 4),
        "method": method,
        "case": case,
        **outcome.extra,
    }
    (folder / STATUS_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
    return folder


def read_status(folder: str | Path) -> dict[str, Any]:
    """The ``status.json`` of a prediction folder; ``missing`` when the folder has none."""
    path = Path(folder) / STATUS_FILE
    if not path.exists():
        return {"status": "missing", "error": f"no {STATUS_FILE} in {folder}"}
    return json.loads(path.read_text())


STATUS_COLUMNS: tuple[str, ...] = ("method", "case_id", "status", "seconds", "error")
TIMING_COLUMNS: tuple[str, ...] = ("method", "stage", "cases", "seconds_total", "seconds_median_per_case")


def status_table(prediction_folders: Sequence[str | Path]) -> pd.DataFrame:
    """Status and seconds per (method, case) from ``results/predictions/{method}/{case}`` folders."""
    rows = []
    for folder in prediction_folders:
        status = read_status(folder)
        rows.append(
            {
                "method": Path(folder).parent.name,
                "case_id": Path(folder).name,
                "status": status.get("status"),
                "seconds": status.get("seconds"),
                "error": status.get("error", ""),
            }
        )
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


def timing_table(status: pd.DataFrame, model_records: Sequence[str | Path]) -> pd.DataFrame:
    """Seconds per method: training (from each ``method.json``), then inference (from ``status``:
    total and median per case over the cases that ran ``ok``)."""
    timing = []
    for record_path in model_records:
        record = json.loads(Path(record_path).read_text())
        timing.append(
            {
                "method": record["name"],
                "stage": "train",
                "cases": len(record.get("training_cases", [])),
                "seconds_total": record.get("train_seconds"),
                "seconds_median_per_case": None,
            }
        )
    for method, group in status.groupby("method", sort=False):
        ok = group[group["status"] == "ok"]
        timing.append(
            {
                "method": method,
                "stage": "infer",
                "cases": len(ok),
                "seconds_total": float(ok["seconds"].sum()),
                "seconds_median_per_case": float(ok["seconds"].median()) if len(ok) else None,
            }
        )
    return pd.DataFrame(timing, columns=list(TIMING_COLUMNS))


def write_methods_tables(
    prediction_folders: Sequence[str | Path],
    model_records: Sequence[str | Path],
    *,
    status_path: str | Path,
    timing_path: str | Path,
) -> None:
    """The methods stage's tables: ``status.tsv`` (:func:`status_table`), ``timing.tsv`` (:func:`timing_table`)."""
    status = status_table(prediction_folders)
    status.to_csv(status_path, sep="\t", index=False)
    timing_table(status, model_records).to_csv(timing_path, sep="\t", index=False)


def write_model_record(
    folder: str | Path, record: Mapping[str, Any], curve: Sequence[Mapping[str, float]], *, x: str, y: str, title: str
) -> None:
    """``method.json``, ``training_curve.tsv`` and ``training_curve.png`` of a trained method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "method.json").write_text(json.dumps(dict(record), indent=2, default=str) + "\n")
    table = pd.DataFrame(list(curve))
    table.to_csv(folder / "training_curve.tsv", sep="\t", index=False)
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    if not table.empty:
        ax.plot(table[x], table[y], lw=1)
        if len(table) > 20:
            ax.plot(table[x], table[y].rolling(20, min_periods=1).mean(), lw=2, label="moving mean (20)")
            ax.legend(frameon=False)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(folder / "training_curve.png")
    plt.close(fig)
