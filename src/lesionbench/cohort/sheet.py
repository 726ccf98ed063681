"""The case sheet: one row per case, plus a long sheet of rater masks.

``cases.tsv`` columns: ``case_id``, ``center``, ``scanner``, ``field_strength``, ``split``
(``train`` | ``test``), one column per modality path (``flair``, ``t1``, ``t2``, ``pd``, optional
``t1gd``), and optional ``brain_mask`` and ``consensus`` (a reference mask shipped with the data,
e.g. MS-SEG's ``Consensus.nii.gz``). ``raters.tsv`` columns: ``case_id``, ``rater``, ``path``.

Paths are relative to the dataset root (absolute paths are allowed when they stay inside it);
a path that leaves the root is rejected. Modalities other than FLAIR may be empty for some cases;
the run's ``required_modalities`` says which ones must be present.

A ``new_lesions`` sheet (two visits per case, MSSEG-2 style) has one column per modality and
time point instead (``flair_time01``, ``flair_time02``, optional ``t1_time01`` ...) and no
``flair`` column; its ``consensus`` and rater masks outline the lesions that are new at the
second visit. A sheet read from disk is ``new_lesions`` when it has both ``flair_time01`` and
``flair_time02`` columns (:func:`sheet_task`), else ``cross_sectional``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from ..errors import PathEscapeError, SheetError
from .layout import MODALITIES, TASKS, TIME_POINTS, time_point_column

CASE_COLUMNS: tuple[str, ...] = ("case_id", "center", "scanner", "field_strength", "split")
OPTIONAL_PATH_COLUMNS: tuple[str, ...] = ("brain_mask", "consensus")
PATH_COLUMNS: tuple[str, ...] = MODALITIES + OPTIONAL_PATH_COLUMNS
#: Image columns of a ``new_lesions`` sheet: every modality at both time points.
TIME_POINT_COLUMNS: tuple[str, ...] = tuple(time_point_column(m, t) for m in MODALITIES for t in TIME_POINTS)
LONGITUDINAL_PATH_COLUMNS: tuple[str, ...] = TIME_POINT_COLUMNS + OPTIONAL_PATH_COLUMNS
RATER_COLUMNS: tuple[str, ...] = ("case_id", "rater", "path")
SPLITS: frozenset[str] = frozenset({"train", "test"})


@dataclass(frozen=True)
class CaseSheet:
    """The cohort: ``cases`` (one row per case, in sheet order) and ``raters`` (long format).

    ``root`` is the folder that relative paths are resolved against (``None``: the current
    directory). ``origin`` names where the sheet came from, for error messages.
    """

    cases: pd.DataFrame
    raters: pd.DataFrame
    root: Path | None = None
    origin: str = "case sheet"
    #: where the rater rows came from (``raters.tsv``); ``None``: the same place as the cases
    rater_origin: str | None = None
    #: ``cross_sectional`` or ``new_lesions`` (:data:`~lesionbench.cohort.layout.TASKS`)
    task: str = "cross_sectional"

    @property
    def path_columns(self) -> tuple[str, ...]:
        """The image and mask columns of this sheet's task."""
        return LONGITUDINAL_PATH_COLUMNS if self.task == "new_lesions" else PATH_COLUMNS

    @property
    def image_columns(self) -> tuple[str, ...]:
        return TIME_POINT_COLUMNS if self.task == "new_lesions" else MODALITIES

    @property
    def case_ids(self) -> list[str]:
        return list(self.cases["case_id"])

    # The workflow asks for a case's row, raters and paths once per job while it builds the DAG
    # (thousands of times for a large cohort). Each lookup below is a dict access into an index
    # built on first use from the two frames, which are never changed after construction, so the
    # cost does not grow with the number of cases.

    @cached_property
    def _rows(self) -> dict[str, pd.Series]:
        """The first row of each case_id (a valid sheet has one)."""
        rows: dict[str, pd.Series] = {}
        for _, row in self.cases.iterrows():
            rows.setdefault(row["case_id"], row)
        return rows

    @cached_property
    def _rater_rows(self) -> dict[str, list[tuple[str, str]]]:
        by_case: dict[str, list[tuple[str, str]]] = {}
        if {"case_id", "rater", "path"} <= set(self.raters.columns):
            for case, rater, path in zip(
                self.raters["case_id"], self.raters["rater"], self.raters["path"], strict=True
            ):
                by_case.setdefault(case, []).append((rater, path))
        return by_case

    @cached_property
    def _resolved(self) -> dict[tuple[str, str], Path | None]:
        return {}

    @cached_property
    def _resolved_raters(self) -> dict[str, dict[str, Path]]:
        return {}

    def case(self, case_id: str) -> pd.Series:
        row = self._rows.get(case_id)
        if row is None:
            raise SheetError(f"no such case in {self.origin}", case=case_id)
        return row

    def raters_of(self, case_id: str) -> list[tuple[str, str]]:
        return list(self._rater_rows.get(case_id, ()))

    def path(self, case_id: str, column: str) -> Path | None:
        """Resolved path of ``column`` for a case, or ``None`` when the cell is empty."""
        key = (case_id, column)
        if key not in self._resolved:
            value = str(self.case(case_id).get(column, "") or "")
            self._resolved[key] = resolve_path(self.root, value, case=case_id, what=column) if value else None
        return self._resolved[key]

    def rater_paths(self, case_id: str) -> dict[str, Path]:
        if case_id not in self._resolved_raters:
            self._resolved_raters[case_id] = {
                rater: resolve_path(self.root, value, case=case_id, what=f"rater {rater}")
                for rater, value in self.raters_of(case_id)
            }
        return dict(self._resolved_raters[case_id])

    def qc_inputs(self, case_id: str) -> tuple[dict[str, Path | None], dict[str, Path | None]]:
        """The case's images (by modality) and masks (raters, brain mask, consensus) for QC."""
        images = {m: self.path(case_id, m) for m in self.image_columns}
        masks: dict[str, Path | None] = dict(self.rater_paths(case_id))
        for column in OPTIONAL_PATH_COLUMNS:
            masks[column] = self.path(case_id, column)
        return images, masks


