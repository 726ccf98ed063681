"""Two visits of one synthetic MS patient: baseline, then follow-up with atrophy, drift and new lesions.

Built from the cross-sectional generator's steps (:mod:`lesionbench.synth.generate`), run once
per visit on one template anatomy and one lesion population:

* anatomy: the baseline is the patient's random subject warp; the follow-up adds ventricle
  enlargement to the same velocity field and then shrinks the subject about the brain centre
  so that the parenchymal volume (grey + white matter + lesions) falls by the plan's
  ``atrophy_fraction`` exactly (computed from the warps' Jacobians, :func:`parenchymal_volume_mm3`);
* lesions: each baseline lesion stays, grows or shrinks (:func:`evolve_lesions`); new lesions are
  drawn with the cross-sectional lesion model at least two voxels away from every other lesion
  (:func:`place_new_lesions`), so each new lesion is a component of its own at follow-up;
* scanner: each visit has its own session (bias field, white-matter level, noise, B1) and,
  when the plan says so, another center's protocol (field strength, contrast, voxel);
* geometry: ``middle`` puts both visits on the baseline FLAIR grid and head position (already
  co-registered); ``raw`` gives the follow-up its own head position and grid;
* raters: four of the cross-sectional simulated experts outline the NEW lesions on the follow-up
  FLAIR; their 50 %-detection volume is scaled by the preset's ``rater_v50_scale``; the shipped
  consensus marks voxels at least ``consensus_min_votes`` raters marked.

:func:`simulate_patient` is pure (arrays in memory); :mod:`lesionbench.synth.longitudinal_io` writes.
The model and its sources: ``docs/synthetic-cohort.md``, "Longitudinal cohort".
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from nibabel.affines import voxel_sizes
from scipy import ndimage

from ..cohort.layout import MSSEG2016_CENTERS
from ..metrics.overlap import dice
from .acquisition import Grid
from .anatomy import DisplacementField, SubjectWarp, TemplateAnatomy, load_template_anatomy, random_subject_warp
from .confounders import apply_lesion_rims, b1_field, mimic_signals, psf_voxels, vary_lesion_contrast
from .generate import (
    RATER_MIMIC_GAIN,
    RawImage,
    SeriesGeometry,
    _lesion_contrast,
    _lesion_table,
    _sample_series,
    _scanner_images,
    _series_geometry,
    _signal_maps,
    _truth_on_flair_grid,
    lesion_model_for,
)
from .lesions import Lesion, LesionMaps, LesionModel, render_lesions, sample_lesions
from .longitudinal_plan import PatientPlan, check_variant, get_longitudinal_preset
from .plan import SYNTH_MODALITIES, CasePlan, Difficulty, Preset, get_preset
from .protocols import CENTER_PROTOCOLS
from .raters import delineate, make_rater_panel, prepare_rater_inputs

#: Named random streams of a patient (``SeedSequence(patient_seed, spawn_key=(k,))``). ``warp``,
#: ``lesions``, ``lesion_contrast`` and ``mimics`` use the cross-sectional generator's keys so
#: a patient's baseline anatomy and lesions are drawn as a cross-sectional case's would be.
_PATIENT_STREAMS = {
    "warp": 1,
    "lesions": 2,
    "mimics": 9,
    "lesion_contrast": 11,
    "evolution": 201,
    "new_lesions": 202,
    "new_contrast": 203,
    "visit": 210,  # + time point (1, 2): the visit's own seed
    "raters": 300,  # + rater index
}

#: Seed of the rater panel, the same experts as the cross-sectional cohort's.
_PANEL_SEED = 20160617

#: Extra ventricle enlargement of the follow-up per unit of parenchymal volume fraction lost.
VENTRICLE_PER_ATROPHY = 2.0


def _patient_rng(seed: int, name: str, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_PATIENT_STREAMS[name] + index,)))


def visit_plan(plan: PatientPlan, time_point: int) -> CasePlan:
    """The cross-sectional case plan of one visit: its center and its own session seed."""
    center = plan.center_time01 if time_point == 1 else plan.center_time02
    protocol_seed = np.random.SeedSequence(int(plan.seed), spawn_key=(_PATIENT_STREAMS["visit"] + time_point,))
    info = MSSEG2016_CENTERS[center]
    return CasePlan(
        case_id=f"{plan.patient_id}_time{time_point:02d}",
        center=center,
        scanner=info.scanner,
        field_strength=info.field_strength,
        split=plan.split,
        patient=time_point,
        relative_dir=plan.patient_id,
        seed=int(protocol_seed.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)),
    )


# ---------------------------------------------------------------------------------------------
# anatomy: atrophy


def jacobian_on_template(anatomy: TemplateAnatomy, field: DisplacementField) -> np.ndarray:
    """Jacobian determinant of ``q -> q + u(q)`` at every template voxel (``u`` on its own grid)."""
    step = float(np.abs(field.affine[0, 0]))
    grads = np.stack([np.stack(np.gradient(field.field[..., c], step), axis=-1) for c in range(3)], axis=-2)
    det = np.linalg.det(grads + np.eye(3)).astype(np.float32)
    to_field = np.linalg.inv(field.affine) @ anatomy.affine
    idx = np.indices(anatomy.shape, dtype=np.float32).reshape(3, -1)
    coords = to_field[:3, :3] @ idx + to_field[:3, 3:4]
    return ndimage.map_coordinates(det, coords, order=1, mode="nearest", prefilter=False).reshape(anatomy.shape)


def parenchymal_volume_mm3(anatomy: TemplateAnatomy, warp: SubjectWarp) -> float:
    """Grey + white matter volume (mm^3) of the subject a warp makes: the template's parenchyma
    weighted by the Jacobian of the template -> subject map (lesions lie in it, so count with it)."""
    parenchyma = anatomy.gm + anatomy.wm
    jac = jacobian_on_template(anatomy, warp.to_subject)
    return float(np.sum(parenchyma * jac, dtype=np.float64) * anatomy.spacing_mm**3)


def scale_warp(warp: SubjectWarp, centre_mm: np.ndarray, scale: float) -> SubjectWarp:
    """The warp followed by an isotropic scaling of the subject by ``scale`` about ``centre_mm``.

    New subject point ``y = c + s (x - c)`` of old point ``x``: the template -> subject field
    gains ``(s - 1)(x - c)`` on the same grid; the subject -> template field is moved to the
    scaled grid (its point ``S x_k`` keeps the template point of ``x_k``).
    """
    c = np.asarray(centre_mm, dtype=float)
    s = float(scale)
    fwd = warp.to_template
    pts = np.indices(fwd.field.shape[:3], dtype=np.float64).reshape(3, -1)
    x_fwd = (fwd.affine[:3, :3] @ pts + fwd.affine[:3, 3:4]).T.reshape(*fwd.field.shape[:3], 3)
    scaling = np.eye(4)
    scaling[:3, :3] *= s
    scaling[:3, 3] = (1.0 - s) * c
    to_template = DisplacementField((fwd.field + (1.0 - s) * (x_fwd - c)).astype(np.float32), scaling @ fwd.affine)
    inv = warp.to_subject
    pts = np.indices(inv.field.shape[:3], dtype=np.float64).reshape(3, -1)
    q = (inv.affine[:3, :3] @ pts + inv.affine[:3, 3:4]).T.reshape(*inv.field.shape[:3], 3)
    to_subject = DisplacementField((inv.field + (s - 1.0) * (q + inv.field - c)).astype(np.float32), inv.affine)
    reach = float(np.max(np.linalg.norm(x_fwd - c, axis=-1)))
    return SubjectWarp(
        to_template=to_template,
        to_subject=to_subject,
        ventricle_scale=warp.ventricle_scale,
        min_jacobian=warp.min_jacobian / s**3,
        max_displacement_mm=warp.max_displacement_mm + abs(1.0 - s) * reach,
    )


def patient_warps(
    anatomy: TemplateAnatomy, seed: int, image: Preset, atrophy_fraction: float
) -> tuple[SubjectWarp, SubjectWarp, dict[str, float]]:
    """Baseline and follow-up subject warps; the follow-up has lost ``atrophy_fraction`` of the
    baseline's parenchymal volume (ventricles enlarged by :data:`VENTRICLE_PER_ATROPHY` x the
    fraction, then an isotropic shrink about the brain centre sized to hit the fraction)."""
    if not 0.0 <= atrophy_fraction < 0.5:
        raise ValueError(f"atrophy fraction must be in [0, 0.5), not {atrophy_fraction!r}")
    draws = []
    for _ in range(2):
        rng = _patient_rng(seed, "warp")
        ventricles = float(rng.uniform(0.0, 0.25))  # the cross-sectional generator's first draw
        draws.append((rng, ventricles))
    (rng1, v1), (rng2, _) = draws
    baseline = random_subject_warp(anatomy, rng1, image.deformation_mm, v1)
    v2 = v1 + VENTRICLE_PER_ATROPHY * atrophy_fraction
    enlarged = random_subject_warp(anatomy, rng2, image.deformation_mm, v2)
    p1 = parenchymal_volume_mm3(anatomy, baseline)
    p_enlarged = parenchymal_volume_mm3(anatomy, enlarged)
    scale = float(((1.0 - atrophy_fraction) * p1 / p_enlarged) ** (1.0 / 3.0))
    centre = enlarged.to_subject.apply(anatomy.brain_centre_mm()[:, None])[:, 0]
    follow_up = scale_warp(enlarged, centre, scale)
    record = {
        "ventricle_enlargement_time01": round(v1, 4),
        "ventricle_enlargement_time02": round(v2, 4),
        "shrink_scale": round(scale, 6),
        "parenchyma_ml_time01_model": round(p1 / 1000.0, 3),
        "parenchyma_ml_time02_model": round(p_enlarged * scale**3 / 1000.0, 3),
    }
    return baseline, follow_up, record


# ---------------------------------------------------------------------------------------------
# lesions: evolution and new lesions


def evolve_lesions(
    lesions: list[Lesion],
    grow_fraction: float,
    shrink_fraction: float,
    grow_factor: tuple[float, float],
    shrink_factor: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[list[Lesion], list[str], list[float]]:
    """Each lesion at follow-up: ``grown`` / ``shrunk`` (volume x a factor, same shape, centre and
    contrast) or ``stable``. Two draws per lesion whatever its fate. Returns the follow-up
    lesions (same ids), their fates and volume factors."""
    out: list[Lesion] = []
    fates: list[str] = []
    factors: list[float] = []
    for lesion in lesions:
        u, v = rng.random(2)
        if u < grow_fraction:
            fate, factor = "grown", grow_factor[0] + v * (grow_factor[1] - grow_factor[0])
        elif u < grow_fraction + shrink_fraction:
            fate, factor = "shrunk", shrink_factor[0] + v * (shrink_factor[1] - shrink_factor[0])
        else:
            fate, factor = "stable", 1.0
        out.append(
            dataclasses.replace(
                lesion,
                semi_axes_mm=lesion.semi_axes_mm * factor ** (1.0 / 3.0),
                target_volume_mm3=lesion.target_volume_mm3 * factor,
            )
        )
        fates.append(fate)
        factors.append(float(factor))
    return out, fates, factors


def lesion_reach_mm(lesion: Lesion) -> float:
    """Radius (mm) beyond which a lesion's rendered fraction is negligible."""
    return float(lesion.semi_axes_mm.max() * (1.0 + lesion.ripple_amp.sum()))


