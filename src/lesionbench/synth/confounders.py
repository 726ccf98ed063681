"""Realistic difficulty: FLAIR-bright structures that are not lesions, heterogeneous lesions, scanner artifacts.

Everything here is switched and scaled by the preset's :class:`~lesionbench.synth.plan.Difficulty`
(0 = off) and drawn from the case's own named streams, so the truth, the lesion geometry and the
other draws do not move when an effect is switched. The model and its published grounds:
``docs/synthetic-cohort.md``, "Realistic difficulty".

* :func:`mimic_signals`: per-voxel changes of tissue parameters on the template grid, turned into
  signal changes per modality by the same sequence equations as the tissues (so every effect has
  the contrast sign physics gives it): the ependymal lining and periventricular caps, the septum
  pellucidum and the choroid plexus, CSF inflow in the third and fourth ventricles (FLAIR only),
  mildly hyperintense cortex and "dirty-appearing" white matter. They act on the non-lesion
  fraction of each voxel only: the truth is untouched.
* :func:`vary_lesion_contrast` and :func:`apply_lesion_rims`: faint lesions, lower contrast of
  juxtacortical and (on FLAIR) infratentorial lesions, a core/rim profile.
* :func:`b1_field`, :func:`truncate_kspace`, :func:`psf_voxels`: transmit-field central
  brightening, Gibbs ringing of partial phase resolution, a wider-than-nominal 2-D slice profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage

from .anatomy import TemplateAnatomy
from .lesions import Lesion, LesionMaps
from .physics import modality_signal
from .plan import SYNTH_MODALITIES, Difficulty
from .protocols import RELAXATION, CenterProtocol, Tissue

#: The non-lesion confounders, as named in :class:`~lesionbench.synth.plan.Difficulty`.
MIMICS: tuple[str, ...] = ("ependymal", "septum_choroid", "csf_inflow", "cortex", "dirty_wm")

#: Tissue-parameter factors at full weight: (T1, T2, PD) relative to the tissue they modify.
#: Periventricular lining/caps: loosely packed, gliotic, water-rich tissue (T2 and T1 up).
EPENDYMAL_FACTORS = (1.22, 1.65, 1.05)
#: "Dirty-appearing" white matter: a diffuse step between NAWM and lesion.
DIRTY_WM_FACTORS = (1.1, 1.28, 1.02)
#: Hyperintense cortex: a mild T2 prolongation of grey matter.
CORTEX_FACTORS = (1.04, 1.18, 1.02)
#: Septum pellucidum and choroid plexus, relative to white matter (they replace CSF).
SEPTUM_FACTORS = (1.25, 1.6, 1.05)
CHOROID_FACTORS = (1.4, 1.9, 1.1)


@dataclass(frozen=True)
class Mimics:
    """Non-lesion signal changes on the template grid.

    ``delta``: signal change per modality (same units as the tissue signals); ``flair_gain``:
    the FLAIR change relative to normal white matter's FLAIR signal (0 = none).
    """

    delta: dict[str, np.ndarray]
    flair_gain: np.ndarray


def _signal(modality: str, tissue: Tissue | tuple, protocol: CenterProtocol) -> np.ndarray:
    if isinstance(tissue, Tissue):
        pd, t1, t2, t2s = tissue.pd, tissue.t1, tissue.t2, tissue.t2s
    else:
        pd, t1, t2, t2s = tissue
    return np.asarray(
        modality_signal(
            modality,
            np.asarray(pd),
            np.asarray(t1),
            np.asarray(t2),
            np.asarray(t2s),
            protocol.flair,
            protocol.t1,
            protocol.dual_echo,
        ),
        dtype=np.float64,
    )


def _mni(anatomy: TemplateAnatomy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MNI coordinates (mm) of the template grid as open (broadcastable) x, y, z axes."""
    axes = [anatomy.affine[i, i] * np.arange(n) + anatomy.affine[i, 3] for i, n in enumerate(anatomy.shape)]
    x, y, z = (a.astype(np.float32) for a in axes)
    return x[:, None, None], y[None, :, None], z[None, None, :]


