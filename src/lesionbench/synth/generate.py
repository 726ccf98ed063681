"""One synthetic MS-SEG-2016-style case, end to end: anatomy -> lesions -> physics -> scanner -> raters.

:func:`simulate_case` is pure (arrays in memory, everything drawn from generators seeded by the
case seed); :func:`generate_case` writes its result in the MS-SEG 2016 distribution layout plus a
``truth/<Training|Testing>/Center_XX/Patient_YY/`` folder that no method or consensus reads. Named random streams
(``SeedSequence(case_seed, spawn_key=(k,))``) keep each part's draws independent of the others,
e.g. rater 3 draws the same whether there are 5 or 7 raters. The model and its steps:
``docs/synthetic-cohort.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.affines import voxel_sizes
from scipy import ndimage

from ..io import save_volume
from ..metrics.overlap import dice
from .acquisition import (
    Grid,
    bias_field,
    make_grid,
    psf_sigma_vox,
    quantize,
    rician_noise,
    rigid_pose,
    sample_at_voxels,
    sample_on_grid,
)
from .anatomy import SubjectWarp, TemplateAnatomy, load_template_anatomy, random_subject_warp
from .confounders import (
    Mimics,
    apply_lesion_rims,
    b1_field,
    gibbs_keep,
    mimic_signals,
    phase_axes,
    psf_voxels,
    truncate_kspace,
    vary_lesion_contrast,
)
from .lesions import Lesion, LesionMaps, LesionModel, render_lesions, sample_lesions
from .physics import modality_signal
from .plan import SYNTH_MODALITIES, TRUTH_TISSUES, CasePlan, Difficulty, Preset, case_files, get_preset
from .protocols import CENTER_PROTOCOLS, RELAXATION, TISSUES, CenterProtocol
from .raters import delineate, make_rater_panel, prepare_rater_inputs

#: Seed of the fixed rater panel: the same simulated experts read every case of every cohort.
RATER_PANEL_SEED = 20160617

_STREAMS = {
    "warp": 1,
    "lesions": 2,
    "pose": 3,
    "flair": 4,
    "t1": 5,
    "t2pd": 6,
    "t2": 7,
    "pd": 8,
    "mimics": 9,
    "b1": 10,
    "lesion_contrast": 11,
    "raters": 100,
}

#: FLAIR gain over normal white matter above which a confounder is off-limits to raters' false positives.
RATER_MIMIC_GAIN = 0.12


def _stream(seed: int, name: str, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(_STREAMS[name] + index,)))


@dataclass
class RawImage:
    data: np.ndarray
    affine: np.ndarray
    dtype: str
    scaled: bool
    description: str


@dataclass
class SimulatedCase:
    plan: CasePlan
    images: dict[str, RawImage]
    raters: list[np.ndarray]
    flair_affine: np.ndarray
    lesion_fraction: np.ndarray
    lesion_labels: np.ndarray
    tissues: dict[str, np.ndarray]
    lesion_table: pd.DataFrame
    transforms: dict
    warp_to_subject: tuple[np.ndarray, np.ndarray]
    summary: dict
    #: On the FLAIR grid: FLAIR gain of the non-lesion confounders over normal white matter.
    mimic_gain: np.ndarray | None = None

    @property
    def truth_mask(self) -> np.ndarray:
        return self.lesion_fraction >= 0.5

    @property
    def brain_mask(self) -> np.ndarray:
        return (sum(self.tissues.values()) + self.lesion_fraction) >= 0.5


def _voxels(axcodes: tuple[str, str, str], in_plane: float, through: float, slice_axes: str) -> tuple[float, ...]:
    return tuple(through if code in slice_axes else in_plane for code in axcodes)


def lesion_model_for(spec: Preset) -> LesionModel:
    return LesionModel(
        count_mean=spec.lesion_count_mean,
        volume_median_mm3=spec.lesion_volume_median_mm3,
        min_load_mm3=1000.0 * spec.lesion_load_min_ml,
    )


def _signal_maps(
    anatomy: TemplateAnatomy, lesion_maps: LesionMaps, protocol: CenterProtocol, field: float
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Step 3, tissue signal (no draws): noise-free signal per modality on the template grid.

    Tissues and lesions are mixed by their partial-volume fractions.
    """
    tissues = RELAXATION[field]
    wm = tissues["wm"]
    f = lesion_maps.fraction
    keep = 1.0 - f
    fractions = {"csf": anatomy.csf * keep, "gm": anatomy.gm * keep, "wm": anatomy.wm * keep}
    inside = lesion_maps.labels > 0
    les_pd = lesion_maps.pd[inside]
    les_t1 = wm.t1 * lesion_maps.t1_factor[inside]
    les_t2 = wm.t2 * lesion_maps.t2_factor[inside]
    les_t2s = wm.t2s * lesion_maps.t2_factor[inside] ** 0.8
    signals: dict[str, np.ndarray] = {}
    per_tissue: dict[str, dict[str, float]] = {}
    for modality in SYNTH_MODALITIES:
        tissue_signal = {
            k: float(
                modality_signal(
                    modality,
                    np.asarray(t.pd),
                    np.asarray(t.t1),
                    np.asarray(t.t2),
                    np.asarray(t.t2s),
                    protocol.flair,
                    protocol.t1,
                    protocol.dual_echo,
                )
            )
            for k, t in tissues.items()
        }
        per_tissue[modality] = tissue_signal
        # sum() of arrays starts from 0, so its static type is "array or 0"; it is an array here.
        image = cast(np.ndarray, sum(fractions[k] * tissue_signal[k] for k in TISSUES)).astype(np.float32)
        lesion_signal = modality_signal(
            modality, les_pd, les_t1, les_t2, les_t2s, protocol.flair, protocol.t1, protocol.dual_echo
        )
        image[inside] += f[inside] * lesion_signal.astype(np.float32)
        signals[modality] = image
    return signals, per_tissue


