"""MAP-STAPLE for binary masks with the semantics of Anima's ``animaMultiThreadedSTAPLE``.

Commowick & Warfield (MICCAI 2010) put Beta priors on the raters' performance parameters so
that EM stays sane when a rater or a label has little data; Anima (Inria Empenn,
``animaMultiThreadedSTAPLE``) implements it. Reproduced here for two labels (docs/consensus.md):

* region: ``mask`` when given; else the union of the raters dilated by an ITK ball of radius
  ``mask_dilation`` voxels (default 2); ``mask_dilation = 0`` is the whole grid;
* prior: ``f`` = mean vote inside the region, fixed;
* start: sensitivity ``p_k`` = specificity ``q_k`` = ``init`` (0.99);
* each pass: E-step ``logit W = logit f + sum_k [D ln(p/(1-q)) + (1-D) ln((1-p)/q)]`` (computed as
  separate log-likelihoods, the same number as Anima's long-double product), then M-step
  ``p = (S1 + w(a-1)) / (SW + w(a+b-2))``, ``q = (S0 + w(a-1)) / (SV + w(a+b-2))`` with
  ``S1 = sum W D``, ``SW = sum W``, ``S0 = sum (1-W)(1-D)``, ``SV = sum (1-W)``; ``map_mode``
  None drops the pseudo-counts (maximum likelihood), ``"diag"`` uses Beta(``alpha``, ``beta``)
  and ``"full"`` uses ``alpha + beta_off - 1`` and ``beta + alpha_off - 1`` (Anima's rewrite of
  its full MAP for two labels);
* stop from the second pass on when the largest change of any ``p_k`` or ``q_k`` is
  ``<= tolerance`` (1e-8), or after ``max_iterations`` (100) passes;
* the posterior is the last E-step's; label = ``W > threshold`` (0.5, strict), 0 outside.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .base import ConsensusResult, _check_threshold, check_votes, empty_result
from .options import DEFAULT_DILATION
from .patterns import _patterns, _votes_outside
from .region import region_or_default


def map_pseudo_counts(
    map_mode: str | None, *, alpha: float, beta: float, alpha_off: float, beta_off: float, map_weight: float
) -> tuple[float, float]:
    """Numerator and denominator pseudo-counts ``(w(a-1), w(a+b-2))`` of the MAP M-step.

    ``map_mode`` None (or ``"ml"``/``"none"``) gives (0, 0); ``"diag"`` uses Beta(alpha, beta);
    ``"full"`` uses ``a = alpha + beta_off - 1``, ``b = beta + alpha_off - 1``.
    """
    if map_mode in (None, "ml", "none"):
        return 0.0, 0.0
    if map_mode == "diag":
        a, b = float(alpha), float(beta)
    elif map_mode == "full":
        a, b = float(alpha) + float(beta_off) - 1.0, float(beta) + float(alpha_off) - 1.0
    else:
        raise ConfigError(f"map_mode must be None, 'diag' or 'full'; got {map_mode!r}")
    if not (a >= 1.0 and b >= 1.0 and a + b > 2.0) or not map_weight >= 0.0:
        raise ConfigError(
            f"MAP-STAPLE needs Beta parameters >= 1 (not both 1) and map_weight >= 0; got alpha {a}, beta {b}, map_weight {map_weight}"
        )
    return float(map_weight) * (a - 1.0), float(map_weight) * (a + b - 2.0)


def check_em_settings(init: float, tolerance: float, max_iterations: int) -> int:
    """Validate the common EM settings; returns ``max_iterations`` as an int."""
    if not 0.5 < float(init) < 1.0:
        raise ConfigError(f"init (initial sensitivity and specificity) must be in (0.5, 1); got {init}")
    if not float(tolerance) >= 0.0:
        raise ConfigError(f"tolerance must be >= 0; got {tolerance}")
    if int(max_iterations) < 1:
        raise ConfigError(f"max_iterations must be at least 1; got {max_iterations}")
    return int(max_iterations)


def log_posterior_odds_weights(
    bits: np.ndarray, p: np.ndarray, q: np.ndarray, prior: float
) -> tuple[np.ndarray, np.ndarray]:
    """Log-likelihoods (plus log-prior) of lesion and background for each vote pattern."""
    with np.errstate(divide="ignore"):
        log_a = math.log(prior) + np.where(bits, np.log(p), np.log1p(-p)).sum(axis=1)
        log_b = math.log1p(-prior) + np.where(bits, np.log1p(-q), np.log(q)).sum(axis=1)
    return log_a, log_b


def posterior_from_logs(log_a: np.ndarray, log_b: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """``W = a / (a + b)`` from logs; keeps ``previous`` where both likelihoods are zero."""
    both_zero = np.isneginf(log_a) & np.isneginf(log_b)
    with np.errstate(over="ignore", invalid="ignore"):
        w = 1.0 / (1.0 + np.exp(log_b - log_a))
    return np.where(both_zero, previous, w)


def _map_em(
    bits: np.ndarray,
    counts: np.ndarray,
    *,
    prior: float,
    init: float,
    num: float,
    den: float,
    tolerance: float,
    max_iterations: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool, float]:
    n_raters = bits.shape[1]
    decisions = bits.astype(np.float64)
    p = np.full(n_raters, float(init))
    q = np.full(n_raters, float(init))
    w = np.zeros(len(counts))
    change = math.inf
    for n in range(1, max_iterations + 1):
        log_a, log_b = log_posterior_odds_weights(bits, p, q, prior)
        w = posterior_from_logs(log_a, log_b, w)
        cw, cnw = counts * w, counts * (1.0 - w)
        sw, sv = cw.sum() + den, cnw.sum() + den
        new_p = (cw @ decisions + num) / sw if sw > 0 else p
        new_q = (cnw @ (1.0 - decisions) + num) / sv if sv > 0 else q
        change = float(max(np.abs(new_p - p).max(), np.abs(new_q - q).max()))
        p, q = new_p, new_q
        if n >= 2 and change <= tolerance:
            return w, p, q, n, True, change
    return w, p, q, max_iterations, False, change


def map_staple(
    votes: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    mask_dilation: int = DEFAULT_DILATION,
    init: float = 0.99,
    map_mode: str | None = "diag",
    alpha: float = 5.0,
    beta: float = 1.5,
    alpha_off: float = 1.5,
    beta_off: float = 5.0,
    map_weight: float = 0.5,
    tolerance: float = 1e-8,
    max_iterations: int = 100,
    threshold: float = 0.5,
    case: str | None = None,
) -> ConsensusResult:
    """Binary MAP-STAPLE as Anima's ``animaMultiThreadedSTAPLE`` computes it (module docstring).

    ``mask``: the computation region (e.g. from :func:`fusion_region`); when None, the raters'
    union dilated by ``mask_dilation`` voxels (0: the whole grid). ``map_mode`` None is Anima
    without ``-D``/``-F`` (maximum likelihood), ``"diag"`` is ``-D`` (default), ``"full"`` is ``-F``.
    All raters empty gives an empty consensus without EM.
    """
    votes = check_votes(votes, case=case)
    threshold = _check_threshold(threshold)
    max_iterations = check_em_settings(init, tolerance, max_iterations)
    num, den = map_pseudo_counts(
        map_mode, alpha=alpha, beta=beta, alpha_off=alpha_off, beta_off=beta_off, map_weight=map_weight
    )
    region = region_or_default(votes, mask, mask_dilation, case)
    details: dict[str, object] = {"map_mode": map_mode}
    if not votes.any() or (region is not None and not region.any()):
        return empty_result(
            "map-staple", votes.shape[0], votes.shape[1:], threshold=threshold, region=region, **details
        )
    pats = _patterns(votes, region)
    n_voxels = float(pats.counts.sum())
    prior = float(np.dot(pats.counts, pats.bits.sum(axis=1))) / (n_voxels * votes.shape[0])
    if prior <= 0.0 or prior >= 1.0:  # nothing (or everything) marked inside a given region
        value = 0.0 if prior <= 0.0 else 1.0
        res = empty_result("map-staple", votes.shape[0], votes.shape[1:], threshold=threshold, region=region, **details)
        return _replace(res, pats.expand(np.full(len(pats.counts), value)), prior, _votes_outside(votes, pats))
    w, p, q, n, converged, change = _map_em(
        pats.bits,
        pats.counts,
        prior=prior,
        init=init,
        num=num,
        den=den,
        tolerance=tolerance,
        max_iterations=max_iterations,
    )
    details["theta_change"] = change
    return ConsensusResult(
        method="map-staple",
        posterior=pats.expand(w),
        sensitivity=p,
        specificity=q,
        prior=prior,
        iterations=n,
        converged=converged,
        threshold=threshold,
        n_voxels=int(n_voxels),
        votes_outside_mask=0 if region is None else _votes_outside(votes, pats),
        region=region,
        details=details,
    )


def _replace(res: ConsensusResult, posterior: np.ndarray, prior: float, outside: int) -> ConsensusResult:
    from dataclasses import replace

    return replace(res, posterior=posterior, prior=prior, votes_outside_mask=outside)
