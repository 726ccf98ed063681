# Input functions and parse-time tables of the methods stage (lesionbench.methods). Only
# functions and constants live here; the stage's rules are in methods.smk.
import re

from lesionbench.methods.registry import PRIOR_NAMES, parse_methods, wants_gpu

METHOD_SPECS = {spec.name: spec for spec in parse_methods(config.get("methods", []))}
METHODS_ON_FAILURE = config.get("methods_on_failure", "record")
METHOD_CONFIG = {entry["name"]: dict(entry) for entry in config.get("methods", [])}
#: Which file holds a trained method's model, per kind.
MODEL_FILE = {
    "flair_hyperintensity": "model.pkl",
    "random_forest": "model.pkl",
    "unet3d": "model.pt",
}


def methods_of_kind(*kinds):
    return [name for name, spec in METHOD_SPECS.items() if spec.kind in kinds]


def names_regex(names):
    """A wildcard constraint matching exactly these method names (nothing when empty)."""
    return "|".join(re.escape(name) for name in names) if names else "(?!x)x"


SKLEARN_METHODS = names_regex(methods_of_kind("flair_hyperintensity", "random_forest"))
UNET_METHODS = names_regex(methods_of_kind("unet3d"))
COMMAND_METHODS = names_regex(methods_of_kind("command"))
SUBMISSION_METHODS = names_regex(methods_of_kind("submission"))
ENSEMBLE_METHODS = names_regex(methods_of_kind("ensemble"))


def method_entry(wildcards):
    """The method's config entry (schema-validated), for the script."""
    return METHOD_CONFIG[wildcards.method]


def method_threads(wildcards):
    """Threads of a method's training job (and of a participant's command per case)."""
    return METHOD_SPECS[wildcards.method].threads


def method_inference_threads(wildcards):
    """Threads of a built-in method's per-case inference job (cases run side by side)."""
    return METHOD_SPECS[wildcards.method].inference_threads


def method_mem_mb(wildcards, attempt):
    """The method's memory request, growing with each retry (see scaled_mem)."""
    return METHOD_SPECS[wildcards.method].mem_mb * attempt


def method_runtime(wildcards):
    return METHOD_SPECS[wildcards.method].runtime


def method_gpu(wildcards):
    """1 when the method runs on a GPU (device cuda, or auto on a machine with one), else 0."""
    return int(wants_gpu(METHOD_SPECS[wildcards.method]))


def model_path(method):
    return f"results/models/{method}/{MODEL_FILE[METHOD_SPECS[method].kind]}"


def case_method_files(case, method):
    """The files a built-in method reads for one case (raw FLAIR grid = output grid)."""
    spec = METHOD_SPECS[method]
    files = {
        "flair": SHEET.qc_inputs(case)[0]["flair"],
        "images": [image.path(case) for image in spec.inputs],
        "brain_mask": brain_mask_path(case),
        "priors": [],
    }
    files["flair"] = str(files["flair"])
    if spec.kind in ("flair_hyperintensity", "random_forest"):
        files["priors"] = [
            f"results/preprocessed/{case}/prior_{tissue}.nii.gz"
            for tissue in PRIOR_NAMES
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


def inference_layout(wildcards):
    return case_method_files(wildcards.case, wildcards.method)


def inference_inputs(wildcards):
    files = inference_layout(wildcards)
    return {
        "model": model_path(wildcards.method),
        "flair": files["flair"],
        "brain_mask": files["brain_mask"],
        "images": files["images"],
        "priors": files["priors"],
    }


def command_inputs(wildcards):
    spec = METHOD_SPECS[wildcards.method]
    return {
        "flair": case_images(wildcards)["flair"],
        "images": [image.path(wildcards.case) for image in spec.inputs],
    }


def submission_inputs(wildcards):
    """The case's raw FLAIR and, when present, its submitted file (so a resubmitted mask
    reruns the job; an absent one is recorded as missing by the script, not a DAG error).
    """
    from lesionbench.methods.participants import submission_path

    spec = METHOD_SPECS[wildcards.method]
    inputs = {"flair": case_images(wildcards)["flair"]}
    submitted = submission_path(spec.folder, spec.pattern, wildcards.case)
    if submitted is not None:
        inputs["submitted"] = str(submitted)
    return inputs


def command_modalities(wildcards):
    return [image.modality for image in METHOD_SPECS[wildcards.method].inputs]


def ensemble_inputs(wildcards):
    spec = METHOD_SPECS[wildcards.method]
    return {
        "flair": case_images(wildcards)["flair"],
        "brain_mask": brain_mask_path(wildcards.case),
        "members": [
            f"results/predictions/{member}/{wildcards.case}" for member in spec.members
        ],
    }


def ensemble_members(wildcards):
    return list(METHOD_SPECS[wildcards.method].members)


def trained_methods():
    return [name for name, spec in METHOD_SPECS.items() if spec.kind in MODEL_FILE]


def methods_table_inputs(wildcards):
    return {
        "predictions": expand(
            "results/predictions/{method}/{case}",
            method=list(METHOD_SPECS),
            case=analysis_cases("test"),
        ),
        "models": [f"results/models/{m}/method.json" for m in trained_methods()],
    }


def methods_final_targets():
    if not METHOD_SPECS:
        return []
    return ["results/methods/status.tsv", "results/methods/timing.tsv"]


FINAL_TARGETS.append(methods_final_targets)
