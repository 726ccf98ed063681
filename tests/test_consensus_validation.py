"""Validation of the consensus methods against a known truth (self-contained rater simulation).

Raters follow the MS-lesion model of preprocessing-and-synthesis.md section 4 (Zhang et al.
2020 / Warfield 2004 style): per-lesion misses that depend on lesion size, dilation or erosion
of the outline, and a few false-positive blobs. This is the regime where SimpleITK-style
STAPLE becomes over-inclusive ("2 of 7") while the masked majority vote (the recommended
binary consensus) beats the median rater.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from lesionbench import consensus as cs


def simulate_case(rng: np.random.Generator, shape=(48, 56, 48), n_lesions=18, n_raters=7):
    grid = np.indices(shape).reshape(3, -1).T
    centre, radii = np.array(shape) / 2, np.array(shape) * 0.42
    brain = ((((grid - centre) / radii) ** 2).sum(axis=1) <= 1).reshape(shape)
    deep = ((((grid - centre) / (0.6 * radii)) ** 2).sum(axis=1) <= 1).reshape(shape)
    sites = np.argwhere(deep)
    truth = np.zeros(shape, dtype=bool)
    for _ in range(n_lesions):
        centre_l = sites[rng.integers(len(sites))]
        axes = rng.uniform(1.0, 3.5, size=3)
        truth |= (((np.indices(shape).T - centre_l) / axes) ** 2).sum(axis=-1).T <= 1
    labels, n = ndi.label(truth)
    sizes = ndi.sum(truth, labels, index=np.arange(1, n + 1))
    raters = []
    for _ in range(n_raters):
        rater = np.zeros(shape, dtype=bool)
        for i in range(1, n + 1):
            lesion = labels == i
            miss = 0.6 if sizes[i - 1] < 30 else 0.25 if sizes[i - 1] < 100 else 0.05
            if rng.random() < miss:
                continue
            u = rng.random()
            if u < 0.35:
                lesion = ndi.binary_dilation(lesion)
            elif u < 0.55 and sizes[i - 1] > 20:
                lesion = ndi.binary_erosion(lesion)
            rater |= lesion
        for _ in range(rng.integers(0, 3)):
            blob = np.zeros(shape, dtype=bool)
            blob[tuple(sites[rng.integers(len(sites))])] = True
            rater |= ndi.binary_dilation(blob, iterations=int(rng.integers(1, 3)))
        raters.append(rater)
    return truth, np.stack(raters), brain


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_masked_majority_beats_median_rater_and_staple_is_over_inclusive(seed):
    truth, votes, brain = simulate_case(np.random.default_rng(seed))
    rater_dice = np.array([dice(v, truth) for v in votes])
    majority = cs.majority_vote(votes, mask=brain)
    staple = cs.staple(votes, mask=brain)
    assert dice(majority.binary(), truth) > np.median(rater_dice)
    assert dice(majority.binary(), truth) > dice(staple.binary(), truth)
    # STAPLE's consensus is larger than the truth and than the vote: it keeps 2-of-7 voxels.
    assert staple.binary().sum() > 1.3 * truth.sum()
    assert staple.binary().sum() > 1.3 * majority.binary().sum()
    true_sensitivity = cs.rater_performance(votes, truth, mask=brain).sensitivity
    # ...and, having inflated the truth, it under-estimates every rater's sensitivity on average.
    assert np.mean(staple.sensitivity - true_sensitivity) < -0.03
    assert abs(np.mean(majority.sensitivity - true_sensitivity)) < 0.1
