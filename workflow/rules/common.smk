# Shared helpers for the rules: config validation, the parse-time cohort, input functions.
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from lesionbench.consensus import case as consensus_case
from lesionbench.metrics.info import validate_config_metrics
from lesionbench.workflow.config import SYNTHETIC_ROOT, cohort_from_config

validate(config, schema="../../config/schemas/config.schema.yaml")
# metric names (ranking.metrics, ranking.analysis_metrics) against the one metric registry
validate_config_metrics(config)

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
SYNTH_ROOT_PATH = Path(SYNTHETIC_ROOT)
SYNTH_FILES = {}
if SYNTHETIC:
    from lesionbench.synth import case_files, plan_cohort

    SYNTH_FILES = {
        plan.case_id: case_files(plan, N_RATERS)
        for plan in plan_cohort(
            config["synthetic"]["preset"], int(config["synthetic"]["seed"]), N_RATERS
        )
    }


# Fusions computed per case: consensus.methods plus the reference (names and options checked
# here, so a bad consensus section fails before any job starts).
CONSENSUS_METHODS = consensus_case.workflow_methods(config["consensus"])
CONSENSUS_OPTIONS = consensus_case.ConsensusOptions.from_config(config["consensus"])


wildcard_constraints:
    case="|".join(CASES),
    fusion="|".join(CONSENSUS_METHODS),
    case_dir=r"(Training|Testing)/Center_\d+/Patient_\d+",


def scaled_mem(base_mb):
    """mem_mb that grows with each retry (attempt 1, 2, 3...), so a job killed for memory on a
    cluster is resubmitted with more (`retries` in profiles/slurm)."""

    def mem_mb(wildcards, attempt):
        return int(base_mb) * attempt

    return mem_mb


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


def case_rater_names(wildcards):
    return [rater for rater, _ in SHEET.raters_of(wildcards.case)]


def case_rater_paths(wildcards):
    return [str(p) for p in SHEET.rater_paths(wildcards.case).values()]


def brain_mask_path(case):
    """The brain mask on the case's FLAIR grid, from preprocessing."""
    return f"results/preprocessed/{case}/brain_mask.nii.gz"


def consensus_inputs(wildcards):
    inputs = {
        "flair": case_images(wildcards)["flair"],
        "raters": case_rater_paths(wildcards),
    }
    # the brain mask (and so preprocessing) only when a fusion runs in the brain region
    if consensus_case.needs_brain_mask(CONSENSUS_METHODS, CONSENSUS_OPTIONS):
        inputs["brain_mask"] = brain_mask_path(wildcards.case)
    return inputs


def truth_file(key):
    """Input function: a file of the synthetic cohort's truth for the case (see lesionbench.synth)."""

    def truth_path(wildcards):
        return str(SYNTH_ROOT_PATH / SYNTH_FILES[wildcards.case][key])

    return truth_path


def consensus_table_inputs(wildcards):
    cases = analysis_cases()
    inputs = {
        "tables": expand(
            "results/consensus/{case}/{fusion}_raters.tsv",
            case=cases,
            fusion=CONSENSUS_METHODS,
        )
    }
    if SYNTHETIC:
        inputs["validation"] = expand(
            "results/consensus/validation/{case}.tsv", case=cases
        )
    return inputs


def consensus_table_outputs(wildcards=None):
    outputs = {
        "performance": report(
            "results/consensus/rater_performance.tsv",
            caption="../report/consensus_raters.rst",
            category="3. Consensus",
            labels={"table": "rater performance"},
        )
    }
    if SYNTHETIC:
        outputs["validation"] = "results/consensus/validation.tsv"
        outputs["summary"] = report(
            "results/consensus/validation_summary.tsv",
            caption="../report/consensus_validation.rst",
            category="3. Consensus",
            labels={"table": "consensus vs truth"},
        )
    return outputs


def reference_mask(case):
    """The consensus used as ground truth for training and ranking (consensus.reference)."""
    return f"results/consensus/{case}/{config['consensus']['reference']}.nii.gz"


def case_center(wildcards):
    return str(SHEET.case(wildcards.case)["center"])


def case_split(wildcards):
    return str(SHEET.case(wildcards.case)["split"])


TRAIN_CENTERS = set(SHEET.cases.loc[SHEET.cases["split"] == "train", "center"])


def case_seen_center(wildcards):
    """False for a center with no training case (MS-SEG 2016: center 03)."""
    return case_center(wildcards) in TRAIN_CENTERS


def evaluated_entries():
    """(name, kind) of every segmentation entry scored on test cases: methods and ensembles."""
    return [
        (m["name"], "ensemble" if m.get("kind") == "ensemble" else "method")
        for m in config.get("methods", [])
    ]


def evaluation_entries(wildcards):
    if case_split(wildcards) != "test":
        return []
    return evaluated_entries()