def _lesion_contrast(
    lesions: list[Lesion], protocol: CenterProtocol, field: float, per_tissue: dict[str, dict[str, float]]
) -> dict[str, np.ndarray]:
    wm = RELAXATION[field]["wm"]
    pd_ = np.array([les.pd for les in lesions])
    t1 = wm.t1 * np.array([les.t1_factor for les in lesions])
    t2 = wm.t2 * np.array([les.t2_factor for les in lesions])
    t2s = wm.t2s * np.array([les.t2_factor for les in lesions]) ** 0.8
    """Each lesion's signal relative to normal white matter, per modality (1 = no contrast)."""
    out = {}
    for modality in SYNTH_MODALITIES:
        s = modality_signal(modality, pd_, t1, t2, t2s, protocol.flair, protocol.t1, protocol.dual_echo)
        out[modality] = s / per_tissue[modality]["wm"]
    return out


def pairwise_dice(masks: list[np.ndarray]) -> list[float]:
    return [dice(masks[i], masks[j]) for i in range(len(masks)) for j in range(i + 1, len(masks))]


#: The series each modality is acquired in: T2 and PD are the two echoes of one series.
_SERIES_OF = {"flair": "flair", "t1": "t1", "t2": "t2pd", "pd": "t2pd"}


@dataclass(frozen=True)
class SeriesGeometry:
    """Where each series (``flair``, ``t1``, ``t2pd``) lies: its raw grid, pose, orientation and voxel."""

    grids: dict[str, Grid]
    poses: dict[str, np.ndarray]  # subject -> scanner world, session pose @ series motion
    axcodes: dict[str, tuple[str, str, str]]
    voxels: dict[str, tuple[float, ...]]


def _subject_anatomy(plan: CasePlan, spec: Preset, anatomy: TemplateAnatomy) -> tuple[SubjectWarp, float]:
    """Step 1, anatomy (stream ``warp``): ventricle enlargement, then the random subject warp."""
    warp_rng = _stream(plan.seed, "warp")
    ventricle_enlargement = float(warp_rng.uniform(0.0, 0.25))
    warp = random_subject_warp(anatomy, warp_rng, spec.deformation_mm, ventricle_enlargement)
    return warp, ventricle_enlargement


def _subject_lesions(
    plan: CasePlan, spec: Preset, anatomy: TemplateAnatomy, difficulty: Difficulty
) -> tuple[list[Lesion], float, LesionMaps]:
    """Step 2, lesions (stream ``lesions``; ``lesion_contrast`` for faintness, region contrast and
    rims): draw the lesions, vary their contrast, then render them on the template grid."""
    lesion_rng = _stream(plan.seed, "lesions")
    model = lesion_model_for(spec)
    lesions, severity = sample_lesions(anatomy, model, lesion_rng)
    vary_lesion_contrast(lesions, difficulty, _stream(plan.seed, "lesion_contrast"))
    lesion_maps = apply_lesion_rims(render_lesions(lesions, anatomy, model, lesion_rng), lesions)
    return lesions, severity, lesion_maps


