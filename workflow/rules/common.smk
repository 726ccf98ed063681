# Everything the rules share: config validation, the parse-time cohort and settings, and every
# input function as an ordinary def. Rule files hold rules only; every path comes from
# lesionbench.workflow.paths. Nothing here is changed by another rule file, so the order of the
# includes does not matter.
import re
from pathlib import Path

import pandas as pd
from snakemake.io import Wildcards
from snakemake.utils import validate

from lesionbench.cohort.layout import TIME_POINTS
from lesionbench.cohort.sheet import required_columns
from lesionbench.consensus.options import SHIPPED_REFERENCE
from lesionbench.consensus.settings import (
    ConsensusOptions,
    needs_brain_mask,
    workflow_methods,
)
from lesionbench.methods.registry import (
    PRIOR_NAMES,
    RAW_SCHEME,
    check_task_kinds,
    parse_methods,
    wants_gpu,
)
from lesionbench.metrics.batches import batch_size, plan_batches
from lesionbench.metrics.info import validate_config_metrics
from lesionbench.ranking.outputs import (
    options_as_params,
    options_from_config,
    ranking_files,
)
from lesionbench.workflow import paths
from lesionbench.workflow.config import (
    check_renamed_keys,
    cohort_from_config,
    evaluation_only,
    failure_policy,
    required_modalities,
    stage_seed,
    visits_to_coregister,
)

# This workflow's own source folder (workflow/rules). workflow.basedir is the folder of the
# top-level Snakefile, which is the deploying workflow's when lesionbench is used as a module;
# provenance records the git state of this one.
WORKFLOW_SOURCE = workflow.current_basedir.get_path_or_uri(secret_free=True)

# keys of earlier versions are refused naming the new key, before the schema's messages
check_renamed_keys(config)
validate(config, schema="../schemas/config.schema.yaml")
# metric names (ranking.leaderboard_metrics, ranking.analysis_metrics) against the one registry
validate_config_metrics(config)

# ---------------------------------------------------------------------------------------------
# Cohort
# ---------------------------------------------------------------------------------------------

# The cohort drives the DAG. For the synthetic default it is the generator's plan (what it will
# write, in the MS-SEG 2016 layout); otherwise the imported or given sheet, validated here so
# that a bad sheet fails before any job starts.
SHEET = cohort_from_config(config)
validate(SHEET.cases, schema="../schemas/cases.schema.yaml")
if not SHEET.raters.empty:
    validate(SHEET.raters, schema="../schemas/raters.schema.yaml")
CASES = SHEET.case_ids
CASE_INFO = SHEET.cases.set_index("case_id")
TRAIN_CENTERS = set(SHEET.cases.loc[SHEET.cases["split"] == "train", "center"])
TRAIN_CASES = set(SHEET.cases.loc[SHEET.cases["split"] == "train", "case_id"])
# The embedded cohort: the cross-sectional generator's (SYNTHETIC, MS-SEG 2016 layout) or, with
# task: new_lesions, the longitudinal generator's (SYNTHETIC_LONGITUDINAL, MSSEG-2 layout)
SYNTHETIC_SOURCE = config["dataset"]["source"] == "synthetic"
SYNTHETIC = SYNTHETIC_SOURCE and SHEET.task != "new_lesions"
SYNTHETIC_LONGITUDINAL = SYNTHETIC_SOURCE and SHEET.task == "new_lesions"
N_RATERS = int(config["synthetic"]["raters"])
SYNTHETIC_PRESET = config["synthetic"]["preset"]
SYNTHETIC_SEED = stage_seed(config, "synthetic")
# The track (config task, checked against the cohort's form by cohort_from_config). In the
# new-lesion track each visit of a case is preprocessed and harmonized as a case of its own
# (paths.visit_case: "<case>_time01", "<case>_time02"); consensus, methods and metrics work on
# the case, on its second visit's grid.
TASK = str(config.get("task", "cross_sectional"))
NEW_LESIONS = TASK == "new_lesions"
VISIT_OF = (
    {paths.visit_case(c, v): (c, v) for c in CASES for v in TIME_POINTS}
    if NEW_LESIONS
    else {}
)
# The two-visit cases whose first visit is registered rigidly onto the second visit's grid
# before preprocessing (new_lesions.coregister; decided here from the config and the NIfTI
# headers): that visit is preprocessed from paths.coregistered_visit, and input QC flags the
# grid difference instead of failing.
COREGISTERED = set(visits_to_coregister(config, SHEET))
if SYNTHETIC_LONGITUDINAL:
    from lesionbench.synth.longitudinal_plan import (
        patient_dir,
        patient_files,
        plan_longitudinal,
    )
    from lesionbench.workflow.config import longitudinal_variant

    SYNTHETIC_LONGITUDINAL_VARIANT = longitudinal_variant(config)

SYNTH_FILES = {}
if SYNTHETIC:
    from lesionbench.synth import case_files, plan_cohort

    SYNTH_FILES = {
        plan.case_id: case_files(plan, N_RATERS)
        for plan in plan_cohort(SYNTHETIC_PRESET, SYNTHETIC_SEED, N_RATERS)
    }

# ---------------------------------------------------------------------------------------------
# Stage settings (read once from the config; never changed after this point)
# ---------------------------------------------------------------------------------------------