def place_new_lesions(
    anatomy: TemplateAnatomy,
    existing: list[Lesion],
    n_new: int,
    model: LesionModel,
    gap_mm: float,
    rng: np.random.Generator,
    max_rounds: int = 200,
) -> list[Lesion]:
    """``n_new`` lesions drawn with the cross-sectional model, each at least ``gap_mm`` away from
    every other lesion (existing or new) edge to edge, numbered after ``existing``.

    Candidates come from :func:`~lesionbench.synth.lesions.sample_lesions` (region mix, volume,
    shape, relaxation); one that would touch another lesion is skipped. Each new lesion is its own
    confluence group.
    """
    placed: list[Lesion] = []
    first_id = len(existing) + 1
    first_group = max((les.group for les in existing), default=0) + 1
    for _ in range(max_rounds):
        if len(placed) >= n_new:
            break
        candidates, _severity = sample_lesions(anatomy, model, rng)
        for cand in candidates:
            if len(placed) >= n_new:
                break
            others = existing + placed
            if any(
                np.linalg.norm(cand.centre_mm - other.centre_mm)
                < lesion_reach_mm(cand) + lesion_reach_mm(other) + gap_mm
                for other in others
            ):
                continue
            k = len(placed)
            placed.append(dataclasses.replace(cand, lesion_id=first_id + k, group=first_group + k))
    if len(placed) < n_new:
        raise ValueError(f"could place only {len(placed)} of {n_new} new lesions away from the others")
    return placed


