# Shared helpers for the rules: config validation, the parse-time cohort, input functions.
import pandas as pd
from snakemake.utils import validate

from lesionbench.cohort.layout import MODALITIES
from lesionbench.workflow_support import SYNTHETIC_ROOT, cohort_from_config

validate(config, schema="../../config/schemas/config.schema.yaml")

# The cohort drives the DAG. For the synthetic default it is the generator's plan (what it will
# write, in the MS-SEG 2016 layout); otherwise the imported or given sheet, validated here so
# that a bad sheet fails before any job starts.
SHEET = cohort_from_config(config)
validate(SHEET.cases, schema="../../config/schemas/cases.schema.yaml")
if not SHEET.raters.empty:
    validate(SHEET.raters, schema="../../config/schemas/raters.schema.yaml")
CASES = SHEET.case_ids
SYNTHETIC = config["dataset"]["source"] == "synthetic"
N_RATERS = int(config["synthetic"]["raters"])


wildcard_constraints:
    case="|".join(CASES),
    case_dir=r"(Training|Testing)/Center_\d+/Patient_\d+",


def case_images(wildcards):
    """Images of a case by modality (absolute paths; modalities not given are left out)."""
    images, _ = SHEET.qc_inputs(wildcards.case)
    return {m: str(p) for m, p in images.items() if p is not None}


def case_masks(wildcards):
    """Rater masks, shipped brain mask and consensus of a case (those that are given)."""
    _, masks = SHEET.qc_inputs(wildcards.case)
    return {role: str(p) for role, p in masks.items() if p is not None}


def case_inputs(wildcards):
    return list(case_images(wildcards).values()) + list(case_masks(wildcards).values())


def qc_params(wildcards):
    images, masks = SHEET.qc_inputs(wildcards.case)
    return {
        "images": {m: (str(p) if p is not None else None) for m, p in images.items()},
        "masks": {r: (str(p) if p is not None else None) for r, p in masks.items()},
    }


def synthetic_case_files():
    """Every file the synthetic cohort generator writes (MS-SEG layout), for the import rule."""
    files = []
    for case_id in CASES:
        images, masks = SHEET.qc_inputs(case_id)
        files += [str(p) for p in images.values() if p is not None]
        files += [str(p) for p in masks.values() if p is not None]
    return files


def analysis_cases(split=None):
    """Cases that enter the analysis: all of them when a failing case stops the run, else those
    that passed input QC (read from the qc_inputs checkpoint)."""
    if config["qc"]["on_failure"] == "stop":
        selected = SHEET.cases
    else:
        status = pd.read_csv(
            checkpoints.qc_inputs.get().output.status, sep="\t", dtype={"case_id": str}
        )
        passed = set(status.loc[status["passed"], "case_id"])
        selected = SHEET.cases[SHEET.cases["case_id"].isin(passed)]
    if split is not None:
        selected = selected[selected["split"] == split]
    return list(selected["case_id"])


# The final outputs of the workflow (default target). Each stage's file of rules appends to it
# plain paths, or functions without arguments (called lazily, so they may read checkpoints).
FINAL_TARGETS = [
    "results/qc/inputs.tsv",
    "results/cohort/cases.tsv",
    "results/provenance.json",
]
if SYNTHETIC:
    FINAL_TARGETS.append("results/figures/cohort_overview.png")


def final_targets(wildcards):
    targets = []
    for target in FINAL_TARGETS:
        produced = target() if callable(target) else target
        targets += [produced] if isinstance(produced, str) else list(produced)
    return targets
