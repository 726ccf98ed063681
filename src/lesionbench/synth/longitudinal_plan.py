"""Presets and patient plans of the synthetic longitudinal (MSSEG-2-style) cohort, without I/O.

Each patient has two visits of the same synthetic anatomy: a baseline (``time01``) and a
follow-up (``time02``) one to three years later. The plan fixes, per patient and before any
image is made, the split, the scanner of each visit, how many lesions are new at follow-up,
the interval and the brain volume lost in it, so the workflow (and the tests) know the cohort
at DAG-parse time. The images come from :mod:`lesionbench.synth.longitudinal`. The model and its
sources: ``docs/synthetic-cohort.md``, "Longitudinal cohort".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cohort.layout import (
    MSSEG2_CONSENSUS_STEM,
    MSSEG2_FLAIR_STEMS,
    MSSEG2_RATER_STEM,
    MSSEG2016_CENTERS,
    SPLIT_DIRS,
)
from ..errors import ConfigError

#: How the two visits are delivered: ``middle`` (both on one common grid, already co-registered,
#: MSSEG-2's ``*_on_middle_space`` files) or ``raw`` (each visit on its own acquisition grid and
#: head position, to be co-registered by the workflow).
VARIANTS: tuple[str, ...] = ("middle", "raw")

#: Median annualised percentage brain volume change in MS (pooled estimate, Vollmer et al.,
#: J Neurol Sci 357:8, 2015: -0.69 %/year, study arms from -0.46 to -1.34 %/year).
ATROPHY_PER_YEAR = 0.0069


@dataclass(frozen=True)
class LongitudinalPreset:
    """Size of a longitudinal cohort and its change model.

    ``counts``: ``(split, n_patients)``. ``image``: the cross-sectional preset whose grids,
    anatomy resolution, lesion model and confounders both visits use. ``no_new_fraction``: share
    of each split's patients with no new lesion (exact, rounded per split). ``new_count_mean``:
    mean number of new lesions of the other patients (1 + Poisson). ``new_volume_factor``: new
    lesions' median volume relative to the preset's lesions. ``grow_fraction`` /
    ``shrink_fraction``: share of baseline lesions that grow / shrink by a volume factor drawn in
    ``grow_factor`` / ``shrink_factor``; the others stay. ``atrophy_per_year`` (mean) and
    ``atrophy_sd``: the fraction of parenchymal volume lost per year; ``interval_years``: the
    range of the time between visits. ``scanner_change_fraction``: share of patients scanned on
    another center's scanner at follow-up. ``rater_v50_scale``: factor on each simulated
    rater's 50 %-detection volume (coarse presets make every lesion large in mm^3).
    ``consensus_min_votes``: raters who must mark a voxel for the consensus.
    """

    name: str
    counts: tuple[tuple[str, int], ...]
    image: str
    no_new_fraction: float = 1.0 / 3.0
    new_count_mean: float = 3.0
    new_volume_factor: float = 1.0
    grow_fraction: float = 0.15
    shrink_fraction: float = 0.15
    grow_factor: tuple[float, float] = (1.6, 3.0)
    shrink_factor: tuple[float, float] = (0.3, 0.7)
    atrophy_per_year: float = ATROPHY_PER_YEAR
    atrophy_sd: float = 0.002
    interval_years: tuple[float, float] = (1.0, 3.0)
    scanner_change_fraction: float = 0.3
    n_raters: int = 4
    rater_v50_scale: float = 3.0
    consensus_min_votes: int = 3

    @property
    def n_patients(self) -> int:
        return sum(n for _, n in self.counts)


LONGITUDINAL_PRESETS: dict[str, LongitudinalPreset] = {
    # 2 training and 3 test patients on the 3 mm tiny grids: seconds per patient.
    "tiny": LongitudinalPreset(
        name="tiny",
        counts=(("train", 2), ("test", 3)),
        image="tiny",
        new_count_mean=3.0,
        rater_v50_scale=12.0,
    ),
    # MSSEG-2's 40 training / 60 test proportions on 20 patients, on the demo grids.
    "demo": LongitudinalPreset(
        name="demo",
        counts=(("train", 8), ("test", 12)),
        image="demo",
        new_count_mean=3.0,
        new_volume_factor=1.0,
        rater_v50_scale=3.0,
    ),
}


@dataclass(frozen=True)
class PatientPlan:
    """One patient of a longitudinal cohort: who, which scanners, what changes (no images)."""

    patient_id: str
    split: str
    seed: int
    center_time01: str
    center_time02: str
    n_new: int
    interval_years: float
    atrophy_fraction: float

    @property
    def scanner_changed(self) -> bool:
        return self.center_time01 != self.center_time02


def get_longitudinal_preset(preset: str) -> LongitudinalPreset:
    try:
        return LONGITUDINAL_PRESETS[preset]
    except KeyError:
        raise ConfigError(
            f"unknown longitudinal preset {preset!r}; choose one of {', '.join(LONGITUDINAL_PRESETS)}"
        ) from None


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ConfigError(f"unknown longitudinal variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return variant


def plan_longitudinal(preset: str, seed: int) -> list[PatientPlan]:
    """The patients of a longitudinal cohort, drawn from ``seed`` alone (no images, no I/O).

    ``numpy.random.SeedSequence(seed).spawn(n + 1)``: the first child draws the cohort-level
    choices (which patients have no new lesion, scanners, intervals, atrophy), the others are
    the patients' own seeds, in the preset's order. Per split, exactly
    ``round(n * no_new_fraction)`` patients have no new lesion.
    """
    import numpy as np  # here, not at import: the verb's parser reads the presets only

    spec = get_longitudinal_preset(preset)
    if int(seed) != seed or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(spec.n_patients + 1)
    rng = np.random.default_rng(children[0])
    centers = sorted(MSSEG2016_CENTERS)
    plans: list[PatientPlan] = []
    index = 0
    for split, n in spec.counts:
        empty = set(rng.permutation(n)[: int(round(n * spec.no_new_fraction))].tolist())
        for k in range(n):
            index += 1
            first = str(rng.choice(centers))
            others = [c for c in centers if c != first]
            second = str(rng.choice(others)) if rng.random() < spec.scanner_change_fraction else first
            n_new = 0 if k in empty else 1 + int(rng.poisson(spec.new_count_mean - 1.0))
            interval = round(float(rng.uniform(*spec.interval_years)), 2)
            rate = float(np.clip(rng.normal(spec.atrophy_per_year, spec.atrophy_sd), 0.001, 0.03))
            patient_seed = int(children[index].generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
            plans.append(
                PatientPlan(
                    patient_id=f"P{index:03d}",
                    split=split,
                    seed=patient_seed,
                    center_time01=first,
                    center_time02=second,
                    n_new=n_new,
                    interval_years=interval,
                    atrophy_fraction=round(rate * interval, 6),
                )
            )
    return plans


def patient_dir(plan: PatientPlan) -> str:
    """The split folder holding a patient's folder: ``Training`` or ``Testing``."""
    return {label: name for name, label in SPLIT_DIRS.items()}[plan.split]


