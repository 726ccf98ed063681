"""One call computes every evaluation metric of a (reference, prediction) pair of binary 3-D masks.

Definitions: voxel metrics as Anima's ``SegmentationMeasuresImageFilter`` (MS-SEG 2016,
Commowick et al., Sci. Rep. 8:13650, 2018); surface metrics in :mod:`lesionbench.metrics.surface`;
lesion-wise metrics in :mod:`lesionbench.metrics.lesions`; meaning, direction and undefined-value
conventions of every key in :mod:`lesionbench.metrics.info`.

Cost is proportional to the lesion load, not the image: both masks are reduced once to their
foreground voxels (border flags and 6-connected components from six neighbour gathers), surface
distances come from k-d trees over the border points, and the lesion overlap table from the
voxels in both masks. Nothing loops over voxels in Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from ..errors import ConfigError, DimensionError, GridMismatchError, NonBinaryMaskError
from .info import METRIC_KEYS, Emptiness, classify
from .lesions import (
    AnimaDetection,
    LesionMatching,
    OverlapTable,
    anima_detection,
    greedy_match,
    keep_map,
    min_lesion_voxels,
    overlap_table,
)
from .sparse import SparseMask, sparse_mask
from .surface import anima_surface_distance, border_points_mm, summarize, surface_distances

Number = float | int | None


@dataclass(frozen=True)
class LesionRecord:
    """One row of the per-lesion table: a matched pair (TP), a missed (FN) or an extra (FP) lesion.

    Lesion numbers are the kept-lesion numbers (1..N, raster order of the first voxel) on each
    side. ``reference_detected``/``prediction_true_positive`` are the MS-SEG 2016 verdicts of the
    lesion(s) in the row, independent of the one-to-one matching.
    """

    status: str
    reference_lesion: int | None
    prediction_lesion: int | None
    reference_volume_mm3: float | None
    prediction_volume_mm3: float | None
    overlap_mm3: float
    dice: float
    reference_detected: bool | None
    prediction_true_positive: bool | None

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class MetricsResult:
    """All metrics of one pair; ``None`` where undefined (see :data:`lesionbench.metrics.METRIC_INFO`)."""

    dice: float | None
    jaccard: float | None
    sensitivity: float | None
    precision: float | None
    specificity: float | None
    relative_volume_error_pct: float | None
    volume_reference_ml: float
    volume_prediction_ml: float
    hausdorff_mm: float | None
    hausdorff95_mm: float | None
    hausdorff95_pooled_mm: float | None
    assd_mm: float | None
    masd_mm: float | None
    nsd: float | None
    asd_anima_mm: float | None
    lesion_sensitivity: float | None
    lesion_precision: float | None
    lesion_f1: float | None
    n_reference_lesions: int
    n_prediction_lesions: int
    n_tested_lesions: int | None
    tested_lesion_volume_mm3: float | None
    lesion_matched_tp: int
    lesion_matched_fp: int
    lesion_matched_fn: int
    lesion_matched_sensitivity: float | None
    lesion_matched_precision: float | None
    lesion_matched_f1: float | None
    lesion_matched_dice_mean: float | None
    lesions: tuple[LesionRecord, ...] = field(default=(), repr=False)
    parameters: dict[str, object] = field(default_factory=dict, repr=False)
    #: (reference, prediction) foreground voxel counts
    n_voxels: tuple[int, int] = field(default=(0, 0), repr=False)

    def as_dict(self) -> dict[str, Number]:
        """The flat, JSON-able metric dict (keys in :data:`lesionbench.metrics.info.METRIC_KEYS` order)."""
        return {key: getattr(self, key) for key in METRIC_KEYS}

    def lesion_rows(self) -> list[dict[str, object]]:
        return [rec.as_dict() for rec in self.lesions]

    @property
    def emptiness(self) -> Emptiness:
        """Voxel and kept-lesion counts of both sides, for :func:`lesionbench.metrics.info.classify`."""
        return Emptiness(
            reference_voxels=self.n_voxels[0],
            prediction_voxels=self.n_voxels[1],
            reference_lesions=self.n_reference_lesions,
            prediction_lesions=self.n_prediction_lesions,
        )

    def statuses(self) -> dict[str, str]:
        """Status of every metric key (``ok``, ``both_empty``, ``empty_reference``, ``not_applicable``,
        ``undefined``): which rule gives the value a ranking uses (:mod:`lesionbench.metrics.info`)."""
        empty = self.emptiness
        return {key: classify(key, value, empty) for key, value in self.as_dict().items()}


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num) / float(den)


def as_binary_mask(array: np.ndarray, *, role: str, case: str | None = None) -> np.ndarray:
    """Check a mask array (3-D, values 0/1) and return it as a C-contiguous boolean array."""
    array = np.asarray(array)
    if array.ndim != 3:
        raise DimensionError(
            f"{role} mask is {array.ndim}-D with shape {array.shape}; a 3-D mask is required", case=case
        )
    if array.dtype == bool:
        return np.ascontiguousarray(array)
    nonzero = array != 0
    values = array[nonzero]
    if values.size and not np.all(values == 1):
        bad = np.unique(values[values != 1])
        shown = ", ".join(f"{v:g}" for v in bad[:5]) + (", ..." if bad.size > 5 else "")
        raise NonBinaryMaskError(
            f"{role} mask is not binary: found values other than 0 and 1 ({shown}); "
            "binarize it first (CLI: --binarize nonzero|threshold)",
            case=case,
        )
    return np.ascontiguousarray(nonzero)


def _check_parameters(
    spacing: Sequence[float] | np.ndarray,
    nsd_tolerance_mm: float,
    min_lesion_volume_mm3: float,
    alpha: float,
    beta: float,
    gamma: float,
    match_threshold: float,
    case: str | None,
) -> tuple[float, float, float]:
    sp = tuple(float(s) for s in np.asarray(spacing, dtype=float).ravel())
    where = f"case {case}: " if case is not None else ""
    if len(sp) != 3 or not all(math.isfinite(s) and s > 0 for s in sp):
        raise ConfigError(f"{where}spacing must be three positive finite numbers (mm), got {spacing!r}")
    if not (math.isfinite(nsd_tolerance_mm) and nsd_tolerance_mm >= 0):
        raise ConfigError(f"{where}NSD tolerance must be a finite number >= 0 mm, got {nsd_tolerance_mm!r}")
    if not (math.isfinite(min_lesion_volume_mm3) and min_lesion_volume_mm3 >= 0):
        raise ConfigError(f"{where}minimum lesion volume must be >= 0 mm3, got {min_lesion_volume_mm3!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        # Anima requires 0 < value <= 1
        if not (0 < value <= 1):
            raise ConfigError(f"{where}{name} must be in (0, 1], got {value!r}")
    if not (0 <= match_threshold < 1):
        raise ConfigError(f"{where}match threshold must be in [0, 1), got {match_threshold!r}")
    return sp


def _raster_key_itk(coords: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    # ITK iterates x (array axis 0 for NIfTI data as nibabel reads it) fastest
    return coords[:, 0] + shape[0] * (coords[:, 1] + shape[1] * coords[:, 2].astype(np.int64))


def _surface(
    sm_r: SparseMask, sm_p: SparseMask, spacing: tuple[float, float, float], tol: float, edge_is_background: bool
) -> dict[str, float | None]:
    keys = ("hausdorff_mm", "hausdorff95_mm", "hausdorff95_pooled_mm", "assd_mm", "masd_mm", "nsd", "asd_anima_mm")
    out: dict[str, float | None] = dict.fromkeys(keys)
    if sm_r.n_voxels == 0 or sm_p.n_voxels == 0:
        # exactly one empty: no surface to measure against; NSD is 0 (no border point is close to
        # anything), as Metrics Reloaded and MONAI
        if sm_r.n_voxels or sm_p.n_voxels:
            out["nsd"] = 0.0
        return out
    br = sm_r.border(edge_is_background=edge_is_background)
    bp = sm_p.border(edge_is_background=edge_is_background)
    pts_r = border_points_mm(sm_r.coords[br], spacing)
    pts_p = border_points_mm(sm_p.coords[bp], spacing)
    dist = surface_distances(pts_p, pts_r)
    summary = summarize(dist, tol)
    out.update(
        hausdorff_mm=summary.hausdorff_mm,
        hausdorff95_mm=summary.hausdorff95_mm,
        hausdorff95_pooled_mm=summary.hausdorff95_pooled_mm,
        assd_mm=summary.assd_mm,
        masd_mm=summary.masd_mm,
        nsd=summary.nsd,
    )
    # Anima's contours treat the outside of the image as foreground (ITK BinaryContourImageFilter)
    br_itk = sm_r.border(edge_is_background=False)
    bp_itk = sm_p.border(edge_is_background=False)
    if np.array_equal(br_itk, br) and np.array_equal(bp_itk, bp):
        dist_itk, pts_r_itk_c, pts_p_itk_c = dist, sm_r.coords[br], sm_p.coords[bp]
    else:
        pts_r_itk_c, pts_p_itk_c = sm_r.coords[br_itk], sm_p.coords[bp_itk]
        if pts_r_itk_c.size == 0 or pts_p_itk_c.size == 0:
            return out  # a mask filling the whole image has no ITK contour
        dist_itk = surface_distances(border_points_mm(pts_p_itk_c, spacing), border_points_mm(pts_r_itk_c, spacing))
    out["asd_anima_mm"] = anima_surface_distance(
        dist_itk.pred_to_ref,
        dist_itk.ref_to_pred,
        _raster_key_itk(pts_p_itk_c, sm_p.shape),
        _raster_key_itk(pts_r_itk_c, sm_r.shape),
    )
    return out


def _lesion_records(
    table: OverlapTable, det: AnimaDetection, match: LesionMatching, voxel_mm3: float
) -> tuple[LesionRecord, ...]:
    rows: list[LesionRecord] = []
    matched_ref = dict(zip(match.ref.tolist(), range(match.tp)))
    matched_pred = set(match.pred.tolist())
    for i in range(1, table.n_ref + 1):
        k = matched_ref.get(i)
        ref_vol = float(table.ref_sizes[i - 1] * voxel_mm3)
        if k is None:
            rows.append(LesionRecord("FN", i, None, ref_vol, None, 0.0, 0.0, bool(det.reference_detected[i - 1]), None))
            continue
        j = int(match.pred[k])
        rows.append(
            LesionRecord(
                "TP",
                i,
                j,
                ref_vol,
                float(table.pred_sizes[j - 1] * voxel_mm3),
                float(match.overlap[k] * voxel_mm3),
                float(match.dice[k]),
                bool(det.reference_detected[i - 1]),
                bool(det.prediction_true_positive[j - 1]),
            )
        )
    for j in range(1, table.n_pred + 1):
        if j not in matched_pred:
            rows.append(
                LesionRecord(
                    "FP",
                    None,
                    j,
                    None,
                    float(table.pred_sizes[j - 1] * voxel_mm3),
                    0.0,
                    0.0,
                    None,
                    bool(det.prediction_true_positive[j - 1]),
                )
            )
    return tuple(rows)


def _detection_scores(n_ref: int, n_pred: int, sens_num: int, prec_num: int) -> tuple[Number, Number]:
    """(sensitivity, precision) with the module's empty conventions (precision 0 when N_P = 0 < N_R)."""
    sens = _ratio(sens_num, n_ref)
    if n_pred == 0:
        prec: Number = None if n_ref == 0 else 0.0
    else:
        prec = prec_num / n_pred
    return sens, prec