QC_STOPS = failure_policy(config, "qc") == "stop"

PP = config["preprocess"]
HZ = config["harmonization"]
PP_MODALITIES = list(config["modalities"]["required"])
HZ_MODALITIES = list(HZ["modalities"] or PP_MODALITIES)
HZ_SCHEMES = list(HZ["schemes"])
PP_THREADS = 1 if PP["deterministic"] else int(PP["threads"])
# the modality shown beside the FLAIR in the preprocessing overlays
OVERLAY_SECOND = PP_MODALITIES[1] if len(PP_MODALITIES) > 1 else "flair"

# Fusions computed per case: consensus.methods plus the reference (names and options checked
# here, so a bad consensus section fails before any job starts).
CONSENSUS_METHODS = workflow_methods(config["consensus"])
CONSENSUS_OPTIONS = ConsensusOptions.from_config(
    config["consensus"], on_failure=failure_policy(config, "consensus")
)
# consensus.reference: shipped: the case sheet's consensus mask is the ground truth (checked
# present for every case when the sheet was read); no fusion, so no consensus job.
SHIPPED = config["consensus"]["reference"] == SHIPPED_REFERENCE
# Evaluation-only run (shipped reference, no method reading a preprocessed image): no
# preprocessing, harmonization, consensus or training job; QC opens only the FLAIR (the grid),
# the raw images commands read, and the masks.
EVALUATION_ONLY = evaluation_only(config)
QC_REQUIRED = required_columns(TASK, required_modalities(config))

METHOD_SPECS = {spec.name: spec for spec in parse_methods(config.get("methods", []))}
check_task_kinds(list(METHOD_SPECS.values()), TASK)
METHODS_ON_FAILURE = failure_policy(config, "methods")
METHOD_CONFIG = {entry["name"]: dict(entry) for entry in config.get("methods", [])}

RANKING_OPTIONS = options_from_config(config)


wildcard_constraints:
    case="|".join(CASES + list(VISIT_OF)),
    fusion="|".join(CONSENSUS_METHODS),
    case_dir=r"(Training|Testing)/Center_\d+/Patient_\d+",
    scheme="|".join(HZ_SCHEMES) if HZ_SCHEMES else "none",
    modality="|".join(PP_MODALITIES),


# ---------------------------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------------------------


def scaled_mem(base_mb):
    """mem_mb that grows with each retry (attempt 1, 2, 3...), so a job killed for memory on a
    cluster is resubmitted with more (`retries` in profiles/slurm)."""

    def mem_mb(wildcards, attempt):
        return int(base_mb) * attempt

    return mem_mb


def scaled_runtime(base_minutes):
    """runtime (minutes) that grows with each retry like scaled_mem, so a job killed at its
    time limit on a cluster is resubmitted with a longer one."""

    def runtime(wildcards, attempt):
        return int(base_minutes) * attempt

    return runtime


# Jobs of a few seconds each cost more to schedule on a cluster than to run. Rules that only
# gather tables or draw summary figures run on the host that runs Snakemake (the localrules
# lists of the rule files). The per-case rules name one of these groups, so that SLURM gets one
# job per case and stage instead of one per rule: what runs before the methods (case_prep), and
# what runs after the models are trained (case_eval: a test case's harmonization, inference and
# scores); harmonization of the training split (the Nyul fits and the training cases' harmonized
# images) is one more. GPU rules are never grouped (their partition differs). Each group job
# holds one case (no group-components: the SLURM plugin runs a group job's jobs one at a time).
GROUP_CASE_PREP = "case_prep"
GROUP_CASE_EVAL = "case_eval"
# The harmonization group holds the training split, and Snakemake's check of a group (each member
# searches its dependencies for a path leaving and re-entering the group) grows with the cube of
# its size: for 1,000 cases it alone took minutes of `snakemake -n` (benchmarks/README.md,
# scale). Beyond HARMONIZE_GROUP_MAX training cases each one's harmonization is a job of its own.
HARMONIZE_GROUP_MAX = 100
GROUP_HARMONIZE = "harmonize" if len(TRAIN_CASES) <= HARMONIZE_GROUP_MAX else None


# ---------------------------------------------------------------------------------------------
# Cohort and input QC
# ---------------------------------------------------------------------------------------------


def case_images(wildcards):
    """Images of a case by modality (absolute paths; modalities not given are left out); for a
    visit of a two-visit case, that visit's images by modality."""
    if wildcards.case in VISIT_OF:
        case, visit = VISIT_OF[wildcards.case]
        if case in COREGISTERED and visit == TIME_POINTS[0]:
            return {m: paths.coregistered_visit(case, m) for m in PP_MODALITIES}
        found = {m: SHEET.path(case, f"{m}_{visit}") for m in PP_MODALITIES}
        return {m: str(p) for m, p in found.items() if p is not None}
    images, _ = SHEET.qc_inputs(wildcards.case)
    return {m: str(p) for m, p in images.items() if p is not None}


def grid_image(case):
    """The image whose grid a case's masks, consensus and predictions have: the FLAIR (the
    second visit's FLAIR in the new-lesion track)."""
    return str(SHEET.path(case, "flair_time02" if NEW_LESIONS else "flair"))


