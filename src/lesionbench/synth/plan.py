"""Cohort presets and the case plan: which cases a synthetic cohort has, cheaply and without I/O.

The workflow calls :func:`plan_cohort` at DAG-parse time to learn the case list and
:func:`case_files` to learn every output path, then runs :func:`generate_case` once per case.
The ``msseg2016`` preset copies the MS-SEG 2016 counts per split and center (training 5/5/5 for
centers 01/07/08, testing 10/8/10/10 for 01/03/07/08; Commowick et al., Sci Rep 8:13650, 2018;
see ``docs/data-and-preprocessing.md`` section 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..cohort.layout import (
    MSSEG2016_CENTERS,
    RATER_STEM,
    RAW_STEMS,
    case_id_for,
    relative_case_dir,
)
from ..errors import ConfigError

#: Modalities the generator writes.
SYNTH_MODALITIES: tuple[str, ...] = ("flair", "t1", "t2", "pd")

#: Tissue maps kept in the truth folder.
TRUTH_TISSUES: tuple[str, ...] = ("csf", "gm", "wm")


@dataclass(frozen=True)
class Difficulty:
    """What makes the synthetic images hard, each effect a scale (0 = off, 1 = the documented strength).

    FLAIR-hyperintense structures that are not lesions: ``ependymal`` (periventricular lining and
    caps at the frontal and occipital horns), ``septum_choroid`` (septum pellucidum and choroid
    plexus), ``csf_inflow`` (inflow artifact in the third and fourth ventricles, FLAIR only),
    ``cortex`` (mildly hyperintense cortex), ``dirty_wm`` (diffuse "dirty-appearing" white
    matter). Lesions: ``faint_fraction`` (probability that a lesion's T1/T2 prolongation is
    cut to 15-40 %; any value > 0 also spreads every lesion's prolongation), ``lesion_rim`` (core/rim profile), ``region_contrast`` (lower
    contrast of juxtacortical lesions, FLAIR-weak infratentorial ones). Scanner, scaling each
    center's protocol values: ``gibbs`` (k-space truncation of partial phase resolution),
    ``slice_profile`` (wider-than-nominal 2-D slice profile), ``b1`` (transmit-field central
    brightening). The model and its sources: ``docs/synthetic-cohort.md``, "Realistic difficulty".
    """

    ependymal: float = 1.0
    septum_choroid: float = 1.0
    csf_inflow: float = 1.0
    cortex: float = 1.0
    dirty_wm: float = 1.0
    faint_fraction: float = 0.25
    lesion_rim: float = 1.0
    region_contrast: float = 1.0
    gibbs: float = 1.0
    slice_profile: float = 1.0
    b1: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value >= 0.0 or (f.name == "faint_fraction" and value > 1.0):
                raise ConfigError(
                    f"synthetic difficulty {f.name} must be >= 0 (a probability for faint_fraction), not {value!r}"
                )

    @classmethod
    def off(cls) -> Difficulty:
        """Every effect off: the generator's images as before these effects existed."""
        return cls(**{f.name: 0.0 for f in fields(cls)})


@dataclass(frozen=True)
class Preset:
    """Size and resolution of a synthetic cohort.

    ``counts`` lists ``(split, center, n_cases)``. ``anatomy_mm`` is the voxel size of the
    template-space grid on which anatomy, lesions and signals are built; ``voxel_3d_mm`` is the
    nominal 3-D FLAIR/T1 voxel, ``voxel_2d_mm`` the 2-D T2/PD (in-plane, slice) voxel, both
    before each center's own factors. Lesion-model scales: ``lesion_count_mean`` (negative
    binomial mean), ``lesion_volume_median_mm3`` (log-normal median), ``lesion_load_min_ml`` (the
    subject's floor on the drawn lesion volume, 0 = none; ``docs/synthetic-cohort.md``). ``difficulty``: the
    confounders, lesion heterogeneity and scanner artifacts (:class:`Difficulty`).
    """

    name: str
    counts: tuple[tuple[str, str, int], ...]
    anatomy_mm: float
    voxel_3d_mm: float
    voxel_2d_mm: tuple[float, float]
    deformation_mm: float
    lesion_count_mean: float
    lesion_volume_median_mm3: float
    fov_margin_mm: float = 12.0
    lesion_load_min_ml: float = 0.0
    difficulty: Difficulty = field(default_factory=Difficulty)

    @property
    def n_cases(self) -> int:
        return sum(n for _, _, n in self.counts)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        counts=(("train", "01", 1), ("train", "08", 1), ("test", "03", 1), ("test", "07", 1)),
        anatomy_mm=3.0,
        voxel_3d_mm=3.0,
        voxel_2d_mm=(3.0, 4.5),
        deformation_mm=2.0,
        lesion_count_mean=14.0,
        # Bigger lesions than in life so that they survive 3 mm voxels.
        lesion_volume_median_mm3=220.0,
        fov_margin_mm=9.0,
    ),
    "demo": Preset(
        name="demo",
        counts=(
            ("train", "01", 2),
            ("train", "07", 2),
            ("train", "08", 2),
            ("test", "01", 2),
            ("test", "03", 2),
            ("test", "07", 2),
            ("test", "08", 2),
        ),
        anatomy_mm=1.5,
        voxel_3d_mm=1.4,
        voxel_2d_mm=(1.3, 3.0),
        deformation_mm=2.5,
        lesion_count_mean=22.0,
        lesion_volume_median_mm3=50.0,
        lesion_load_min_ml=1.0,
    ),
    "msseg2016": Preset(
        name="msseg2016",
        counts=(
            ("train", "01", 5),
            ("train", "07", 5),
            ("train", "08", 5),
            ("test", "01", 10),
            ("test", "03", 8),
            ("test", "07", 10),
            ("test", "08", 10),
        ),
        anatomy_mm=1.0,
        voxel_3d_mm=1.0,
        voxel_2d_mm=(0.95, 3.0),
        deformation_mm=3.0,
        lesion_count_mean=25.0,
        lesion_volume_median_mm3=35.0,
        fov_margin_mm=15.0,
        lesion_load_min_ml=1.0,
    ),
}


