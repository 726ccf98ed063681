"""Benchmark: lesionbench's fusions (STAPLE, MAP-STAPLE, LOP-STAPLE, local LOP-STAPLE, majority)
side by side with SimpleITK STAPLEImageFilter on an MS-SEG-sized case.

7 simulated raters on a 197 x 233 x 189 grid (MNI 1 mm size). Prints median wall times, the
speed-up, and whether the outputs agree (posterior max |diff|, sensitivities, specificities,
ElapsedIterations, binary consensus). Then a validation table against the simulated truth:
Dice of each consensus method and of each rater, and estimated vs true rater sensitivity.

Run: .venv/bin/python benchmarks/bench_consensus.py [--repeats 3] [--sitk-repeats 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from lesionbench import consensus as cs

SHAPE = (197, 233, 189)


def simulate(rng: np.random.Generator, n_raters: int = 7, n_lesions: int = 25):
    """Truth ellipsoids in a brain ellipsoid; raters miss (by size), dilate, erode, add FP blobs."""
    centre, radii = np.array(SHAPE) / 2, np.array(SHAPE) * np.array([0.40, 0.42, 0.38])
    axes = [((np.arange(n) - c) / r) ** 2 for n, c, r in zip(SHAPE, centre, radii)]
    brain = (axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :]) <= 1
    truth = np.zeros(SHAPE, dtype=bool)
    boxes = []
    for _ in range(n_lesions):
        ctr = (centre + rng.uniform(-0.45, 0.45, 3) * radii).astype(int)
        semi = rng.uniform(1.2, 5.0, size=3)
        lo = np.maximum(ctr - 9, 0)
        hi = np.minimum(ctr + 10, SHAPE)
        g = np.indices(tuple(hi - lo)).T + lo
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        truth[box] |= ((((g - ctr) / semi) ** 2).sum(-1) <= 1).T
        boxes.append(box)
    raters = []
    for _ in range(n_raters):
        rater = np.zeros(SHAPE, dtype=bool)
        for box in boxes:
            lesion = truth[box]
            size = lesion.sum()
            if rng.random() < (0.6 if size < 30 else 0.25 if size < 100 else 0.05):
                continue
            u = rng.random()
            if u < 0.35:
                lesion = ndi.binary_dilation(lesion)
            elif u < 0.55 and size > 20:
                lesion = ndi.binary_erosion(lesion)
            rater[box] |= lesion
        for _ in range(rng.integers(0, 3)):
            ctr = (centre + rng.uniform(-0.5, 0.5, 3) * radii).astype(int)
            r = int(rng.integers(1, 3))
            rater[tuple(slice(c - r, c + r + 1) for c in ctr)] = True
        raters.append(rater)
    return truth, np.stack(raters), brain


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def sitk_staple(images):
    f = sitk.STAPLEImageFilter()
    out = f.Execute(images)
    return (
        sitk.GetArrayViewFromImage(out).copy(),
        np.array(f.GetSensitivity()),
        np.array(f.GetSpecificity()),
        f.GetElapsedIterations(),
    )


def dice(a, b):
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sitk-repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    truth, votes, brain = simulate(np.random.default_rng(args.seed))
    print(
        f"grid {SHAPE}, {votes.shape[0]} raters, truth {truth.sum()} voxels, "
        f"rater volumes {votes.reshape(7, -1).sum(1).tolist()}, SimpleITK threads {sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()}"
    )
    # Both sides get the same arrays; SimpleITK's image conversion is excluded from its time.
    images = [sitk.GetImageFromArray(v.astype(np.uint8)) for v in votes]
    t_sitk, (ref_w, ref_p, ref_q, ref_it) = timed(lambda: sitk_staple(images), args.sitk_repeats)
    t_lb, res = timed(lambda: cs.staple(votes), args.repeats)
    t_masked, masked = timed(lambda: cs.staple(votes, mask=brain), args.repeats)
    t_vote, vote = timed(lambda: cs.majority_vote(votes, mask=brain), args.repeats)
    union = cs.fusion_region(votes, "union", dilation=2)
    t_map, map_res = timed(lambda: cs.map_staple(votes), args.repeats)
    t_lop, lop = timed(lambda: cs.lop_staple(votes, mask=union), args.repeats)
    t_lop_b, lop_b = timed(lambda: cs.lop_staple(votes, mask=brain), args.repeats)
    t_local, local = timed(lambda: cs.local_lop_staple(votes, mask=union), args.repeats)
    print("\n| implementation | median s | SimpleITK time / this time |")
    print("|---|---|---|")
    print(f"| SimpleITK STAPLEImageFilter (no mask) | {t_sitk:.3f} | 1.0 |")
    for name, t in [
        ("lesionbench staple (no mask)", t_lb),
        ("lesionbench staple (brain mask)", t_masked),
        ("lesionbench map-staple (union r=2)", t_map),
        ("lesionbench lop-staple, agreement weights (union r=2)", t_lop),
        ("lesionbench lop-staple, agreement weights (brain mask)", t_lop_b),
        ("lesionbench local-lop-staple 5x5x5 (union r=2)", t_local),
        ("lesionbench majority (brain mask)", t_vote),
    ]:
        print(f"| {name} | {t:.3f} | {t_sitk / t:.2f} |")
    print("\nagreement with SimpleITK (no mask):")
    print(f"  posterior max |diff| {np.abs(res.posterior - ref_w).max():.3g}")
    print(
        f"  sensitivity max |diff| {np.abs(res.sensitivity - ref_p).max():.3g}, "
        f"specificity max |diff| {np.abs(res.specificity - ref_q).max():.3g}"
    )
    print(
        f"  iterations {res.iterations} vs ElapsedIterations {ref_it}; "
        f"binary identical: {np.array_equal(res.binary(), ref_w > 0.5)}"
    )

    rater_dice = [dice(v, truth) for v in votes]
    true_sens = cs.rater_performance(votes, truth, mask=brain).sensitivity
    print("\nvalidation against the simulated truth (Dice to truth):")
    print("| consensus | voxels | Dice | prior | iterations |")
    print("|---|---|---|---|---|")
    for name, r in [
        ("staple, no mask (= SimpleITK)", res),
        ("staple, brain mask", masked),
        ("map-staple (Anima defaults, union r=2)", map_res),
        ("lop-staple, agreement weights, union r=2", lop),
        ("lop-staple, agreement weights, brain", lop_b),
        ("local-lop-staple, union r=2", local),
        ("majority > 0.5, brain mask", vote),
    ]:
        b = r.binary()
        print(f"| {name} | {b.sum()} | {dice(b, truth) if b.any() else 0.0:.3f} | {r.prior:.4g} | {r.iterations} |")
    for t in range(1, 8):
        print(f"| at least {t} of 7 raters | {(votes.sum(0) >= t).sum()} | {dice(votes.sum(0) >= t, truth):.3f} | | |")
    print(f"raters' Dice to truth: {np.round(sorted(rater_dice), 3).tolist()} (median {np.median(rater_dice):.3f})")
    print("\n| rater | true sens | staple est. (mask) | majority est. (mask) | Dice to truth |")
    print("|---|---|---|---|---|")
    for j in range(votes.shape[0]):
        print(
            f"| {j + 1} | {true_sens[j]:.3f} | {masked.sensitivity[j]:.3f} | {vote.sensitivity[j]:.3f} | {rater_dice[j]:.3f} |"
        )


if __name__ == "__main__":
    main()
