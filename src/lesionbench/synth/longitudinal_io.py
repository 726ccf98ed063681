"""Write a simulated longitudinal patient in the MSSEG-2 layout, its synthetic truth kept apart.

``<root>/{Training,Testing}/<patient_id>/``: the two FLAIR visits (``*_on_middle_space`` in the ``middle``
variant), optionally the T1s, ``ground_truth_expert1..4`` and ``ground_truth`` (new lesions, on
the follow-up FLAIR grid). ``<root>/truth/<patient_id>/``: every lesion at both visits, the new
lesions, the parenchyma fractions, a per-lesion history table and a summary; no participant
reads it. ``<root>/patients.tsv`` lists split, centers and scanners per patient (what an
organiser publishes); ``<root>/truth/cohort.json`` the whole plan.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..cohort.layout import MSSEG2016_CENTERS
from ..errors import ConfigError
from ..io import save_volume
from .anatomy import TemplateAnatomy, read_template_anatomy
from .generate import _write_fraction, _write_raw
from .longitudinal import SimulatedPatient, simulate_patient
from .longitudinal_plan import PatientPlan, get_longitudinal_preset, patient_files, plan_longitudinal
from .plan import get_preset


def write_patient(patient: SimulatedPatient, out_root: Path, t1: bool = False) -> dict[str, Path]:
    """Write one patient; returns the absolute path of every file, keyed as in :func:`patient_files`."""
    out_root = Path(out_root)
    rel = patient_files(patient.plan, patient.variant, len(patient.raters), t1=t1)
    paths = {k: out_root / v for k, v in rel.items()}
    follow_affine = patient.visits[1].flair_affine
    for t, visit in zip(("time01", "time02"), patient.visits):
        _write_raw(paths[f"flair_{t}"], visit.images["flair"])
        if t1:
            _write_raw(paths[f"t1_{t}"], visit.images["t1"])
        save_volume(paths[f"truth_lesions_{t}"], visit.lesion_mask.astype(np.uint8), visit.flair_affine)
        save_volume(paths[f"truth_labels_{t}"], visit.labels.astype(np.uint16), visit.flair_affine)
        _write_fraction(paths[f"truth_parenchyma_{t}"], visit.parenchyma, visit.flair_affine)
    for k, mask in enumerate(patient.raters, start=1):
        save_volume(paths[f"rater{k}"], mask.astype(np.uint8), follow_affine)
    save_volume(paths["consensus"], patient.consensus.astype(np.uint8), follow_affine)
    save_volume(paths["truth_new_lesions"], patient.new_lesion_mask.astype(np.uint8), follow_affine)
    patient.lesion_table.to_csv(paths["truth_lesion_table"], sep="\t", index=False, float_format="%.6g")
    paths["truth_summary"].write_text(json.dumps(patient.summary, indent=1, sort_keys=True) + "\n")
    return paths


def generate_patient(
    plan: PatientPlan,
    preset: str,
    variant: str,
    out_root: Path,
    t1: bool = False,
    anatomy: TemplateAnatomy | None = None,
) -> None:
    """Simulate one patient and write it under ``out_root``."""
    write_patient(simulate_patient(plan, preset, variant, anatomy), Path(out_root), t1=t1)


def generate_planned_patient(
    patient_id: str,
    preset: str,
    seed: int,
    variant: str,
    out_root: Path,
    t1: bool = False,
    anatomy_file: str | Path | None = None,
) -> None:
    """Simulate and write the patient ``patient_id`` of the cohort planned from ``preset`` and
    ``seed`` (one workflow job per patient), on the template anatomy saved in ``anatomy_file``
    when given (:func:`lesionbench.synth.anatomy.save_template_anatomy`)."""
    plans = [p for p in plan_longitudinal(preset, seed) if p.patient_id == patient_id]
    if len(plans) != 1:
        raise ConfigError(f"{patient_id!r} is not a patient of the longitudinal {preset} cohort of seed {seed}")
    anatomy = None
    if anatomy_file is not None:
        anatomy = read_template_anatomy(anatomy_file, get_preset(get_longitudinal_preset(preset).image).anatomy_mm)
    generate_patient(plans[0], preset, variant, Path(out_root), t1=t1, anatomy=anatomy)


def write_cohort_sheets(plans: list[PatientPlan], preset: str, variant: str, seed: int, out_root: Path) -> None:
    """``patients.tsv`` (public: split, centers, scanners) and ``truth/cohort.json`` (the plan)."""
    out_root = Path(out_root)
    rows = [
        {
            "case_id": p.patient_id,
            "split": p.split,
            "center_time01": p.center_time01,
            "center_time02": p.center_time02,
            "scanner_time01": MSSEG2016_CENTERS[p.center_time01].scanner,
            "scanner_time02": MSSEG2016_CENTERS[p.center_time02].scanner,
            "field_strength_time01": MSSEG2016_CENTERS[p.center_time01].field_strength,
            "field_strength_time02": MSSEG2016_CENTERS[p.center_time02].field_strength,
        }
        for p in plans
    ]
    out_root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out_root / "patients.tsv", sep="\t", index=False)
    manifest = {
        "preset": preset,
        "variant": variant,
        "seed": seed,
        "n_raters": get_longitudinal_preset(preset).n_raters,
        "patients": [asdict(p) for p in plans],
    }
    (out_root / "truth").mkdir(exist_ok=True)
    (out_root / "truth" / "cohort.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
