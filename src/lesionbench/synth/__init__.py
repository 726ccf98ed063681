"""Synthetic multi-center MS cohort with known truth, shaped like MS-SEG 2016.

Public API used by the workflow: :data:`PRESETS`, :class:`CasePlan`, :func:`plan_cohort`,
:func:`case_files`, :func:`generate_case`, :func:`plot_cohort_overview`; for the two-visit
(MSSEG-2-style) cohort :data:`LONGITUDINAL_PRESETS`, :class:`PatientPlan`,
:func:`plan_longitudinal`, :func:`patient_files`, :func:`simulate_patient`,
:func:`generate_patient`. Importing this package
imports no submodule: each name below is loaded from its module on first use (the figure's
matplotlib only when it is drawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .figures import plot_cohort_overview
    from .generate import SimulatedCase, generate_case, simulate_case, write_case
    from .longitudinal import SimulatedPatient, simulate_patient
    from .longitudinal_io import generate_patient, write_patient
    from .longitudinal_plan import LONGITUDINAL_PRESETS, PatientPlan, patient_files, plan_longitudinal
    from .plan import PRESETS, SYNTH_MODALITIES, CasePlan, Preset, case_files, plan_cohort

#: Public names by the submodule that defines them; each submodule is imported on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "figures": ("plot_cohort_overview",),
    "generate": ("SimulatedCase", "generate_case", "simulate_case", "write_case"),
    "longitudinal": ("SimulatedPatient", "simulate_patient"),
    "longitudinal_io": ("generate_patient", "write_patient"),
    "longitudinal_plan": ("LONGITUDINAL_PRESETS", "PatientPlan", "patient_files", "plan_longitudinal"),
    "plan": ("PRESETS", "SYNTH_MODALITIES", "CasePlan", "Preset", "case_files", "plan_cohort"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "LONGITUDINAL_PRESETS",
    "PRESETS",
    "SYNTH_MODALITIES",
    "CasePlan",
    "PatientPlan",
    "Preset",
    "SimulatedCase",
    "SimulatedPatient",
    "case_files",
    "generate_case",
    "generate_patient",
    "patient_files",
    "plan_cohort",
    "plan_longitudinal",
    "plot_cohort_overview",
    "simulate_case",
    "simulate_patient",
    "write_case",
    "write_patient",
]