def _series_geometry(
    plan: CasePlan, spec: Preset, protocol: CenterProtocol, anatomy: TemplateAnatomy
) -> SeriesGeometry:
    """Step 4, geometry (stream ``pose``): one session pose for the head, small motion between series."""
    pose_rng = _stream(plan.seed, "pose")
    centre = anatomy.brain_centre_mm()
    lo, hi = anatomy.brain_extent_mm()
    extent = (hi - lo) + 2.0 * spec.fov_margin_mm
    offset = np.asarray(protocol.head_position_mm) + pose_rng.uniform(-8.0, 8.0, 3)
    session = rigid_pose(pose_rng, centre, 6.0, 4.0, offset)
    grids: dict[str, Grid] = {}
    poses: dict[str, np.ndarray] = {}
    axcodes: dict[str, tuple[str, str, str]] = {}
    voxels: dict[str, tuple[float, ...]] = {}
    for series in ("flair", "t1", "t2pd"):
        motion = rigid_pose(pose_rng, centre, 1.5, 1.5, np.zeros(3))
        poses[series] = session @ motion
        fov_centre = (session @ np.append(centre, 1.0))[:3] + pose_rng.uniform(-4.0, 4.0, 3)
        if series == "t2pd":
            axcodes[series] = protocol.axcodes_2d
            voxels[series] = _voxels(
                protocol.axcodes_2d,
                spec.voxel_2d_mm[0] * protocol.voxel_2d[0],
                spec.voxel_2d_mm[1] * protocol.voxel_2d[1],
                "SI",
            )
        else:
            axcodes[series] = protocol.axcodes_3d
            voxels[series] = _voxels(
                protocol.axcodes_3d,
                spec.voxel_3d_mm * protocol.voxel_3d[0],
                spec.voxel_3d_mm * protocol.voxel_3d[1],
                "LR",
            )
        grids[series] = make_grid(axcodes[series], voxels[series], extent, fov_centre)
    return SeriesGeometry(grids=grids, poses=poses, axcodes=axcodes, voxels=voxels)