def brain_mask_of(case):
    """The brain mask methods and consensus use: the preprocessed one, or the fused mask of the
    two visits in the new-lesion track."""
    if NEW_LESIONS:
        return paths.fused_brain_mask(case)
    return paths.preprocessed(case, "brain_mask")


def qc_images(case):
    """The images input QC opens for a case: all of them, or in an evaluation-only run only
    the required ones (QC_REQUIRED: the FLAIR and what commands read)."""
    images, _ = SHEET.qc_inputs(case)
    if EVALUATION_ONLY:
        return {m: images[m] for m in QC_REQUIRED}
    return images


def case_masks(wildcards):
    """Rater masks, shipped brain mask and consensus of a case (those that are given)."""
    _, masks = SHEET.qc_inputs(wildcards.case)
    return {role: str(p) for role, p in masks.items() if p is not None}


def case_inputs(wildcards):
    images = [str(p) for p in qc_images(wildcards.case).values() if p is not None]
    return images + list(case_masks(wildcards).values())


def qc_params(wildcards):
    _, masks = SHEET.qc_inputs(wildcards.case)
    images = qc_images(wildcards.case)
    return {
        "images": {m: (str(p) if p is not None else None) for m, p in images.items()},
        "masks": {r: (str(p) if p is not None else None) for r, p in masks.items()},
    }


def case_coregistered(wildcards):
    """Whether the workflow co-registers the case's visits (input QC then flags, not fails,
    visits on two grids)."""
    return wildcards.case in COREGISTERED


def case_rater_names(wildcards):
    return [rater for rater, _ in SHEET.raters_of(wildcards.case)]


def case_rater_paths(wildcards):
    return [str(p) for p in SHEET.rater_paths(wildcards.case).values()]


def patient_of(case):
    """The case a visit belongs to (the case itself outside the new-lesion track)."""
    return VISIT_OF[case][0] if case in VISIT_OF else case


def case_center(wildcards):
    return str(SHEET.case(patient_of(wildcards.case))["center"])


def case_split(wildcards):
    return str(SHEET.case(patient_of(wildcards.case))["split"])


def case_seen_center(wildcards):
    """False for a center with no training case (MS-SEG 2016: center 03)."""
    return case_center(wildcards) in TRAIN_CENTERS


def truth_file(key):
    """Input function: a file of the synthetic cohort's truth for the case (see lesionbench.synth)."""

    def truth_path(wildcards):
        return str(Path(paths.SYNTHETIC_ROOT, SYNTH_FILES[wildcards.case][key]))

    return truth_path


def synth_truth_outputs():
    """The truth files the generator writes for one case, as patterns of the {case_dir} wildcard."""
    plan = plan_cohort(SYNTHETIC_PRESET, SYNTHETIC_SEED, N_RATERS)[0]
    files = case_files(plan, N_RATERS)
    return {
        key: str(
            Path(paths.synthetic_file(path.replace(plan.relative_dir, "{case_dir}", 1)))
        )
        for key, path in files.items()
        if key.startswith("truth_")
    }


def synthetic_rater_outputs():
    """The rater masks the generator writes for one case (MS-SEG layout, {case_dir} wildcard)."""
    return [
        paths.synthetic_case_file(f"Masks/ManualSegmentation_{k}.nii.gz")
        for k in range(1, N_RATERS + 1)
    ]


def synthetic_root_from_output(wildcards, output):
    """The synthetic cohort root, from a case's FLAIR (<root>/<split>/<center>/<patient>/Raw_Data/...)."""
    return str(Path(output.flair).parents[4])


def synthetic_root_from_input(wildcards, input):
    """The synthetic cohort root, from the first case's FLAIR among the inputs."""
    return str(Path(input[0]).parents[4])


def synthetic_patient_outputs():
    """The files the longitudinal generator writes in one patient's MSSEG-2 folder, as patterns
    of the {split_dir} (Training|Testing) and {patient} wildcards. Its truth (truth/<patient>/,
    read by no rule) lacks the {split_dir} wildcard, so it is written but not declared.
    """
    plan = plan_longitudinal(SYNTHETIC_PRESET, SYNTHETIC_SEED)[0]
    files = patient_files(
        plan,
        SYNTHETIC_LONGITUDINAL_VARIANT,
        len(SHEET.raters_of(plan.patient_id)),
        t1="t1" in PP_MODALITIES,
    )
    return {
        key: paths.synthetic_longitudinal_file(
            path.replace(f"{patient_dir(plan)}/", "{split_dir}/", 1).replace(
                plan.patient_id, "{patient}"
            )
        )
        for key, path in files.items()
        if not key.startswith("truth_")
    }


def longitudinal_root_from_output(wildcards, output):
    """The longitudinal cohort root, from a patient's follow-up FLAIR (<root>/<split_dir>/<patient>/...)."""
    return str(Path(output.flair_time02).parents[2])


def cohort_files():
    """Every image and mask of the cohort (for the synthetic cohort: what the generator writes)."""
    files = []
    for case_id in CASES:
        images, masks = SHEET.qc_inputs(case_id)
        files += [str(p) for p in images.values() if p is not None]
        files += [str(p) for p in masks.values() if p is not None]
    return files


def import_root(wildcards, input):
    """The root the import rule reads the synthetic cohort from ("" for other sources)."""
    if SYNTHETIC_LONGITUDINAL:
        # the first input is the first patient's first visit: <root>/<split_dir>/<patient>/...
        return str(Path(input[0]).parents[2])
    return synthetic_root_from_input(wildcards, input) if SYNTHETIC else ""