# ---------------------------------------------------------------------------------------------
# one visit


@dataclass
class Visit:
    """One visit on its FLAIR grid: images, truth and the lesion table."""

    plan: CasePlan
    #: ``flair`` and ``t1`` as the scanner stored them (data, affine, type)
    images: dict[str, RawImage]
    fraction: np.ndarray
    labels: np.ndarray
    tissues: dict[str, np.ndarray]
    table: pd.DataFrame
    mimic_gain: np.ndarray
    spacing: tuple[float, float, float]

    @property
    def lesion_mask(self) -> np.ndarray:
        return self.fraction >= 0.5

    @property
    def parenchyma(self) -> np.ndarray:
        """Soft parenchyma (grey + white matter + lesion) fraction per voxel."""
        return np.clip(self.tissues["gm"] + self.tissues["wm"] + self.fraction, 0.0, 1.0)

    @property
    def brain_mask(self) -> np.ndarray:
        return (sum(self.tissues.values()) + self.fraction) >= 0.5

    @property
    def flair_affine(self) -> np.ndarray:
        return self.images["flair"].affine


def _visit_geometry(own: SeriesGeometry, common: SeriesGeometry | None) -> SeriesGeometry:
    """Where a visit is sampled: its own grids (``raw``) or the common FLAIR grid and head
    position (``middle``); blur keeps the visit's own voxels. T2/PD are not part of this cohort:
    a one-voxel grid keeps the shared sampler from spending time on them."""
    one = Grid(shape=(1, 1, 1), affine=own.grids["t2pd"].affine)
    if common is None:
        grids = {"flair": own.grids["flair"], "t1": own.grids["t1"], "t2pd": one}
        return SeriesGeometry(grids=grids, poses=own.poses, axcodes=own.axcodes, voxels=own.voxels)
    grid, pose = common.grids["flair"], common.poses["flair"]
    return SeriesGeometry(
        grids={"flair": grid, "t1": grid, "t2pd": one},
        poses={"flair": pose, "t1": pose, "t2pd": pose},
        axcodes=own.axcodes,
        voxels=own.voxels,
    )