def patient_files(plan: PatientPlan, variant: str, n_raters: int, t1: bool = False) -> dict[str, str]:
    """Relative paths (under the cohort root) of the files a patient's writer produces.

    Participant-visible, in ``Training/<patient_id>/`` or ``Testing/<patient_id>/`` (the split
    folders the MSSEG-2 importer reads): ``flair_time01``/``flair_time02`` (MSSEG-2 stems;
    ``*_on_middle_space`` in the ``middle`` variant), optionally ``t1_time01``/``t1_time02``,
    ``ground_truth_expert1..N`` and ``ground_truth`` (new lesions, on the time-02 grid). The
    synthetic truth lies apart in ``truth/<patient_id>/``.
    """
    check_variant(variant)
    pick = 0 if variant == "middle" else 1
    folder = f"{patient_dir(plan)}/{plan.patient_id}"
    files: dict[str, str] = {}
    for t in ("time01", "time02"):
        stem = MSSEG2_FLAIR_STEMS[t][pick]
        files[f"flair_{t}"] = f"{folder}/{stem}.nii.gz"
        if t1:
            files[f"t1_{t}"] = f"{folder}/{stem.replace('flair', 't1', 1)}.nii.gz"
    for rater in range(1, n_raters + 1):
        files[f"rater{rater}"] = f"{folder}/{MSSEG2_RATER_STEM.format(rater=rater)}.nii.gz"
    files["consensus"] = f"{folder}/{MSSEG2_CONSENSUS_STEM}.nii.gz"
    truth = f"truth/{plan.patient_id}"
    for t in ("time01", "time02"):
        files[f"truth_lesions_{t}"] = f"{truth}/lesion_mask_{t}.nii.gz"
        files[f"truth_labels_{t}"] = f"{truth}/lesion_labels_{t}.nii.gz"
        files[f"truth_parenchyma_{t}"] = f"{truth}/parenchyma_{t}.nii.gz"
    files["truth_new_lesions"] = f"{truth}/new_lesion_mask.nii.gz"
    files["truth_lesion_table"] = f"{truth}/lesions.tsv"
    files["truth_summary"] = f"{truth}/summary.json"
    return files