def analysis_cases(split=None):
    """Cases that enter the analysis: all of them when a failing case stops the run, else those
    that passed input QC (read from the qc_inputs checkpoint)."""
    if QC_STOPS:
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


def analysis_case_list(wildcards):
    """analysis_cases() as a params function (evaluated once the checkpoint has run)."""
    return analysis_cases()


def image_cases(split=None):
    """The cases of the preprocessing and harmonization stages: the analysis cases, or in the
    new-lesion track each visit of them."""
    cases = analysis_cases(split)
    if not NEW_LESIONS:
        return cases
    return [paths.visit_case(c, v) for c in cases for v in TIME_POINTS]


def image_case_list(wildcards):
    """image_cases() as a params function."""
    return image_cases()


def image_case_centers(wildcards):
    return {
        case: str(CASE_INFO.loc[patient_of(case), "center"]) for case in image_cases()
    }


# ---------------------------------------------------------------------------------------------
# Preprocessing and harmonization
# ---------------------------------------------------------------------------------------------


def raw_modality_images(wildcards):
    """The case's raw images of the preprocessed modalities."""
    images = case_images(wildcards)
    return {m: images[m] for m in PP_MODALITIES}


def preprocess_inputs(wildcards):
    """Raw (or denoised) inputs of the preprocessing job of a case, and for the synthetic
    cohort its truth (brain mask, poses) for QC."""
    if PP["denoise"]:
        inputs = {"denoised": paths.denoised_dir(wildcards.case)}
    else:
        inputs = raw_modality_images(wildcards)
    if SYNTHETIC:
        inputs["truth_brain"] = truth_file("truth_brain_mask")(wildcards)
        inputs["truth_transforms"] = truth_file("truth_transforms")(wildcards)
    return inputs


def preprocessed_outputs():
    """Named outputs of preprocess_case (patterns of {case})."""
    outputs = {m: paths.preprocessed(name=m) for m in PP_MODALITIES}
    outputs["brain_mask"] = paths.preprocessed(name="brain_mask")
    for tissue in PRIOR_NAMES:
        outputs[f"prior_{tissue}"] = paths.preprocessed(name=f"prior_{tissue}")
    return outputs


def preprocessed_of_cases(name):
    """Input function: one preprocessed file (``name``) of every analysis case."""

    def files(wildcards):
        return [paths.preprocessed(case, name) for case in image_cases()]

    return files


def preprocess_qc_tables(wildcards):
    return [paths.preprocess_qc_case(case) for case in image_cases()]


def transforms_of_cases(wildcards):
    return [paths.transforms_dir(case) for case in image_cases()]


def nyul_train_cases(wildcards=None):
    """Nyul's standard scale is fitted on the training split only (both visits of each
    training case in the new-lesion track)."""
    return image_cases("train")


def nyul_images(wildcards):
    return [paths.preprocessed(case, wildcards.modality) for case in nyul_train_cases()]


def nyul_masks(wildcards):
    return [paths.preprocessed(case, "brain_mask") for case in nyul_train_cases()]


def histmatch_reference(wildcards=None):
    """The case histogram matching maps onto ("" when histmatch is not a scheme)."""
    if "histmatch" not in HZ_SCHEMES:
        return ""
    return HZ["histmatch_reference"] or nyul_train_cases()[0]


def harmonize_inputs(wildcards):
    """The case's preprocessed images and brain mask; Nyul's scales and histogram matching's
    reference case when those schemes are on."""
    case = wildcards.case
    inputs = {m: paths.preprocessed(case, m) for m in HZ_MODALITIES}
    inputs["brain_mask"] = paths.preprocessed(case, "brain_mask")
    if "nyul" in HZ_SCHEMES:
        for m in HZ_MODALITIES:
            inputs[f"scale_{m}"] = paths.nyul_scale(m)
    if "histmatch" in HZ_SCHEMES:
        reference = histmatch_reference()
        for m in HZ_MODALITIES:
            inputs[f"reference_{m}"] = paths.preprocessed(reference, m)
        inputs["reference_mask"] = paths.preprocessed(reference, "brain_mask")
    return inputs


def harmonized_outputs():
    """Named outputs of harmonize_case: ``<scheme>_<modality>`` (patterns of {case})."""
    return {
        f"{scheme}_{modality}": paths.harmonized(scheme, "{case}", modality)
        for scheme in HZ_SCHEMES
        for modality in HZ_MODALITIES
    }


def harmonization_qc_case_files(wildcards=None):
    """Per analysis case, every file the harmonization QC reads: FLAIR, brain mask, WM prior, and
    each harmonized modality before (``before``: preprocessed) and after each scheme. The rule's
    inputs and its script's files are both this one mapping."""
    return {
        case: {
            "flair": paths.preprocessed(case, "flair"),
            "brain_mask": paths.preprocessed(case, "brain_mask"),
            "prior_wm": paths.preprocessed(case, "prior_wm"),
            "images": {
                "before": {m: paths.preprocessed(case, m) for m in HZ_MODALITIES},
                **{
                    scheme: {
                        m: paths.harmonized(scheme, case, m) for m in HZ_MODALITIES
                    }
                    for scheme in HZ_SCHEMES
                },
            },
        }
        for case in image_cases()
    }


