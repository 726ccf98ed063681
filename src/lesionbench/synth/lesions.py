"""Random MS lesion populations placed in template white matter, rendered as soft fractions.

Model (``docs/synthetic-cohort.md``, "Lesions"):

* count per subject ~ negative binomial (overdispersed; mean scaled by a subject severity);
* volume per lesion ~ log-normal (median tens of mm^3, long tail to several mL), larger for
  periventricular lesions; total loads from well under 1 mL to tens of mL;
* region mix about 35 % periventricular, 35 % deep, 20 % juxtacortical, 10 % infratentorial
  (Pongratz et al., NeuroImage Clin 2023; Filippi et al., Lancet Neurol 2019), periventricular
  ovoids oriented perpendicular to the ventricle wall (Dawson fingers);
* ovoid (ellipsoid) or irregular (ellipsoid with a random low-frequency boundary ripple)
  shapes, some confluent (satellites touching a parent lesion);
* per-lesion relaxation factors relative to normal white matter: T1 x1.3-1.8 (x1.9-2.3 for
  "black holes", with T2 x3-4), T2 x1.7-3.2, PD 0.80-0.92, with a brighter core and soft (sigmoid) edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from .anatomy import LESION_REGIONS, TemplateAnatomy


@dataclass(frozen=True)
class LesionModel:
    count_mean: float
    volume_median_mm3: float
    count_dispersion: float = 1.5
    volume_sigma: float = 1.0
    severity_sigma: float = 0.75
    max_volume_mm3: float = 8000.0
    region_weights: tuple[float, ...] = (0.35, 0.35, 0.20, 0.10)
    region_volume_factor: tuple[float, ...] = (2.0, 1.0, 0.7, 0.8)
    irregular_fraction: float = 0.4
    black_hole_fraction: float = 0.15
    confluence_rate: float = 0.12
    edge_mm: float = 0.4
    #: Subject floor on the summed target volume (mm^3): lesions are drawn beyond the sampled count
    #: until it is reached (at most ``max_count`` lesions). 0 = no floor.
    min_load_mm3: float = 0.0
    max_count: int = 150


@dataclass
class Lesion:
    lesion_id: int
    group: int
    region: str
    shape: str
    centre_mm: np.ndarray
    semi_axes_mm: np.ndarray
    rotation: np.ndarray
    target_volume_mm3: float
    t1_factor: float
    t2_factor: float
    pd: float
    black_hole: bool
    ripple_dirs: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    ripple_freq: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ripple_phase: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ripple_amp: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Set by :func:`~lesionbench.synth.confounders.vary_lesion_contrast`: prolongation cut (faint)
    #: and the fraction of the core's prolongation reached at the rim (1 = uniform).
    faint: bool = False
    rim: float = 1.0


def _relaxation(rng: np.random.Generator, model: LesionModel) -> tuple[float, float, float, bool]:
    black_hole = bool(rng.random() < model.black_hole_fraction)
    if black_hole:
        # Black holes stay FLAIR-bright: T2 prolongation outpaces the longer T1.
        return float(rng.uniform(1.9, 2.3)), float(rng.uniform(3.0, 4.0)), float(rng.uniform(0.86, 0.95)), True
    return float(rng.uniform(1.3, 1.8)), float(rng.uniform(1.7, 3.2)), float(rng.uniform(0.80, 0.92)), False


def _shape(
    rng: np.random.Generator, volume: float, model: LesionModel, long_axis: np.ndarray | None
) -> tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    b = rng.uniform(1.0, 1.5)
    c = rng.uniform(1.2, 2.3)
    r = (3.0 * volume / (4.0 * np.pi * b * c)) ** (1.0 / 3.0)
    axes = np.array([r, r * b, r * c])
    if long_axis is not None and np.linalg.norm(long_axis) > 1e-6:
        # Local z (the long axis) along the given direction, random spin about it.
        z = long_axis / np.linalg.norm(long_axis)
        helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        x = np.cross(helper, z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        spin = Rotation.from_rotvec(z * rng.uniform(0, 2 * np.pi)).as_matrix()
        rot = spin @ np.stack([x, y, z], axis=1)
    else:
        rot = Rotation.random(random_state=rng).as_matrix()
    irregular = rng.random() < model.irregular_fraction
    n = 4
    dirs = rng.standard_normal((n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    amp_total = rng.uniform(0.15, 0.35) if irregular else rng.uniform(0.0, 0.05)
    ripple = {
        "dirs": dirs,
        "freq": rng.uniform(2.0, 5.0, n),
        "phase": rng.uniform(0, 2 * np.pi, n),
        "amp": amp_total * rng.dirichlet(np.ones(n)),
    }
    return ("irregular" if irregular else "ovoid"), axes, rot, ripple


def sample_lesions(
    anatomy: TemplateAnatomy, model: LesionModel, rng: np.random.Generator
) -> tuple[list[Lesion], float]:
    """Draw one subject's lesions in template space; returns them and the subject severity."""
    severity = float(rng.lognormal(0.0, model.severity_sigma))
    mean = model.count_mean * severity**0.5
    r = model.count_dispersion
    count = int(np.clip(rng.negative_binomial(r, r / (r + mean)), 2, model.max_count))
    min_volume = max(6.0, 0.7 * anatomy.spacing_mm**3)
    weights = np.array(model.region_weights) / np.sum(model.region_weights)
    shape = anatomy.shape
    lesions: list[Lesion] = []
    load = 0.0

    def wanted() -> bool:
        # the sampled count first; then more lesions while the load is under the floor (no extra
        # draw when the count already reaches it, so such subjects are as without a floor)
        return len(lesions) < count or (load < model.min_load_mm3 and len(lesions) < model.max_count)

    group = 0
    while wanted():
        region_i = int(rng.choice(len(LESION_REGIONS), p=weights))
        region = LESION_REGIONS[region_i]
        pool = anatomy.candidates[region]
        if pool.size == 0:
            continue
        vox = np.array(np.unravel_index(int(rng.choice(pool)), shape), dtype=float)
        vox += rng.uniform(-0.5, 0.5, 3)
        centre = (anatomy.affine @ np.append(vox, 1.0))[:3]
        median = model.volume_median_mm3 * model.region_volume_factor[region_i] * severity**0.7
        volume = float(np.clip(rng.lognormal(np.log(median), model.volume_sigma), min_volume, model.max_volume_mm3))
        long_axis = _ventricle_normal(anatomy, vox) if region == "periventricular" else None
        group += 1
        members = [(centre, volume, long_axis)]
        # Confluent satellites: more likely in high-load subjects, near the ventricles.
        if region in ("periventricular", "deep") and rng.random() < min(0.6, model.confluence_rate * severity):
            n_sat = int(rng.integers(1, 4))
            parent_r = (3 * volume / (4 * np.pi)) ** (1 / 3)
            for _ in range(n_sat):
                sat_volume = float(np.clip(volume * rng.uniform(0.3, 1.0), min_volume, model.max_volume_mm3))
                sat_r = (3 * sat_volume / (4 * np.pi)) ** (1 / 3)
                direction = rng.standard_normal(3)
                direction /= np.linalg.norm(direction)
                sat_centre = centre + direction * (parent_r + sat_r) * rng.uniform(0.55, 0.85)
                members.append((sat_centre, sat_volume, long_axis))
        for centre_i, volume_i, axis_i in members:
            if not wanted():
                break
            kind, axes, rot, ripple = _shape(rng, volume_i, model, axis_i)
            t1f, t2f, pd, black_hole = _relaxation(rng, model)
            lesions.append(
                Lesion(
                    lesion_id=len(lesions) + 1,
                    group=group,
                    region=region,
                    shape=kind,
                    centre_mm=np.asarray(centre_i, dtype=float),
                    semi_axes_mm=axes,
                    rotation=rot,
                    target_volume_mm3=volume_i,
                    t1_factor=t1f,
                    t2_factor=t2f,
                    pd=pd,
                    black_hole=black_hole,
                    ripple_dirs=ripple["dirs"],
                    ripple_freq=ripple["freq"],
                    ripple_phase=ripple["phase"],
                    ripple_amp=ripple["amp"],
                )
            )
            load += volume_i
    return lesions, severity


