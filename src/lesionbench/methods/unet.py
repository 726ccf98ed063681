"""``unet3d``: a MONAI 3-D U-Net trained on the training split's consensus.

Network: ``monai.networks.nets.UNet`` (residual units; Kerfoot et al., MICCAI 2018 workshop, after
Ronneberger et al. 2015 / Cicek et al. 2016), two output classes, loss ``DiceCELoss`` (soft Dice
+ cross-entropy, as nnU-Net, Isensee et al., Nat Methods 18:203, 2021). Training patches are
sampled with a fixed fraction centred on lesion voxels (lesions fill < 1 % of the brain, so
uniform patches would teach "no lesion"), augmented with random flips and intensity scale/shift.
Inference is ``monai.inferers.sliding_window_inference`` with Gaussian blending, optionally
averaged over mirrored copies (flip test-time augmentation).

CUDA is used when available (``device: auto``) with automatic mixed precision (``torch.autocast``
+ ``GradScaler``); on CPU everything runs in float32. Seeds are fixed: same data, parameters and
seed give the same weights on the same device and thread count.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.networks.nets import UNet

from ..errors import ConfigError, InputError
from .inputs import CaseArrays, params_from_mapping
from .postprocess import remove_small_lesions


@dataclass(frozen=True)
class UNetParams:
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 1
    dropout: float = 0.0
    patch_size: tuple[int, int, int] = (32, 32, 32)
    batch_size: int = 4
    iterations: int = 300
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    lesion_fraction: float = 0.6
    augment: bool = True
    flip_tta: bool = True
    sw_overlap: float = 0.25
    sw_batch_size: int = 4
    threshold: float = 0.5
    min_lesion_mm3: float = 9.0

    @classmethod
    def from_mapping(cls, params: dict) -> UNetParams:
        return params_from_mapping(cls, params, int_triples=("channels", "strides", "patch_size"))


def build_network(in_channels: int, params: UNetParams) -> UNet:
    if len(params.strides) != len(params.channels) - 1:
        raise ValueError("unet3d: strides must have one entry fewer than channels")
    return UNet(
        spatial_dims=3,
        in_channels=in_channels,
        out_channels=2,
        channels=params.channels,
        strides=params.strides,
        num_res_units=params.num_res_units,
        dropout=params.dropout,
    )


class PatchSampler:
    """Lesion-balanced patch sampling on arrays: each patch is centred on a lesion voxel with
    probability ``lesion_fraction``, else on a brain voxel. Hand-written (not MONAI's
    RandCropByPosNegLabeld) so that all randomness comes from one numpy Generator."""

    def __init__(self, cases: Sequence[CaseArrays], patch_size: Sequence[int], lesion_fraction: float):
        self.patch = tuple(int(p) for p in patch_size)
        self.lesion_fraction = float(lesion_fraction)
        half = [p // 2 for p in self.patch]
        pad = [(0, 0)] + [(h, p - h) for h, p in zip(half, self.patch)]
        self.images, self.labels, self.lesion, self.brain = [], [], [], []
        for case in cases:
            if case.label is None:
                raise InputError("unet3d: a training case has no reference mask", case=case.case)
            # zero padding: the harmonized images are zero outside the brain already
            self.images.append(np.pad(case.images.astype(np.float32), pad))
            self.labels.append(np.pad(case.label.astype(np.uint8), pad[1:]))
            self.lesion.append(np.argwhere(case.label))
            brain = np.argwhere(case.brain_mask)
            self.brain.append(brain if len(brain) else np.argwhere(np.ones(case.shape, dtype=bool)))
        if not any(len(p) for p in self.lesion):
            raise InputError("unet3d: the training cases have no lesion voxel")

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for _ in range(batch_size):
            i = int(rng.integers(len(self.images)))
            pool = self.lesion[i] if (len(self.lesion[i]) and rng.random() < self.lesion_fraction) else self.brain[i]
            centre = pool[int(rng.integers(len(pool)))]
            # with the padding, the patch starting at ``centre`` in padded coordinates is centred on it
            window = tuple(slice(int(c), int(c) + p) for c, p in zip(centre, self.patch))
            xs.append(self.images[i][(slice(None), *window)])
            ys.append(self.labels[i][window][None])
        return np.stack(xs), np.stack(ys)


def augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random mirror along each axis and per-channel intensity scale (x0.9-1.1) and shift (+-0.1)."""
    x = x.copy()
    y = y.copy()
    for b in range(x.shape[0]):
        for axis in range(3):
            if rng.random() < 0.5:
                x[b] = np.flip(x[b], axis=axis + 1)
                y[b] = np.flip(y[b], axis=axis + 1)
        scale = rng.uniform(0.9, 1.1, size=(x.shape[1], 1, 1, 1)).astype(np.float32)
        shift = rng.uniform(-0.1, 0.1, size=(x.shape[1], 1, 1, 1)).astype(np.float32)
        x[b] = x[b] * scale + shift
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


