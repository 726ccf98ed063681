"""The workflow's config turned into objects, at parse time.

:func:`cohort_from_config` turns the ``dataset``/``synthetic`` config sections into the
validated :class:`~lesionbench.cohort.sheet.CaseSheet` that drives the DAG. For the synthetic
cohort this is the *plan* (case ids, centers, splits and the paths the generator will write,
in the MS-SEG 2016 layout); nothing is read or generated here.

The config's cross-cutting settings are read here too, never spelled out in a rule file:

* :func:`failure_policy`: what a failure does in each stage (``on_failure.<stage>``), from the
  one vocabulary :data:`FAILURE_POLICIES`;
* :func:`stage_seed`: the seed of each stage, the top-level ``seed`` unless the stage sets its
  own (see :data:`SEEDED_STAGES`);
* :func:`check_renamed_keys`: a config that still uses a key (or value) of an earlier
  lesionbench is refused with the new name, before the schema's messages would hide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import DEFAULT_SEED
from ..cohort.importers import PLAN_COLUMNS, check_against_plan, import_dataset, import_msseg2, import_msseg2016
from ..cohort.layout import MODALITIES, MSSEG2016_CENTERS, TASKS, TIME_POINTS, Center, time_point_column
from ..cohort.sheet import RATER_COLUMNS, CaseSheet, check_shipped_reference, read_case_sheet, validate_case_sheet
from ..consensus.options import SHIPPED_REFERENCE
from ..errors import ConfigError
from .paths import SYNTHETIC_LONGITUDINAL_ROOT, SYNTHETIC_ROOT

#: The failure policies every stage's ``on_failure`` value is taken from: ``stop`` (the run
#: stops with an error naming the case and the file), ``exclude`` (the case is left out of the
#: later stages and listed as excluded), ``flag`` (the run goes on; the failure is recorded and
#: the result marked, e.g. a failed method output is scored as failed).
FAILURE_POLICIES: tuple[str, ...] = ("stop", "exclude", "flag")

#: The policies each stage accepts, its default first (``on_failure.<stage>`` in the config).
STAGE_FAILURE_POLICIES: dict[str, tuple[str, ...]] = {
    "qc": ("stop", "exclude"),
    "registration": ("stop", "flag"),
    "consensus": ("stop", "flag"),
    "methods": ("flag", "stop"),
}

#: Sections whose ``seed`` overrides the top-level ``seed`` (``methods`` entries: ``params.seed``).
SEEDED_STAGES: tuple[str, ...] = ("synthetic", "preprocess", "harmonization", "methods", "ranking")

#: Method kinds whose training draws random numbers (their ``params.seed`` is a stage seed).
SEEDED_METHOD_KINDS: tuple[str, ...] = ("random_forest", "unet3d")

#: Keys of earlier versions: old dotted key -> new dotted key.
RENAMED_KEYS: dict[str, str] = {
    "qc.on_failure": "on_failure.qc",
    "preprocess.on_registration_failure": "on_failure.registration",
    "consensus.on_empty": "on_failure.consensus",
    "methods_on_failure": "on_failure.methods",
    "consensus.threshold": "consensus.posterior_threshold",
    "ranking.metrics": "ranking.leaderboard_metrics",
    "ranking.weights": "ranking.leaderboard_weights",
    "ranking.scheme": "ranking.analysis_scheme",
}

#: Failure-policy values of earlier versions: old value -> the word of :data:`FAILURE_POLICIES`.
RENAMED_POLICIES: dict[str, str] = {"record": "flag"}


def _lookup(config: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def check_renamed_keys(config: Mapping[str, Any]) -> None:
    """Refuse a config that uses a renamed key or failure-policy value, naming the new one.

    Run before the schema validation, whose message (an unexpected property, a value not in
    an enum) would not say what to write instead.
    """
    for old, new in RENAMED_KEYS.items():
        present, value = _lookup(config, old)
        if not present:
            continue
        hint = ""
        if new.startswith("on_failure."):
            allowed = STAGE_FAILURE_POLICIES[new.split(".", 1)[1]]
            hint = f" (values {'|'.join(allowed)})"
            if value in RENAMED_POLICIES:
                hint += f"; its value {value!r} is now {RENAMED_POLICIES[value]!r}"
        raise ConfigError(f"config key '{old}' was renamed: use '{new}'{hint}")
    policies = config.get("on_failure")
    if isinstance(policies, Mapping):
        for stage, value in policies.items():
            if value in RENAMED_POLICIES:
                raise ConfigError(
                    f"config value {value!r} of 'on_failure.{stage}' was renamed: use {RENAMED_POLICIES[value]!r}"
                )


def failure_policy(config: Mapping[str, Any], stage: str) -> str:
    """What a failure in ``stage`` does: ``on_failure.<stage>``, else the stage's default
    (the first of :data:`STAGE_FAILURE_POLICIES`); a policy the stage does not accept is a
    :class:`~lesionbench.errors.ConfigError`."""
    if stage not in STAGE_FAILURE_POLICIES:
        raise ConfigError(f"no failure policy for stage {stage!r}; stages: {', '.join(STAGE_FAILURE_POLICIES)}")
    allowed = STAGE_FAILURE_POLICIES[stage]
    section = config.get("on_failure") or {}
    policy = str(section.get(stage, allowed[0]))
    if policy not in allowed:
        renamed = RENAMED_POLICIES.get(policy)
        hint = f" ({policy!r} is now {renamed!r})" if renamed else ""
        raise ConfigError(f"config key on_failure.{stage}: {policy!r} is not one of {'|'.join(allowed)}{hint}")
    return policy


def stage_seed(config: Mapping[str, Any], stage: str, method: str | None = None) -> int:
    """The seed of ``stage``: its own ``seed`` when set (for ``methods``, the ``params.seed``
    of the entry named ``method``), else the top-level ``seed``."""
    if stage not in SEEDED_STAGES:
        raise ConfigError(f"no seed for stage {stage!r}; seeded stages: {', '.join(SEEDED_STAGES)}")
    own: Any = None
    if stage == "methods":
        if method is None:
            raise ConfigError("the seed of the methods stage is per method: name the method")
        entries = [e for e in config.get("methods") or [] if e.get("name") == method]
        if not entries:
            raise ConfigError(f"no method named {method!r} in the config's methods list")
        own = (entries[0].get("params") or {}).get("seed")
    else:
        own = (config.get(stage) or {}).get("seed")
    return _top_seed(config) if own is None else int(own)


def _top_seed(config: Mapping[str, Any]) -> int:
    """The top-level ``seed`` (the schema fills it in; a bare mapping gets the library default)."""
    if config.get("seed") is not None:
        return int(config["seed"])
    return DEFAULT_SEED


def effective_seeds(config: Mapping[str, Any]) -> dict[str, int]:
    """The seed every seeded stage runs with, by the dotted key that would override it
    (``seed``, ``synthetic.seed``, ..., ``methods[<name>].params.seed`` per method whose
    training is random), whether it is set there or derived from the top-level ``seed``."""
    seeds = {"seed": _top_seed(config)}
    for stage in SEEDED_STAGES:
        if stage != "methods":
            seeds[f"{stage}.seed"] = stage_seed(config, stage)
            continue
        entries = config.get("methods")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, Mapping) and entry.get("kind") in SEEDED_METHOD_KINDS:
                seeds[f"methods[{entry['name']}].params.seed"] = stage_seed(config, "methods", entry["name"])
    return seeds


def centers_from_config(config: Mapping[str, Any]) -> dict[str, Center]:
    return {
        str(c["id"]): Center(str(c["id"]), str(c.get("scanner", "")), float(c.get("field_strength", 0) or 0))
        for c in config.get("centers", [])
    }


def synthetic_sheet(preset: str, seed: int, n_raters: int, root: str | Path = SYNTHETIC_ROOT) -> CaseSheet:
    """The planned synthetic cohort as a sheet whose paths are where the generator writes."""
    from ..synth import case_files, plan_cohort

    rows, raters = [], []
    for plan in plan_cohort(preset, seed, n_raters):
        files = case_files(plan, n_raters)
        rows.append(
            {
                "case_id": plan.case_id,
                "center": plan.center,
                "scanner": plan.scanner,
                "field_strength": plan.field_strength,
                "split": plan.split,
                **{m: files.get(m, "") for m in MODALITIES},
            }
        )
        for k in range(1, n_raters + 1):
            raters.append({"case_id": plan.case_id, "rater": f"rater{k}", "path": files[f"rater{k}"]})
    return CaseSheet(
        cases=pd.DataFrame(rows),
        raters=pd.DataFrame(raters, columns=list(RATER_COLUMNS)),
        root=Path(root),
        origin=f"synthetic cohort plan (preset {preset}, seed {seed})",
    )


#: The default variant of the synthetic longitudinal cohort the workflow writes
#: (``synthetic.longitudinal_variant``): both visits on one grid (MSSEG-2's
#: ``*_on_middle_space`` files); ``raw`` writes each visit on its own grid.
SYNTHETIC_LONGITUDINAL_VARIANT = "middle"

#: ``new_lesions.coregister``: when the workflow brings a case's first visit onto its second
#: visit's grid: ``auto`` (when their grids differ), ``always`` or ``never`` (visits on two
#: grids then stop the run at input QC). The default first.
COREGISTER_MODES: tuple[str, ...] = ("auto", "always", "never")


def longitudinal_variant(config: Mapping[str, Any]) -> str:
    """The variant of the synthetic longitudinal cohort a config asks for (``middle`` or ``raw``)."""
    return str((config.get("synthetic") or {}).get("longitudinal_variant", SYNTHETIC_LONGITUDINAL_VARIANT))


def visits_to_coregister(config: Mapping[str, Any], sheet: CaseSheet) -> list[str]:
    """The cases of a ``new_lesions`` run whose first visit the workflow co-registers onto the
    second visit's grid (``new_lesions.coregister``, :data:`COREGISTER_MODES`); none in another task.

    ``auto`` decides at parse time: on the synthetic cohort, which is not written yet, from its
    variant (``raw``: every case); otherwise from the two FLAIRs' NIfTI headers (shape, spacing,
    affine within ``qc.affine_tolerance_mm``; no voxel is read). A visit whose file is missing is
    left to input QC, which reports it.
    """
    if str(config.get("task", "cross_sectional")) != "new_lesions":
        return []
    mode = str((config.get("new_lesions") or {}).get("coregister", COREGISTER_MODES[0]))
    if mode not in COREGISTER_MODES:
        raise ConfigError(f"new_lesions.coregister is {mode!r}; choose one of {', '.join(COREGISTER_MODES)}")
    cases = list(sheet.case_ids)
    if mode != "auto":
        return cases if mode == "always" else []
    if (config.get("dataset") or {}).get("source", "synthetic") == "synthetic":
        return cases if longitudinal_variant(config) == "raw" else []
    from ..cohort.qc import header_time_point_difference
    from ..errors import InputError

    atol = float((config.get("qc") or {}).get("affine_tolerance_mm", 1e-3))
    chosen = []
    for case in cases:
        first, second = sheet.path(case, "flair_time01"), sheet.path(case, "flair_time02")
        if first is None or second is None:
            continue
        try:
            if header_time_point_difference(first, second, atol_mm=atol, case=case):
                chosen.append(case)
        except InputError:
            continue
    return chosen


def synthetic_longitudinal_sheet(
    preset: str,
    seed: int,
    t1: bool = False,
    root: str | Path = SYNTHETIC_LONGITUDINAL_ROOT,
    variant: str = SYNTHETIC_LONGITUDINAL_VARIANT,
) -> CaseSheet:
    """The planned synthetic longitudinal cohort (``task: new_lesions``) as a two-visit sheet
    whose paths are where :func:`lesionbench.synth.generate_patient` writes (MSSEG-2 layout,
    ``variant``: ``middle`` or ``raw``). A patient's center, scanner and field strength are
    those of its follow-up visit (``center_time02``), the visit whose grid the new lesions are
    delineated and scored on; the raters are MSSEG-2's ``expert1..N`` (N from the preset)."""
    from ..synth.longitudinal_plan import get_longitudinal_preset, patient_files, plan_longitudinal

    n_raters = get_longitudinal_preset(preset).n_raters
    rows, raters = [], []
    for plan in plan_longitudinal(preset, seed):
        files = patient_files(plan, variant, n_raters, t1=t1)
        center = MSSEG2016_CENTERS[plan.center_time02]
        rows.append(
            {
                "case_id": plan.patient_id,
                "center": plan.center_time02,
                "scanner": center.scanner,
                "field_strength": center.field_strength,
                "split": plan.split,
                **{time_point_column(m, t): files.get(f"{m}_{t}", "") for m in ("flair", "t1") for t in TIME_POINTS},
                "consensus": files["consensus"],
            }
        )
        for k in range(1, n_raters + 1):
            raters.append({"case_id": plan.patient_id, "rater": f"expert{k}", "path": files[f"rater{k}"]})
    return CaseSheet(
        cases=pd.DataFrame(rows),
        raters=pd.DataFrame(raters, columns=list(RATER_COLUMNS)),
        root=Path(root),
        origin=f"synthetic longitudinal cohort plan (preset {preset}, seed {seed})",
        task="new_lesions",
    )


