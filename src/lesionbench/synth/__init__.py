"""Synthetic multi-center MS cohort with known truth, shaped like MS-SEG 2016.

Public API used by the workflow: :data:`PRESETS`, :class:`CasePlan`, :func:`plan_cohort`,
:func:`case_files`, :func:`generate_case`, :func:`plot_cohort_overview`.
"""

from __future__ import annotations

from .generate import SimulatedCase, generate_case, simulate_case, write_case
from .plan import PRESETS, SYNTH_MODALITIES, CasePlan, Preset, case_files, plan_cohort


def plot_cohort_overview(cases, out_png):  # type: ignore[no-untyped-def]
    """See :func:`lesionbench.synth.figures.plot_cohort_overview` (imported lazily: matplotlib)."""
    from .figures import plot_cohort_overview as _plot

    return _plot(cases, out_png)


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
