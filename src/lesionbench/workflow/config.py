"""The workflow's config turned into objects, at parse time.

:func:`cohort_from_config` turns the ``dataset``/``synthetic`` config sections into the
validated :class:`~lesionbench.cohort.sheet.CaseSheet` that drives the DAG. For the synthetic
cohort this is the *plan* (case ids, centers, splits and the paths the generator will write,
in the MS-SEG 2016 layout); nothing is read or generated here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..cohort.importers import import_dataset
from ..cohort.layout import Center
from ..cohort.sheet import RATER_COLUMNS, CaseSheet, read_case_sheet, validate_case_sheet
from ..errors import ConfigError

SYNTHETIC_ROOT = "results/cohort/synthetic"


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
                **{m: files.get(m, "") for m in ("flair", "t1", "t2", "pd", "t1gd")},
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


def cohort_from_config(config: Mapping[str, Any]) -> CaseSheet:
    """The validated case sheet for a workflow config (see ``config/schemas/config.schema.yaml``)."""
    dataset = config.get("dataset", {})
    source = dataset.get("source", "synthetic")
    root = dataset.get("root") or None
    required = config.get("modalities", {}).get("required", ["flair"])
    centers = centers_from_config(config)
    if source == "synthetic":
        synth = config.get("synthetic", {})
        sheet = synthetic_sheet(synth.get("preset", "demo"), int(synth.get("seed", 2016)), int(synth.get("raters", 7)))
    elif source == "sheet":
        if not dataset.get("cases"):
            raise ConfigError("dataset.source is 'sheet' but dataset.cases (the path of cases.tsv) is empty")
        sheet = read_case_sheet(dataset["cases"], dataset.get("raters") or None, root=root)
    else:
        if not root:
            raise ConfigError(f"dataset.source is {source!r} but dataset.root (the dataset folder) is empty")
        options: dict[str, object] = {}
        if source == "msseg2016":
            options = {"use_preprocessed": bool(dataset.get("use_preprocessed", False)), "flat_split": dataset.get("split", "test")}
            if centers:
                options["centers"] = centers
        elif source == "msseg2":
            options = {"split": dataset.get("split", "test"), "center": dataset.get("center", "")}
        sheet = import_dataset(source, root, **options)
    return validate_case_sheet(sheet, required_modalities=required, centers=centers or None)


