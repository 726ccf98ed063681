"""Benchmark of the methods stage: inference seconds per case of each built-in method on a
demo-sized case (CPU; CUDA too when torch sees a GPU), U-Net training seconds per iteration,
and the pieces against reference tools.

Reference comparisons (ratios = ours / reference):
- minimum lesion size: ``remove_small_lesions`` (scipy.ndimage.label + bincount) vs SimpleITK
  ``ConnectedComponent`` + ``RelabelComponent(minimumObjectSize)``;
- U-Net inference: ``predict_unet`` with flip TTA (8 passes) vs one bare MONAI
  ``sliding_window_inference`` pass (the TTA cost);
- random forest: ``predict_forest`` (features + predict_proba in chunks) vs sklearn's
  ``predict_proba`` alone on the precomputed features (the feature cost).

Run: ``.venv/bin/python benchmarks/bench_methods.py [--repeats 3] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SHAPE = (112, 128, 96)  # a demo case: ~1.5-2 mm grid over a brain-sized field of view
SPACING = (1.5, 1.5, 1.8)


def demo_case(seed: int):
    from lesionbench.methods.inputs import CaseArrays

    rng = np.random.default_rng(seed)
    grid = np.indices(SHAPE).astype(np.float32)
    centre = (np.array(SHAPE) - 1)[:, None, None, None] / 2
    radius = np.sqrt((((grid - centre) / (np.array(SHAPE)[:, None, None, None] * 0.42)) ** 2).sum(0))
    brain = radius < 1.0
    wm = np.clip(1.2 - 1.6 * radius, 0, 1).astype(np.float32)
    label = np.zeros(SHAPE, bool)
    for _ in range(25):
        c = rng.integers(30, np.array(SHAPE) - 30)
        r = rng.integers(1, 4)
        label[c[0] - r : c[0] + r + 1, c[1] - r : c[1] + r + 1, c[2] - r : c[2] + r + 1] = True
    label &= brain
    images = rng.normal(0, 0.3, (4, *SHAPE)).astype(np.float32) + wm
    images[0][label] += 2.0
    images[2][label] += 1.0
    images *= brain
    priors = np.stack([wm, (1 - wm) * brain, np.zeros(SHAPE, np.float32)])
    return CaseArrays(case=f"demo{seed}", images=images, brain_mask=brain, spacing=SPACING, priors=priors, label=label)


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--unet-iterations", type=int, default=20, help="training iterations timed (per-iteration seconds reported)"
    )
    args = parser.parse_args()

    import SimpleITK as sitk
    import torch
    from monai.inferers import sliding_window_inference

    from lesionbench.methods import classical, forest, unet
    from lesionbench.methods.postprocess import remove_small_lesions

    torch.set_num_threads(args.threads)
    train = [demo_case(s) for s in range(2)]
    test = demo_case(9)
    print(f"case grid {SHAPE} at {SPACING} mm, {int(test.brain_mask.sum())} brain voxels, threads {args.threads}")
    rows = []

    # minimum lesion size vs SimpleITK
    noisy = np.random.default_rng(1).random(SHAPE) > 0.97
    ours, _ = timed(lambda: remove_small_lesions(noisy, SPACING, 9.0), args.repeats)
    min_voxels = int(np.ceil(9.0 / np.prod(SPACING)))

    def sitk_reference():
        image = sitk.GetImageFromArray(noisy.astype(np.uint8))
        labelled = sitk.ConnectedComponent(image, False)  # face connectivity = 6-connected
        return sitk.GetArrayFromImage(sitk.RelabelComponent(labelled, minimumObjectSize=min_voxels)) > 0

    reference, expected = timed(sitk_reference, args.repeats)
    assert np.array_equal(remove_small_lesions(noisy, SPACING, 9.0), expected)
    rows.append(("remove_small_lesions vs SimpleITK", ours, reference))

    # flair_hyperintensity
    params = classical.HyperintensityParams()
    tuned = classical.tune_threshold(train, 0, params)
    infer, _ = timed(lambda: classical.segment(test, 0, tuned.threshold, params), args.repeats)
    rows.append(("flair_hyperintensity inference / case", infer, None))

    # random forest
    fparams = forest.ForestParams(n_estimators=60, samples_per_case=6000)
    start = time.perf_counter()
    trained = forest.train_forest(train, fparams, seed=0, threads=args.threads)
    train_rf = time.perf_counter() - start
    infer_rf, _ = timed(lambda: forest.predict_forest(trained.forest, test, fparams), args.repeats)
    index = np.flatnonzero(test.brain_mask.ravel())
    x = forest.features_at(test, fparams, index)
    proba_only, _ = timed(lambda: trained.forest.predict_proba(x), args.repeats)
    rows.append(("random_forest training (2 cases)", train_rf, None))
    rows.append(("random_forest inference / case vs predict_proba alone", infer_rf, proba_only))

    # U-Net (demo configuration)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        uparams = unet.UNetParams(iterations=args.unet_iterations)
        result = unet.train_unet(train, uparams, seed=0, device=device, threads=args.threads)
        per_iteration = statistics.median(np.diff([0.0] + [r["seconds"] for r in result.curve])[2:])
        rows.append(
            (
                f"unet3d training / iteration ({device}, batch {uparams.batch_size}, patch {uparams.patch_size[0]})",
                per_iteration,
                None,
            )
        )
        infer_u, _ = timed(
            lambda: unet.predict_unet(result.model, test, uparams, device=device, threads=args.threads), args.repeats
        )
        image = torch.from_numpy(test.images)[None].to(device)
        model = result.model.to(device).eval()

        def bare():
            with torch.no_grad():
                return sliding_window_inference(
                    image, uparams.patch_size, uparams.sw_batch_size, model, overlap=uparams.sw_overlap, mode="gaussian"
                )

        infer_bare, _ = timed(bare, args.repeats)
        rows.append((f"unet3d inference / case, flip TTA ({device}) vs one bare MONAI pass", infer_u, infer_bare))

    print(f"\n{'measure':<70} {'median s':>10} {'reference s':>12} {'ratio':>7}")
    for name, value, ref in rows:
        ratio = f"{value / ref:7.2f}" if ref else "      -"
        ref_txt = f"{ref:12.3f}" if ref else "           -"
        print(f"{name:<70} {value:10.3f} {ref_txt} {ratio}")


if __name__ == "__main__":
    main()
