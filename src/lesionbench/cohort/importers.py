"""Importers: turn real dataset folder layouts into a :class:`~lesionbench.cohort.sheet.CaseSheet`.

Layouts (``docs/data-and-preprocessing.md`` section 1):

``msseg2016``
    ``Training|Testing/Center_XX/Patient_YY/{Raw_Data,Preprocessed_Data,Masks}`` with
    ``3DFLAIR, 3DT1, 3DT1GADO, DP, T2`` images, ``ManualSegmentation_1..7``, ``Consensus`` and
    ``Brain_Mask`` masks; or the flat per-patient variant of the later release (one folder per
    patient, e.g. ``01016SACH/``, holding the same file names), where the center is read from
    the first two digits of the folder name and the split is not recorded.
``msseg2``
    MSSEG-2 (2021): one folder per patient with ``flair_time01_on_middle_space``,
    ``flair_time02_on_middle_space``, ``ground_truth_expert1..4`` and ``ground_truth`` (masks of
    the lesions new at the second visit). Imported as a ``new_lesions`` sheet: two time points
    per case (``flair_time01``, ``flair_time02``), never as one visit.
``bids``
    ``sub-*/[ses-*/]anat/sub-*_FLAIR.nii.gz`` (``_T1w``, ``_T2w``, ``_PDw``, ``_ce-*_T1w``), rater
    masks under ``derivatives/<rater>/sub-*/...`` (a derivative folder named ``consensus`` is the
    reference, not a rater) and ``participants.tsv`` with center, scanner, field strength, split.

Images may be ``.nii`` or ``.nii.gz``. Paths in the sheet are relative to the dataset root.
File reading (QC) happens later; importers only look at names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import SheetError
from .layout import (
    BRAIN_MASK_STEM,
    CONSENSUS_STEM,
    LAYOUTS,
    MSSEG2_CONSENSUS_STEM,
    MSSEG2_FLAIR_STEMS,
    MSSEG2016_CENTERS,
    PREPROCESSED_STEMS,
    RAW_STEMS,
    SPLIT_DIRS,
    TIME_POINTS,
    Center,
    case_id_for,
    time_point_column,
)
from .sheet import RATER_COLUMNS, CaseSheet

_RATER_RE = re.compile(r"^ManualSegmentation_(\d+)\.nii(\.gz)?$")
_MSSEG2_RATER_RE = re.compile(r"^ground_truth_expert(\d+)\.nii(\.gz)?$")


def _find_image(folder: Path, stem: str) -> Path | None:
    for suffix in (".nii.gz", ".nii"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _rel(path: Path | None, root: Path) -> str:
    return "" if path is None else path.relative_to(root).as_posix()


def _center_info(center: str, centers: Mapping[str, Center]) -> tuple[str, float | None]:
    info = centers.get(center)
    return (info.scanner, info.field_strength) if info else ("", None)


def _msseg2016_case(
    case_dir: Path,
    image_dir: Path,
    mask_dir: Path,
    root: Path,
    *,
    case_id: str,
    center: str,
    split: str,
    stems: Mapping[str, str],
    centers: Mapping[str, Center],
) -> tuple[dict[str, object], list[dict[str, str]]]:
    scanner, strength = _center_info(center, centers)
    row: dict[str, object] = {
        "case_id": case_id,
        "center": center,
        "scanner": scanner,
        "field_strength": strength,
        "split": split,
    }
    for modality, stem in stems.items():
        row[modality] = _rel(_find_image(image_dir, stem), root)
    row["brain_mask"] = _rel(_find_image(mask_dir, BRAIN_MASK_STEM), root)
    row["consensus"] = _rel(_find_image(mask_dir, CONSENSUS_STEM), root)
    raters = []
    if mask_dir.is_dir():
        found = []
        for entry in mask_dir.iterdir():
            match = _RATER_RE.match(entry.name)
            if match and entry.is_file():
                found.append((int(match.group(1)), entry))
        for number, entry in sorted(found):
            raters.append({"case_id": case_id, "rater": f"rater{number}", "path": _rel(entry, root)})
    row["source_dir"] = _rel(case_dir, root)
    return row, raters


def import_msseg2016(
    root: str | Path,
    *,
    use_preprocessed: bool = False,
    flat_split: str = "test",
    centers: Mapping[str, Center] = MSSEG2016_CENTERS,
) -> CaseSheet:
    """Read an MS-SEG 2016 distribution (nested or flat variant) into a case sheet.

    ``use_preprocessed`` takes the organisers' ``Preprocessed_Data`` images instead of
    ``Raw_Data`` (nested layout only). ``flat_split`` is the split given to every case of the
    flat variant, which does not record one.
    """
    root = Path(root).absolute()
    if not root.is_dir():
        raise SheetError("dataset root is not a folder", path=root)
    rows: list[dict[str, object]] = []
    raters: list[dict[str, str]] = []
    nested = [root / name for name in SPLIT_DIRS if (root / name).is_dir()]
    if nested:
        for split_dir in nested:
            split = SPLIT_DIRS[split_dir.name]
            for center_dir in sorted(split_dir.glob("Center_*")):
                center = center_dir.name.removeprefix("Center_")
                for case_dir in sorted(center_dir.glob("Patient_*")):
                    if not case_dir.is_dir():
                        continue
                    patient = case_dir.name.removeprefix("Patient_")
                    image_dir = case_dir / ("Preprocessed_Data" if use_preprocessed else "Raw_Data")
                    row, case_raters = _msseg2016_case(
                        case_dir,
                        image_dir,
                        case_dir / "Masks",
                        root,
                        case_id=case_id_for(split, center, patient),
                        center=center,
                        split=split,
                        stems=PREPROCESSED_STEMS if use_preprocessed else RAW_STEMS,
                        centers=centers,
                    )
                    rows.append(row)
                    raters.extend(case_raters)
    else:
        for case_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            if _find_image(case_dir, RAW_STEMS["flair"]) is None:
                continue
            match = re.match(r"^(\d{2})", case_dir.name)
            center = match.group(1) if match else ""
            row, case_raters = _msseg2016_case(
                case_dir,
                case_dir,
                case_dir,
                root,
                case_id=case_dir.name,
                center=center,
                split=flat_split,
                stems=RAW_STEMS,
                centers=centers,
            )
            rows.append(row)
            raters.extend(case_raters)
    if not rows:
        raise SheetError(
            "no MS-SEG 2016 cases found (expected Training|Testing/Center_XX/Patient_YY or per-patient "
            "folders holding 3DFLAIR.nii[.gz])",
            path=root,
        )
    return CaseSheet(
        cases=pd.DataFrame(rows),
        raters=pd.DataFrame(raters, columns=list(RATER_COLUMNS)),
        root=root,
        origin=str(root),
    )


def _msseg2_time_point(case_dir: Path, time_point: str, modality: str = "flair") -> Path | None:
    for stem in MSSEG2_FLAIR_STEMS[time_point]:
        found = _find_image(case_dir, stem.replace("flair", modality, 1))
        if found is not None:
            return found
    return None


def import_msseg2(
    root: str | Path,
    *,
    split: str = "train",
    center: str = "",
    splits: Mapping[str, str] | None = None,
    centers: Mapping[str, str] | None = None,
) -> CaseSheet:
    """Read an MSSEG-2 (2021) folder as a ``new_lesions`` sheet: two visits per case.

    One folder per patient holding ``flair_time01_on_middle_space`` and
    ``flair_time02_on_middle_space`` (or ``flair_time01``/``flair_time02`` when the visits are not
    yet co-registered), optionally ``t1_time01``/``t1_time02`` named the same way, ``ground_truth_expertK`` (the raters' masks of new lesions) and
    ``ground_truth`` (the shipped consensus of new lesions). The case id is the folder name.
    Patient folders may sit directly in ``root`` or in ``Training/`` and ``Testing/`` (split
    ``train``/``test``). Otherwise ``split`` is given to every case; ``center`` likewise; and
    ``splits``/``centers`` (case id -> value) override both for the cases they name. A folder
    with one visit but not the other is an error naming it.
    """
    root = Path(root).absolute()
    if not root.is_dir():
        raise SheetError("dataset root is not a folder", path=root)
    rows: list[dict[str, object]] = []
    raters: list[dict[str, str]] = []
    split_of: dict[Path, str] = {}
    for name, label in SPLIT_DIRS.items():
        if (root / name).is_dir():
            split_of.update({p: label for p in (root / name).iterdir() if p.is_dir()})
    if not split_of:
        split_of = {p: split for p in root.iterdir() if p.is_dir()}
    for case_dir in sorted(split_of, key=lambda p: p.name):
        visits = {t: _msseg2_time_point(case_dir, t) for t in TIME_POINTS}
        if all(path is None for path in visits.values()):
            continue
        case_id = case_dir.name
        for t, path in visits.items():
            if path is None:
                raise SheetError(
                    f"MSSEG-2 case has one FLAIR visit but no {MSSEG2_FLAIR_STEMS[t][0]}.nii[.gz]",
                    case=case_id,
                    path=case_dir,
                )
        rows.append(
            {
                "case_id": case_id,
                "center": (centers or {}).get(case_id, center),
                "scanner": "",
                "field_strength": None,
                "split": (splits or {}).get(case_id, split_of[case_dir]),
                **{time_point_column("flair", t): _rel(path, root) for t, path in visits.items()},
                **{time_point_column("t1", t): _rel(_msseg2_time_point(case_dir, t, "t1"), root) for t in TIME_POINTS},
                "consensus": _rel(_find_image(case_dir, MSSEG2_CONSENSUS_STEM), root),
                "source_dir": _rel(case_dir, root),
            }
        )
        found = []
        for entry in case_dir.iterdir():
            match = _MSSEG2_RATER_RE.match(entry.name)
            if match and entry.is_file():
                found.append((int(match.group(1)), entry))
        for number, entry in sorted(found):
            raters.append({"case_id": case_id, "rater": f"expert{number}", "path": _rel(entry, root)})
    if not rows:
        raise SheetError(
            "no MSSEG-2 cases found (folders holding flair_time01_on_middle_space.nii[.gz] and "
            "flair_time02_on_middle_space.nii[.gz])",
            path=root,
        )
    return CaseSheet(
        cases=pd.DataFrame(rows),
        raters=pd.DataFrame(raters, columns=list(RATER_COLUMNS)),
        root=root,
        origin=str(root),
        task="new_lesions",
    )


_BIDS_SUFFIX = {"FLAIR": "flair", "T1w": "t1", "T2w": "t2", "PDw": "pd"}
_BIDS_NAME = re.compile(
    r"^(?P<entities>sub-[A-Za-z0-9]+(?:_[a-z]+-[A-Za-z0-9]+)*)_(?P<suffix>[A-Za-z0-9]+)\.nii(\.gz)?$"
)


def _bids_key(entities: str) -> tuple[str, str | None, str | None]:
    parts = dict(item.split("-", 1) for item in entities.split("_"))
    return parts["sub"], parts.get("ses"), parts.get("ce")


def import_bids(root: str | Path) -> CaseSheet:
    """Read a BIDS-like dataset. ``participants.tsv`` may carry ``center`` (or ``site``),
    ``scanner``, ``field_strength`` and ``split``; sessions become separate cases
    (``sub-X_ses-Y``)."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise SheetError("dataset root is not a folder", path=root)
    participants: dict[str, dict[str, str]] = {}
    table = root / "participants.tsv"
    if table.is_file():
        frame = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
        if "participant_id" not in frame.columns:
            raise SheetError("participants.tsv has no participant_id column", path=table)
        participants = {row["participant_id"]: dict(row) for _, row in frame.iterrows()}

    cases: dict[str, dict[str, object]] = {}
    for image in sorted(root.glob("sub-*/**/anat/*.nii*")):
        match = _BIDS_NAME.match(image.name)
        if not match:
            continue
        subject, session, contrast_agent = _bids_key(match.group("entities"))
        modality = _BIDS_SUFFIX.get(match.group("suffix"))
        if modality is None:
            continue
        if contrast_agent is not None:
            if modality != "t1":
                continue
            modality = "t1gd"
        case_id = f"sub-{subject}" + (f"_ses-{session}" if session else "")
        info = participants.get(f"sub-{subject}", {})
        row = cases.setdefault(
            case_id,
            {
                "case_id": case_id,
                "center": info.get("center", info.get("site", "")),
                "scanner": info.get("scanner", ""),
                "field_strength": info.get("field_strength", "") or None,
                "split": info.get("split", ""),
            },
        )
        row[modality] = _rel(image, root)

    raters: list[dict[str, str]] = []
    derivatives = root / "derivatives"
    if derivatives.is_dir():
        for rater_dir in sorted(p for p in derivatives.iterdir() if p.is_dir()):
            for mask in sorted(rater_dir.glob("sub-*/**/*.nii*")):
                match = _BIDS_NAME.match(mask.name)
                if not match:
                    continue
                subject, session, _ = _bids_key(match.group("entities"))
                case_id = f"sub-{subject}" + (f"_ses-{session}" if session else "")
                if case_id not in cases:
                    continue
                if rater_dir.name == "consensus":
                    cases[case_id]["consensus"] = _rel(mask, root)
                else:
                    raters.append({"case_id": case_id, "rater": rater_dir.name, "path": _rel(mask, root)})
    if not cases:
        raise SheetError("no BIDS images found (sub-*/anat/sub-*_FLAIR.nii[.gz])", path=root)
    return CaseSheet(
        cases=pd.DataFrame(list(cases.values())),
        raters=pd.DataFrame(raters, columns=list(RATER_COLUMNS)),
        root=root,
        origin=str(root),
    )


def import_dataset(layout: str, root: str | Path, **options: object) -> CaseSheet:
    """Dispatch to the importer for ``layout`` (one of :data:`LAYOUTS`)."""
    if layout == "msseg2016":
        return import_msseg2016(root, **options)  # type: ignore[arg-type]
    if layout == "msseg2":
        return import_msseg2(root, **options)  # type: ignore[arg-type]
    if layout == "bids":
        return import_bids(root)
    raise SheetError(f"unknown dataset layout {layout!r} (known: {', '.join(LAYOUTS)})")


#: Columns in which an import of a generated cohort must agree with the cohort's plan.
PLAN_COLUMNS: tuple[str, ...] = ("case_id", "center", "split", "flair", "t1", "t2", "pd")


def check_against_plan(
    imported: CaseSheet, planned: CaseSheet, *, root: str | Path, columns: tuple[str, ...] = PLAN_COLUMNS
) -> CaseSheet:
    """Return ``imported`` after checking it found exactly the ``planned`` cases (same
    ``columns``, by default :data:`PLAN_COLUMNS`) and as many rater masks; a :class:`SheetError`
    naming ``root`` if not.

    The synthetic cohort is imported with the MS-SEG 2016 importer (so the demo exercises it) and
    checked against the generator's plan this way.
    """
    for column in columns:
        got = sorted(zip(imported.cases["case_id"], imported.cases[column].astype(str)))
        want = sorted(zip(planned.cases["case_id"], planned.cases[column].astype(str)))
        if got != want:
            raise SheetError(
                f"MS-SEG import of the synthetic cohort disagrees with its plan in column {column!r}", path=root
            )
    if len(imported.raters) != len(planned.raters):
        raise SheetError("MS-SEG import found a different number of rater masks than planned", path=root)
    return imported