def evaluation_inputs(wildcards):
    case = wildcards.case
    inputs = {
        "flair": case_images(wildcards)["flair"],
        "raters": case_rater_paths(wildcards),
        "reference": reference_mask(case),
        "loo": f"results/consensus/{case}/loo_{config['consensus']['reference']}",
        "predictions": [
            f"results/predictions/{name}/{case}"
            for name, _ in evaluation_entries(wildcards)
        ],
    }
    if SYNTHETIC:
        inputs["truth"] = truth_file("truth_lesions")(wildcards)
    return inputs


def metrics_case_tables(wildcards):
    return expand("results/metrics/cases/{case}.tsv", case=analysis_cases())


def ranking_reference():
    return (
        config["ranking"]["reference"]
        or f"consensus_{config['consensus']['reference']}"
    )


def ranking_options():
    r = config["ranking"]
    return {
        "reference": ranking_reference(),
        "metrics": tuple(r["metrics"]),
        "weights": tuple(r["weights"]) if r["weights"] else None,
        "analysis_metrics": tuple(r["analysis_metrics"]),
        "scheme": r["scheme"],
        "na_treat": r["na_treat"],
        "n_bootstrap": int(r["bootstrap"]),
        "seed": int(r["seed"]),
        "strata": tuple(r["strata"]),
        "figures": True,
        "rater_reference": "loo",
    }


def ranking_outputs():
    """Every file the ranking rule writes; tables and figures carry their report captions."""
    from lesionbench.ranking.pipeline import FIGURES, SUMMARY_FIGURES

    base = "results/ranking"
    outputs = {
        "leaderboard": report(
            f"{base}/leaderboard.tsv",
            caption="../report/leaderboard.rst",
            category="5. Ranking",
            subcategory="leaderboard",
            labels={"table": "leaderboard (MS-SEG 2016 style)"},
        ),
        "leaderboard_md": f"{base}/leaderboard.md",
    }
    for name in ("ranking", "consensus", "scheme_ranks", "significance", "missing"):
        outputs[name] = report(
            f"{base}/{name}.tsv",
            caption="../report/ranking_tables.rst",
            category="5. Ranking",
            subcategory="analysis tables",
            labels={"table": name},
        )
    if int(config["ranking"]["bootstrap"]) > 0:
        for name in ("bootstrap_summary", "kendall_tau_summary"):
            outputs[name] = report(
                f"{base}/{name}.tsv",
                caption="../report/ranking_tables.rst",
                category="5. Ranking",
                subcategory="analysis tables",
                labels={"table": name},
            )
        outputs["kendall_tau"] = f"{base}/kendall_tau.tsv"
    for stratum in config["ranking"]["strata"]:
        outputs[f"by_{stratum}"] = report(
            f"{base}/leaderboard_by_{stratum}.tsv",
            caption="../report/leaderboard_strata.rst",
            category="5. Ranking",
            subcategory="strata",
            labels={"table": f"leaderboard by {stratum}"},
        )
    for metric in config["ranking"]["analysis_metrics"]:
        for figure in FIGURES:
            outputs[f"{figure}_{metric}"] = report(
                f"{base}/figures/{figure}_{metric}.png",
                caption=f"../report/figures/{figure}.rst",
                category="6. Figures",
                subcategory=metric,
                labels={"metric": metric, "figure": figure.replace("_", " ")},
            )
    for figure in SUMMARY_FIGURES:
        outputs[figure] = report(
            f"{base}/figures/{figure}.png",
            caption=f"../report/figures/{figure}.rst",
            category="6. Figures",
            subcategory="all metrics",
            labels={"metric": "all", "figure": figure.replace("_", " ")},
        )
    return outputs


def synth_truth_outputs():
    """The truth files the generator writes for one case, as patterns of the {case_dir} wildcard."""
    plan = plan_cohort(
        config["synthetic"]["preset"], int(config["synthetic"]["seed"]), N_RATERS
    )[0]
    files = case_files(plan, N_RATERS)
    return {
        key: str(Path(SYNTHETIC_ROOT, path.replace(plan.relative_dir, "{case_dir}", 1)))
        for key, path in files.items()
        if key.startswith("truth_")
    }


def synthetic_root_from_output(wildcards, output):
    """The synthetic cohort root, from a case's FLAIR (<root>/<split>/<center>/<patient>/Raw_Data/...)."""
    return str(Path(output.flair).parents[4])


def synthetic_root_from_input(wildcards, input):
    """The synthetic cohort root, from the first case's FLAIR among the inputs."""
    return str(Path(input[0]).parents[4])


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
FINAL_TARGETS.append(consensus_table_outputs)
FINAL_TARGETS.append("results/metrics/metrics.tsv")
if config.get("methods"):
    FINAL_TARGETS.append("results/ranking/leaderboard.tsv")


def final_targets(wildcards):
    targets = []
    for target in FINAL_TARGETS:
        produced = target() if callable(target) else target
        if isinstance(produced, dict):
            produced = list(produced.values())
        targets += [produced] if isinstance(produced, str) else list(produced)
    return targets
