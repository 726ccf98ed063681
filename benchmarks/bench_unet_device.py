"""U-Net training and inference on the CPU and, where torch sees one, a CUDA GPU.

Trains ``lesionbench.methods.unet`` on synthetic cases built in-process (random noise with bright
blob lesions in every channel, 4 channels as FLAIR/T1/T2/PD) and predicts one held-out case,
on each device, and prints a markdown table of wall times and peak memory. Needs torch, monai,
numpy and scipy, and the lesionbench source (``PYTHONPATH=src``); nothing else.

    PYTHONPATH=src python benchmarks/bench_unet_device.py            # U-Net as in config.yaml
    PYTHONPATH=src python benchmarks/bench_unet_device.py --quick    # small, < 2 min on a CPU
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import torch

from lesionbench.methods import unet
from lesionbench.methods.inputs import CaseArrays

FULL = dict(channels=(16, 32, 64, 128), strides=(2, 2, 2), patch_size=(32, 32, 32), batch_size=4, iterations=300)
QUICK = dict(channels=(8, 16, 32), strides=(2, 2), patch_size=(24, 24, 24), batch_size=2, iterations=20)


def blob_case(seed: int, shape: tuple[int, int, int], channels: int = 4) -> CaseArrays:
    """Noise in a spherical brain with a few bright ellipsoid lesions, the same in every channel."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape).astype(np.float32)
    centre = (np.array(shape, np.float32) - 1) / 2
    brain = (((grid - centre[:, None, None, None]) / (0.45 * np.array(shape))[:, None, None, None]) ** 2).sum(0) <= 1
    label = np.zeros(shape, bool)
    for _ in range(6):
        c = rng.integers(np.array(shape) // 4, 3 * np.array(shape) // 4)
        r = rng.uniform(2.0, 4.0, 3)
        label |= (((grid - c[:, None, None, None]) / r[:, None, None, None]) ** 2).sum(0) <= 1
    label &= brain
    images = rng.normal(0.0, 0.3, (channels, *shape)).astype(np.float32) * brain
    images[:, label] += 1.5
    return CaseArrays(f"case{seed}", images, brain, (1.0, 1.0, 1.0), label=label)


def run(device: str, params: unet.UNetParams, train: list[CaseArrays], test: CaseArrays) -> dict[str, str]:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = unet.train_unet(train, params, seed=0, device=device, threads=torch.get_num_threads())
    if device == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    mask, _ = unet.predict_unet(result.model, test, params, device=device, threads=torch.get_num_threads())
    if device == "cuda":
        torch.cuda.synchronize()
    infer_s = time.perf_counter() - start
    assert test.label is not None
    dice = 2 * (mask & test.label).sum() / max(int(mask.sum() + test.label.sum()), 1)
    if device == "cuda":
        peak = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (GPU)"
        name = torch.cuda.get_device_name()
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (process RSS)"
        name = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return dict(
        device=f"{device} ({name})",
        train=f"{train_s:.1f}",
        iter=f"{1000 * train_s / params.iterations:.0f}",
        infer=f"{infer_s:.2f}",
        peak=peak,
        dice=f"{dice:.3f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small network, 20 iterations, small cases")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="devices to run (cuda skipped if absent)")
    args = parser.parse_args()
    params = unet.UNetParams.from_mapping(dict(QUICK if args.quick else FULL))
    shape = (48, 48, 40) if args.quick else (96, 96, 80)
    train = [blob_case(seed, shape) for seed in range(4)]
    test = blob_case(100, shape)
    rows = []
    for device in args.devices:
        if device == "cuda" and not torch.cuda.is_available():
            print("cuda: torch sees no GPU, skipped")
            continue
        rows.append(run(device, params, train, test))
    print(
        f"\ntorch {torch.__version__}, case shape {shape}, {params.iterations} iterations, patch {params.patch_size}\n"
    )
    print("| device | train (s) | ms / iteration | infer one case (s) | peak memory | Dice |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['device']} | {r['train']} | {r['iter']} | {r['infer']} | {r['peak']} | {r['dice']} |")


if __name__ == "__main__":
    main()
