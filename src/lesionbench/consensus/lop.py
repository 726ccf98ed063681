"""LOP-STAPLE for binary masks as CRKit's ``crlLOPSTAPLE`` computes it, default weights for human
raters, and a local (windowed) variant.

Model (Akhondi-Asl, Hoyte, Lockhart & Warfield, IEEE TMI 33(10):1997-2009, 2014; the arithmetic
of CRKit's ``crlLOPSTAPLE`` as described in docs/consensus.md). Each rater k has parameters
``theta_k(l|m)`` (sensitivity ``p_k = theta_k(1|1)``, specificity ``q_k = theta_k(0|0)``) and a
weight ``w_ik >= 0`` at every voxel i. Its opinion is its likelihood raised to the weight and
renormalised over the two possible decisions:

    phi_ik(l|m) = theta_k(l|m)**w_ik / (theta_k(0|m)**w_ik + theta_k(1|m)**w_ik)

E-step: ``logit W_i = logit f + sum_k [ln phi_ik(D_ik|1) - ln phi_ik(D_ik|0)]`` with the prior ``f``
(mean vote in the region) untempered. M-step, for each rater and each true class m (posterior
weight ``W_i(1) = W_i``, ``W_i(0) = 1 - W_i``): the fixed point

    N(l) = sum_i w_ik W_i(m) [D_ik = l]
    A(l) = sum_i W_i(m) w_ik theta(l|m)**(w_ik - 1) / sum_l' theta(l'|m)**w_ik
    theta(l|m) <- max(N(l) / A(l), 1e-100), then divided by its sum over l,

repeated until the largest change is ``<= fp_tolerance`` (1e-8) or ``fp_max_iterations`` (1000)
steps; this is the stationary point of ``sum_i W_i(m) ln phi_ik(D_ik|m)``. Start: p = q = ``init``
(0.99); outer loop E, M, stop test (largest change of any theta <= ``tolerance`` from the second
pass on, at most ``max_iterations`` passes), as MAP-STAPLE.

Consequences (tested): with a weight that is constant over the voxels of each rater the opinions
phi are a reparametrisation of theta and the converged consensus equals STAPLE's on the same
region; multiplying every weight by one constant changes theta but not the consensus. Only
spatially varying weights change the answer. ``normalized=False`` drops the normaliser (CRKit's
hidden ``-X`` switch) and then uses the ordinary STAPLE counts in the M-step; with weights that sum
to 1 per voxel the evidence becomes an average, and EM drifts to "posterior = prior" (an empty
consensus): it is offered only to reproduce that failure, with a warning.

Default weights (``weights=None``): the paper derives weights from the local intensity
similarity between a registered template and the target image; human raters who drew on one image
have no such quantity. lesionbench uses each rater's *local agreement* with the others: at every
voxel, the fraction of the other raters whose decision equals its own, averaged over a cubic
window of half-size ``weight_half_size`` (2: 5x5x5), then divided by the raters' mean at that voxel
(so the weights average 1 across raters; the paper's sum-to-1 scaling differs by the constant R and
gives the same consensus). A rater who marks a blob nobody else sees, or misses what all others
mark, gets a low weight there and a normal one elsewhere.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ..errors import ConfigError
from .base import ConsensusResult, _check_threshold, check_votes, empty_result
from .map_em import check_em_settings, map_pseudo_counts, posterior_from_logs
from .patterns import _patterns, _votes_outside
from .region import region_or_default

#: Floor of theta in the weighted fixed point (CRKit's clamp).
THETA_FLOOR = 1e-100


# ----------------------------------------------------------------------------------------------
# Weights


def agreement_weights(votes: np.ndarray, *, half_size: int = 2, region: np.ndarray | None = None) -> np.ndarray:
    """Default LOP weights for raters who drew on the same image: local agreement (module docstring).

    Returns float32 (R, *grid) (the maps are inputs; float32 halves their memory). ``region``: weights are computed on the bounding box of the region
    plus the window (for speed) and are 1 elsewhere. One rater: weight 1.
    """
    votes = check_votes(votes)
    n_raters = votes.shape[0]
    grid = votes.shape[1:]
    out = np.ones(votes.shape, dtype=np.float32)
    if n_raters == 1:
        return out
    half_size = int(half_size)
    if half_size < 0:
        raise ConfigError(f"weight_half_size must be >= 0 voxels; got {half_size}")
    box = _bbox(region, margin=half_size, grid=grid) if region is not None else tuple(slice(0, n) for n in grid)
    if box is None:
        return out
    sub = votes[(slice(None), *box)]
    n_pos = sub.sum(axis=0, dtype=np.int16)
    agree = np.where(sub, n_pos - 1, n_raters - n_pos).astype(np.float32) / np.float32(n_raters - 1)
    size = 2 * half_size + 1
    for k in range(n_raters):
        agree[k] = ndi.uniform_filter(agree[k], size=size, mode="nearest")
    mean = agree.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = np.where(mean > 0, agree / np.where(mean > 0, mean, 1.0), 1.0)
    out[(slice(None), *box)] = weights
    return out


def _bbox(region: np.ndarray, *, margin: int, grid: tuple[int, ...]) -> tuple[slice, ...] | None:
    nz = np.nonzero(region)
    if len(nz[0]) == 0:
        return None
    return tuple(slice(max(int(a.min()) - margin, 0), min(int(a.max()) + margin + 1, n)) for a, n in zip(nz, grid))


def check_weights(
    weights: Sequence[float] | np.ndarray, n_raters: int, grid: tuple[int, ...], case: str | None = None
) -> np.ndarray:
    """Validate LOP weights: (R,) per rater or (R, *grid) voxel-wise, finite and >= 0.

    Used as given (CRKit does not normalise them); a float per rater that is constant has no
    effect on the consensus (module docstring).
    """
    arr = np.asarray(weights)
    arr = arr.astype(np.float64) if arr.ndim == 1 or arr.dtype != np.float32 else arr
    if arr.ndim == 1:
        if arr.size != n_raters:
            raise ConfigError(f"LOP-STAPLE needs one weight per rater: got {arr.size} weights for {n_raters} raters")
    elif arr.shape != (n_raters, *grid):
        raise ConfigError(
            f"LOP-STAPLE weight maps must have shape (raters, *grid) = {(n_raters, *grid)}; got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError("LOP-STAPLE weights must be finite and non-negative")
    if arr.ndim == 1 and not arr.any():
        raise ConfigError("LOP-STAPLE weights are all zero")
    return arr


# ----------------------------------------------------------------------------------------------
# Global LOP-STAPLE


def _log_opinions(bits: np.ndarray, w: np.ndarray, t1: np.ndarray, t0: np.ndarray, normalized: bool) -> np.ndarray:
    """ln phi(D|m) per unit and rater; ``t1``, ``t0`` = theta(1|m), theta(0|m) per rater (kept
    separately so that a theta clamped at 1e-100 is not lost to rounding in 1 - theta)."""
    with np.errstate(divide="ignore"):
        l1, l0 = np.log(t1), np.log(t0)
    zero = w == 0  # a zero-weight rater says nothing (0 * ln 0 would be NaN)
    out = np.where(zero, 0.0, w * np.where(bits, l1, l0))
    if normalized:
        out -= np.logaddexp(np.where(zero, 0.0, w * l1), np.where(zero, 0.0, w * l0))
    return out


def weighted_fixed_point(
    bits: np.ndarray,
    weight: np.ndarray,
    w: np.ndarray,
    t1: np.ndarray,
    t0: np.ndarray,
    *,
    tolerance: float = 1e-8,
    max_steps: int = 1000,
) -> tuple[np.ndarray, np.ndarray, int]:
    """CRKit's weighted M-step for one true class m, all raters at once.

    ``bits`` (U, R) decisions, ``weight`` (U,) = count x posterior of class m, ``w`` (U, R) LOP
    weights, ``t1``/``t0`` (R,) current theta(1|m)/theta(0|m). Returns the new pair and the
    steps run. A rater whose weighted sums are zero keeps its theta.
    """
    cw = weight[:, None] * w
    n1 = (cw * bits).sum(axis=0)
    n0 = cw.sum(axis=0) - n1
    t1, t0 = t1.astype(np.float64).copy(), t0.astype(np.float64).copy()
    active = cw.sum(axis=0) > 0
    steps = 0
    for steps in range(1, max_steps + 1):  # noqa: B007 - the count is returned after the loop
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        ww, c = w[:, idx], cw[:, idx]
        la, lb = np.log(t1[idx]), np.log(t0[idx])
        norm = np.logaddexp(ww * la, ww * lb)
        a1 = (c * np.exp((ww - 1.0) * la - norm)).sum(axis=0)
        a0 = (c * np.exp((ww - 1.0) * lb - norm)).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            new1 = np.maximum(np.where(a1 > 0, n1[idx] / a1, 0.0), THETA_FLOOR)
            new0 = np.maximum(np.where(a0 > 0, n0[idx] / a0, 0.0), THETA_FLOOR)
        total = new1 + new0
        new1, new0 = new1 / total, new0 / total
        change = np.maximum(np.abs(new1 - t1[idx]), np.abs(new0 - t0[idx]))
        t1[idx], t0[idx] = new1, new0
        active[idx[change <= tolerance]] = False
    return t1, t0, steps


def _lop_em(
    bits: np.ndarray,
    counts: np.ndarray,
    w: np.ndarray,
    *,
    prior: float,
    init: float,
    normalized: bool,
    tolerance: float,
    max_iterations: int,
    fp_tolerance: float,
    fp_max_iterations: int,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], int, bool, float]:
    n_raters = bits.shape[1]
    # theta(1|1) = p, theta(0|1) = 1 - p; theta(0|0) = q, theta(1|0) = 1 - q; pairs kept apart.
    p1, p0 = np.full(n_raters, float(init)), np.full(n_raters, 1.0 - float(init))
    b0, b1 = np.full(n_raters, float(init)), np.full(n_raters, 1.0 - float(init))
    post = np.zeros(len(counts))
    log_f, log_nf = math.log(prior), math.log1p(-prior)
    decisions = bits.astype(np.float64)
    change = math.inf
    fp: dict[str, Any] = {"tolerance": fp_tolerance, "max_steps": fp_max_iterations}
    for n in range(1, max_iterations + 1):
        log_a = log_f + _log_opinions(bits, w, p1, p0, normalized).sum(axis=1)
        log_b = log_nf + _log_opinions(bits, w, b1, b0, normalized).sum(axis=1)
        post = posterior_from_logs(log_a, log_b, post)
        cw, cnw = counts * post, counts * (1.0 - post)
        if normalized:
            new_p1, new_p0, _ = weighted_fixed_point(bits, cw, w, p1, p0, **fp)
            new_b1, new_b0, _ = weighted_fixed_point(bits, cnw, w, b1, b0, **fp)
        else:
            sw, sv = cw.sum(), cnw.sum()
            new_p1 = (cw @ decisions) / sw if sw > 0 else p1
            new_b0 = (cnw @ (1.0 - decisions)) / sv if sv > 0 else b0
            new_p0, new_b1 = 1.0 - new_p1, 1.0 - new_b0
        change = float(
            max(
                np.abs(new_p1 - p1).max(),
                np.abs(new_p0 - p0).max(),
                np.abs(new_b0 - b0).max(),
                np.abs(new_b1 - b1).max(),
            )
        )
        p1, p0, b1, b0 = new_p1, new_p0, new_b1, new_b0
        if n >= 2 and change <= tolerance:
            return post, (p1, p0, b1, b0), n, True, change
    return post, (p1, p0, b1, b0), max_iterations, False, change


def _opinion(agree: np.ndarray, other: np.ndarray, w: float | np.ndarray) -> np.ndarray:
    """phi(l|m) = theta(l|m)^w / (theta(l|m)^w + theta(l'|m)^w), from ``agree`` = theta(l|m) and
    ``other`` = theta(l'|m)."""
    return 1.0 / (1.0 + np.exp(w * (np.log(other) - np.log(agree))))


def lop_staple(
    votes: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    weight_half_size: int = 2,
    normalized: bool = True,
    init: float = 0.99,
    tolerance: float = 1e-8,
    max_iterations: int = 100,
    fp_tolerance: float = 1e-8,
    fp_max_iterations: int = 1000,
    threshold: float = 0.5,
    case: str | None = None,
) -> ConsensusResult:
    """LOP-STAPLE as CRKit's ``crlLOPSTAPLE`` computes it (module docstring).

    ``mask``: computation region (None: the whole grid, as CRKit without ``-m``).
    ``weights``: None (local-agreement weights, window half-size ``weight_half_size``), a float
    per rater (R,), or voxel-wise maps (R, *grid). ``normalized=False`` reproduces the
    un-normalised pool and warns. ``sensitivity``/``specificity`` are theta; the opinions at the
    mean weight of each rater are in ``details['phi_sensitivity']``/``['phi_specificity']``.
    """
    votes = check_votes(votes, case=case)
    threshold = _check_threshold(threshold)
    max_iterations = check_em_settings(init, tolerance, max_iterations)
    n_raters, grid = votes.shape[0], votes.shape[1:]
    region = region_or_default(votes, mask, None, case)
    if not normalized:
        warnings.warn(
            "LOP-STAPLE without renormalised opinions (normalized=False) tempers the evidence but not "
            "the prior; with weights summing to about 1 per voxel, EM drifts to 'posterior = prior' "
            "and the consensus is empty. Use only to reproduce that behaviour.",
            UserWarning,
            stacklevel=2,
        )
    if weights is None:
        wmap = agreement_weights(votes, half_size=weight_half_size, region=region)
    else:
        wmap = check_weights(weights, n_raters, grid, case)
    details: dict[str, object] = {"normalized": normalized}
    if not votes.any() or (region is not None and not region.any()):
        return empty_result("lop-staple", n_raters, grid, threshold=threshold, region=region, **details)
    pats = _patterns(votes, region)
    n_voxels = float(pats.counts.sum())
    prior = float(np.dot(pats.counts, pats.bits.sum(axis=1))) / (n_voxels * n_raters)
    outside = 0 if region is None else _votes_outside(votes, pats)
    if prior <= 0.0 or prior >= 1.0:
        from dataclasses import replace

        res = empty_result("lop-staple", n_raters, grid, threshold=threshold, region=region, **details)
        value = np.full(len(pats.counts), 0.0 if prior <= 0 else 1.0)
        return replace(res, posterior=pats.expand(value), prior=prior, votes_outside_mask=outside, weights=wmap)
    # CRKit's fixed point contracts with factor |1 - w|: it never converges for w >= 2. One
    # constant factor on every weight changes theta but not the consensus (module docstring), so
    # weights whose maximum is 2 or more are divided by that maximum (recorded in details).
    largest = float(wmap.max())
    scale = 1.0 / largest if largest >= 2.0 else 1.0
    details["weight_scale"] = scale
    used = wmap * scale if scale != 1.0 else wmap
    expand: Callable[[np.ndarray], np.ndarray]
    if used.ndim == 1:
        # One weight per rater: the posterior still depends on the vote pattern only.
        bits, counts, unit_w = pats.bits, pats.counts, np.broadcast_to(used, pats.bits.shape)
        expand = pats.expand
        mean_w = used
    else:
        bits, counts, unit_w, expand = _voxel_units(votes, used, region)
        mean_w = (unit_w * counts[:, None]).sum(axis=0) / counts.sum()
    post, (p1, p0, b1, b0), n, converged, change = _lop_em(
        bits,
        counts,
        unit_w,
        prior=prior,
        init=init,
        normalized=normalized,
        tolerance=tolerance,
        max_iterations=max_iterations,
        fp_tolerance=fp_tolerance,
        fp_max_iterations=fp_max_iterations,
    )
    details.update(
        theta_change=change,
        phi_sensitivity=_opinion(p1, p0, mean_w),
        phi_specificity=_opinion(b0, b1, mean_w),
        n_units=len(counts),
    )
    return ConsensusResult(
        method="lop-staple",
        posterior=expand(post),
        sensitivity=p1,
        specificity=b0,
        prior=prior,
        iterations=n,
        converged=converged,
        threshold=threshold,
        weights=wmap,
        n_voxels=int(n_voxels),
        votes_outside_mask=outside,
        region=region,
        details=details,
    )


def _voxel_units(
    votes: np.ndarray, wmap: np.ndarray, region: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Voxels of the region grouped by (vote pattern, weights): exact, and far fewer units where
    the weights are uniform. Returns bits (U, R), counts (U,), weights (U, R), expand()."""
    n_raters = votes.shape[0]
    grid = votes.shape[1:]
    flat_region = np.ones(int(np.prod(grid)), bool) if region is None else region.reshape(-1)
    idx = np.flatnonzero(flat_region)
    d = votes.reshape(n_raters, -1)[:, idx].T
    w = wmap.reshape(n_raters, -1)[:, idx].T
    # Voxels whose weights are all 1 (far from any disagreement: most of a brain) are grouped by
    # vote pattern with a bincount; only the rest go through the slower row-wise np.unique.
    plain = np.all(w == 1.0, axis=1)
    codes = d[plain].astype(np.int64) @ (1 << np.arange(n_raters, dtype=np.int64))
    code_values, code_inverse, code_counts = np.unique(codes, return_inverse=True, return_counts=True)
    code_bits = ((code_values[:, None] >> np.arange(n_raters)[None, :]) & 1).astype(np.float64)
    keys = np.concatenate([d[~plain].astype(np.float64), w[~plain]], axis=1)
    rest, rest_inverse, rest_counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    uniq = np.concatenate(
        [np.concatenate([code_bits, np.ones_like(code_bits)], axis=1), rest.reshape(-1, 2 * n_raters)]
    )
    counts = np.concatenate([code_counts, rest_counts])
    inverse = np.empty(idx.size, dtype=np.int64)
    inverse[plain] = code_inverse.reshape(-1)
    inverse[~plain] = len(code_values) + rest_inverse.reshape(-1)

    def expand(values: np.ndarray) -> np.ndarray:
        out = np.zeros(flat_region.size)
        out[idx] = values[inverse]
        return out.reshape(grid)

    return uniq[:, :n_raters] > 0.5, counts.astype(np.float64), np.ascontiguousarray(uniq[:, n_raters:]), expand


# ----------------------------------------------------------------------------------------------
# Local (windowed) LOP-STAPLE


def local_lop_staple(
    votes: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    weight_half_size: int = 2,
    half_size: int = 2,
    init: float = 0.99,
    map_mode: str | None = "diag",
    alpha: float = 5.0,
    beta: float = 1.5,
    alpha_off: float = 1.5,
    beta_off: float = 5.0,
    map_weight: float = 0.5,
    tolerance: float = 1e-6,
    max_iterations: int = 100,
    threshold: float = 0.5,
    case: str | None = None,
) -> ConsensusResult:
    """Local LOP-STAPLE: each voxel's rater parameters are estimated in its own cubic window.

    In the spirit of CRKit's ``crlLocalLOPSTAPLE`` and of local MAP STAPLE (Commowick,
    Akhondi-Asl & Warfield, IEEE TMI 31(8), 2012); CRKit's window mechanics are not published, so
    this is lesionbench's own design (docs/consensus.md, "Local LOP-STAPLE"):

    * voxel i's window is the cube of half-size ``half_size`` (2: 5x5x5) centred on it, cut to
      the region; its M-step sums ``S1_k = sum W D_k``, ``SW = sum W``, ``S0_k = sum (1-W)(1-D_k)``
      and ``SV = sum (1-W)`` are box filters (``scipy.ndimage.uniform_filter``), and
      ``p_k(i) = (S1_k + w(a-1)) / (SW + w(a+b-2))``, likewise ``q_k(i)``, with the MAP-STAPLE
      Beta prior (``map_mode`` "diag" by default: a window holds at most 125 voxels);
    * these are the opinions at the window's mean weight ``wbar_k(i)``; at voxel i the rater's
      opinion is re-tempered by ``w_ik / wbar_k(i)`` and renormalised (as in :func:`lop_staple`),
      so constant weights give local MAP-STAPLE and only locally varying weights change it;
    * prior ``f``: mean vote over the whole region (fixed); start ``init``; stop when the largest
      change of any local p or q is ``<= tolerance`` (1e-6) from the second pass on, or after
      ``max_iterations``;
    * work is done only near the votes: region voxels farther than ``2 * half_size`` voxels
      (Chebyshev distance) from every vote get posterior 0 (their window holds no vote); the
      remaining voxels form connected clusters (26-connectivity), each solved on its own, and a
      window counts only the voxels of its own cluster.

    ``sensitivity``/``specificity``: the posterior-weighted means of the local p and q.
    """
    votes = check_votes(votes, case=case)
    threshold = _check_threshold(threshold)
    max_iterations = check_em_settings(init, tolerance, max_iterations)
    num, den = map_pseudo_counts(
        map_mode, alpha=alpha, beta=beta, alpha_off=alpha_off, beta_off=beta_off, map_weight=map_weight
    )
    half_size = int(half_size)
    if half_size < 1:
        raise ConfigError(f"half_size (window half-size, voxels) must be >= 1; got {half_size}")
    n_raters, grid = votes.shape[0], votes.shape[1:]
    region = region_or_default(votes, mask, None, case)
    in_region = np.ones(grid, bool) if region is None else region
    marked = votes.any(axis=0) & in_region
    details: dict[str, object] = {"map_mode": map_mode, "half_size": half_size}
    if not marked.any():
        return empty_result("local-lop-staple", n_raters, grid, threshold=threshold, region=region, **details)
    near = _dilate_in_boxes(marked, 2 * half_size) & in_region
    if weights is None:
        wmap = agreement_weights(votes, half_size=weight_half_size, region=near)
    else:
        wmap = check_weights(weights, n_raters, grid, case)
        if wmap.ndim == 1:
            wmap = np.broadcast_to(wmap.reshape(n_raters, *([1] * len(grid))), votes.shape)
    n_region = int(np.count_nonzero(in_region))
    prior = float(np.count_nonzero(votes & in_region)) / (n_region * n_raters)
    if prior >= 1.0:
        from dataclasses import replace

        res = empty_result("local-lop-staple", n_raters, grid, threshold=threshold, region=region, **details)
        return replace(res, posterior=in_region.astype(np.float64), prior=prior)
    clusters, n_clusters = ndi.label(near, structure=np.ones((3,) * len(grid)))
    posterior = np.zeros(grid)
    sens_num = np.zeros(n_raters)
    spec_num = np.zeros(n_raters)
    sw_total = sv_total = 0.0
    iterations, converged, change = 0, True, 0.0
    logit_f = math.log(prior) - math.log1p(-prior)
    for label, box in enumerate(ndi.find_objects(clusters), start=1):
        if box is None:
            continue
        box = tuple(slice(max(s.start - half_size, 0), min(s.stop + half_size, n)) for s, n in zip(box, grid))
        comp = (clusters[box] == label) & near[box]
        out = _local_em(
            votes[(slice(None), *box)],
            wmap[(slice(None), *box)],
            comp,
            logit_f=logit_f,
            half_size=half_size,
            init=init,
            num=num,
            den=den,
            tolerance=tolerance,
            max_iterations=max_iterations,
        )
        w_box, p_loc, q_loc, n, ok, ch = out
        posterior[box][comp] = w_box
        sens_num += (w_box[:, None] * p_loc.T).sum(axis=0)
        spec_num += ((1.0 - w_box)[:, None] * q_loc.T).sum(axis=0)
        sw_total += float(w_box.sum())
        sv_total += float((1.0 - w_box).sum())
        iterations, converged, change = max(iterations, n), converged and ok, max(change, ch)
    details.update(theta_change=change, n_clusters=int(n_clusters), n_computed=int(np.count_nonzero(near)))
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = sens_num / sw_total if sw_total > 0 else np.full(n_raters, np.nan)
        spec = spec_num / sv_total if sv_total > 0 else np.full(n_raters, np.nan)
    return ConsensusResult(
        method="local-lop-staple",
        posterior=posterior,
        sensitivity=sens,
        specificity=spec,
        prior=prior,
        iterations=iterations,
        converged=converged,
        threshold=threshold,
        weights=np.asarray(wmap),
        n_voxels=n_region,
        votes_outside_mask=int(np.count_nonzero(votes & ~in_region)),
        region=region,
        details=details,
    )


def _dilate_in_boxes(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilation by a cube of half-size ``radius`` (Chebyshev distance), done per axis."""
    out = mask
    for axis in range(mask.ndim):
        out = ndi.maximum_filter1d(out.view(np.uint8), size=2 * radius + 1, axis=axis, mode="constant").view(bool)
    return out


def _local_em(
    votes: np.ndarray,
    wmap: np.ndarray,
    comp: np.ndarray,
    *,
    logit_f: float,
    half_size: int,
    init: float,
    num: float,
    den: float,
    tolerance: float,
    max_iterations: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool, float]:
    """EM of the local model on one box; ``comp`` marks the voxels computed. Returns the posterior
    and local p, q (R, n) at those voxels, passes, converged, last change."""
    size = 2 * half_size + 1
    volume = float(size**comp.ndim)

    def box_sum(x: np.ndarray) -> np.ndarray:
        return ndi.uniform_filter(x, size=size, mode="constant") * volume

    n_raters = votes.shape[0]
    inside = comp.astype(np.float64)
    idx: tuple[Any, ...] = np.nonzero(comp)
    d = votes[(slice(None), *idx)]  # (R, n) decisions at the computed voxels
    n_reg = box_sum(inside)[idx]
    n_d = np.stack([box_sum(votes[k] * inside)[idx] for k in range(n_raters)])
    wbar = np.stack([box_sum(wmap[k] * inside)[idx] for k in range(n_raters)]) / n_reg
    w_here = wmap[(slice(None), *idx)]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(wbar > 0, w_here / np.where(wbar > 0, wbar, 1.0), 1.0)
    p = np.full(d.shape, float(init))
    q = np.full(d.shape, float(init))
    post = np.zeros(d.shape[1])
    field = np.zeros(comp.shape)
    lo, hi = 1e-12, 1.0 - 1e-12  # only reached without MAP pseudo-counts
    change = math.inf
    for n in range(1, max_iterations + 1):
        pc, qc = np.clip(p, lo, hi), np.clip(q, lo, hi)
        lp, l1p, lq, l1q = np.log(pc), np.log1p(-pc), np.log(qc), np.log1p(-qc)
        lesion = ratio * np.where(d, lp, l1p) - np.logaddexp(ratio * lp, ratio * l1p)
        backgr = ratio * np.where(d, l1q, lq) - np.logaddexp(ratio * l1q, ratio * lq)
        logit = logit_f + (lesion - backgr).sum(axis=0)
        post = 0.5 * (1.0 + np.tanh(0.5 * logit))  # the logistic, overflow-free
        field[idx] = post
        sw = box_sum(field)[idx]
        sv = n_reg - sw
        new_p = np.empty_like(p)
        new_q = np.empty_like(q)
        for k in range(n_raters):
            s1 = box_sum(field * votes[k])[idx]
            s0 = sv - (n_d[k] - s1)
            with np.errstate(invalid="ignore", divide="ignore"):
                new_p[k] = np.where(sw + den > 0, (s1 + num) / (sw + den), p[k])
                new_q[k] = np.where(sv + den > 0, (s0 + num) / (sv + den), q[k])
        change = float(max(np.abs(new_p - p).max(), np.abs(new_q - q).max()))
        p, q = new_p, new_q
        if n >= 2 and change <= tolerance:
            return post, p, q, n, True, change
    return post, p, q, max_iterations, False, change
