"""Names and folder rules of the MS-SEG 2016 distribution (and the centers it mirrors).

Source: Commowick et al., Sci Rep 8:13650 (2018) and the 2016 distribution layout
(``Training|Testing/Center_XX/Patient_YY/{Raw_Data,Preprocessed_Data,Masks}``), see
``docs/data-and-preprocessing.md`` section 1. The synthetic cohort writes this layout and
the importer reads it, so both use the names defined here. Standard library only: the
``lesionbench import`` parser and the workflow's config checks read these names cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Modalities lesionbench knows, in sheet column order.
MODALITIES: tuple[str, ...] = ("flair", "t1", "t2", "pd", "t1gd")

#: Dataset layouts :func:`lesionbench.cohort.importers.import_dataset` reads.
LAYOUTS: tuple[str, ...] = ("msseg2016", "msseg2", "bids")

#: File stems of the raw images in ``Raw_Data/`` per modality.
RAW_STEMS: dict[str, str] = {
    "flair": "3DFLAIR",
    "t1": "3DT1",
    "t2": "T2",
    "pd": "DP",
    "t1gd": "3DT1GADO",
}

#: File stems of the organisers' preprocessed images in ``Preprocessed_Data/``.
PREPROCESSED_STEMS: dict[str, str] = {
    "flair": "FLAIR_preprocessed",
    "t1": "T1_preprocessed",
    "t2": "T2_preprocessed",
    "pd": "DP_preprocessed",
    "t1gd": "GADO_preprocessed",
}

#: What a cohort asks of the methods: ``cross_sectional`` (segment every lesion of one visit,
#: MS-SEG 2016) or ``new_lesions`` (segment the lesions that are new at the second of two visits,
#: MSSEG-2, 2021). The workflow's ``task`` config key takes one of these.
TASKS: tuple[str, ...] = ("cross_sectional", "new_lesions")

#: The two visits of a ``new_lesions`` case; sheet columns are ``<modality>_<time point>``.
TIME_POINTS: tuple[str, ...] = ("time01", "time02")

#: MSSEG-2 (2021) file stems per time point: the organisers' images co-registered to a middle
#: space first, then the plain stems of a folder that still needs co-registration.
MSSEG2_FLAIR_STEMS: dict[str, tuple[str, ...]] = {
    "time01": ("flair_time01_on_middle_space", "flair_time01"),
    "time02": ("flair_time02_on_middle_space", "flair_time02"),
}
MSSEG2_RATER_STEM = "ground_truth_expert{rater}"
MSSEG2_CONSENSUS_STEM = "ground_truth"

RATER_STEM = "ManualSegmentation_{rater}"
CONSENSUS_STEM = "Consensus"
BRAIN_MASK_STEM = "Brain_Mask"

#: Split folder name -> split label used in sheets.
SPLIT_DIRS: dict[str, str] = {"Training": "train", "Testing": "test"}


@dataclass(frozen=True)
class Center:
    center: str
    scanner: str
    field_strength: float


#: The four MS-SEG 2016 centers (center 03 appears only in the test split).
MSSEG2016_CENTERS: dict[str, Center] = {
    "01": Center("01", "Siemens Verio", 3.0),
    "03": Center("03", "GE Discovery", 3.0),
    "07": Center("07", "Siemens Aera", 1.5),
    "08": Center("08", "Philips Ingenia", 3.0),
}


def time_point_column(modality: str, time_point: str) -> str:
    """Sheet column of ``modality`` at ``time_point``: ``time_point_column("flair", "time01") == "flair_time01"``."""
    return f"{modality}_{time_point}"


def case_id_for(split: str, center: str, patient: int | str) -> str:
    """Case identifier for ``<Training|Testing>/Center_<center>/Patient_<patient>``.

    Patient numbers restart in each split folder, so the split is part of the id:
    ``case_id_for("train", "01", 3) == "c01_train_p03"``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    patient_txt = f"{int(patient):02d}" if str(patient).isdigit() else str(patient)
    return f"c{center}_{split}_p{patient_txt}"


def relative_case_dir(split: str, center: str, patient: int | str) -> str:
    """Folder of a case relative to the dataset root, e.g. ``Training/Center_01/Patient_03``."""
    split_dir = {v: k for k, v in SPLIT_DIRS.items()}[split]
    patient_txt = f"{int(patient):02d}" if str(patient).isdigit() else str(patient)
    return f"{split_dir}/Center_{center}/Patient_{patient_txt}"