def _sample_series(
    signals: dict[str, np.ndarray],
    lesion_maps: LesionMaps,
    anatomy: TemplateAnatomy,
    warp: SubjectWarp,
    geometry: SeriesGeometry,
    psf: dict[str, tuple[float, ...]] | None = None,
    mimics: Mimics | None = None,
) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Step 5, imaging (no draws): blur each signal by its series' PSF and sample it on the raw grid.

    ``psf``: the voxel each series' PSF is built for (default the acquired voxel). Returns the
    noise-free image per modality and, on the FLAIR grid, the lesion fraction and the csf/gm/wm
    fractions (the truth maps), then, with ``mimics``, their FLAIR gain.
    """
    h = anatomy.spacing_mm
    axcodes, grids, poses = geometry.axcodes, geometry.grids, geometry.poses
    voxels = psf if psf is not None else geometry.voxels
    blurred = {
        m: ndimage.gaussian_filter(
            signals[m], sigma=psf_sigma_vox(axcodes[_SERIES_OF[m]], voxels[_SERIES_OF[m]], h), mode="constant"
        )
        for m in SYNTH_MODALITIES
    }
    keep = 1.0 - lesion_maps.fraction
    # Where anything can be non-zero after warping and blurring (see sample_on_grid).
    max_sigma_mm = max(max(psf_sigma_vox(axcodes[s], voxels[s], h)) for s in grids) * h
    support = anatomy.outside_distance_mm <= warp.max_displacement_mm + 3.0 * max_sigma_mm + 2.0 * h
    flair_maps = [blurred["flair"], lesion_maps.fraction, anatomy.csf * keep, anatomy.gm * keep, anatomy.wm * keep]
    orders = [1] * 5
    if mimics is not None:
        flair_maps.append(mimics.flair_gain)
        orders.append(1)
    sampled_flair = sample_on_grid(
        flair_maps, orders, anatomy.affine, grids["flair"], poses["flair"], warp.to_template, support
    )
    sampled = {"flair": sampled_flair[0]}
    sampled["t1"] = sample_on_grid(
        [blurred["t1"]], [1], anatomy.affine, grids["t1"], poses["t1"], warp.to_template, support
    )[0]
    sampled["t2"], sampled["pd"] = sample_on_grid(
        [blurred["t2"], blurred["pd"]], [1, 1], anatomy.affine, grids["t2pd"], poses["t2pd"], warp.to_template, support
    )
    return sampled, sampled_flair[1:]


def _scanner_images(
    plan: CasePlan,
    protocol: CenterProtocol,
    geometry: SeriesGeometry,
    sampled: dict[str, np.ndarray],
    per_tissue: dict[str, dict[str, float]],
    difficulty: Difficulty | None = None,
) -> dict[str, RawImage]:
    """Step 6, scanner (one stream per modality, ``t2pd`` for the shared T2/PD bias field).

    Per modality, in this order: k-space truncation of partial phase resolution (Gibbs ringing;
    no draws), bias field, white-matter level, Rician noise; then quantization to the center's
    stored type.
    """
    difficulty = difficulty if difficulty is not None else Difficulty.off()
    field = float(plan.field_strength)
    fmt = protocol.image_format
    images: dict[str, RawImage] = {}
    bias_t2pd = None
    for modality in SYNTH_MODALITIES:
        rng = _stream(plan.seed, modality)
        series = _SERIES_OF[modality]
        if series == "t2pd":
            if bias_t2pd is None:
                bias_t2pd = bias_field(geometry.grids[series].shape, protocol.bias, _stream(plan.seed, "t2pd"))
            bias = bias_t2pd
        else:
            bias = bias_field(geometry.grids[series].shape, protocol.bias, rng)
        wm_level = fmt.wm_level[modality] * float(rng.uniform(0.9, 1.1))
        gain = wm_level / per_tissue[modality]["wm"]
        keep = gibbs_keep(protocol, series, difficulty)
        signal = truncate_kspace(sampled[modality], phase_axes(geometry.axcodes[series], series), keep)
        noisy = rician_noise(signal * gain * bias, protocol.noise * wm_level, rng)
        stored = quantize(noisy, fmt.dtype, fmt.scaled)
        images[modality] = RawImage(
            data=stored,
            affine=geometry.grids[series].affine,
            dtype=fmt.dtype,
            scaled=fmt.scaled,
            description=f"lesionbench synth {plan.scanner} {field:g}T {modality}",
        )
    return images


def _truth_on_flair_grid(
    truth_maps: list[np.ndarray],
    lesion_maps: LesionMaps,
    anatomy: TemplateAnatomy,
    warp: SubjectWarp,
    geometry: SeriesGeometry,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Step 7, truth (no draws): lesion fraction, mask and owner ids, tissue fractions on the FLAIR grid."""
    flair_grid = geometry.grids["flair"]
    fraction = np.clip(truth_maps[0], 0.0, 1.0)
    truth = fraction >= 0.5
    labels = np.zeros(flair_grid.shape, np.int32)
    truth_idx = np.argwhere(truth)
    if truth_idx.size:
        # Owner ids grown by one template voxel: a nearest-neighbour lookup at a soft lesion edge
        # may otherwise land just outside the labelled voxels.
        grown = np.where(
            lesion_maps.labels > 0, lesion_maps.labels, ndimage.grey_dilation(lesion_maps.labels, size=3)
        ).astype(np.float32)
        (owner,) = sample_at_voxels(
            [grown], [0], anatomy.affine, flair_grid, geometry.poses["flair"], warp.to_template, truth_idx
        )
        labels[truth] = np.rint(owner).astype(np.int32)
        orphan = truth & (labels == 0)
        if orphan.any():
            # Vanishingly rare; keep mask, labels and fraction consistent by dropping them.
            fraction[orphan] = 0.0
            truth &= ~orphan
    tissues = {k: np.clip(v, 0.0, 1.0) for k, v in zip(TRUTH_TISSUES, truth_maps[1:4], strict=True)}
    return fraction, truth, labels, tissues