def harmonization_qc_inputs(wildcards):
    """Every file of harmonization_qc_case_files, as the rule's inputs."""
    inputs = []
    for files in harmonization_qc_case_files().values():
        inputs += [files["flair"], files["brain_mask"], files["prior_wm"]]
        inputs += [
            path for images in files["images"].values() for path in images.values()
        ]
    return inputs


# ---------------------------------------------------------------------------------------------
# Consensus
# ---------------------------------------------------------------------------------------------


def consensus_outputs():
    """Named outputs of consensus_case: per fusion its mask, posterior, rater table and
    leave-one-rater-out folder (patterns of {case})."""
    return {
        "masks": [paths.consensus_mask(fusion=f) for f in CONSENSUS_METHODS],
        "posteriors": [paths.consensus_posterior(fusion=f) for f in CONSENSUS_METHODS],
        "tables": [paths.consensus_raters(fusion=f) for f in CONSENSUS_METHODS],
        "loo": [
            directory(paths.consensus_loo_dir(fusion=f)) for f in CONSENSUS_METHODS
        ],
    }


def consensus_inputs(wildcards):
    inputs = {
        "flair": grid_image(wildcards.case),
        "raters": case_rater_paths(wildcards),
    }
    # the brain mask (and so preprocessing) only when a fusion runs in the brain region
    if needs_brain_mask(CONSENSUS_METHODS, CONSENSUS_OPTIONS):
        inputs["brain_mask"] = brain_mask_of(wildcards.case)
    return inputs


def consensus_validation_inputs(wildcards):
    case = wildcards.case
    return {
        "truth": truth_file("truth_lesions")(wildcards),
        "raters": case_rater_paths(wildcards),
        "fusions": [paths.consensus_mask(case, f) for f in CONSENSUS_METHODS],
        "tables": [paths.consensus_raters(case, f) for f in CONSENSUS_METHODS],
    }


def consensus_table_inputs(wildcards):
    cases = analysis_cases()
    inputs = {
        "tables": [
            paths.consensus_raters(case, fusion)
            for case in cases
            for fusion in CONSENSUS_METHODS
        ]
    }
    if SYNTHETIC:
        inputs["validation"] = [paths.consensus_validation_case(c) for c in cases]
    return inputs


def consensus_table_outputs():
    outputs = {
        "performance": report(
            paths.RATER_PERFORMANCE,
            caption="../report/consensus_raters.rst",
            category="3. Consensus",
            labels={"table": "rater performance"},
        )
    }
    if SYNTHETIC:
        outputs["validation"] = paths.CONSENSUS_VALIDATION
        outputs["summary"] = report(
            paths.CONSENSUS_VALIDATION_SUMMARY,
            caption="../report/consensus_validation.rst",
            category="3. Consensus",
            labels={"table": "consensus vs truth"},
        )
    return outputs


def reference_mask(case):
    """The consensus used as ground truth for training and ranking (consensus.reference): a
    fusion, or the case's shipped consensus mask (reference shipped)."""
    if SHIPPED:
        return str(SHEET.path(case, "consensus"))
    return paths.consensus_mask(case, config["consensus"]["reference"])


def reference_masks(wildcards):
    return [reference_mask(case) for case in analysis_cases()]


# ---------------------------------------------------------------------------------------------
# Methods
# ---------------------------------------------------------------------------------------------


def methods_of_kind(*kinds):
    return [name for name, spec in METHOD_SPECS.items() if spec.kind in kinds]


def names_regex(names):
    """A wildcard constraint matching exactly these names (nothing when empty)."""
    return "|".join(re.escape(name) for name in names) if names else "(?!x)x"


# harmonize_case (training split) and harmonize_test_case (every other case) share one pattern
# (in the new-lesion track the harmonized "cases" are the visits: a visit follows its case's split)
IMAGE_IDS = CASES + list(VISIT_OF)
TRAIN_CASES_REGEX = names_regex([c for c in IMAGE_IDS if patient_of(c) in TRAIN_CASES])
TEST_CASES_REGEX = names_regex(
    [c for c in IMAGE_IDS if patient_of(c) not in TRAIN_CASES]
)
# A test case's harmonization joins its evaluation group unless a method that runs outside the
# groups (a participant's command, a U-Net on a GPU) could read it: a group's job may not depend
# on a job outside the group that depends on the group again. It is then a job of its own.
HARMONIZE_TEST_GROUP = (
    "harmonize_test"
    if methods_of_kind("command")
    or any(wants_gpu(METHOD_SPECS[m]) for m in methods_of_kind("unet3d"))
    else GROUP_CASE_EVAL
)


SKLEARN_METHODS = names_regex(methods_of_kind("flair_hyperintensity", "random_forest"))
UNET_CPU_METHODS = names_regex(
    [m for m in methods_of_kind("unet3d") if not wants_gpu(METHOD_SPECS[m])]
)
UNET_GPU_METHODS = names_regex(
    [m for m in methods_of_kind("unet3d") if wants_gpu(METHOD_SPECS[m])]
)
SUBTRACTION_METHODS = names_regex(methods_of_kind("subtraction"))
COMMAND_METHODS = names_regex(methods_of_kind("command"))
SUBMISSION_METHODS = names_regex(methods_of_kind("submission"))
ENSEMBLE_METHODS = names_regex(methods_of_kind("ensemble"))