#: The ``task`` values the workflow runs; a cohort whose form does not fit the task is refused
#: by :func:`check_task` rather than scored as if it were of the other task.
WORKFLOW_TASKS: tuple[str, ...] = ("cross_sectional", "new_lesions")


def check_task(config: Mapping[str, Any], sheet: CaseSheet) -> None:
    """Refuse a config whose ``task`` does not match its cohort, or that the workflow cannot run.

    A two-time-point (``new_lesions``) cohort run as ``cross_sectional`` would take one visit as
    the case's image and score every lesion on it against a reference of new lesions only.
    """
    task = str(config.get("task", "cross_sectional"))
    if task not in TASKS:
        raise ConfigError(f"task: {task!r} is not a known task (known: {', '.join(TASKS)})")
    where = f"the cohort from {sheet.origin}"
    if sheet.task != task:
        have = (
            "two time points per case (flair_time01, flair_time02) and new-lesion references"
            if sheet.task == "new_lesions"
            else "one visit per case"
        )
        raise ConfigError(f"task: {task} does not fit {where}: it has {have}, which is task: {sheet.task}")
    if task not in WORKFLOW_TASKS:
        raise ConfigError(
            f"task: {task}: the workflow does not run this track yet (it runs {', '.join(WORKFLOW_TASKS)}); "
            "score new-lesion predictions with lesionbench.metrics.newlesions"
        )


