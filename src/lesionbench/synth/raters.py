"""Simulated expert raters delineating lesions on the FLAIR grid.

A "boundary random rater" in the sense of Landman/Asman (STAPLER, SPIE 2010) extended with the
error modes reported for MS lesion delineation (Zhang et al., NeurIPS 2020; DOEE, BMC Med
Imaging 12:17, 2012; ``docs/synthetic-cohort.md``, "Raters"):

* detection: each lesion is outlined with a probability logistic in log volume and FLAIR
  contrast, 50 % at a rater-specific volume (~8-30 mm^3), so small faint lesions are where raters
  disagree;
* boundary: the outline is the level set ``signed distance < bias + noise(x)`` of the true
  lesion, with a rater-specific bias (over/under-segmenting, in voxels: about -1 to +1, as suggested) and smooth spatial noise;
* false positives: a few blobs on hyperintense non-lesion FLAIR spots;
* merges: confluent lesions occasionally joined into one outline (closing of the gap).

Rater personalities come from an explicit generator (the generator module uses one fixed
panel for every cohort: the same experts read every case, as in MS-SEG 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Half-width (mm) of the band around true lesions where rater boundaries are modelled.
BAND_MM = 6.0


@dataclass(frozen=True)
class RaterProfile:
    v50_mm3: float
    slope: float
    contrast_weight: float
    #: signed outline offset in voxels (> 0 over-segments)
    boundary_bias_vox: float
    #: SD of the smooth outline jitter, voxels
    boundary_noise_vox: float
    false_positive_rate: float
    merge_probability: float


def make_rater_panel(n_raters: int, rng: np.random.Generator) -> list[RaterProfile]:
    """``n_raters`` rater personalities; the k-th rater does not depend on ``n_raters``."""
    panel = []
    streams = rng.spawn(n_raters)
    for r in streams:
        panel.append(
            RaterProfile(
                v50_mm3=float(np.exp(r.uniform(np.log(6.0), np.log(24.0)))),
                slope=float(r.uniform(1.8, 3.0)),
                contrast_weight=float(r.uniform(1.0, 2.5)),
                boundary_bias_vox=float(r.uniform(-0.6, 0.9)),
                boundary_noise_vox=float(r.uniform(0.3, 0.6)),
                false_positive_rate=float(r.uniform(0.3, 2.0)),
                merge_probability=float(r.uniform(0.1, 0.6)),
            )
        )
    return panel


def detection_probability(volume_mm3: np.ndarray, contrast: np.ndarray, rater: RaterProfile) -> np.ndarray:
    """Probability of outlining a lesion; ``contrast`` is lesion/NAWM FLAIR signal ratio (1 = invisible)."""
    logit = rater.slope * (np.log(np.maximum(volume_mm3, 1e-3)) - np.log(rater.v50_mm3))
    logit = logit + rater.contrast_weight * (np.asarray(contrast) - 1.5) * 2.0
    return 1.0 / (1.0 + np.exp(-logit))


@dataclass(frozen=True)
class RaterInputs:
    """What a rater sees, all on the FLAIR grid (computed once per case, shared by raters)."""

    signed_distance_mm: np.ndarray  # < 0 inside the true lesions
    nearest_label: np.ndarray  # lesion id owning (or nearest to) each voxel
    lesion_ids: np.ndarray
    lesion_volume_mm3: np.ndarray
    lesion_contrast: np.ndarray
    groups: dict[int, list[int]]  # confluence group -> lesion ids with >= 2 members
    fp_candidates: np.ndarray  # flat indices of hyperintense non-lesion voxels
    spacing: tuple[float, float, float]


def prepare_rater_inputs(
    truth: np.ndarray,
    labels: np.ndarray,
    flair: np.ndarray,
    brain: np.ndarray,
    spacing: tuple[float, float, float],
    lesion_ids: np.ndarray,
    lesion_volume_mm3: np.ndarray,
    lesion_contrast: np.ndarray,
    lesion_groups: np.ndarray,
    exclude: np.ndarray | None = None,
) -> RaterInputs:
    """What every rater of a case sees; ``exclude`` marks voxels no false-positive blob may cover."""
    spacing = tuple(float(s) for s in spacing)  # type: ignore[assignment]
    half = 0.5 * min(spacing)
    outside = np.full(truth.shape, 1e3, dtype=np.float32)
    inside = np.zeros(truth.shape, dtype=np.float32)
    nearest_label = np.zeros(truth.shape, labels.dtype)
    if truth.any():
        # Raters only act within a few mm of a lesion: distances beyond BAND_MM are never needed exactly.
        where = np.argwhere(truth)
        pad = np.ceil(BAND_MM / np.array(spacing)).astype(int) + 1
        lo = np.maximum(where.min(axis=0) - pad, 0)
        hi = np.minimum(where.max(axis=0) + pad + 1, truth.shape)
        box = tuple(slice(lo[k], hi[k]) for k in range(3))
        sub = truth[box]
        out_box, nearest = ndimage.distance_transform_edt(~sub, sampling=spacing, return_indices=True)
        outside[box] = out_box
        inside[box] = ndimage.distance_transform_edt(sub, sampling=spacing)
        nearest_label[box] = labels[box][tuple(nearest)]
    # Half-voxel offset so that a zero threshold reproduces the true mask exactly.
    signed = np.where(truth, -(inside - half), outside - half).astype(np.float32)
    nearest_label = np.where(truth, labels, nearest_label)
    groups: dict[int, list[int]] = {}
    for lid, g in zip(lesion_ids, lesion_groups):
        groups.setdefault(int(g), []).append(int(lid))
    groups = {g: ids for g, ids in groups.items() if len(ids) > 1}
    interior = ndimage.binary_erosion(brain, iterations=2)
    far = outside > 3.0
    if exclude is not None:
        far &= ~exclude
    values = flair[interior & far]
    if values.size:
        threshold = np.percentile(values, 99.7)
        fp = np.flatnonzero(interior & far & (flair >= threshold))
    else:
        fp = np.zeros(0, dtype=np.int64)
    return RaterInputs(
        signed_distance_mm=signed,
        nearest_label=nearest_label,
        lesion_ids=np.asarray(lesion_ids),
        lesion_volume_mm3=np.asarray(lesion_volume_mm3, dtype=float),
        lesion_contrast=np.asarray(lesion_contrast, dtype=float),
        groups=groups,
        fp_candidates=fp,
        spacing=spacing,
    )


def _smooth_noise_at(
    points: np.ndarray, shape: tuple[int, ...], spacing: tuple[float, ...], sd: float, rng: np.random.Generator
) -> np.ndarray:
    """Smooth Gaussian noise (SD ``sd``, ~2 mm correlation) evaluated at voxel ``points`` (N, 3).

    Drawn on a 2 mm lattice and interpolated only where needed: the band around lesions is a few
    percent of the image.
    """
    step = np.maximum(2.0 / np.array(spacing), 1.0)
    coarse_shape = tuple(int(np.ceil(n / st)) + 2 for n, st in zip(shape, step))
    noise = ndimage.gaussian_filter(rng.standard_normal(coarse_shape), sigma=0.7)
    noise *= sd / max(float(noise.std()), 1e-9)
    return ndimage.map_coordinates(noise, (points / step).T, order=1, mode="nearest", prefilter=False)


def delineate(inputs: RaterInputs, rater: RaterProfile, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One rater's binary mask and the boolean 'detected' flag per lesion (order of ``lesion_ids``)."""
    shape = inputs.signed_distance_mm.shape
    p = detection_probability(inputs.lesion_volume_mm3, inputs.lesion_contrast, rater)
    detected = rng.random(p.shape) < p
    lut_size = int(max(inputs.lesion_ids.max(initial=0), inputs.nearest_label.max(initial=0))) + 1
    keep = np.zeros(lut_size, dtype=bool)
    keep[inputs.lesion_ids[detected]] = True
    voxel = float(np.mean(inputs.spacing))
    band = np.argwhere(inputs.signed_distance_mm < BAND_MM)
    noise = _smooth_noise_at(band, shape, inputs.spacing, rater.boundary_noise_vox * voxel, rng)
    threshold = rater.boundary_bias_vox * voxel + noise
    sd = inputs.signed_distance_mm[tuple(band.T)]
    chosen = (sd < threshold) & keep[inputs.nearest_label[tuple(band.T)]]
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(band[chosen].T)] = True
    # Tiny lesions can vanish under a negative bias: a hesitant rater misses them too.
    for ids in inputs.groups.values():
        if rng.random() >= rater.merge_probability:
            continue
        member = np.isin(inputs.nearest_label, ids) & mask
        if member.sum() == 0:
            continue
        where = np.argwhere(member)
        lo = np.maximum(where.min(axis=0) - 2, 0)
        hi = np.minimum(where.max(axis=0) + 3, shape)
        box = tuple(slice(lo[k], hi[k]) for k in range(3))
        closed = ndimage.binary_closing(member[box], structure=ndimage.generate_binary_structure(3, 1), iterations=2)
        mask[box] |= closed
    n_fp = min(3, int(rng.poisson(rater.false_positive_rate)))
    if n_fp and inputs.fp_candidates.size:
        radius_mm = rng.uniform(1.0, 2.2, n_fp)
        for centre_flat, radius in zip(rng.choice(inputs.fp_candidates, size=n_fp), radius_mm):
            centre = np.array(np.unravel_index(int(centre_flat), shape))
            reach = np.ceil(radius / np.array(inputs.spacing)).astype(int)
            lo = np.maximum(centre - reach, 0)
            hi = np.minimum(centre + reach + 1, shape)
            offsets = np.stack(np.meshgrid(*[np.arange(lo[k], hi[k]) - centre[k] for k in range(3)], indexing="ij"), -1)
            ball = np.sum((offsets * np.array(inputs.spacing)) ** 2, axis=-1) <= radius**2
            mask[tuple(slice(lo[k], hi[k]) for k in range(3))] |= ball
    return mask, detected