def simulate_visit(
    visit: CasePlan,
    image: Preset,
    anatomy: TemplateAnatomy,
    warp: SubjectWarp,
    lesions: list[Lesion],
    maps: LesionMaps,
    geometry: SeriesGeometry,
    mimic_rng: np.random.Generator,
    difficulty: Difficulty,
) -> Visit:
    """The cross-sectional steps 3-8 (signal, confounders, imaging, scanner, truth, lesion table)
    for one visit; FLAIR and T1 only."""
    protocol = CENTER_PROTOCOLS[visit.center]
    field = float(visit.field_strength)
    signals, per_tissue = _signal_maps(anatomy, maps, protocol, field)
    mimics = mimic_signals(anatomy, maps.fraction, protocol, field, difficulty, mimic_rng)
    b1 = b1_field(anatomy, protocol.b1_log_range * difficulty.b1, _b1_rng(visit.seed))
    for m in SYNTH_MODALITIES:
        signals[m] = (signals[m] + mimics.delta[m]) * b1
    psf = psf_voxels(geometry.voxels, geometry.axcodes, protocol, difficulty)
    sampled, truth_maps = _sample_series(signals, maps, anatomy, warp, geometry, psf, mimics)
    raw = _scanner_images(visit, protocol, geometry, sampled, per_tissue, difficulty)
    fraction, truth, labels, tissues = _truth_on_flair_grid(truth_maps, maps, anatomy, warp, geometry)
    affine = geometry.grids["flair"].affine
    spacing = tuple(float(s) for s in voxel_sizes(affine))
    contrast = _lesion_contrast(lesions, protocol, field, per_tissue)
    table = _lesion_table(lesions, truth, labels, fraction, affine, float(np.prod(spacing)), field, contrast)
    return Visit(
        plan=visit,
        images={m: raw[m] for m in ("flair", "t1")},
        fraction=fraction,
        labels=labels,
        tissues=tissues,
        table=table,
        mimic_gain=truth_maps[4],
        spacing=spacing,  # type: ignore[arg-type]
    )