def evaluation_only(config: Mapping[str, Any]) -> bool:
    """Whether the run only scores what it is given: the reference is the dataset's shipped
    consensus (``consensus.reference: shipped``) and no method reads a preprocessed image (every
    entry a submission, or a command on ``raw/<modality>`` inputs). The DAG then holds no
    preprocessing, harmonization, consensus or training job."""
    from ..methods.registry import needs_preprocessing, parse_methods

    if (config.get("consensus") or {}).get("reference") != SHIPPED_REFERENCE:
        return False
    return not any(needs_preprocessing(spec) for spec in parse_methods(config.get("methods") or []))


def required_modalities(config: Mapping[str, Any]) -> list[str]:
    """The modalities every case must have: ``modalities.required``; in an evaluation-only run
    (:func:`evaluation_only`) the FLAIR (the grid every mask is checked on) and the raw images the
    commands read, the only images it opens."""
    if not evaluation_only(config):
        return list(config.get("modalities", {}).get("required", ["flair"]))
    from ..methods.registry import RAW_SCHEME, parse_methods

    wanted = ["flair"]
    for spec in parse_methods(config.get("methods") or []):
        wanted += [i.modality for i in spec.inputs if i.scheme == RAW_SCHEME]
    return list(dict.fromkeys(wanted))


