"""Where the workflow writes: every ``results/``, ``logs/`` and ``benchmarks/results/`` path, once.

Rules (``output:``, ``input:``, ``log:``, ``benchmark:``), the input functions of
``workflow/rules/common.smk`` and the library take their paths from here, so the layout of a
run is written down in one place (see ``docs/architecture.md``).

Each function returns a path relative to the working directory. Its arguments default to the
Snakemake wildcard of the same name (``"{case}"``, ``"{method}"`` ...), so the same function
gives a rule's pattern when called without them and one file when called with them::

    preprocessed(name="brain_mask")          # 'results/preprocessed/{case}/brain_mask.nii.gz'
    preprocessed("c01_train_p01", "flair")   # 'results/preprocessed/c01_train_p01/flair.nii.gz'

Standard library only: the Snakefile imports this module at parse time.
"""

from __future__ import annotations

#: Every file a run produces lives below these three folders.
RESULTS = "results"
LOGS = "logs"
BENCHMARKS = "benchmarks/results"

# --- cohort and input QC ---------------------------------------------------------------------

#: Root of the synthetic cohort (MS-SEG 2016 layout below it; truth under ``truth/``).
SYNTHETIC_ROOT = f"{RESULTS}/cohort/synthetic"
SYNTHETIC_ANATOMY = f"{RESULTS}/cohort/synthetic_anatomy.npz"
#: Root of the synthetic longitudinal cohort of ``task: new_lesions`` (MSSEG-2 layout below it:
#: ``Training|Testing/<patient>/``; truth under ``truth/<patient>/``).
SYNTHETIC_LONGITUDINAL_ROOT = f"{RESULTS}/cohort/synthetic_longitudinal"
COHORT_CASES = f"{RESULTS}/cohort/cases.tsv"
COHORT_RATERS = f"{RESULTS}/cohort/raters.tsv"
COHORT_OVERVIEW = f"{RESULTS}/figures/cohort_overview.png"
PROVENANCE = f"{RESULTS}/provenance.json"
QC_INPUTS = f"{RESULTS}/qc/inputs.tsv"
QC_STATUS = f"{RESULTS}/qc/case_status.tsv"
QC_EXCLUDED = f"{RESULTS}/qc/excluded.tsv"


def synthetic_file(relative: str) -> str:
    """A file of the synthetic cohort, from its path relative to :data:`SYNTHETIC_ROOT`."""
    return f"{SYNTHETIC_ROOT}/{relative}"


def synthetic_case_file(name: str, case_dir: str = "{case_dir}") -> str:
    """A file the generator writes in a case's MS-SEG folder, e.g. ``Raw_Data/3DFLAIR.nii.gz``
    (``case_dir``: ``<Training|Testing>/Center_<nn>/Patient_<nn>``)."""
    return synthetic_file(f"{case_dir}/{name}")


def synthetic_longitudinal_file(relative: str) -> str:
    """A file of the synthetic longitudinal cohort, from its path relative to
    :data:`SYNTHETIC_LONGITUDINAL_ROOT`."""
    return f"{SYNTHETIC_LONGITUDINAL_ROOT}/{relative}"


def qc_case(case: str = "{case}") -> str:
    """Input QC rows of one case."""
    return f"{RESULTS}/qc/cases/{case}.tsv"


# --- preprocessing and harmonization ---------------------------------------------------------

PREPROCESS_QC = f"{RESULTS}/qc/preprocessing.tsv"
PREPROCESS_OVERLAYS = f"{RESULTS}/figures/preprocess_overlays.png"
HARMONIZATION_QC = f"{RESULTS}/qc/harmonization.tsv"
HARMONIZATION_FIGURE = f"{RESULTS}/figures/harmonization_nawm.png"


def denoised_dir(case: str = "{case}") -> str:
    """NL-means denoised images of one case (when ``preprocess.denoise`` is on)."""
    return f"{RESULTS}/preprocess/denoised/{case}"


def preprocessed_dir(case: str = "{case}") -> str:
    """Preprocessed images of one case, all on its FLAIR grid."""
    return f"{RESULTS}/preprocessed/{case}"