def _b1_rng(visit_seed: int) -> np.random.Generator:
    # The cross-sectional generator's ``b1`` stream key, on the visit's seed.
    return np.random.default_rng(np.random.SeedSequence(int(visit_seed), spawn_key=(10,)))


# ---------------------------------------------------------------------------------------------
# the patient


@dataclass
class SimulatedPatient:
    plan: PatientPlan
    variant: str
    visits: tuple[Visit, Visit]
    new_ids: np.ndarray
    raters: list[np.ndarray]
    consensus: np.ndarray
    lesion_table: pd.DataFrame
    summary: dict

    @property
    def new_lesion_mask(self) -> np.ndarray:
        follow_up = self.visits[1]
        return follow_up.lesion_mask & np.isin(follow_up.labels, self.new_ids)


def _new_lesion_raters(
    plan: PatientPlan,
    follow_up: Visit,
    new_mask: np.ndarray,
    new_table: pd.DataFrame,
    n_raters: int,
    v50_scale: float,
) -> tuple[list[np.ndarray], np.ndarray]:
    """The raters' masks of new lesions on the follow-up FLAIR grid, and per row of ``new_table``
    how many raters outlined it. No false-positive blob lands on a confounder or an old lesion."""
    spacing = follow_up.spacing
    reach = np.ceil(2.5 / np.array(spacing)).astype(int)
    ball = np.ones(tuple(2 * r + 1 for r in reach), bool)
    old = follow_up.lesion_mask & ~new_mask
    exclude = ndimage.binary_dilation((follow_up.mimic_gain >= RATER_MIMIC_GAIN) | old, structure=ball)
    labels = np.where(new_mask, follow_up.labels, 0)
    has = len(new_table) > 0
    inputs = prepare_rater_inputs(
        new_mask,
        labels,
        follow_up.images["flair"].data.astype(np.float32),
        follow_up.brain_mask,
        spacing,
        new_table["lesion_id"].to_numpy(dtype=np.int64) if has else np.zeros(0, np.int64),
        new_table["volume_mm3"].to_numpy() if has else np.zeros(0),
        new_table["contrast_flair"].to_numpy() if has else np.zeros(0),
        new_table["group"].to_numpy() if has else np.zeros(0),
        exclude=exclude,
    )
    panel = make_rater_panel(n_raters, np.random.default_rng(_PANEL_SEED))
    masks: list[np.ndarray] = []
    count = np.zeros(len(new_table), dtype=int)
    for k, profile in enumerate(panel):
        rater = dataclasses.replace(profile, v50_mm3=profile.v50_mm3 * v50_scale)
        mask, detected = delineate(inputs, rater, _patient_rng(plan.seed, "raters", k))
        masks.append(mask)
        count += detected
    return masks, count


