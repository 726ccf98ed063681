"""Speed of lesionbench.metrics (the full metric set) against medpy, MONAI and mikan-rs.

The pair: a 197x233x189 grid (MNI 2009 1 mm), a reference
with 20 ellipsoidal lesions (radius 2-8 voxels), a prediction that misses 3, adds 3 and redraws the
others with +-15 % radii, +-1 voxel centres and a random 1-voxel dilation or erosion. Each tool runs
on the same in-memory arrays (file reading excluded), once to warm up, then ``--repeats`` times;
the table prints medians and the ratio to lesionbench. The values are printed side by side as a
sanity check (HD95 families differ by design: see METRIC_INFO).

Peak memory of lesionbench is measured with tracemalloc (numpy allocations are traced) and printed
in multiples of one boolean volume. References: medpy 0.5.2 (``dc``, ``hd95``, ``assd``); MONAI
1.6.1 (``compute_dice``, ``compute_hausdorff_distance(percentile=95)``,
``compute_average_surface_distance(symmetric=True)``); mikan-rs 0.1.4 if installed
(``pip install mikan-rs==0.1.4``; spacing passed in its (x, y, z) order, i.e. reversed).

``--evaluate-case`` times instead the per-case scoring of the workflow (``evaluation.case_rows``,
file reading excluded) on a demo-sized case: a 1.4 mm grid of 120x145x120 voxels, 25 truth
lesions (the truth), 7 raters (each misses and adds lesions, jittered radii), the majority-vote consensus,
the 7 leave-one-rater-out majorities, and 4 methods; once without and once with the methods'
``loo`` rows (scored against each of the 7 leave-one-out fusions).

Usage: ``.venv/bin/python benchmarks/bench_metrics.py [--repeats 7] [--slow-repeats 2] [--seed 0]
[--evaluate-case]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("RAYON_NUM_THREADS", "2")

import numpy as np
from scipy import ndimage

from lesionbench.metrics import compute_metrics

SHAPE = (197, 233, 189)


def _ellipsoid(shape, centre, radii) -> tuple[tuple[slice, ...], np.ndarray]:
    lo = [max(0, int(np.floor(c - r)) - 1) for c, r in zip(centre, radii)]
    hi = [min(s, int(np.ceil(c + r)) + 2) for s, c, r in zip(shape, centre, radii)]
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
    inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0
    return tuple(slice(a, b) for a, b in zip(lo, hi)), inside


def make_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = np.zeros(SHAPE, dtype=bool)
    pred = np.zeros(SHAPE, dtype=bool)
    lesions = []
    for _ in range(20):
        centre = rng.uniform([40, 40, 40], [157, 193, 149])
        radii = rng.uniform(2, 8, size=3)
        lesions.append((centre, radii))
        box, inside = _ellipsoid(SHAPE, centre, radii)
        ref[box] |= inside
    missed = set(rng.choice(20, size=3, replace=False).tolist())
    for k, (centre, radii) in enumerate(lesions):
        if k in missed:
            continue
        box, inside = _ellipsoid(SHAPE, centre + rng.integers(-1, 2, size=3), radii * rng.uniform(0.85, 1.15, 3))
        op = rng.integers(0, 3)
        if op == 1:
            inside = ndimage.binary_dilation(inside)
        elif op == 2:
            inside = ndimage.binary_erosion(inside)
        pred[box] |= inside
    for _ in range(3):
        box, inside = _ellipsoid(SHAPE, rng.uniform([40, 40, 40], [157, 193, 149]), rng.uniform(2, 6, size=3))
        pred[box] |= inside
    return ref, pred


def _time(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run_lesionbench(ref, pred, spacing):
    d = compute_metrics(ref, pred, spacing).as_dict()
    return d["dice"], d["hausdorff95_mm"], d["hausdorff95_pooled_mm"], d["assd_mm"]


def run_medpy(ref, pred, spacing):
    from medpy.metric import binary

    return (
        binary.dc(pred, ref),
        None,
        binary.hd95(pred, ref, voxelspacing=spacing),
        binary.assd(pred, ref, voxelspacing=spacing),
    )


def run_monai(ref, pred, spacing):
    import torch
    from monai.metrics import compute_average_surface_distance, compute_dice, compute_hausdorff_distance

    p = torch.from_numpy(pred[None, None].astype(np.float32))
    r = torch.from_numpy(ref[None, None].astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dice = float(compute_dice(p, r, include_background=True)[0, 0])
        hd95 = float(
            compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=list(spacing))[0, 0]
        )
        assd = float(
            compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=list(spacing))[0, 0]
        )
    return dice, hd95, None, assd


def run_mikan(ref, pred, spacing):
    import mikan

    ev = mikan.ArrayEvaluator(ref.astype(np.uint8), pred.astype(np.uint8), spacing=tuple(reversed(spacing)))
    res = ev.labels(1).metrics(["dice", "hd95", "assd"])
    return res[0], res[1], None, res[2]


def peak_memory_volumes(ref, pred, spacing) -> float:
    tracemalloc.start()
    compute_metrics(ref, pred, spacing)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / ref.nbytes


CASE_SHAPE = (120, 145, 120)


def _perturbed(rng, lesions, shape, *, miss: int, add: int) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    missed = set(rng.choice(len(lesions), size=miss, replace=False).tolist())
    for k, (centre, radii) in enumerate(lesions):
        if k not in missed:
            box, inside = _ellipsoid(shape, centre + rng.integers(-1, 2, size=3), radii * rng.uniform(0.85, 1.15, 3))
            out[box] |= inside
    for _ in range(add):
        box, inside = _ellipsoid(shape, rng.uniform(20, np.array(shape) - 20), rng.uniform(1.5, 4, size=3))
        out[box] |= inside
    return out


def bench_evaluate_case(seed: int, repeats: int) -> None:
    from lesionbench.metrics.scoring import CaseInfo, EntryResult, case_rows

    rng = np.random.default_rng(seed)
    lesions = [(rng.uniform(25, np.array(CASE_SHAPE) - 25), rng.uniform(1.5, 6, size=3)) for _ in range(25)]
    truth = _perturbed(np.random.default_rng(seed + 1), lesions, CASE_SHAPE, miss=0, add=0)
    raters = {f"rater{k}": _perturbed(rng, lesions, CASE_SHAPE, miss=3, add=2) for k in range(1, 8)}
    votes = np.sum(list(raters.values()), axis=0)
    consensus = votes >= 4
    loo = {name: (votes - mask) >= 3 for name, mask in raters.items()}
    methods = [EntryResult(f"m{k}", "method", _perturbed(rng, lesions, CASE_SHAPE, miss=4, add=4)) for k in range(4)]
    info = CaseInfo("c01_test_p01", "01", "test", True)
    spacing = (1.4, 1.4, 1.4)
    print(f"case: {CASE_SHAPE} at 1.4 mm, consensus {int(consensus.sum())} vox, 7 raters, 4 methods")
    for against_loo in (False, True):
        med, rows = _time(
            lambda a=against_loo: case_rows(
                info,
                spacing=spacing,
                consensus_name="consensus_majority",
                consensus=consensus,
                raters=raters,
                loo=loo,
                entries=methods,
                truth=truth,
                methods_against_loo=a,
            ),
            repeats,
        )
        print(f"methods_against_loo={against_loo!s:5s}: {med:6.2f} s per case (median of {repeats}), {len(rows)} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of the fast tools")
    parser.add_argument("--slow-repeats", type=int, default=2, help="timed runs of medpy (slow: spare the shared CPUs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate-case", action="store_true", help="time the per-case scoring instead")
    args = parser.parse_args()
    if args.evaluate_case:
        bench_evaluate_case(args.seed, max(1, min(args.repeats, 3)))
        return
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:  # pragma: no cover
        pass
    ref, pred = make_pair(args.seed)
    n_ref = ndimage.label(ref)[1]
    n_pred = ndimage.label(pred)[1]
    print(
        f"pair: {SHAPE}, reference {int(ref.sum())} vox / {n_ref} lesions, "
        f"prediction {int(pred.sum())} vox / {n_pred} lesions"
    )
    tools = [
        ("lesionbench (full set)", run_lesionbench, args.repeats),
        ("MONAI 1.6.1 (dice+hd95+assd)", run_monai, args.repeats),
        ("medpy 0.5.2 (dice+hd95+assd)", run_medpy, args.slow_repeats),
    ]
    try:
        import mikan  # noqa: F401

        tools.insert(1, ("mikan-rs (dice+hd95+assd)", run_mikan, args.repeats))
    except ImportError:
        print("mikan-rs not installed: skipped (pip install mikan-rs==0.1.4)")
    for spacing in [(1.0, 1.0, 1.0), (1.0, 1.0, 3.0)]:
        print(f"\nspacing {spacing} mm")
        print(
            f"{'tool':32s} {'median s':>9s} {'x ours':>8s} {'dice':>7s} {'hd95max':>8s} {'hd95pool':>8s} {'assd':>7s}"
        )
        base = None
        for name, fn, reps in tools:
            med, (dice, hd95, hd95p, assd) = _time(lambda fn=fn: fn(ref, pred, spacing), reps)
            base = base or med
            fmt = lambda v: f"{v:8.3f}" if v is not None else f"{'-':>8s}"  # noqa: E731
            print(f"{name:32s} {med:9.3f} {med / base:8.1f} {dice:7.4f} {fmt(hd95)} {fmt(hd95p)} {fmt(assd)}")
        print(
            f"lesionbench peak traced memory: {peak_memory_volumes(ref, pred, spacing):.2f} boolean volumes "
            f"({ref.nbytes / 1e6:.1f} MB each)"
        )


if __name__ == "__main__":
    main()
