"""Synthetic multi-center MS cohort with known truth, shaped like MS-SEG 2016.

Public API used by the workflow: :data:`PRESETS`, :class:`CasePlan`, :func:`plan_cohort`,
:func:`case_files`, :func:`generate_case`, :func:`plot_cohort_overview`. Importing this package
imports no submodule: each name below is loaded from its module on first use (the figure's
matplotlib only when it is drawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .figures import plot_cohort_overview
    from .generate import SimulatedCase, generate_case, simulate_case, write_case
    from .plan import PRESETS, SYNTH_MODALITIES, CasePlan, Preset, case_files, plan_cohort

#: Public names by the submodule that defines them; each submodule is imported on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "figures": ("plot_cohort_overview",),
    "generate": ("SimulatedCase", "generate_case", "simulate_case", "write_case"),
    "plan": ("PRESETS", "SYNTH_MODALITIES", "CasePlan", "Preset", "case_files", "plan_cohort"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "PRESETS",
    "SYNTH_MODALITIES",
    "CasePlan",
    "Preset",
    "SimulatedCase",
    "case_files",
    "generate_case",
    "plan_cohort",
    "plot_cohort_overview",
    "simulate_case",
    "write_case",
]