def _ventricle_normal(anatomy: TemplateAnatomy, vox: np.ndarray) -> np.ndarray:
    """Direction of steepest increase of the distance to the ventricles at a voxel (mm axes)."""
    d = anatomy.ventricle_distance_mm
    i = np.clip(np.round(vox).astype(int), 1, np.array(d.shape) - 2)
    grad = np.array(
        [
            d[i[0] + 1, i[1], i[2]] - d[i[0] - 1, i[1], i[2]],
            d[i[0], i[1] + 1, i[2]] - d[i[0], i[1] - 1, i[2]],
            d[i[0], i[1], i[2] + 1] - d[i[0], i[1], i[2] - 1],
        ]
    )
    return anatomy.affine[:3, :3] @ grad


@dataclass(frozen=True)
class LesionMaps:
    """Lesions on the template grid: soft fraction, owning lesion id, per-voxel relaxation factors."""

    fraction: np.ndarray
    labels: np.ndarray
    t1_factor: np.ndarray
    t2_factor: np.ndarray
    pd: np.ndarray
    #: 0 at the owning lesion's border, 1 at its centre (normalised ellipsoidal depth).
    depth: np.ndarray | None = None


def render_lesions(
    lesions: list[Lesion], anatomy: TemplateAnatomy, model: LesionModel, rng: np.random.Generator
) -> LesionMaps:
    """Soft lesion fractions on the template grid (each voxel owned by its strongest lesion)."""
    shape = anatomy.shape
    h = anatomy.spacing_mm
    # Edge no sharper than the grid can carry, so small lesions keep their partial volume.
    edge = max(model.edge_mm, 0.3 * h)
    fraction = np.zeros(shape, np.float32)
    labels = np.zeros(shape, np.int32)
    depth = np.zeros(shape, np.float32)
    inv = np.linalg.inv(anatomy.affine)
    for lesion in lesions:
        reach = lesion.semi_axes_mm.max() * (1.0 + lesion.ripple_amp.sum()) + 4 * edge + h
        centre_vox = inv[:3, :3] @ lesion.centre_mm + inv[:3, 3]
        lo = np.maximum(np.floor(centre_vox - reach / h).astype(int), 0)
        hi = np.minimum(np.ceil(centre_vox + reach / h).astype(int) + 1, shape)
        if np.any(hi <= lo):
            continue
        box = tuple(slice(lo[k], hi[k]) for k in range(3))
        grid = np.stack(np.meshgrid(*[np.arange(lo[k], hi[k]) for k in range(3)], indexing="ij"), axis=-1)
        rel = grid @ anatomy.affine[:3, :3].T + anatomy.affine[:3, 3] - lesion.centre_mm
        local = rel @ lesion.rotation
        rho = np.linalg.norm(local / lesion.semi_axes_mm, axis=-1)
        norm = np.linalg.norm(local, axis=-1, keepdims=True)
        direction = local / np.maximum(norm, 1e-9)
        ripple = (
            np.sin((direction @ lesion.ripple_dirs.T) * lesion.ripple_freq + lesion.ripple_phase) @ lesion.ripple_amp
        )
        radius = float(np.cbrt(np.prod(lesion.semi_axes_mm)))
        signed = (1.0 + ripple - rho) * radius
        frac = (1.0 / (1.0 + np.exp(-signed / edge))).astype(np.float32)
        sub_f = fraction[box]
        take = frac > sub_f
        sub_f[take] = frac[take]
        labels[box][take] = lesion.lesion_id
        depth[box][take] = np.clip((1.0 + ripple - rho) / (1.0 + ripple), 0.0, 1.0)[take]
    # Lesions live in parenchyma: never in ventricles, sulci or outside the brain.
    fraction = np.minimum(fraction, anatomy.gm + anatomy.wm)
    labels[fraction < 0.01] = 0
    fraction[labels == 0] = 0.0
    t1f = np.ones(shape, np.float32)
    t2f = np.ones(shape, np.float32)
    pd = np.zeros(shape, np.float32)
    if lesions:
        lut_t1 = np.array([1.0] + [les.t1_factor for les in lesions], np.float32)
        lut_t2 = np.array([1.0] + [les.t2_factor for les in lesions], np.float32)
        lut_pd = np.array([0.0] + [les.pd for les in lesions], np.float32)
        # Smooth within-lesion heterogeneity (~6 %) and a core brighter on T2 than the rim.
        texture = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma=max(1.0, 1.5 / h))
        texture /= max(float(texture.std()), 1e-6)
        texture = 1.0 + 0.06 * np.clip(texture, -3, 3)
        inside = labels > 0
        t1f[inside] = lut_t1[labels[inside]] * texture[inside]
        t2f[inside] = lut_t2[labels[inside]] * texture[inside] * (0.85 + 0.3 * fraction[inside])
        pd[inside] = lut_pd[labels[inside]]
    depth[labels == 0] = 0.0
    return LesionMaps(fraction=fraction, labels=labels, t1_factor=t1f, t2_factor=t2f, pd=pd, depth=depth)