def lateral_ventricles(anatomy: TemplateAnatomy) -> np.ndarray:
    """The lateral ventricles: the template's deep CSF in a box of MNI space (mm) that excludes the
    interhemispheric fissure, the third and fourth ventricles and the insular cisterns."""
    x, y, z = _mni(anatomy)
    box = (np.abs(x) >= 2.0) & (np.abs(x) <= 34.0) & (y >= -62.0) & (y <= 34.0) & (z >= -4.0) & (z <= 30.0)
    return anatomy.ventricles & box


def _smooth_field(shape: tuple[int, ...], sigma_vox: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-smoothed white noise, unit SD, drawn on a grid twice as coarse (cheap, same look)."""
    coarse = tuple(max(2, int(np.ceil(n / 2))) for n in shape)
    noise = ndimage.gaussian_filter(rng.standard_normal(coarse).astype(np.float32), sigma=max(sigma_vox / 2, 0.5))
    noise /= max(float(noise.std()), 1e-9)
    zoom = [n / c for n, c in zip(shape, coarse)]
    out = ndimage.zoom(noise, zoom, order=1, mode="nearest", grid_mode=True)
    return out[tuple(slice(0, n) for n in shape)].astype(np.float32)


def _blob(mni: tuple[np.ndarray, np.ndarray, np.ndarray], centre: np.ndarray, radius_mm: np.ndarray) -> np.ndarray:
    """A Gaussian blob (1 at ``centre``), separable: cheap on the whole grid."""
    parts = [np.exp(-0.5 * ((a - c) / r) ** 2) for a, c, r in zip(mni, centre, radius_mm)]
    return (parts[0] * parts[1] * parts[2]).astype(np.float32)


def _distance_to(mask: np.ndarray, spacing_mm: float, within_mm: float) -> np.ndarray:
    """Distance (mm) to ``mask``, exact up to ``within_mm`` (computed in the mask's box plus that margin)."""
    out = np.full(mask.shape, np.float32(within_mm + 1.0))
    where = np.argwhere(mask)
    pad = int(np.ceil(within_mm / spacing_mm)) + 1
    lo = np.maximum(where.min(axis=0) - pad, 0)
    hi = np.minimum(where.max(axis=0) + pad + 1, mask.shape)
    box = tuple(slice(lo[k], hi[k]) for k in range(3))
    out[box] = ndimage.distance_transform_edt(~mask[box], sampling=(spacing_mm,) * 3)
    return np.minimum(out, np.float32(within_mm + 1.0))


def mimic_weights(anatomy: TemplateAnatomy, difficulty: Difficulty, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weight (0-1) of each confounder per template voxel, before its scale; absent ones omitted.

    Draws (in this order, whatever is switched off): the caps' depth, the cortex field, the
    dirty-white-matter field, the inflow field and its strength, the choroid plexus offsets.
    """
    h = anatomy.spacing_mm
    shape = anatomy.shape
    cap_depth_mm = float(rng.uniform(2.5, 4.5))
    cortex_noise = _smooth_field(shape, 12.0 / h, rng)
    dawm_noise = _smooth_field(shape, 7.0 / h, rng)
    inflow_noise = _smooth_field(shape, 3.0 / h, rng)
    inflow_strength = float(rng.uniform(0.5, 1.0))
    choroid_shift = rng.uniform(-3.0, 3.0, (2, 3))
    mni = _mni(anatomy)
    x, y, z = mni
    weights: dict[str, np.ndarray] = {}
    lateral = lateral_ventricles(anatomy)
    if difficulty.ependymal > 0 and lateral.any():
        dist = _distance_to(lateral, h, 10.0)
        ys = np.broadcast_to(y, shape)[lateral]
        front, back = float(ys.max()), float(ys.min())
        # Caps at the frontal and occipital horn tips; a thin lining along the whole wall.
        horn = np.exp(-0.5 * ((y - front) / 9.0) ** 2) + np.exp(-0.5 * ((y - back) / 12.0) ** 2)
        reach = 1.0 + cap_depth_mm * np.clip(horn, 0.0, 1.0)
        lining = np.where(lateral, 0.0, np.exp(-np.maximum(dist - 0.5 * h, 0.0) / reach))
        weights["ependymal"] = (lining * (dist <= 10.0)).astype(np.float32)
    if difficulty.septum_choroid > 0 and lateral.any():
        # Septum: a midline sheet between the frontal horns and bodies; choroid plexus: a glomus in
        # each atrium (posterior body, lateral). Both replace ventricular CSF.
        ys = np.broadcast_to(y, shape)[lateral]
        front, back = float(ys.max()), float(ys.min())
        sheet = np.exp(-0.5 * (x / max(0.8, 0.5 * h)) ** 2) * (y > back + 0.45 * (front - back)) * (z > 0.0)
        septum = sheet * (_distance_to(lateral, h, 4.0) <= 4.0)
        atrium_y = back + 0.22 * (front - back)
        choroid = np.zeros(shape, np.float32)
        for side, shift in zip((-1.0, 1.0), choroid_shift):
            centre = np.array([side * 24.0, atrium_y, 14.0]) + shift
            choroid = np.maximum(choroid, _blob(mni, centre, np.array([5.0, 7.0, 5.0])))
        weights["septum"] = np.clip(septum, 0.0, 1.0).astype(np.float32)
        weights["choroid"] = (choroid * lateral).astype(np.float32)
    if difficulty.csf_inflow > 0:
        third = _blob(mni, np.array([0.0, -12.0, 2.0]), np.array([3.5, 11.0, 7.0]))
        fourth = _blob(mni, np.array([0.0, -47.0, -33.0]), np.array([6.0, 5.0, 7.0]))
        pulsation = np.clip(0.6 + 0.4 * inflow_noise, 0.0, 1.0)
        weights["csf_inflow"] = (np.maximum(third, fourth) * pulsation * inflow_strength).astype(np.float32)
    if difficulty.cortex > 0:
        weights["cortex"] = np.clip(0.5 + 0.35 * cortex_noise, 0.0, 1.0).astype(np.float32)
    if difficulty.dirty_wm > 0:
        # Patchy, smooth and low-amplitude; most often in the deep and periventricular white matter.
        deep = np.exp(-np.maximum(anatomy.ventricle_distance_mm - 4.0, 0.0) / 18.0)
        weights["dirty_wm"] = (np.clip(dawm_noise - 0.3, 0.0, 1.5) / 1.5 * deep * (z > -15.0)).astype(np.float32)
    return weights


def mimic_signals(
    anatomy: TemplateAnatomy,
    lesion_fraction: np.ndarray,
    protocol: CenterProtocol,
    field: float,
    difficulty: Difficulty,
    rng: np.random.Generator,
) -> Mimics:
    """Signal change per modality of every confounder (template grid), and where FLAIR shows them."""
    tissues = RELAXATION[field]
    keep = 1.0 - lesion_fraction
    weights = mimic_weights(anatomy, difficulty, rng)
    wm_flair = float(_signal("flair", tissues["wm"], protocol))
    delta = {m: np.zeros(anatomy.shape, np.float32) for m in SYNTH_MODALITIES}
    flair_gain = np.zeros(anatomy.shape, np.float32)

    def modified(frac: np.ndarray, base: Tissue, w: np.ndarray, factors: tuple, scale: float) -> None:
        sel = (w * frac) > 1e-3
        if not sel.any():
            return
        ws = np.clip(w[sel] * scale, 0.0, 2.0).astype(np.float64)
        t1 = base.t1 * (1.0 + ws * (factors[0] - 1.0))
        t2 = base.t2 * (1.0 + ws * (factors[1] - 1.0))
        pd = base.pd * (1.0 + ws * (factors[2] - 1.0))
        t2s = base.t2s * (t2 / base.t2) ** 0.8
        for m in SYNTH_MODALITIES:
            change = frac[sel] * (_signal(m, (pd, t1, t2, t2s), protocol) - _signal(m, base, protocol))
            delta[m][sel] += change.astype(np.float32)
            if m == "flair":
                flair_gain[sel] += (change / wm_flair).astype(np.float32)

    def replaced(w: np.ndarray, factors: tuple, scale: float) -> None:
        """A membrane or plexus taking the place of a fraction ``w`` of the voxel's CSF."""
        frac = np.clip(w * scale, 0.0, 1.0) * anatomy.csf * keep
        sel = frac > 1e-3
        if not sel.any():
            return
        wm = tissues["wm"]
        tissue = Tissue(
            pd=wm.pd * factors[2], t1=wm.t1 * factors[0], t2=wm.t2 * factors[1], t2s=wm.t2s * factors[1] ** 0.8
        )
        for m in SYNTH_MODALITIES:
            change = frac[sel] * float(_signal(m, tissue, protocol) - _signal(m, tissues["csf"], protocol))
            delta[m][sel] += change.astype(np.float32)
            if m == "flair":
                flair_gain[sel] += (change / wm_flair).astype(np.float32)

    if "ependymal" in weights:
        w = weights["ependymal"]
        modified(anatomy.wm * keep, tissues["wm"], w, EPENDYMAL_FACTORS, difficulty.ependymal)
        modified(anatomy.gm * keep, tissues["gm"], w, EPENDYMAL_FACTORS, difficulty.ependymal)
    if "septum" in weights:
        replaced(weights["septum"], SEPTUM_FACTORS, 0.8 * difficulty.septum_choroid)
        replaced(weights["choroid"], CHOROID_FACTORS, difficulty.septum_choroid)
    if "csf_inflow" in weights:
        # Spins flowing in between inversion and readout were never inverted: they are not nulled.
        csf = tissues["csf"]
        p = protocol.flair
        uninverted = csf.pd * (1.0 - np.exp(-p.tr / csf.t1)) * np.exp(-p.te / csf.t2)
        frac = anatomy.csf * keep * np.clip(0.5 * difficulty.csf_inflow * weights["csf_inflow"], 0.0, 1.0)
        change = frac * float(uninverted - _signal("flair", csf, protocol))
        delta["flair"] += change.astype(np.float32)
        flair_gain += (change / wm_flair).astype(np.float32)
    if "cortex" in weights:
        modified(anatomy.gm * keep, tissues["gm"], weights["cortex"], CORTEX_FACTORS, difficulty.cortex)
    if "dirty_wm" in weights:
        modified(anatomy.wm * keep, tissues["wm"], weights["dirty_wm"], DIRTY_WM_FACTORS, difficulty.dirty_wm)
    return Mimics(delta=delta, flair_gain=flair_gain)


def vary_lesion_contrast(lesions: list[Lesion], difficulty: Difficulty, rng: np.random.Generator) -> None:
    """Faint lesions, region-dependent contrast and a rim level per lesion (in place).

    Every lesion draws the same five numbers whatever is switched on, so switching one effect
    leaves the others' draws alone. Relaxation factors are prolongations relative to NAWM: a
    lesion made fainter keeps its sign but moves towards 1. With ``faint_fraction`` > 0 every
    lesion's prolongation also varies by a log-normal factor (SD 0.2), the others' by less.
    """
    wm_pd = RELAXATION[3.0]["wm"].pd  # the same at 1.5 T
    for lesion in lesions:
        u_faint, faint_cut, region_cut, rim = rng.random(4)
        spread = float(np.exp(0.2 * rng.standard_normal())) if difficulty.faint_fraction > 0 else 1.0
        t1_gain = t2_gain = pd_gain = min(spread, 1.3)
        # Black holes are conspicuous by definition; cutting their long T1 could brighten FLAIR.
        if u_faint < difficulty.faint_fraction and not lesion.black_hole:
            lesion.faint = True
            cut = 0.15 + 0.25 * faint_cut  # keep 15-40 % of the prolongation
            t1_gain, t2_gain, pd_gain = cut, cut, cut
        s = min(difficulty.region_contrast, 1.0)
        if s > 0 and lesion.region == "juxtacortical":
            # Thin, next to cortex: less T2 prolongation (and partial volume with grey matter).
            t2_gain *= 1.0 - s * (0.3 + 0.25 * region_cut)
        elif s > 0 and lesion.region == "infratentorial":
            # Conspicuous on T2/PD, less so on FLAIR: more T1 and less T2 prolongation.
            t1_gain *= 1.0 + s * (0.4 + 0.4 * region_cut)
            t2_gain *= 1.0 - s * (0.25 + 0.15 * region_cut)
        lesion.t1_factor = 1.0 + (lesion.t1_factor - 1.0) * t1_gain
        lesion.t2_factor = 1.0 + (lesion.t2_factor - 1.0) * t2_gain
        lesion.pd = wm_pd + (lesion.pd - wm_pd) * pd_gain
        lesion.rim = 1.0 - min(difficulty.lesion_rim, 1.0) * (0.25 + 0.45 * rim)


def apply_lesion_rims(maps: LesionMaps, lesions: list[Lesion]) -> LesionMaps:
    """Scale each lesion voxel's prolongation from the rim level at the border to full in the core."""
    if not lesions or maps.depth is None or all(les.rim >= 1.0 for les in lesions):
        return maps
    rim = np.array([1.0] + [les.rim for les in lesions], np.float32)
    inside = maps.labels > 0
    t = np.clip(maps.depth[inside] / 0.5, 0.0, 1.0)
    smooth = t * t * (3.0 - 2.0 * t)
    level = rim[maps.labels[inside]]
    profile = level + (1.0 - level) * smooth
    t1f, t2f = maps.t1_factor.copy(), maps.t2_factor.copy()
    t1f[inside] = 1.0 + (t1f[inside] - 1.0) * profile
    t2f[inside] = 1.0 + (t2f[inside] - 1.0) * profile
    return LesionMaps(
        fraction=maps.fraction, labels=maps.labels, t1_factor=t1f, t2_factor=t2f, pd=maps.pd, depth=maps.depth
    )


def b1_field(anatomy: TemplateAnatomy, log_range: float, rng: np.random.Generator) -> np.ndarray:
    """Transmit-field central brightening on the template grid: ``exp`` of a smooth dome.

    Brightest near the brain centre (shifted up to 10 mm), falling off towards the cortex,
    with a peak-to-peak log-range of ``log_range`` over the brain and log-mean 0 there.
    """
    shift = rng.uniform(-10.0, 10.0, 3)
    stretch = rng.uniform(0.85, 1.15, 3)
    if log_range <= 0:
        return np.ones(anatomy.shape, np.float32)
    lo, hi = anatomy.brain_extent_mm()
    centre = anatomy.brain_centre_mm() + shift
    half = 0.5 * (hi - lo) * stretch
    x, y, z = _mni(anatomy)
    dome = -(((x - centre[0]) / half[0]) ** 2 + ((y - centre[1]) / half[1]) ** 2 + ((z - centre[2]) / half[2]) ** 2)
    inside = dome[anatomy.brain]
    lo_v, hi_v = float(inside.min()), float(inside.max())
    log_field = (dome - inside.mean()) / max(hi_v - lo_v, 1e-9) * log_range
    return np.exp(log_field).astype(np.float32)


def truncate_kspace(image: np.ndarray, axes: tuple[int, ...], keep: float) -> np.ndarray:
    """Zero k-space beyond ``keep`` of its extent along ``axes`` (partial phase resolution,
    zero-filled): the image of a lower-resolution acquisition, with Gibbs ringing at sharp edges."""
    if keep >= 1.0 or not axes:
        return image
    out = np.asarray(image, dtype=np.float32)
    for axis in axes:
        n = out.shape[axis]
        spectrum = scipy.fft.rfft(out, axis=axis)
        cutoff = int(np.floor(keep * n / 2.0)) + 1
        index = [slice(None)] * out.ndim
        index[axis] = slice(cutoff, None)
        spectrum[tuple(index)] = 0.0
        out = scipy.fft.irfft(spectrum, n=n, axis=axis).astype(np.float32)
    return out


def phase_axes(axcodes: tuple[str, str, str], series: str) -> tuple[int, ...]:
    """Array axes along which a series is phase-encoded: AP and LR for 3-D, AP for the 2-D series."""
    wanted = "APLR" if series != "t2pd" else "AP"
    return tuple(i for i, code in enumerate(axcodes) if code in wanted)


def gibbs_keep(protocol: CenterProtocol, series: str, difficulty: Difficulty) -> float:
    """Fraction of k-space kept along the phase axes of ``series`` after the preset's scale."""
    resolution = protocol.phase_resolution_2d if series == "t2pd" else protocol.phase_resolution_3d
    return float(np.clip(1.0 - (1.0 - resolution) * difficulty.gibbs, 0.3, 1.0))


def psf_voxels(
    voxels: dict[str, tuple[float, ...]],
    axcodes: dict[str, tuple[str, str, str]],
    protocol: CenterProtocol,
    difficulty: Difficulty,
) -> dict[str, tuple[float, ...]]:
    """The voxel each series' point-spread function is built for: the 2-D slices widened by the
    center's slice profile (scaled by the preset), every other axis as acquired."""
    widen = 1.0 + (protocol.slice_profile_2d - 1.0) * difficulty.slice_profile
    out = dict(voxels)
    out["t2pd"] = tuple(v * widen if code in "SI" else v for v, code in zip(voxels["t2pd"], axcodes["t2pd"]))
    return out