def _lesion_history(
    baseline: list[Lesion],
    fates: list[str],
    factors: list[float],
    new: list[Lesion],
    visits: tuple[Visit, Visit],
    detected: dict[int, int],
) -> pd.DataFrame:
    """One row per lesion of either visit: fate, region, volumes at both visits, raters of new ones."""
    rows = []
    vols = [dict(zip(v.table["lesion_id"], v.table["volume_mm3"])) if len(v.table) else {} for v in visits]
    for lesion, fate, factor in zip(baseline + new, fates + ["new"] * len(new), factors + [1.0] * len(new)):
        lid = lesion.lesion_id
        rows.append(
            {
                "lesion_id": lid,
                "fate": fate,
                "volume_factor": round(factor, 4),
                "region": lesion.region,
                "group": lesion.group,
                "target_volume_mm3_time01": 0.0 if fate == "new" else lesion.target_volume_mm3 / factor,
                "target_volume_mm3_time02": lesion.target_volume_mm3,
                "volume_mm3_time01": float(vols[0].get(lid, 0.0)),
                "volume_mm3_time02": float(vols[1].get(lid, 0.0)),
                "n_raters_detected": detected.get(lid, 0) if fate == "new" else None,
            }
        )
    return pd.DataFrame(rows)


def simulate_patient(
    plan: PatientPlan,
    preset: str,
    variant: str = "middle",
    anatomy: TemplateAnatomy | None = None,
    atrophy_fraction: float | None = None,
) -> SimulatedPatient:
    """Simulate both visits of one patient in memory (nothing written).

    ``anatomy``: the template anatomy on the image preset's grid when the caller has it.
    ``atrophy_fraction`` overrides the plan's (e.g. to test the atrophy model).
    """
    spec = get_longitudinal_preset(preset)
    check_variant(variant)
    image = get_preset(spec.image)
    difficulty = image.difficulty
    if anatomy is None:
        anatomy = load_template_anatomy(image.anatomy_mm)
    elif not np.isclose(anatomy.spacing_mm, image.anatomy_mm):
        raise ValueError(
            f"preset {preset} simulates on a {image.anatomy_mm:g} mm anatomy, not {anatomy.spacing_mm:g} mm"
        )
    atrophy = plan.atrophy_fraction if atrophy_fraction is None else float(atrophy_fraction)
    warp1, warp2, anatomy_record = patient_warps(anatomy, plan.seed, image, atrophy)

    # Lesions: baseline population (as a cross-sectional case draws it), evolution, new lesions.
    model = lesion_model_for(image)
    lesion_rng = _patient_rng(plan.seed, "lesions")
    baseline, severity = sample_lesions(anatomy, model, lesion_rng)
    vary_lesion_contrast(baseline, difficulty, _patient_rng(plan.seed, "lesion_contrast"))
    texture_rng = copy.deepcopy(lesion_rng)  # the same within-lesion texture at both visits
    evolved, fates, factors = evolve_lesions(
        baseline,
        spec.grow_fraction,
        spec.shrink_fraction,
        spec.grow_factor,
        spec.shrink_factor,
        _patient_rng(plan.seed, "evolution"),
    )
    new_model = dataclasses.replace(
        model, count_mean=max(2.0, 2.0 * plan.n_new), volume_median_mm3=model.volume_median_mm3 * spec.new_volume_factor
    )
    new = place_new_lesions(
        anatomy, evolved, plan.n_new, new_model, 2.0 * image.voxel_3d_mm, _patient_rng(plan.seed, "new_lesions")
    )
    vary_lesion_contrast(new, difficulty, _patient_rng(plan.seed, "new_contrast"))
    follow_lesions = evolved + new
    maps1 = apply_lesion_rims(render_lesions(baseline, anatomy, model, lesion_rng), baseline)
    maps2 = apply_lesion_rims(render_lesions(follow_lesions, anatomy, model, texture_rng), follow_lesions)

    # Visits: own sessions; the middle variant samples FLAIR and T1 of both visits on the
    # baseline FLAIR grid and head position.
    plans = (visit_plan(plan, 1), visit_plan(plan, 2))
    own = [_series_geometry(v, image, CENTER_PROTOCOLS[v.center], anatomy) for v in plans]
    common = own[0] if variant == "middle" else None
    geometry1 = _visit_geometry(own[0], common)
    geometry2 = _visit_geometry(own[1], common)
    visit1 = simulate_visit(
        plans[0], image, anatomy, warp1, baseline, maps1, geometry1, _patient_rng(plan.seed, "mimics"), difficulty
    )
    visit2 = simulate_visit(
        plans[1], image, anatomy, warp2, follow_lesions, maps2, geometry2, _patient_rng(plan.seed, "mimics"), difficulty
    )

    new_ids = np.array([les.lesion_id for les in new], dtype=np.int64)
    new_mask = visit2.lesion_mask & np.isin(visit2.labels, new_ids)
    new_table = visit2.table[visit2.table["lesion_id"].isin(new_ids)] if len(visit2.table) else visit2.table
    raters, count = _new_lesion_raters(plan, visit2, new_mask, new_table, spec.n_raters, spec.rater_v50_scale)
    votes = np.sum(raters, axis=0) if raters else np.zeros(new_mask.shape, int)
    consensus = votes >= spec.consensus_min_votes
    detected = dict(zip(new_table["lesion_id"].tolist(), count.tolist())) if len(new_table) else {}
    history = _lesion_history(baseline, fates, factors, new, (visit1, visit2), detected)

    voxel_ml = [float(np.prod(v.spacing)) / 1000.0 for v in (visit1, visit2)]
    parenchyma = [float(v.parenchyma.sum(dtype=np.float64)) * ml for v, ml in zip((visit1, visit2), voxel_ml)]
    n_cons = int(ndimage.label(consensus)[1]) if consensus.any() else 0
    summary = {
        "patient_id": plan.patient_id,
        "preset": preset,
        "variant": variant,
        "seed": plan.seed,
        "split": plan.split,
        "center_time01": plan.center_time01,
        "center_time02": plan.center_time02,
        "scanner_time01": plans[0].scanner,
        "scanner_time02": plans[1].scanner,
        "field_strength_time01": plans[0].field_strength,
        "field_strength_time02": plans[1].field_strength,
        "interval_years": plan.interval_years,
        "atrophy_fraction": round(atrophy, 6),
        "parenchyma_ml_time01": round(parenchyma[0], 3),
        "parenchyma_ml_time02": round(parenchyma[1], 3),
        "severity": round(severity, 4),
        "n_lesions_time01": len(baseline),
        "n_new_planned": plan.n_new,
        "n_new_visible": int(len(new_table)),
        "n_grown": fates.count("grown"),
        "n_shrunk": fates.count("shrunk"),
        "n_stable": fates.count("stable"),
        "new_lesion_volume_ml": round(float(new_mask.sum()) * voxel_ml[1], 4),
        "n_raters": spec.n_raters,
        "consensus_min_votes": spec.consensus_min_votes,
        "consensus_components": n_cons,
        "rater_dice_vs_new_truth": [round(dice(m, new_mask), 4) for m in raters],
        # Subject -> scanner pose of each FLAIR (the follow-up's subject is the atrophied one,
        # shrunk by ``shrink_scale`` about the brain centre): the truth of a co-registration.
        "flair_pose_time01": np.round(geometry1.poses["flair"], 6).tolist(),
        "flair_pose_time02": np.round(geometry2.poses["flair"], 6).tolist(),
        **anatomy_record,
    }
    return SimulatedPatient(
        plan=plan,
        variant=variant,
        visits=(visit1, visit2),
        new_ids=new_ids,
        raters=raters,
        consensus=consensus,
        lesion_table=history,
        summary=summary,
    )