def compute_metrics(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing: tuple[float, float, float],
    *,
    nsd_tolerance_mm: float = 1.0,
    min_lesion_volume_mm3: float = 3.0,
    alpha: float = 0.10,
    beta: float = 0.70,
    gamma: float = 0.65,
    match_threshold: float = 0.1,
    edge_is_background: bool = True,
    case: str | None = None,
) -> MetricsResult:
    """Every metric of :data:`lesionbench.metrics.METRIC_INFO` for one (reference, prediction) pair.

    ``reference`` and ``prediction``: 3-D masks on the same grid, boolean or with values 0/1.
    ``spacing``: voxel size in mm along the array axes (distances assume an orthogonal grid, which
    holds for scanner and oblique affines without shear). ``edge_is_background`` chooses how voxels
    outside the image count for the border (True: as medpy/MONAI/Metrics Reloaded; False: as ITK and
    Anima). ``case`` only labels error messages.
    """
    ref = as_binary_mask(reference, role="reference", case=case)
    pred = as_binary_mask(prediction, role="prediction", case=case)
    if ref.shape != pred.shape:
        raise GridMismatchError(f"prediction shape {pred.shape} differs from reference shape {ref.shape}", case=case)
    sp = _check_parameters(spacing, nsd_tolerance_mm, min_lesion_volume_mm3, alpha, beta, gamma, match_threshold, case)
    voxel_mm3 = sp[0] * sp[1] * sp[2]

    sm_r = sparse_mask(ref, edge_is_background=edge_is_background)
    sm_p = sparse_mask(pred, edge_is_background=edge_is_background)

    # voxels in both masks, as positions in each side's foreground list
    n_r, n_p = sm_r.n_voxels, sm_p.n_voxels
    if n_r and n_p:
        pos = np.minimum(np.searchsorted(sm_p.indices, sm_r.indices), n_p - 1)
        hit = sm_p.indices[pos] == sm_r.indices
        both_r, both_p = np.flatnonzero(hit), pos[hit]
    else:
        both_r = both_p = np.zeros(0, dtype=np.int64)
    tp = int(both_r.size)
    fp = n_p - tp
    tn = int(np.prod(ref.shape)) - (n_r + n_p - tp)

    surface = _surface(sm_r, sm_p, sp, float(nsd_tolerance_mm), edge_is_background)

    n_min = min_lesion_voxels(float(min_lesion_volume_mm3), voxel_mm3)
    map_r, map_p = keep_map(sm_r.component_sizes, n_min), keep_map(sm_p.component_sizes, n_min)
    ref_sizes = sm_r.component_sizes[map_r > 0]
    pred_sizes = sm_p.component_sizes[map_p > 0]
    table = overlap_table(map_r[sm_r.labels[both_r]], map_p[sm_p.labels[both_p]], ref_sizes, pred_sizes)
    det = anima_detection(table, alpha=alpha, beta=beta, gamma=gamma)
    match = greedy_match(table, threshold=match_threshold)
    n_lr, n_lp = table.n_ref, table.n_pred

    sens_l, prec_l = _detection_scores(
        n_lr, n_lp, int(det.reference_detected.sum()), int(det.prediction_true_positive.sum())
    )
    if sens_l is None and prec_l is None:
        f1_l: Number = None
    elif not sens_l or not prec_l:
        f1_l = 0.0  # includes exactly one side without lesions
    else:
        f1_l = 2 * sens_l * prec_l / (sens_l + prec_l)

    m_sens, m_prec = _detection_scores(n_lr, n_lp, match.tp, match.tp)
    m_f1 = _ratio(2 * match.tp, 2 * match.tp + match.fp + match.fn)

    return MetricsResult(
        dice=_ratio(2 * tp, n_r + n_p),
        jaccard=_ratio(tp, n_r + n_p - tp),
        sensitivity=_ratio(tp, n_r),
        precision=_ratio(tp, n_p),
        specificity=_ratio(tn, tn + fp),
        relative_volume_error_pct=None if n_r == 0 else 100.0 * (n_p - n_r) / n_r,
        volume_reference_ml=n_r * voxel_mm3 / 1000.0,
        volume_prediction_ml=n_p * voxel_mm3 / 1000.0,
        hausdorff_mm=surface["hausdorff_mm"],
        hausdorff95_mm=surface["hausdorff95_mm"],
        hausdorff95_pooled_mm=surface["hausdorff95_pooled_mm"],
        assd_mm=surface["assd_mm"],
        masd_mm=surface["masd_mm"],
        nsd=surface["nsd"],
        asd_anima_mm=surface["asd_anima_mm"],
        lesion_sensitivity=sens_l,
        lesion_precision=prec_l,
        lesion_f1=f1_l,
        n_reference_lesions=n_lr,
        n_prediction_lesions=n_lp,
        # Anima's empty-reference mode (MSSEG-2): only defined when the reference has no kept lesion
        n_tested_lesions=n_lp if n_lr == 0 else None,
        tested_lesion_volume_mm3=float(pred_sizes.sum() * voxel_mm3) if n_lr == 0 else None,
        lesion_matched_tp=match.tp,
        lesion_matched_fp=match.fp,
        lesion_matched_fn=match.fn,
        lesion_matched_sensitivity=m_sens,
        lesion_matched_precision=m_prec,
        lesion_matched_f1=m_f1,
        lesion_matched_dice_mean=float(match.dice.mean()) if match.tp else None,
        lesions=_lesion_records(table, det, match, voxel_mm3),
        parameters={
            "spacing_mm": list(sp),
            "nsd_tolerance_mm": float(nsd_tolerance_mm),
            "min_lesion_volume_mm3": float(min_lesion_volume_mm3),
            "min_lesion_voxels": n_min,
            "alpha": alpha,
            "beta": beta,
            "gamma": gamma,
            "match_threshold": match_threshold,
            "edge_is_background": edge_is_background,
        },
        n_voxels=(n_r, n_p),
    )


def kept_lesion_volumes(
    mask: np.ndarray,
    spacing: tuple[float, float, float],
    *,
    min_lesion_volume_mm3: float = 3.0,
    case: str | None = None,
) -> np.ndarray:
    """Volumes (mm³, raster order) of the 6-connected lesions of ``mask`` that the lesion-wise
    metrics keep (above the minimum volume), e.g. to label the rows of a reference without result."""
    m = as_binary_mask(mask, role="reference", case=case)
    sp = _check_parameters(spacing, 1.0, min_lesion_volume_mm3, 0.1, 0.7, 0.65, 0.1, case)
    voxel_mm3 = sp[0] * sp[1] * sp[2]
    sizes = sparse_mask(m).component_sizes
    kept = keep_map(sizes, min_lesion_voxels(float(min_lesion_volume_mm3), voxel_mm3)) > 0
    return sizes[kept].astype(float) * voxel_mm3