@dataclass(frozen=True)
class CasePlan:
    case_id: str
    center: str
    scanner: str
    field_strength: float
    split: str
    patient: int
    relative_dir: str
    seed: int


def get_preset(preset: str) -> Preset:
    try:
        return PRESETS[preset]
    except KeyError:
        raise ConfigError(f"unknown synthetic preset {preset!r}; choose one of {', '.join(PRESETS)}") from None


def _check_raters(n_raters: int) -> None:
    if int(n_raters) != n_raters or n_raters < 1 or n_raters > 50:
        raise ConfigError(f"number of raters must be an integer from 1 to 50, not {n_raters!r}")


def plan_cohort(preset: str, seed: int, n_raters: int = 7) -> list[CasePlan]:
    """The cases of a cohort, each with its own seed spawned from ``seed`` (no images, no I/O).

    Case seeds come from ``numpy.random.SeedSequence(seed).spawn``, one child per case in the
    preset's fixed order, so a case's seed depends only on the cohort seed and its position.
    """
    import numpy as np  # here, not at import: the ``synth`` verb's parser reads the presets only

    spec = get_preset(preset)
    _check_raters(n_raters)
    if int(seed) != seed or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(spec.n_cases)
    plans: list[CasePlan] = []
    k = 0
    for split, center, n in spec.counts:
        info = MSSEG2016_CENTERS[center]
        for patient in range(1, n + 1):
            case_seed = int(children[k].generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
            k += 1
            plans.append(
                CasePlan(
                    case_id=case_id_for(split, center, patient),
                    center=center,
                    scanner=info.scanner,
                    field_strength=info.field_strength,
                    split=split,
                    patient=patient,
                    relative_dir=relative_case_dir(split, center, patient),
                    seed=case_seed,
                )
            )
    return plans


def case_files(
    plan: CasePlan,
    n_raters: int,
    modalities: tuple[str, ...] | list[str] = SYNTH_MODALITIES,
) -> dict[str, str]:
    """Relative paths (under the cohort root) of the files :func:`generate_case` writes."""
    _check_raters(n_raters)
    files: dict[str, str] = {}
    for modality in modalities:
        if modality not in SYNTH_MODALITIES:
            raise ConfigError(
                f"the generator does not make modality {modality!r}; it makes {', '.join(SYNTH_MODALITIES)}"
            )
        files[modality] = f"{plan.relative_dir}/Raw_Data/{RAW_STEMS[modality]}.nii.gz"
    for rater in range(1, n_raters + 1):
        files[f"rater{rater}"] = f"{plan.relative_dir}/Masks/{RATER_STEM.format(rater=rater)}.nii.gz"
    # Same sub-path as the case's MS-SEG folder, so one workflow wildcard names both.
    truth = f"truth/{plan.relative_dir}"
    files["truth_lesions"] = f"{truth}/lesion_mask.nii.gz"
    files["truth_lesion_labels"] = f"{truth}/lesion_labels.nii.gz"
    for tissue in TRUTH_TISSUES:
        files[f"truth_tissue_{tissue}"] = f"{truth}/tissue_{tissue}.nii.gz"
    files["truth_brain_mask"] = f"{truth}/brain_mask.nii.gz"
    files["truth_lesion_table"] = f"{truth}/lesions.tsv"
    files["truth_transforms"] = f"{truth}/transforms.json"
    files["truth_warp"] = f"{truth}/warp_template_to_subject.nii.gz"
    files["truth_summary"] = f"{truth}/summary.json"
    return files