def preprocessed(case: str = "{case}", name: str = "{modality}") -> str:
    """A preprocessed image: a modality, ``brain_mask`` or ``prior_{wm,gm,csf}``."""
    return f"{preprocessed_dir(case)}/{name}.nii.gz"


def transforms_dir(case: str = "{case}") -> str:
    """The case's registration transforms (subject to MNI template)."""
    return f"{preprocessed_dir(case)}/transforms"


def preprocess_qc_case(case: str = "{case}") -> str:
    """Preprocessing QC rows of one case."""
    return f"{RESULTS}/qc/preprocess/{case}.tsv"


def harmonized(scheme: str = "{scheme}", case: str = "{case}", modality: str = "{modality}") -> str:
    """One image after one intensity harmonization scheme."""
    return f"{RESULTS}/harmonized/{scheme}/{case}/{modality}.nii.gz"


def nyul_scale(modality: str = "{modality}") -> str:
    """The Nyul standard scale of a modality, fitted on the training split."""
    return f"{RESULTS}/harmonized/nyul/standard_scale_{modality}.json"


# --- consensus -------------------------------------------------------------------------------

RATER_PERFORMANCE = f"{RESULTS}/consensus/rater_performance.tsv"
CONSENSUS_VALIDATION = f"{RESULTS}/consensus/validation.tsv"
CONSENSUS_VALIDATION_SUMMARY = f"{RESULTS}/consensus/validation_summary.tsv"
LESION_FREQUENCY_MAP = f"{RESULTS}/template_space/lesion_frequency.nii.gz"
LESION_FREQUENCY_FIGURE = f"{RESULTS}/figures/lesion_frequency.png"


def consensus_mask(case: str = "{case}", fusion: str = "{fusion}") -> str:
    """The binary consensus of one fusion method for one case."""
    return f"{RESULTS}/consensus/{case}/{fusion}.nii.gz"


def consensus_posterior(case: str = "{case}", fusion: str = "{fusion}") -> str:
    return f"{RESULTS}/consensus/{case}/{fusion}_posterior.nii.gz"


def consensus_raters(case: str = "{case}", fusion: str = "{fusion}") -> str:
    """Rater performance against one fusion for one case."""
    return f"{RESULTS}/consensus/{case}/{fusion}_raters.tsv"


def consensus_loo_dir(case: str = "{case}", fusion: str = "{fusion}") -> str:
    """Leave-one-rater-out fusions of one case (one mask per rater left out)."""
    return f"{RESULTS}/consensus/{case}/loo_{fusion}"


def consensus_validation_case(case: str = "{case}") -> str:
    """Fusions and raters of one synthetic case against its truth."""
    return f"{RESULTS}/consensus/validation/{case}.tsv"


# --- methods ---------------------------------------------------------------------------------

METHODS_STATUS = f"{RESULTS}/methods/status.tsv"
METHODS_TIMING = f"{RESULTS}/methods/timing.tsv"

#: The file that holds a trained model, by method kind (kinds without one are not trained).
MODEL_FILE_NAMES: dict[str, str] = {
    "flair_hyperintensity": "model.pkl",
    "random_forest": "model.pkl",
    "unet3d": "model.pt",
    "subtraction": "model.json",
}


def model_dir(method: str = "{method}") -> str:
    """What training a method writes: model, ``method.json``, training curve."""
    return f"{RESULTS}/models/{method}"


def model_file(method: str = "{method}", name: str = "{name}") -> str:
    """A file in a method's model folder (``model.pkl``, ``method.json``, ``training_curve.tsv`` ...)."""
    return f"{model_dir(method)}/{name}"


def prediction_dir(method: str = "{method}", case: str = "{case}") -> str:
    """A method's output for one case: mask, probability map and ``status.json``."""
    return f"{RESULTS}/predictions/{method}/{case}"


# --- metrics and ranking ---------------------------------------------------------------------