def method_entry(wildcards):
    """The method's config entry (schema-validated), for the script."""
    return METHOD_CONFIG[wildcards.method]


def method_seed(wildcards):
    """The method's training seed: its params.seed, else the top-level seed."""
    return stage_seed(config, "methods", wildcards.method)


def method_threads(wildcards):
    """Threads of a method's training job (and of a participant's command per case)."""
    return METHOD_SPECS[wildcards.method].threads


def method_inference_threads(wildcards):
    """Threads of a built-in method's per-case inference job (cases run side by side)."""
    return METHOD_SPECS[wildcards.method].inference_threads


def method_mem_mb(wildcards, attempt):
    """The method's memory request, growing with each retry (see scaled_mem)."""
    return METHOD_SPECS[wildcards.method].mem_mb * attempt


def method_runtime(wildcards, attempt):
    """The method's runtime request (minutes), growing with each retry (see scaled_runtime)."""
    return METHOD_SPECS[wildcards.method].runtime * attempt


def method_gpu(wildcards):
    """1 when the method's config asks for a GPU (gpu: true or device: cuda), else 0; never from
    the host that parses the workflow (device: auto is resolved inside the job)."""
    return int(wants_gpu(METHOD_SPECS[wildcards.method]))


SKLEARN_MODEL = paths.MODEL_FILE_NAMES["random_forest"]
UNET_MODEL = paths.MODEL_FILE_NAMES["unet3d"]
SUBTRACTION_MODEL = paths.MODEL_FILE_NAMES["subtraction"]


def training_outputs(model_name):
    """Named outputs of a training rule writing ``model_name`` (patterns of {method})."""
    return {
        "model": paths.model_file(name=model_name),
        "record": paths.model_file(name="method.json"),
        "curve": paths.model_file(name="training_curve.tsv"),
        "plot": report(
            paths.model_file(name="training_curve.png"),
            caption="../report/methods_training.rst",
            category="4. Methods",
            labels={"method": "{method}", "figure": "training curve"},
        ),
    }


def model_path(method):
    return paths.model_file(method, paths.MODEL_FILE_NAMES[METHOD_SPECS[method].kind])


def case_method_files(case, method):
    """The files a built-in method reads for one case (raw FLAIR grid = output grid)."""
    spec = METHOD_SPECS[method]
    if NEW_LESIONS:
        # each input read at both visits, baseline first: two channels per input
        images = [
            image.path(paths.visit_case(case, visit))
            for image in spec.inputs
            for visit in TIME_POINTS
        ]
    else:
        images = [image.path(case) for image in spec.inputs]
    files = {
        "flair": grid_image(case),
        "images": images,
        "brain_mask": brain_mask_of(case),
        "priors": [],
    }
    if spec.kind in ("flair_hyperintensity", "random_forest"):
        files["priors"] = [
            paths.preprocessed(case, f"prior_{tissue}") for tissue in PRIOR_NAMES
        ]
    return files


def training_layout(wildcards):
    """Per training case: its files and its reference mask (the consensus)."""
    layout = {}
    for case in analysis_cases("train"):
        layout[case] = case_method_files(case, wildcards.method)
        layout[case]["label"] = reference_mask(case)
    return layout


def training_inputs(wildcards):
    files = []
    for case_files in training_layout(wildcards).values():
        files += [case_files["flair"], case_files["brain_mask"], case_files["label"]]
        files += case_files["images"] + case_files["priors"]
    return files


def inference_inputs(wildcards):
    files = case_method_files(wildcards.case, wildcards.method)
    return {
        "model": model_path(wildcards.method),
        "flair": files["flair"],
        "brain_mask": files["brain_mask"],
        "images": files["images"],
        "priors": files["priors"],
    }


def command_inputs(wildcards):
    """The case's grid image and the images the command reads: harmonized ones, or raw ones
    (raw/<modality>, no preprocessing); in the new-lesion track each input at both visits, in
    the order of command_modalities."""
    if NEW_LESIONS:
        files = case_method_files(wildcards.case, wildcards.method)
        return {"flair": files["flair"], "images": files["images"]}
    spec = METHOD_SPECS[wildcards.method]
    images = case_images(wildcards)
    return {
        "flair": images["flair"],
        "images": [
            (
                images[image.modality]
                if image.scheme == RAW_SCHEME
                else image.path(wildcards.case)
            )
            for image in spec.inputs
        ],
    }


def submission_inputs(wildcards):
    """The case's raw FLAIR and, when present, its submitted file (so a resubmitted mask
    reruns the job; an absent one is recorded as missing by the script, not a DAG error).
    A file that leaves the submission folder (pattern or symbolic link) or cannot be looked at
    is left out here, never followed; the job records the case failed with the reason.
    """
    from lesionbench.errors import LesionbenchError
    from lesionbench.methods.participants import submission_path

    spec = METHOD_SPECS[wildcards.method]
    inputs = {"flair": grid_image(wildcards.case)}
    try:
        submitted = submission_path(spec.folder, spec.pattern, wildcards.case)
    except (LesionbenchError, OSError, ValueError):
        submitted = None
    if submitted is not None and submitted.is_file():
        inputs["submitted"] = str(submitted)
    return inputs