def sheet_task(columns: Iterable[str]) -> str:
    """``new_lesions`` for a sheet with both ``flair_time01`` and ``flair_time02`` columns, else
    ``cross_sectional``."""
    names = set(columns)
    pair = {time_point_column("flair", t) for t in TIME_POINTS}
    return "new_lesions" if pair <= names else "cross_sectional"


def required_columns(task: str, required_modalities: Iterable[str]) -> list[str]:
    """The image columns a case of ``task`` must fill for these modalities (``flair`` ->
    ``flair_time01`` and ``flair_time02`` for ``new_lesions``)."""
    modalities = list(required_modalities)
    if task == "new_lesions":
        return [time_point_column(m, t) for m in modalities for t in TIME_POINTS]
    return modalities


def resolve_path(root: Path | None, value: str, *, case: str | None = None, what: str = "path") -> Path:
    """Join ``value`` to ``root`` and refuse results that leave ``root``.

    The check is lexical (``..`` segments are folded) so that a dataset whose files are
    symbolic links into another disk still works; what is refused is a sheet that names
    files outside the dataset it claims to describe.
    """
    path = Path(value)
    if root is None:
        return path
    root_abs = Path(os.path.normpath(Path(root).absolute()))
    joined = Path(os.path.normpath(path if path.is_absolute() else root_abs / path))
    if joined != root_abs and root_abs not in joined.parents:
        raise PathEscapeError(f"{what} path {value!r} leaves the dataset root {root_abs}", case=case, path=joined)
    if not Path(root).is_absolute() and not path.is_absolute():
        # keep workflow-relative paths relative, so that Snakemake matches them to rule outputs
        return Path(os.path.normpath(Path(root) / path))
    return joined


