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

from ..errors import GridMismatchError, InputError, MissingFileError
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
    """One file of one case. ``status`` is ``ok``, ``fail``, ``absent`` (optional and not given) or
    ``flag`` (usable, with a note in ``problem``: visits on two grids that the workflow co-registers)."""

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
    reference_role: str = "flair",
) -> list[QCRecord]:
    """Check one case's files and describe them; problems are recorded, not raised.

    ``images`` maps roles (``flair``, ``t1``, ...) to paths (``None``: not given); the image of
    ``reference_role`` (FLAIR; ``flair_time02`` for a two-visit case) is the reference grid for
    every entry of ``masks`` (``rater1``..., ``brain_mask``, ``consensus``). A required image
    that is not given is recorded as a failure.
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
        if role == reference_role:
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


@dataclass(frozen=True)
class TimePointGrids:
    """Whether the two visits of a case share one voxel grid; ``problem`` says how they differ."""

    case_id: str
    same_grid: bool
    problem: str = ""

    @property
    def needs_coregistration(self) -> bool:
        return not self.same_grid


@dataclass(frozen=True)
class Grid:
    """A NIfTI file's voxel grid read from its header alone (no voxel data): what
    :func:`describe_time_point_difference` compares."""

    shape: tuple[int, ...]
    affine: np.ndarray
    path: str | None = None

    @property
    def spacing(self) -> tuple[float, ...]:
        from nibabel.affines import voxel_sizes

        return tuple(float(v) for v in voxel_sizes(self.affine))


def header_grid(path: str | Path, *, case: str | None = None) -> Grid:
    """The grid of a NIfTI file from its header (:class:`~lesionbench.errors.MissingFileError`
    naming the case and the file when it does not exist)."""
    import nibabel as nib

    if not Path(path).is_file():
        raise MissingFileError("file does not exist", case=case, path=path)
    image = cast(nib.Nifti1Image, nib.load(str(path)))  # reads the header; voxels only when asked for
    shape = tuple(int(n) for n in image.shape)
    if len(shape) > 3 and all(n == 1 for n in shape[3:]):
        shape = shape[:3]  # as load_volume reads it
    return Grid(shape, np.asarray(image.affine, float), str(path))


def header_time_point_difference(
    path1: str | Path, path2: str | Path, *, atol_mm: float = AFFINE_TOLERANCE_MM, case: str | None = None
) -> str:
    """:func:`describe_time_point_difference` of two visits' files from their headers only (cheap
    enough for a workflow's parse): "" when they lie on one grid."""
    return describe_time_point_difference(header_grid(path1, case=case), header_grid(path2, case=case), atol_mm)


def describe_time_point_difference(time01: Volume | Grid, time02: Volume | Grid, atol_mm: float) -> str:
    """How the grid of ``time02`` differs from that of ``time01`` ("" when it does not): shape,
    then voxel spacing, then the affine beyond ``atol_mm``."""
    if time01.shape != time02.shape:
        return f"shape {time02.shape} differs from the first visit's shape {time01.shape}"
    if not np.allclose(time01.spacing, time02.spacing, rtol=0.0, atol=atol_mm):
        first = "x".join(f"{s:.4g}" for s in time01.spacing)
        second = "x".join(f"{s:.4g}" for s in time02.spacing)
        return f"voxel spacing {second} mm differs from the first visit's {first} mm"
    worst = float(np.max(np.abs(np.asarray(time01.affine) - np.asarray(time02.affine))))
    if worst > atol_mm:
        return f"affine differs from the first visit's by up to {worst:.4g} mm (tolerance {atol_mm:g} mm)"
    return ""


def check_time_points(
    case_id: str,
    time01: Volume,
    time02: Volume,
    *,
    atol_mm: float = AFFINE_TOLERANCE_MM,
    on_mismatch: str = "stop",
) -> TimePointGrids:
    """Check that both visits of a two-time-point case lie on one grid (shape, spacing, affine
    within ``atol_mm``).

    ``on_mismatch="stop"`` raises :class:`~lesionbench.errors.GridMismatchError` naming the case and
    the second visit's file; ``"flag"`` returns a :class:`TimePointGrids` saying the visits need
    co-registration.
    """
    if on_mismatch not in ("stop", "flag"):
        raise ValueError(f"on_mismatch must be 'stop' or 'flag', not {on_mismatch!r}")
    problem = describe_time_point_difference(time01, time02, atol_mm)
    if problem and on_mismatch == "stop":
        raise GridMismatchError(
            f"the two visits are not on one grid ({problem}); co-register them first", case=case_id, path=time02.path
        )
    return TimePointGrids(case_id=case_id, same_grid=not problem, problem=problem)


def time_point_record(
    case_id: str, path1: Path, path2: Path, *, atol_mm: float = AFFINE_TOLERANCE_MM, coregistered: bool = False
) -> QCRecord:
    """The visits' grid check as one QC row (role ``time_points``), for :func:`inspect_case`'s
    table: ``fail`` with the :class:`GridMismatchError` when the grids differ or a visit does not
    open; with ``coregistered`` (the workflow brings the first visit onto the second's grid) grids
    that differ are a ``flag`` saying how, not a failure."""
    record = QCRecord(case_id=case_id, role="time_points", path=str(path2))
    try:
        first = load_volume(path1, case=case_id)
        second = load_volume(path2, case=case_id)
        grids = check_time_points(
            case_id, first, second, atol_mm=atol_mm, on_mismatch="flag" if coregistered else "stop"
        )
    except InputError as exc:
        record.status, record.error_kind, record.problem, record.error = "fail", exc.kind, exc.problem, exc
        return record
    _describe_geometry(record, second, _on_disk_dtype(path2))
    if grids.needs_coregistration:
        record.status = "flag"
        record.problem = (
            f"the two visits are not on one grid ({grids.problem}); "
            "the first visit is co-registered rigidly onto the second's grid"
        )
    return record


def inspect_task_case(
    case_id: str,
    images: Mapping[str, Path | None],
    masks: Mapping[str, Path | None],
    *,
    task: str,
    required: Iterable[str] = ("flair",),
    label_policy: LabelPolicy = "binary",
    affine_tolerance_mm: float = AFFINE_TOLERANCE_MM,
    coregistered: bool = False,
) -> list[QCRecord]:
    """:func:`inspect_case` for a case of ``task``: a ``new_lesions`` case's masks are checked on
    its second visit's grid and a ``time_points`` row (:func:`time_point_record`) follows its
    images, so a second visit off the first one's grid is the first problem reported, unless the
    case is ``coregistered`` (then it is flagged). ``required`` are sheet columns
    (``flair_time01``, ``flair_time02`` for a two-visit case)."""
    two_visits = task == "new_lesions"
    records = inspect_case(
        case_id,
        images,
        masks,
        required=required,
        label_policy=label_policy,
        affine_tolerance_mm=affine_tolerance_mm,
        reference_role="flair_time02" if two_visits else "flair",
    )
    first, second = images.get("flair_time01"), images.get("flair_time02")
    if two_visits and first is not None and second is not None:
        records.insert(
            len(images),
            time_point_record(case_id, first, second, atol_mm=affine_tolerance_mm, coregistered=coregistered),
        )
    return records