def participant_limits(wildcards):
    """The caps on participants' files (config participants: max_image_mb, max_inflated_mb)."""
    return dict(config["participants"])


def command_modalities(wildcards):
    """The command's placeholders for its images: the modalities, or in the new-lesion track
    each modality at each visit ({flair_time01}, {flair_time02})."""
    inputs = METHOD_SPECS[wildcards.method].inputs
    if NEW_LESIONS:
        return [f"{image.modality}_{v}" for image in inputs for v in TIME_POINTS]
    return [image.modality for image in inputs]


def ensemble_inputs(wildcards):
    spec = METHOD_SPECS[wildcards.method]
    return {
        "flair": grid_image(wildcards.case),
        "brain_mask": brain_mask_of(wildcards.case),
        "members": [paths.prediction_dir(m, wildcards.case) for m in spec.members],
    }


def ensemble_members(wildcards):
    return list(METHOD_SPECS[wildcards.method].members)


def trained_methods():
    return [
        name
        for name, spec in METHOD_SPECS.items()
        if spec.kind in paths.MODEL_FILE_NAMES
    ]


def methods_table_inputs(wildcards):
    return {
        "predictions": [
            paths.prediction_dir(method, case)
            for method in METHOD_SPECS
            for case in analysis_cases("test")
        ],
        "models": [paths.model_file(m, "method.json") for m in trained_methods()],
    }


# ---------------------------------------------------------------------------------------------
# Evaluation and ranking
# ---------------------------------------------------------------------------------------------


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


def evaluation_case_files(case):
    """What the scoring of one case reads, as lesionbench.metrics.scoring.CaseFiles.from_mapping
    takes it: the case's table fields, its FLAIR (the grid), reference, raters, leave-one-rater-out
    fusions (none with a shipped reference: nothing is fused), predictions and synthetic truth.
    """
    wildcards = Wildcards(fromdict={"case": case})
    return {
        "info": {
            "case_id": case,
            "center": case_center(wildcards),
            "split": case_split(wildcards),
            "seen_center": case_seen_center(wildcards),
        },
        "flair": case_images(wildcards)["flair"],
        "consensus": reference_mask(case),
        "raters": dict(
            zip(case_rater_names(wildcards), case_rater_paths(wildcards), strict=True)
        ),
        "loo_folder": (
            ""
            if SHIPPED
            else paths.consensus_loo_dir(case, config["consensus"]["reference"])
        ),
        "entries": [
            (name, kind, paths.prediction_dir(name, case))
            for name, kind in evaluation_entries(wildcards)
        ],
        "truth": truth_file("truth_lesions")(wildcards) if SYNTHETIC else "",
    }


def evaluation_cores():
    """The cores the scoring jobs share: --jobs on a cluster, else --cores (1 when unset)."""
    resources = workflow.global_resources
    cores = [resources.get("_cores"), resources.get("_nodes")]
    cores = [int(c) for c in cores if isinstance(c, int) and c > 0 and c < 2**31 - 1]
    return max(cores, default=1)


# Every case is planned into a batch at parse time (metrics.batch_size, lesionbench.metrics.
# batches), so the batches do not depend on input QC; a batch scores those of its cases that
# enter the analysis (none: an empty table).
EVALUATION_BATCH_SIZE = batch_size(
    config["metrics"]["batch_size"], len(CASES), evaluation_cores()
)
EVALUATION_BATCHES = plan_batches(CASES, EVALUATION_BATCH_SIZE)


def evaluate_batch_group(wildcards):
    """The job group of a scoring batch. On a cluster (--jobs large) batches are of a few cases:
    a batch then joins its cases' group job, so scoring is not one more round of submission and
    status polling. A batch of training cases only scores raters against fusions made in case
    preparation, so it joins case_prep; a batch with a test case waits for inference, case_eval.
    Larger batches (a local run of a large cohort) stay out of any group: Snakemake's check of a
    group grows with the cube of its size."""
    if EVALUATION_BATCH_SIZE > 4:
        return None
    cases = set(EVALUATION_BATCHES[wildcards.batch])
    return GROUP_CASE_PREP if cases <= TRAIN_CASES else GROUP_CASE_EVAL


def evaluation_batch_case_ids(wildcards):
    analysed = set(analysis_cases())
    return [c for c in EVALUATION_BATCHES[wildcards.batch] if c in analysed]


def evaluation_batch_cases(wildcards):
    """Per case of the batch (that enters the analysis), evaluation_case_files."""
    return [evaluation_case_files(c) for c in evaluation_batch_case_ids(wildcards)]


def evaluation_batch_inputs(wildcards):
    """Every file or folder the batch's scoring reads."""
    files = []
    for case in evaluation_batch_cases(wildcards):
        files += [case["flair"], case["consensus"], *case["raters"].values()]
        files += [folder for _, _, folder in case["entries"]]
        files += [f for f in (case["loo_folder"], case["truth"]) if f]
    return files