def _read_tsv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise SheetError("sheet file does not exist", path=path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SheetError(f"cannot be parsed as a tab-separated sheet ({exc})", path=path) from exc
    return frame.apply(lambda col: col.str.strip())


def read_case_sheet(
    cases_path: str | Path,
    raters_path: str | Path | None = None,
    *,
    root: str | Path | None = None,
) -> CaseSheet:
    """Read ``cases.tsv`` (and ``raters.tsv``) as strings; :func:`validate_case_sheet` checks them.

    ``root`` defaults to the folder holding ``cases.tsv``.
    """
    cases_path = Path(cases_path)
    cases = _read_tsv(cases_path)
    if raters_path is not None:
        raters = _read_tsv(Path(raters_path))
    else:
        raters = pd.DataFrame(columns=list(RATER_COLUMNS))
    return CaseSheet(
        cases=cases,
        raters=raters,
        root=Path(root) if root is not None else cases_path.parent,
        origin=str(cases_path),
        rater_origin=str(raters_path) if raters_path is not None else None,
        task=sheet_task(cases.columns),
    )


def validate_case_sheet(
    sheet: CaseSheet,
    *,
    required_modalities: Iterable[str] = ("flair",),
    centers: Mapping[str, object] | None = None,
    min_raters: int = 0,
) -> CaseSheet:
    """Check a sheet and return it normalised (all columns present, field strength as float).

    Raises :class:`SheetError` naming the sheet and the case for: an empty sheet, missing
    columns, a duplicate ``case_id``, an unknown split, a center not in ``centers`` (when
    given and non-empty), a required modality left empty, a rater row for an unknown case,
    a duplicate (case, rater), fewer than ``min_raters`` raters; and :class:`PathEscapeError`
    for a path leaving the root.
    """
    origin = sheet.origin
    task = sheet.task
    if task not in TASKS:
        raise SheetError(f"unknown task {task!r} (known: {', '.join(TASKS)})", path=origin)
    path_columns = sheet.path_columns
    cases = sheet.cases.copy().fillna("").astype(str)
    if cases.empty or len(cases.columns) == 0:
        raise SheetError("the case sheet has no cases", path=origin)
    flair_columns = required_columns(task, ["flair"])
    missing = [c for c in ["case_id", "split", *flair_columns] if c not in cases.columns]
    if missing:
        raise SheetError(f"missing required column(s): {', '.join(missing)}", path=origin)
    if task == "new_lesions" and "flair" in cases.columns and (cases["flair"] != "").any():
        case = cases.loc[cases["flair"] != "", "case_id"].iloc[0]
        raise SheetError(
            "a two-time-point sheet (flair_time01, flair_time02) also fills the one-visit column 'flair'; "
            "keep one form",
            case=case,
            path=origin,
        )
    required = list(required_modalities)
    unknown_mods = [m for m in required if m not in MODALITIES]
    if unknown_mods:
        raise SheetError(f"unknown modality name(s) required: {', '.join(unknown_mods)}", path=origin)
    for column in CASE_COLUMNS + path_columns:
        if column not in cases.columns:
            cases[column] = ""
    empty_ids = cases["case_id"] == ""
    if empty_ids.any():
        line_no = int(empty_ids.to_numpy().nonzero()[0][0]) + 2  # 1-based, after the header
        raise SheetError(f"row {line_no} has an empty case_id", path=origin)
    bad_chars = cases["case_id"].str.contains(r"[^A-Za-z0-9_.\-]", regex=True)
    if bad_chars.any():
        case = cases.loc[bad_chars, "case_id"].iloc[0]
        raise SheetError("case_id may only contain letters, digits, '_', '-' and '.'", case=case, path=origin)
    dup = cases["case_id"].duplicated(keep=False)
    if dup.any():
        case = cases.loc[dup, "case_id"].iloc[0]
        raise SheetError(f"duplicate case_id ({int(dup.sum())} rows)", case=case, path=origin)
    bad_split = ~cases["split"].isin(SPLITS)
    if bad_split.any():
        row = cases[bad_split].iloc[0]
        raise SheetError(
            f"unknown split {row['split']!r} (expected 'train' or 'test')", case=row["case_id"], path=origin
        )
    if centers:
        known = {str(c) for c in centers}
        bad_center = ~cases["center"].isin(known)
        if bad_center.any():
            row = cases[bad_center].iloc[0]
            raise SheetError(
                f"unknown center {row['center']!r} (known: {', '.join(sorted(known))})",
                case=row["case_id"],
                path=origin,
            )
    for modality in required_columns(task, required):
        empty = cases[modality] == ""
        if empty.any():
            case = cases.loc[empty, "case_id"].iloc[0]
            raise SheetError(f"required modality {modality!r} has no path", case=case, path=origin)
    strengths = pd.to_numeric(cases["field_strength"].replace("", "nan"), errors="coerce")
    bad_strength = (cases["field_strength"] != "") & strengths.isna()
    if bad_strength.any():
        row = cases[bad_strength].iloc[0]
        raise SheetError(f"field_strength {row['field_strength']!r} is not a number", case=row["case_id"], path=origin)
    cases["field_strength"] = strengths
    for _, row in cases.iterrows():
        for column in path_columns:
            if row[column]:
                resolve_path(sheet.root, row[column], case=row["case_id"], what=column)

    raters = sheet.raters.copy().fillna("").astype(str)
    rater_origin = sheet.rater_origin or origin
    if raters.empty:
        raters = pd.DataFrame(columns=list(RATER_COLUMNS))
    missing_r = [c for c in RATER_COLUMNS if c not in raters.columns]
    if missing_r:
        raise SheetError(f"rater sheet is missing column(s): {', '.join(missing_r)}", path=rater_origin)
    unknown = ~raters["case_id"].isin(set(cases["case_id"]))
    if unknown.any():
        case = raters.loc[unknown, "case_id"].iloc[0]
        raise SheetError("rater mask listed for a case that is not in the case sheet", case=case, path=rater_origin)
    dup_r = raters.duplicated(subset=["case_id", "rater"], keep=False)
    if dup_r.any():
        row = raters[dup_r].iloc[0]
        raise SheetError(f"rater {row['rater']!r} listed twice", case=row["case_id"], path=rater_origin)
    for _, row in raters.iterrows():
        resolve_path(sheet.root, row["path"], case=row["case_id"], what=f"rater {row['rater']}")
    if min_raters:
        counts = raters.groupby("case_id").size().reindex(cases["case_id"], fill_value=0)
        few = counts[counts < min_raters]
        if not few.empty:
            raise SheetError(
                f"has {int(few.iloc[0])} rater mask(s), at least {min_raters} required",
                case=str(few.index[0]),
                path=origin,
            )
    sheet_columns = CASE_COLUMNS + path_columns
    ordered = list(sheet_columns) + [c for c in cases.columns if c not in sheet_columns]
    return CaseSheet(
        cases=cases[ordered].reset_index(drop=True),
        raters=raters[list(RATER_COLUMNS)].reset_index(drop=True),
        root=sheet.root,
        origin=origin,
        rater_origin=sheet.rater_origin,
        task=task,
    )


def check_shipped_reference(sheet: CaseSheet, case_ids: Iterable[str] | None = None) -> None:
    """Refuse a sheet in which a case (of ``case_ids``, default all) has no shipped reference mask
    (an empty ``consensus`` cell), with one :class:`SheetError` naming the sheet and the cases.

    Used when the dataset's own consensus is the ground truth (``consensus.reference: shipped``),
    so that the run stops before any job starts rather than in the case's scoring job.
    """
    wanted = set(sheet.case_ids if case_ids is None else case_ids)
    cases = sheet.cases
    column = cases["consensus"] if "consensus" in cases.columns else pd.Series([""] * len(cases), index=cases.index)
    empty = cases["case_id"].isin(wanted) & (column.fillna("").astype(str).str.strip() == "")
    if not empty.any():
        return
    missing = list(cases.loc[empty, "case_id"])
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    raise SheetError(
        f"consensus.reference is 'shipped' but {len(missing)} case(s) have no shipped reference mask "
        f"(empty 'consensus' column): {shown}",
        case=missing[0] if len(missing) == 1 else None,
        path=sheet.origin,
    )


def write_case_sheet(sheet: CaseSheet, cases_path: str | Path, raters_path: str | Path) -> None:
    """Write the two TSVs (folders created). Paths are written as stored in the sheet."""
    for target in (Path(cases_path), Path(raters_path)):
        target.parent.mkdir(parents=True, exist_ok=True)
    cases = sheet.cases.copy()
    if "field_strength" in cases:
        cases["field_strength"] = cases["field_strength"].map(lambda v: "" if pd.isna(v) else f"{float(v):g}")
    cases.to_csv(cases_path, sep="\t", index=False)
    sheet.raters.to_csv(raters_path, sep="\t", index=False)


def with_absolute_paths(sheet: CaseSheet) -> CaseSheet:
    """A copy of ``sheet`` whose image, mask and rater paths are absolute (``root`` resolved, empty
    cells kept empty), so it can be read from anywhere (the workflow's ``results/cohort``)."""
    cases = sheet.cases.copy()
    for column in sheet.path_columns:
        cases[column] = [str(sheet.path(c, column) or "") for c in cases["case_id"]]
    raters = sheet.raters.copy()
    raters["path"] = [
        str(resolve_path(sheet.root, path, case=case, what=f"rater {rater}"))
        for case, rater, path in zip(raters["case_id"], raters["rater"], raters["path"])
    ]
    return CaseSheet(cases=cases, raters=raters, root=None, task=sheet.task)