def cohort_from_config(config: Mapping[str, Any]) -> CaseSheet:
    """The validated case sheet for a workflow config (see ``workflow/schemas/config.schema.yaml``),
    after :func:`check_task`."""
    dataset = config.get("dataset", {})
    source = dataset.get("source", "synthetic")
    root = dataset.get("root") or None
    required = required_modalities(config)
    centers = centers_from_config(config)
    if source == "synthetic" and str(config.get("task", "cross_sectional")) == "new_lesions":
        preset = str(config.get("synthetic", {}).get("preset", "demo"))
        sheet = synthetic_longitudinal_sheet(
            preset, stage_seed(config, "synthetic"), t1="t1" in required, variant=longitudinal_variant(config)
        )
    elif source == "synthetic":
        synth = config.get("synthetic", {})
        sheet = synthetic_sheet(
            synth.get("preset", "demo"), stage_seed(config, "synthetic"), int(synth.get("raters", 7))
        )
    elif source == "sheet":
        if not dataset.get("cases"):
            raise ConfigError("dataset.source is 'sheet' but dataset.cases (the path of cases.tsv) is empty")
        sheet = read_case_sheet(dataset["cases"], dataset.get("raters") or None, root=root)
    else:
        if not root:
            raise ConfigError(f"dataset.source is {source!r} but dataset.root (the dataset folder) is empty")
        options: dict[str, object] = {}
        if source == "msseg2016":
            options = {
                "use_preprocessed": bool(dataset.get("use_preprocessed", False)),
                "flat_split": dataset.get("split", "test"),
            }
            if centers:
                options["centers"] = centers
        elif source == "msseg2":
            options = {"split": dataset.get("split", "test"), "center": dataset.get("center", "")}
        sheet = import_dataset(source, root, **options)
    check_task(config, sheet)
    sheet = validate_case_sheet(sheet, required_modalities=required, centers=centers or None)
    if (config.get("consensus") or {}).get("reference") == SHIPPED_REFERENCE:
        check_shipped_reference(sheet)
    return sheet