@dataclass
class TrainingResult:
    model: torch.nn.Module
    curve: list[dict[str, float]]
    device: str
    seconds: float


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is an error."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device {requested!r} is not one of auto, cpu, cuda")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device is cuda but torch sees no CUDA GPU (set device: auto or cpu)")
    return requested


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def train_unet(
    cases: Sequence[CaseArrays],
    params: UNetParams,
    *,
    seed: int,
    device: str = "cpu",
    threads: int = 1,
    progress: Callable[[int, float], None] | None = None,
) -> TrainingResult:
    """Train on lesion-balanced patches of ``cases`` for ``params.iterations`` steps."""
    torch.set_num_threads(max(1, int(threads)))
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    sampler = PatchSampler(cases, params.patch_size, params.lesion_fraction)
    model = build_network(cases[0].images.shape[0], params).to(device)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    schedule = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=max(1, params.iterations), power=0.9)
    use_amp = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    curve = []
    start = time.perf_counter()
    model.train()
    for iteration in range(1, params.iterations + 1):
        x, y = sampler.sample(params.batch_size, rng)
        if params.augment:
            x, y = augment(x, y, rng)
        xt = torch.from_numpy(x).to(device)
        yt = torch.from_numpy(y.astype(np.int64)).to(device)
        optimizer.zero_grad(set_to_none=True)
        if use_amp:
            with torch.autocast("cuda", dtype=torch.float16):
                loss = loss_fn(model(xt), yt)
            assert scaler is not None  # created whenever use_amp
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss = loss_fn(model(xt), yt)
            loss.backward()
            optimizer.step()
        schedule.step()
        value = float(loss.detach().cpu())
        curve.append(
            {
                "iteration": iteration,
                "loss": value,
                "learning_rate": float(schedule.get_last_lr()[0]),
                "seconds": time.perf_counter() - start,
            }
        )
        if progress is not None:
            progress(iteration, value)
    model.eval()
    return TrainingResult(model=model, curve=curve, device=device, seconds=time.perf_counter() - start)


def flip_sets(flip_tta: bool) -> list[tuple[int, ...]]:
    """No flip, or all 8 combinations of mirroring the three spatial axes (a group, so the
    averaged prediction is exactly equivariant to any of these mirrors)."""
    if not flip_tta:
        return [()]
    return [combo for r in range(4) for combo in itertools.combinations((2, 3, 4), r)]


def tta_probability(
    predict: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, flips: Sequence[tuple[int, ...]]
) -> torch.Tensor:
    """Mean lesion probability (softmax channel 1) over mirrored copies of ``image`` (1, C, x, y, z)."""
    total = None
    for dims in flips:
        flipped = torch.flip(image, dims) if dims else image
        logits = predict(flipped).float()
        probability = torch.softmax(logits, dim=1)[:, 1:2]
        if dims:
            probability = torch.flip(probability, dims)
        total = probability if total is None else total + probability
    return cast(torch.Tensor, total) / len(flips)


@torch.no_grad()
def predict_unet(
    model: torch.nn.Module, case: CaseArrays, params: UNetParams, *, device: str = "cpu", threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, probability) of one case by sliding-window inference (+ flip TTA)."""
    torch.set_num_threads(max(1, int(threads)))
    model = model.to(device).eval()
    image = torch.from_numpy(np.ascontiguousarray(case.images, dtype=np.float32))[None].to(device)
    use_amp = device.startswith("cuda")

    def predict(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
            out = sliding_window_inference(
                x,
                roi_size=params.patch_size,
                sw_batch_size=params.sw_batch_size,
                predictor=model,
                overlap=params.sw_overlap,
                mode="gaussian",
            )
            return cast(torch.Tensor, out)

    probability = tta_probability(predict, image, flip_sets(params.flip_tta))[0, 0].cpu().numpy().astype(np.float32)
    probability = np.where(case.brain_mask, probability, 0.0).astype(np.float32)
    mask = remove_small_lesions(probability > params.threshold, case.spacing, params.min_lesion_mm3)
    return mask, probability
