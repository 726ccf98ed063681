"""Input quality control: does every file of a case open, and is it what the workflow assumes?

Per file: it exists and reads fully (a truncated ``.nii.gz`` fails here, not three rules later),
is 3-D, has finite values and a plausible affine. Every mask (raters, brain mask, shipped
consensus) must be on the case's FLAIR grid (shape equal, affine within a tolerance in mm) and
binary under the run's label policy. Reported per file: shape, spacing, orientation, data type,
intensity range and robust percentiles, and lesion volume for rater masks.

:func:`inspect_case` never raises for a bad file: it records the problem, so a run can exclude
failing cases; :func:`first_error` picks the first problem, the project error that names the case
and the file, which the caller raises to stop a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from ..errors import InputError, MissingFileError
from ..io import AFFINE_TOLERANCE_MM, LabelPolicy, Volume, load_mask, load_volume

QC_COLUMNS: tuple[str, ...] = (
    "case_id",
    "role",
    "path",
    "status",
    "error_kind",
    "problem",
    "shape",
    "spacing_mm",
    "orientation",
    "dtype",
    "min",
    "p01",
    "p99",
    "max",
    "lesion_ml",
    "n_lesion_voxels",
)


@dataclass
class QCRecord:
    """One file of one case. ``status`` is ``ok``, ``fail`` or ``absent`` (optional and not given)."""

    case_id: str
    role: str
    path: str
    status: str = "ok"
    error_kind: str = ""
    problem: str = ""
    shape: str = ""
    spacing_mm: str = ""
    orientation: str = ""
    dtype: str = ""
    min: float | None = None
    p01: float | None = None
    p99: float | None = None
    max: float | None = None
    lesion_ml: float | None = None
    n_lesion_voxels: int | None = None
    error: InputError | None = field(default=None, repr=False)

    def row(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("error")
        return data


def _describe_geometry(record: QCRecord, vol: Volume, dtype: str) -> None:
    record.shape = "x".join(str(s) for s in vol.shape)
    record.spacing_mm = "x".join(f"{s:.4g}" for s in vol.spacing)
    record.orientation = vol.orientation
    record.dtype = dtype


def _on_disk_dtype(path: Path) -> str:
    import nibabel as nib

    return str(cast(nib.Nifti1Image, nib.load(str(path))).get_data_dtype())


def _inspect_image(case_id: str, role: str, path: Path) -> tuple[QCRecord, Volume | None]:
    record = QCRecord(case_id=case_id, role=role, path=str(path))
    try:
        vol = load_volume(path, case=case_id)
    except InputError as exc:
        record.status, record.error_kind, record.problem, record.error = "fail", exc.kind, exc.problem, exc
        return record, None
    _describe_geometry(record, vol, _on_disk_dtype(path))
    values = vol.data
    record.min = float(values.min())
    record.max = float(values.max())
    record.p01, record.p99 = (float(v) for v in np.percentile(values, [1, 99]))
    return record, vol


def _inspect_mask(
    case_id: str,
    role: str,
    path: Path,
    reference: Volume | None,
    policy: LabelPolicy,
    atol_mm: float,
) -> QCRecord:
    record = QCRecord(case_id=case_id, role=role, path=str(path))
    try:
        vol = load_mask(path, case=case_id, reference=reference, policy=policy, atol_mm=atol_mm)
    except InputError as exc:
        record.status, record.error_kind, record.problem, record.error = "fail", exc.kind, exc.problem, exc
        return record
    _describe_geometry(record, vol, _on_disk_dtype(path))
    count = int(np.count_nonzero(vol.data))
    record.n_lesion_voxels = count
    record.lesion_ml = count * float(np.prod(vol.spacing)) / 1000.0
    record.min, record.max = float(vol.data.min()), float(vol.data.max())
    return record


def inspect_case(
    case_id: str,
    images: Mapping[str, Path | None],
    masks: Mapping[str, Path | None],
    *,
    required: Iterable[str] = ("flair",),
    label_policy: LabelPolicy = "binary",
    affine_tolerance_mm: float = AFFINE_TOLERANCE_MM,
) -> list[QCRecord]:
    """Check one case's files and describe them; problems are recorded, not raised.

    ``images`` maps roles (``flair``, ``t1``, ...) to paths (``None``: not given); FLAIR is
    the reference grid for every entry of ``masks`` (``rater1``..., ``brain_mask``,
    ``consensus``). A required image that is not given is recorded as a failure.
    """
    required = set(required)
    records: list[QCRecord] = []
    reference: Volume | None = None
    for role, path in images.items():
        if path is None:
            record = QCRecord(case_id=case_id, role=role, path="", status="absent")
            if role in required:
                exc = MissingFileError(f"required modality {role!r} is not given", case=case_id)
                record.status, record.error_kind, record.problem, record.error = "fail", exc.kind, exc.problem, exc
            records.append(record)
            continue
        record, vol = _inspect_image(case_id, role, Path(path))
        records.append(record)
        if role == "flair":
            reference = vol
    for role, path in masks.items():
        if path is None:
            records.append(QCRecord(case_id=case_id, role=role, path="", status="absent"))
            continue
        records.append(_inspect_mask(case_id, role, Path(path), reference, label_policy, affine_tolerance_mm))
    return records


def first_error(records: Iterable[QCRecord]) -> InputError | None:
    for record in records:
        if record.error is not None:
            return record.error
    return None


def records_table(records: Iterable[QCRecord]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in records], columns=list(QC_COLUMNS))


def case_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per case: ``passed`` and the first problem (for the excluded-cases list)."""
    rows = []
    for case_id, group in table.groupby("case_id", sort=False):
        failed = group[group["status"] == "fail"]
        first = failed.iloc[0] if not failed.empty else None
        rows.append(
            {
                "case_id": case_id,
                "passed": failed.empty,
                "n_files": int((group["status"] != "absent").sum()),
                "n_failed": int(len(failed)),
                "problem": "" if first is None else f"{first['role']} ({first['path']}): {first['problem']}",
            }
        )
    return pd.DataFrame(rows, columns=["case_id", "passed", "n_files", "n_failed", "problem"])