#: The columns an import of the synthetic cohort must agree on with its plan, per task.
SYNTHETIC_PLAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "cross_sectional": PLAN_COLUMNS,
    "new_lesions": ("case_id", "split", *(time_point_column(m, t) for m in ("flair", "t1") for t in TIME_POINTS)),
}


def import_synthetic_cohort(config: Mapping[str, Any], root: str | Path) -> CaseSheet:
    """The synthetic cohort the workflow wrote under ``root``, read back with the importer of its
    layout (MS-SEG 2016; MSSEG-2 for ``task: new_lesions``) and checked against its plan.

    The MSSEG-2 layout records no center or scanner: the plan's (the follow-up visit's, see
    :func:`synthetic_longitudinal_sheet`) are kept.
    """
    planned = cohort_from_config(config)
    if planned.task == "new_lesions":
        found = import_msseg2(root, centers=dict(zip(planned.cases["case_id"], planned.cases["center"], strict=True)))
        plan = planned.cases.set_index("case_id")
        for column in ("scanner", "field_strength"):
            found.cases[column] = found.cases["case_id"].map(plan[column])
    else:
        found = import_msseg2016(root, centers=centers_from_config(config))
    imported = validate_case_sheet(found, required_modalities=config["modalities"]["required"])
    return check_against_plan(imported, planned, root=root, columns=SYNTHETIC_PLAN_COLUMNS[planned.task])