def evaluation_batch_runtime(wildcards, attempt):
    """Runtime (minutes) of a scoring job: 15 per started 8 cases, growing with each retry."""
    n_cases = len(EVALUATION_BATCHES[wildcards.batch])
    return 15 * (1 + (n_cases - 1) // 8) * attempt


def metrics_tables(wildcards):
    """The scoring jobs' tables metrics_table gathers: the batches', or in the new-lesion track
    each test case's."""
    if NEW_LESIONS:
        return [paths.new_lesion_metrics_case(case) for case in analysis_cases("test")]
    return [paths.metrics_batch(b) for b in EVALUATION_BATCHES]


def metrics_failure_tables(wildcards):
    """The batches' tables of cases they could not score (none in the new-lesion track)."""
    if NEW_LESIONS:
        return []
    return [paths.metrics_batch_failures(b) for b in EVALUATION_BATCHES]


# ---------------------------------------------------------------------------------------------
# The new-lesion track
# ---------------------------------------------------------------------------------------------


def coregister_inputs(wildcards):
    """A case's raw baseline images of the preprocessed modalities (FLAIR, and T1 when
    required) and its follow-up FLAIR (``followup``)."""
    case, (baseline, followup) = wildcards.case, TIME_POINTS
    inputs = {m: str(SHEET.path(case, f"{m}_{baseline}")) for m in PP_MODALITIES}
    inputs["followup"] = str(SHEET.path(case, f"flair_{followup}"))
    return inputs


def coregistered_outputs():
    """Named outputs of coregister_visits (patterns of {case}): the baseline's preprocessed
    modalities on the follow-up grid and the record."""
    outputs = {m: paths.coregistered_visit(name=m) for m in PP_MODALITIES}
    outputs["record"] = paths.coregistered_visit(name="record")
    return outputs


def visit_brain_masks(wildcards):
    """The preprocessed brain masks of a case's two visits, baseline first."""
    return [
        paths.preprocessed(paths.visit_case(wildcards.case, v), "brain_mask")
        for v in TIME_POINTS
    ]


def new_lesion_score_inputs(wildcards):
    """A test case's consensus, its methods' prediction folders, its raters' masks and their
    leave-one-out fusions."""
    case = wildcards.case
    reference = config["consensus"]["reference"]
    loo = paths.consensus_loo_dir(case, reference)
    return {
        "reference": reference_mask(case),
        "predictions": [
            paths.prediction_dir(name, case) for name, _ in evaluated_entries()
        ],
        "raters": case_rater_paths(wildcards),
        "loo": loo,
    }


def new_lesion_detection_tables(wildcards):
    """The per-lesion detection tables of the scored test cases."""
    return [paths.new_lesion_detections_case(case) for case in analysis_cases("test")]


def new_lesion_case_fields(wildcards):
    """The case's columns of the long table."""
    return {
        "center": case_center(wildcards),
        "split": case_split(wildcards),
        "seen_center": case_seen_center(wildcards),
    }


# Report entries of the ranking job's files, by group (lesionbench.ranking.outputs).
RANKING_REPORT = {
    "leaderboard": ("leaderboard", "5. Ranking", "leaderboard"),
    "story": ("story", "5. Ranking", "story"),
    "table": ("ranking_tables", "5. Ranking", "analysis tables"),
    "stratum": ("leaderboard_strata", "5. Ranking", "strata"),
    "figure": ("figures/{name}", "6. Figures", "{metric}"),
    "summary_figure": ("figures/{name}", "6. Figures", "all metrics"),
}


def ranking_outputs():
    """Every file the ranking rule writes; tables and figures carry their report captions."""
    outputs = {}
    for file in ranking_files(RANKING_OPTIONS):
        if not file.group:
            outputs[file.key] = file.path
            continue
        caption, category, subcategory = RANKING_REPORT[file.group]
        fields = {"name": file.name, **file.labels}
        outputs[file.key] = report(
            file.path,
            caption=f"../report/{caption.format(**fields)}.rst",
            category=category,
            subcategory=subcategory.format(**fields),
            labels=file.labels,
        )
    return outputs


def ranking_params():
    """The ranking job's options (lesionbench.ranking.outputs), as RankingOptions keywords."""
    return options_as_params(RANKING_OPTIONS)


# ---------------------------------------------------------------------------------------------
# Final targets
# ---------------------------------------------------------------------------------------------


def final_targets(wildcards):
    """The default target: every final output of the workflow, computed from the config."""
    targets = [paths.QC_INPUTS, paths.COHORT_CASES, paths.PROVENANCE]
    if SYNTHETIC:
        targets.append(paths.COHORT_OVERVIEW)
    if not SHIPPED:
        targets += list(consensus_table_outputs().values())
    targets.append(paths.METRICS_TABLE)
    if config.get("methods"):
        targets.append(
            paths.NEW_LESION_LEADERBOARD if NEW_LESIONS else paths.LEADERBOARD
        )
        if NEW_LESIONS:
            targets.append(paths.NEW_LESION_SIZE_FIGURE)
    if not EVALUATION_ONLY:
        targets += [paths.PREPROCESS_QC, paths.PREPROCESS_OVERLAYS]
        if HZ_SCHEMES:
            targets += [paths.HARMONIZATION_QC, paths.HARMONIZATION_FIGURE]
    if METHOD_SPECS:
        targets += [paths.METHODS_STATUS, paths.METHODS_TIMING]
    if not EVALUATION_ONLY and not NEW_LESIONS:
        # the template-space lesion map is of every lesion of one visit
        targets.append(paths.LESION_FREQUENCY_FIGURE)
    return targets