METRICS_TABLE = f"{RESULTS}/metrics/metrics.tsv"
RANKING_DIR = f"{RESULTS}/ranking"
LEADERBOARD = f"{RANKING_DIR}/leaderboard.tsv"
LEADERBOARD_MD = f"{RANKING_DIR}/leaderboard.md"
#: The run's story: how the methods compare with the raters, per center (lesionbench.ranking.story).
RANKING_STORY = f"{RANKING_DIR}/story.md"


def metrics_batch(batch: str = "{batch}") -> str:
    """Metric rows of one batch of cases (every entry of each case against every reference)."""
    return f"{RESULTS}/metrics/batches/{batch}.tsv"


def metrics_batch_failures(batch: str = "{batch}") -> str:
    """The cases of a batch that could not be scored, with their one-line errors (usually empty)."""
    return f"{RESULTS}/metrics/batches/{batch}.failures.tsv"


def ranking_table(name: str = "{name}") -> str:
    """An analysis table of the ranking stage (``ranking``, ``significance``, ``leaderboard_by_center`` ...)."""
    return f"{RANKING_DIR}/{name}.tsv"


def ranking_figure(name: str = "{name}") -> str:
    return f"{RANKING_DIR}/figures/{name}.png"


# --- the new-lesion track (task: new_lesions) -------------------------------------------------

#: The track's leaderboard (lesionbench.ranking.newlesions), as a table and as Markdown.
NEW_LESION_LEADERBOARD = f"{RANKING_DIR}/new_lesion_leaderboard.tsv"
NEW_LESION_LEADERBOARD_MD = f"{RANKING_DIR}/new_lesion_leaderboard.md"
#: Lesions each method reports on the cases without new lesions (MSSEG-2's false-positive count).
NEW_LESION_EMPTY_FIGURE = f"{RANKING_DIR}/figures/new_lesion_empty_cases.png"
#: Share of the reference new lesions each method and rater detects, by lesion volume.
NEW_LESION_DETECTION_BY_SIZE = f"{RANKING_DIR}/new_lesion_detection_by_size.tsv"
NEW_LESION_SIZE_FIGURE = f"{RANKING_DIR}/figures/new_lesion_detection_by_size.png"


def visit_case(case: str = "{case}", visit: str = "{visit}") -> str:
    """The id under which one visit of a two-visit case is preprocessed and harmonized
    (``visit_case("013", "time01") == "013_time01"``): each visit runs the cross-sectional
    preprocessing and harmonization jobs as a case of its own."""
    return f"{case}_{visit}"


def fused_brain_mask(case: str = "{case}") -> str:
    """The brain mask of a two-visit case: the masks of its two visits fused."""
    return f"{RESULTS}/new_lesions/brain_masks/{case}.nii.gz"


def coregistered_visit(case: str = "{case}", name: str = "{modality}") -> str:
    """A baseline image of a two-visit case co-registered onto its follow-up visit's grid
    (``name``: a modality, or ``record.json``'s stem ``record``: the transform and its QC)."""
    suffix = ".json" if name == "record" else ".nii.gz"
    return f"{RESULTS}/new_lesions/coregistered/{case}/{name}{suffix}"


def new_lesion_metrics_case(case: str = "{case}") -> str:
    """MSSEG-2 metric rows of one two-visit case (every entry against the consensus; raters
    against their leave-one-out fusion)."""
    return f"{RESULTS}/metrics/new_lesions/{case}.tsv"


def new_lesion_detections_case(case: str = "{case}") -> str:
    """Every reference new lesion of one two-visit case, its volume and whether each entry
    detected it (methods against the consensus, raters against their leave-one-out fusion)."""
    return f"{RESULTS}/metrics/new_lesion_detections/{case}.tsv"


# --- logs and benchmarks ---------------------------------------------------------------------


def log(job: str) -> str:
    """The log of a job, e.g. ``log("qc_case/{case}")`` -> ``logs/qc_case/{case}.log``."""
    return f"{LOGS}/{job}.log"


def benchmark(job: str) -> str:
    """The benchmark table of a job, e.g. ``benchmark("ranking")``."""
    return f"{BENCHMARKS}/{job}.tsv"