def _lesion_table(
    lesions: list[Lesion],
    truth: np.ndarray,
    labels: np.ndarray,
    fraction: np.ndarray,
    flair_affine: np.ndarray,
    voxel_volume: float,
    field: float,
    contrast: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Step 8, the truth lesion table: one row per lesion that kept at least one voxel on the FLAIR grid."""
    n_ids = len(lesions) + 1
    counts = np.bincount(labels.ravel(), minlength=n_ids)
    soft = np.bincount(labels.ravel(), weights=fraction.ravel(), minlength=n_ids)
    visible = [les for les in lesions if counts[les.lesion_id] > 0]
    idx = np.argwhere(truth)
    lab = labels[truth]
    centroids = {}
    if visible:
        sums = np.stack([np.bincount(lab, weights=idx[:, k], minlength=n_ids) for k in range(3)], axis=1)
        for les in visible:
            centroids[les.lesion_id] = sums[les.lesion_id] / counts[les.lesion_id]
    wm = RELAXATION[field]["wm"]
    rows = []
    for les in visible:
        cvox = centroids[les.lesion_id]
        cmm = (flair_affine @ np.append(cvox, 1.0))[:3]
        rows.append(
            {
                "lesion_id": les.lesion_id,
                "group": les.group,
                "region": les.region,
                "shape": les.shape,
                "black_hole": bool(les.black_hole),
                "faint": bool(les.faint),
                "rim": round(float(les.rim), 4),
                "volume_mm3": counts[les.lesion_id] * voxel_volume,
                "partial_volume_mm3": soft[les.lesion_id] * voxel_volume,
                "target_volume_mm3": les.target_volume_mm3,
                "n_voxels": int(counts[les.lesion_id]),
                "centroid_i": cvox[0],
                "centroid_j": cvox[1],
                "centroid_k": cvox[2],
                "centroid_x_mm": cmm[0],
                "centroid_y_mm": cmm[1],
                "centroid_z_mm": cmm[2],
                "template_x_mm": les.centre_mm[0],
                "template_y_mm": les.centre_mm[1],
                "template_z_mm": les.centre_mm[2],
                "pd": les.pd,
                "t1_ms": wm.t1 * les.t1_factor,
                "t2_ms": wm.t2 * les.t2_factor,
                **{f"contrast_{m}": float(contrast[m][les.lesion_id - 1]) for m in SYNTH_MODALITIES},
            }
        )
    return pd.DataFrame(rows)


def _delineate_raters(
    plan: CasePlan,
    n_raters: int,
    truth: np.ndarray,
    labels: np.ndarray,
    flair: np.ndarray,
    brain: np.ndarray,
    spacing: tuple[float, float, float],
    table: pd.DataFrame,
    exclude: np.ndarray | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Step 9, raters (stream ``raters`` + k for rater k; the panel from :data:`RATER_PANEL_SEED`).

    ``exclude``: voxels where no false-positive blob may land (the confounders: experts know
    them). Returns each rater's mask and, per row of ``table``, how many raters detected that lesion.
    """
    panel = make_rater_panel(n_raters, np.random.default_rng(RATER_PANEL_SEED))
    ids = table["lesion_id"].to_numpy(dtype=np.int64) if len(table) else np.zeros(0, np.int64)
    inputs = prepare_rater_inputs(
        truth,
        labels,
        flair,
        brain,
        spacing,
        ids,
        table["volume_mm3"].to_numpy() if len(table) else np.zeros(0),
        table["contrast_flair"].to_numpy() if len(table) else np.zeros(0),
        table["group"].to_numpy() if len(table) else np.zeros(0),
        exclude=exclude,
    )
    rater_masks = []
    detected_count = np.zeros(len(ids), dtype=int)
    for k in range(n_raters):
        mask, detected = delineate(inputs, panel[k], _stream(plan.seed, "raters", k))
        rater_masks.append(mask)
        detected_count += detected
    return rater_masks, detected_count


def _transforms_record(
    plan: CasePlan,
    n_raters: int,
    images: dict[str, RawImage],
    geometry: SeriesGeometry,
    warp: SubjectWarp,
    ventricle_enlargement: float,
) -> dict:
    """The ``truth_transforms`` JSON: how template, subject, scanner and raw voxels relate."""
    files = case_files(plan, n_raters)
    return {
        "template": "MNI ICBM152 2009 nlin sym (nilearn, 1 mm), world mm",
        "convention": (
            "template point q -> subject point x = q + u(q), u read from warp_template_to_subject.nii.gz "
            "(displacement in mm, last axis x,y,z, linear interpolation, edge values outside); "
            "subject point x -> scanner world y = pose @ [x, 1]; raw voxel v of an image sits at affine @ [v, 1] = y"
        ),
        "warp_file": "warp_template_to_subject.nii.gz",
        "images": {
            m: {
                "file": files[m],
                "affine": np.round(images[m].affine, 6).tolist(),
                "pose_subject_to_scanner": np.round(geometry.poses[_SERIES_OF[m]], 6).tolist(),
                "orientation": "".join(geometry.axcodes[_SERIES_OF[m]]),
                "voxel_mm": [round(v, 4) for v in geometry.voxels[_SERIES_OF[m]]],
                "shape": list(geometry.grids[_SERIES_OF[m]].shape),
            }
            for m in SYNTH_MODALITIES
        },
        "min_jacobian_subject_to_template": round(warp.min_jacobian, 4),
        "ventricle_enlargement": round(ventricle_enlargement, 4),
    }


def simulate_case(
    plan: CasePlan,
    preset: str,
    n_raters: int,
    anatomy: TemplateAnatomy | None = None,
    difficulty: Difficulty | None = None,
) -> SimulatedCase:
    """Simulate one case in memory: raw images, rater masks and truth, nothing written.

    ``anatomy``: the template anatomy on the preset's grid when the caller has it already
    (:func:`~lesionbench.synth.anatomy.read_template_anatomy`); built here otherwise.
    ``difficulty``: overrides the preset's (e.g. :meth:`Difficulty.off`, or one effect alone).
    The steps, each drawing only from its own named stream (``docs/synthetic-cohort.md``):
    anatomy, lesions, tissue signal, series geometry, imaging, scanner, truth, lesion table, raters.
    """
    spec = get_preset(preset)
    difficulty = difficulty if difficulty is not None else spec.difficulty
    case_files(plan, n_raters)  # validates n_raters
    protocol = CENTER_PROTOCOLS[plan.center]
    field = float(plan.field_strength)
    if anatomy is None:
        anatomy = load_template_anatomy(spec.anatomy_mm)
    elif not np.isclose(anatomy.spacing_mm, spec.anatomy_mm):
        raise ValueError(
            f"preset {preset} simulates on a {spec.anatomy_mm:g} mm anatomy, not {anatomy.spacing_mm:g} mm"
        )

    warp, ventricle_enlargement = _subject_anatomy(plan, spec, anatomy)
    lesions, severity, lesion_maps = _subject_lesions(plan, spec, anatomy, difficulty)
    signals, per_tissue = _signal_maps(anatomy, lesion_maps, protocol, field)
    mimics = mimic_signals(anatomy, lesion_maps.fraction, protocol, field, difficulty, _stream(plan.seed, "mimics"))
    b1 = b1_field(anatomy, protocol.b1_log_range * difficulty.b1, _stream(plan.seed, "b1"))
    for m in SYNTH_MODALITIES:
        signals[m] = (signals[m] + mimics.delta[m]) * b1
    geometry = _series_geometry(plan, spec, protocol, anatomy)
    psf = psf_voxels(geometry.voxels, geometry.axcodes, protocol, difficulty)
    sampled, truth_maps = _sample_series(signals, lesion_maps, anatomy, warp, geometry, psf, mimics)
    images = _scanner_images(plan, protocol, geometry, sampled, per_tissue, difficulty)
    flair_affine = geometry.grids["flair"].affine
    fraction, truth, labels, tissues = _truth_on_flair_grid(truth_maps, lesion_maps, anatomy, warp, geometry)
    contrast = _lesion_contrast(lesions, protocol, field, per_tissue)
    sx, sy, sz = (float(s) for s in voxel_sizes(flair_affine))
    spacing = (sx, sy, sz)
    voxel_volume = float(np.prod(spacing))
    table = _lesion_table(lesions, truth, labels, fraction, flair_affine, voxel_volume, field, contrast)

    brain = (sum(tissues.values()) + fraction) >= 0.5
    flair = images["flair"].data.astype(np.float32)
    mimic_gain = truth_maps[4]
    # Experts do not outline the confounders: no false-positive blob (radius <= 2.2 mm) reaches them.
    reach = np.ceil(2.5 / np.array(spacing)).astype(int)
    ball = np.ones(tuple(2 * r + 1 for r in reach), bool)
    exclude = ndimage.binary_dilation(mimic_gain >= RATER_MIMIC_GAIN, structure=ball)
    rater_masks, detected_count = _delineate_raters(
        plan, n_raters, truth, labels, flair, brain, spacing, table, exclude
    )
    if len(table):
        table["n_raters_detected"] = detected_count

    pair = pairwise_dice(rater_masks)
    summary = {
        "case_id": plan.case_id,
        "preset": preset,
        "seed": plan.seed,
        "center": plan.center,
        "scanner": plan.scanner,
        "field_strength": field,
        "split": plan.split,
        "severity": round(severity, 4),
        "n_lesions_drawn": len(lesions),
        "n_lesions_visible": len(table),
        "lesion_load_ml": round(float(truth.sum()) * voxel_volume / 1000.0, 4),
        "snr_wm": round(1.0 / protocol.noise, 2),
        "bias_log_range": protocol.bias,
        "n_raters": n_raters,
        "rater_pairwise_dice_mean": round(float(np.mean(pair)), 4) if pair else None,
        "rater_dice_vs_truth": [round(dice(m, truth), 4) for m in rater_masks],
        "flair_lesion_contrast_median": round(float(np.median(contrast["flair"])), 4) if lesions else None,
        "n_lesions_faint": int(sum(les.faint for les in lesions)),
        "difficulty": {k: float(v) for k, v in vars(difficulty).items()},
    }
    return SimulatedCase(
        plan=plan,
        images=images,
        raters=rater_masks,
        flair_affine=flair_affine,
        lesion_fraction=fraction,
        lesion_labels=labels,
        tissues=tissues,
        lesion_table=table,
        transforms=_transforms_record(plan, n_raters, images, geometry, warp, ventricle_enlargement),
        warp_to_subject=(warp.to_subject.field, warp.to_subject.affine),
        summary=summary,
        mimic_gain=mimic_gain,
    )


def _write_raw(path: Path, image: RawImage) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(image.data, image.affine)
    img.set_qform(image.affine, code=1)
    img.set_sform(image.affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    # Float data into an integer type: nibabel picks slope/intercept (Philips-style scaling).
    img.set_data_dtype(np.dtype(image.dtype))
    img.header["descrip"] = image.description[:79].encode("ascii")
    nib.save(img, str(path))


def _write_fraction(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # uint8 with slope 1/255: fractions to 0.4 %, a quarter of the bytes of float32.
    quantized = np.rint(np.clip(data, 0.0, 1.0) * 255.0).astype(np.uint8)
    img = nib.Nifti1Image(quantized, affine)
    img.header.set_slope_inter(1.0 / 255.0, 0.0)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, str(path))


def write_case(case: SimulatedCase, n_raters: int, out_root: Path) -> dict[str, Path]:
    """Write a simulated case; returns the absolute path of every file, keyed as in :func:`case_files`."""
    out_root = Path(out_root)
    rel = case_files(case.plan, n_raters)
    paths = {k: out_root / v for k, v in rel.items()}
    for modality in SYNTH_MODALITIES:
        _write_raw(paths[modality], case.images[modality])
    for k, mask in enumerate(case.raters, start=1):
        save_volume(paths[f"rater{k}"], mask.astype(np.uint8), case.flair_affine)
    save_volume(paths["truth_lesions"], case.truth_mask.astype(np.uint8), case.flair_affine)
    save_volume(paths["truth_lesion_labels"], case.lesion_labels.astype(np.uint16), case.flair_affine)
    save_volume(paths["truth_brain_mask"], case.brain_mask.astype(np.uint8), case.flair_affine)
    for tissue in TRUTH_TISSUES:
        _write_fraction(paths[f"truth_tissue_{tissue}"], case.tissues[tissue], case.flair_affine)
    field, affine = case.warp_to_subject
    save_volume(paths["truth_warp"], field.astype(np.float32), affine)
    case.lesion_table.to_csv(paths["truth_lesion_table"], sep="\t", index=False, float_format="%.6g")
    paths["truth_transforms"].write_text(json.dumps(case.transforms, indent=1, sort_keys=True) + "\n")
    paths["truth_summary"].write_text(json.dumps(case.summary, indent=1, sort_keys=True) + "\n")
    return paths


def generate_case(
    plan: CasePlan, preset: str, n_raters: int, out_root: Path, anatomy: TemplateAnatomy | None = None
) -> None:
    """Simulate one case and write it under ``out_root`` (MS-SEG 2016 layout + ``truth/``)."""
    write_case(simulate_case(plan, preset, n_raters, anatomy), n_raters, Path(out_root))
