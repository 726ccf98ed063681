"""``unet3d``: a MONAI 3-D U-Net trained on the training split's consensus, with the recipe of
nnU-Net (Isensee et al., Nat Methods 18:203, 2021) where a CPU budget allows it.

Network: ``monai.networks.nets.UNet`` (residual units; Kerfoot et al., MICCAI 2018 workshop, after
Ronneberger et al. 2015 / Cicek et al. 2016), two output classes, loss ``DiceCELoss`` (soft Dice
+ cross-entropy, as nnU-Net), AdamW with a polynomial learning-rate decay. Training patches are
sampled with a fixed fraction centred on lesion voxels (foreground oversampling: lesions fill
< 1 % of the brain, so uniform patches would teach "no lesion"). Augmentation, after the
transforms nnU-Net lists (ranges and probabilities chosen here, see ``UNetParams``): random
rotation and isotropic scaling in millimetres (so anisotropic voxels are rotated correctly),
mirroring, per-channel intensity scale and shift, gamma, additive Gaussian noise.

Validation and model selection (:mod:`.validation`): a fraction of the training cases is held
out; every ``validation_every`` iterations (and at the last) the network segments them whole,
by the same sliding-window inference as the test cases, and the weights with the best mean
validation score are kept. On the kept weights, the probability threshold and minimum lesion
size are chosen from a small grid on the validation cases and stored in the model.

Inference is ``monai.inferers.sliding_window_inference`` with Gaussian importance weighting
(as nnU-Net) over the brain's bounding box, optionally averaged over mirrored copies (flip
test-time augmentation).

CUDA is used when available (``device: auto``) with automatic mixed precision (``torch.autocast``
+ ``GradScaler``) and the longer schedule ``iterations_gpu``; on CPU everything runs in float32.
Seeds are fixed: same data, parameters and seed give the same weights on the same device and
thread count.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.networks.nets import UNet
from scipy import ndimage

from ..errors import ConfigError, InputError
from .inputs import CaseArrays, params_from_mapping
from .postprocess import remove_small_lesions
from .validation import PostprocessChoice, check_score_name, choose_postprocess, mask_scores


@dataclass(frozen=True)
class UNetParams:
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 1
    dropout: float = 0.0
    patch_size: tuple[int, int, int] = (32, 32, 32)
    batch_size: int = 4
    iterations: int = 300
    #: iterations when training runs on a CUDA GPU (0: ``iterations``)
    iterations_gpu: int = 0
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    lesion_fraction: float = 0.6
    augment: bool = True
    #: probability that a patch is rotated and scaled, largest rotation about each axis (degrees)
    #: and the range of the isotropic scale factor
    spatial_p: float = 0.2
    rotation_deg: float = 15.0
    scale_range: tuple[float, ...] = (0.85, 1.2)
    #: probability of a gamma change per patch and channel, and the range of gamma
    gamma_p: float = 0.3
    gamma_range: tuple[float, ...] = (0.7, 1.5)
    #: probability of additive Gaussian noise per patch, and the largest standard deviation
    noise_p: float = 0.15
    noise_std: float = 0.1
    flip_tta: bool = True
    sw_overlap: float = 0.25
    sw_batch_size: int = 4
    threshold: float = 0.5
    min_lesion_mm3: float = 9.0
    #: fraction of the training cases held out for validation (0: none; see .validation)
    validation_fraction: float = 0.2
    validation_every: int = 100
    #: score of model selection and of the post-processing choice: dice, lesion_f1 or dice_f1
    validation_score: str = "dice_f1"
    #: model selection on an exponential moving average of the validation score, weight of the
    #: past in [0, 1) (0: the raw score; nnU-Net selects on such an average, see ``train_unet``)
    selection_smoothing: float = 0.0
    #: the post-processing grid searched on the validation cases (empty: keep threshold/min_lesion_mm3)
    postprocess_thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    postprocess_min_lesion_mm3: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0)

    @classmethod
    def from_mapping(cls, params: dict) -> UNetParams:
        result = params_from_mapping(
            cls,
            params,
            int_triples=("channels", "strides", "patch_size"),
            float_tuples=("scale_range", "gamma_range", "postprocess_thresholds", "postprocess_min_lesion_mm3"),
        )
        result.check()
        return result

    def check(self) -> None:
        """Raise :class:`~lesionbench.errors.ConfigError` on values training cannot use."""
        check_score_name(self.validation_score)
        for key in ("scale_range", "gamma_range"):
            low_high = getattr(self, key)
            if len(low_high) != 2 or not 0 < low_high[0] <= low_high[1]:
                raise ConfigError(f"unet3d: {key} must be two numbers 0 < low <= high, not {list(low_high)}")
        if not 0.0 <= self.selection_smoothing < 1.0:
            raise ConfigError(f"unet3d: selection_smoothing must be in [0, 1), not {self.selection_smoothing}")
        if self.validation_every < 1:
            raise ConfigError(f"unet3d: validation_every must be at least 1, not {self.validation_every}")
        if self.iterations < 1 or self.iterations_gpu < 0:
            raise ConfigError("unet3d: iterations must be at least 1 and iterations_gpu at least 0")

    def iterations_on(self, device: str) -> int:
        """The training length on ``device``: ``iterations_gpu`` on CUDA when set, else ``iterations``."""
        return self.iterations_gpu if device.startswith("cuda") and self.iterations_gpu > 0 else self.iterations


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


def rotation_matrix(angles_rad: Sequence[float] | np.ndarray) -> np.ndarray:
    """Rotation by ``angles_rad`` about the first, second and third axis, in that order."""
    a, b, c = (float(v) for v in angles_rad)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def spatial_matrix(spacing: Sequence[float], angles_rad: Sequence[float] | np.ndarray, scale: float) -> np.ndarray:
    """Voxel-to-voxel matrix of a rotation and isotropic scaling done in millimetres: patch voxel
    offset ``o`` samples the image at offset ``D^-1 R s D o`` (D = diag(spacing))."""
    d = np.diag(np.asarray(spacing, dtype=float))
    return cast(np.ndarray, np.linalg.inv(d) @ rotation_matrix(angles_rad) @ d * float(scale))


class PatchSampler:
    """Lesion-balanced patch sampling on arrays: each patch is centred on a lesion voxel with
    probability ``lesion_fraction``, else on a brain voxel. Hand-written (not MONAI's
    RandCropByPosNegLabeld) so that all randomness comes from one numpy Generator. With
    ``params`` whose ``augment`` is on, a fraction ``spatial_p`` of the patches is resampled
    (linear interpolation, label thresholded at 0.5) through a random rotation and scaling
    about the patch centre (:func:`spatial_matrix`)."""

    def __init__(self, cases: Sequence[CaseArrays], patch_size: Sequence[int], lesion_fraction: float):
        self.patch = tuple(int(p) for p in patch_size)
        self.lesion_fraction = float(lesion_fraction)
        half = [p // 2 for p in self.patch]
        self.half = np.array(half, dtype=float)
        # every patch voxel's offset from the patch's turning point, and the patch's corners
        grid = np.stack(np.meshgrid(*[np.arange(p, dtype=np.float64) for p in self.patch], indexing="ij"), axis=-1)
        self.offsets = (grid.reshape(-1, 3) - self.half).astype(np.float32)
        self.corners = np.array(list(itertools.product(*[(0.0, p - 1.0) for p in self.patch]))) - self.half
        pad = [(0, 0)] + [(h, p - h) for h, p in zip(half, self.patch)]
        self.images, self.labels, self.lesion, self.brain, self.spacings = [], [], [], [], []
        for case in cases:
            if case.label is None:
                raise InputError("unet3d: a training case has no reference mask", case=case.case)
            # zero padding: the harmonized images are zero outside the brain already
            self.images.append(np.pad(case.images.astype(np.float32), pad))
            self.labels.append(np.pad(case.label.astype(np.uint8), pad[1:]))
            self.lesion.append(np.argwhere(case.label))
            brain = np.argwhere(case.brain_mask)
            self.brain.append(brain if len(brain) else np.argwhere(np.ones(case.shape, dtype=bool)))
            self.spacings.append(tuple(float(s) for s in case.spacing))
        if not any(len(p) for p in self.lesion):
            raise InputError("unet3d: the training cases have no lesion voxel")

    def _resampled(self, i: int, centre: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # patch voxel o <- padded image at centre + half + M (o - half): the transform turns about
        # the sampled voxel, which the plain patch has at o = half (identity = plain patch).
        # Trilinear interpolation of the images and the label together (torch grid_sample, zeros
        # outside the image) on the box of the image that the sample points span (an affine map
        # of the patch spans the box of its 8 corners).
        matrix = np.asarray(matrix, dtype=np.float64)
        origin = centre + self.half
        corners = self.corners @ matrix.T + origin
        shape = np.array(self.labels[i].shape)
        low = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, shape - 1)
        high = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, low + 1, shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(low, high))
        block = np.concatenate([self.images[i][(slice(None), *box)], self.labels[i][box][None].astype(np.float32)])
        # grid_sample's grid is (x, y, z) = (last, middle, first) array axis, scaled to [-1, 1]
        scale = 2.0 / np.maximum(high - low - 1, 1)
        linear = (matrix * scale[:, None]).T[:, ::-1]
        shift = ((origin - low) * scale - 1.0)[::-1]
        normalized = (self.offsets @ linear.astype(np.float32) + shift.astype(np.float32)).reshape(*self.patch, 3)
        out = torch.nn.functional.grid_sample(
            torch.from_numpy(block)[None],
            torch.from_numpy(np.ascontiguousarray(normalized))[None],
            mode="bilinear",
            padding_mode="zeros",
            align_corners=True,
        )[0].numpy()
        return np.ascontiguousarray(out[:-1]), (out[-1] >= 0.5).astype(np.uint8)

    def sample(
        self, batch_size: int, rng: np.random.Generator, params: UNetParams | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        spatial = params is not None and params.augment and params.spatial_p > 0
        xs, ys = [], []
        for _ in range(batch_size):
            i = int(rng.integers(len(self.images)))
            pool = self.lesion[i] if (len(self.lesion[i]) and rng.random() < self.lesion_fraction) else self.brain[i]
            centre = pool[int(rng.integers(len(pool)))]
            if spatial and rng.random() < cast(UNetParams, params).spatial_p:
                p = cast(UNetParams, params)
                angles = np.deg2rad(rng.uniform(-p.rotation_deg, p.rotation_deg, size=3))
                scale = rng.uniform(p.scale_range[0], p.scale_range[1])
                x, y = self._resampled(i, centre, spatial_matrix(self.spacings[i], angles, scale))
                xs.append(x)
                ys.append(y[None])
                continue
            # with the padding, the patch starting at ``centre`` in padded coordinates is centred on it
            window = tuple(slice(int(c), int(c) + p) for c, p in zip(centre, self.patch))
            xs.append(self.images[i][(slice(None), *window)])
            ys.append(self.labels[i][window][None])
        return np.stack(xs), np.stack(ys)


def augment(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, params: UNetParams | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Random mirror along each axis and per-channel intensity scale (x0.9-1.1) and shift (+-0.1);
    with ``params``, also per-channel gamma (on the patch's own min-max range, with probability
    ``gamma_p``) and additive Gaussian noise (probability ``noise_p``, standard deviation drawn up to
    ``noise_std``)."""
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
        if params is None:
            continue
        for c in range(x.shape[1]):
            if rng.random() < params.gamma_p:
                gamma = rng.uniform(params.gamma_range[0], params.gamma_range[1])
                low, high = float(x[b, c].min()), float(x[b, c].max())
                if high > low:
                    x[b, c] = ((x[b, c] - low) / (high - low)) ** gamma * (high - low) + low
        if rng.random() < params.noise_p:
            sigma = rng.uniform(0.0, params.noise_std)
            x[b] = x[b] + np.float32(sigma) * rng.standard_normal(size=x[b].shape, dtype=np.float32)
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y)


@dataclass
class TrainingResult:
    """The trained network (the selected weights when there was validation), the per-iteration
    curve (validation rows add ``validation_dice``, ``validation_lesion_f1``, ``validation_score``),
    the iteration whose weights were kept, and the post-processing chosen on validation (None
    without validation cases or grid)."""

    model: torch.nn.Module
    curve: list[dict[str, float]]
    device: str
    seconds: float
    best_iteration: int = 0
    best_score: float | None = None
    postprocess: PostprocessChoice | None = None
    validation_cases: list[str] = field(default_factory=list)


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


class BestWeights:
    """Model selection: a copy of the weights with the highest score so far (ties keep the earlier)."""

    def __init__(self) -> None:
        self.iteration = 0
        self.score: float | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def offer(self, iteration: int, score: float, model: torch.nn.Module) -> bool:
        score = -math.inf if math.isnan(score) else float(score)  # an undefined score never wins
        if self.score is not None and not score > self.score:
            return False
        self.iteration, self.score = iteration, float(score)
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def restore(self, model: torch.nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


#: Scores a network on the validation cases: (model, iteration) -> {"dice", "lesion_f1", "dice_f1"}.
Evaluator = Callable[[torch.nn.Module, int], dict[str, float]]


def validation_evaluator(cases: Sequence[CaseArrays], params: UNetParams, *, device: str, threads: int) -> Evaluator:
    """Mean :func:`.validation.mask_scores` over ``cases`` of the masks :func:`predict_unet` gives
    with the configured threshold and minimum lesion size."""

    def evaluate(model: torch.nn.Module, iteration: int) -> dict[str, float]:
        rows = []
        for case in cases:
            mask, _ = predict_unet(model, case, params, device=device, threads=threads)
            rows.append(mask_scores(cast(np.ndarray, case.label), mask, case.spacing))
        return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}

    return evaluate


def train_unet(
    cases: Sequence[CaseArrays],
    params: UNetParams,
    *,
    seed: int,
    device: str = "cpu",
    threads: int = 1,
    progress: Callable[[int, float], None] | None = None,
    validation: Sequence[CaseArrays] = (),
    evaluate: Evaluator | None = None,
) -> TrainingResult:
    """Train on lesion-balanced patches of ``cases`` for ``params.iterations_on(device)`` steps.

    With ``validation`` cases (or an ``evaluate`` function, which replaces the validation pass),
    the network is scored every ``validation_every`` iterations and at the last one, and the
    weights with the best ``validation_score`` are returned; the post-processing is then chosen
    on the validation cases (:func:`choose_postprocess_on`). With ``selection_smoothing`` w > 0 the
    weights are selected on the moving average ``m = w m + (1 - w) score`` (m starts at the first
    score; a NaN score restarts it), as nnU-Net v2 selects its best checkpoint on an exponential
    moving average of the validation pseudo-Dice: a few validation cases make single scores noisy.
    """
    torch.set_num_threads(max(1, int(threads)))
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    n_iterations = params.iterations_on(device)
    sampler = PatchSampler(cases, params.patch_size, params.lesion_fraction)
    model = build_network(cases[0].images.shape[0], params).to(device)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    schedule = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=max(1, n_iterations), power=0.9)
    use_amp = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    if evaluate is None and validation:
        evaluate = validation_evaluator(validation, params, device=device, threads=threads)
    best = BestWeights()
    smoothed: float | None = None
    curve: list[dict[str, float]] = []
    start = time.perf_counter()
    model.train()
    for iteration in range(1, n_iterations + 1):
        x, y = sampler.sample(params.batch_size, rng, params)
        if params.augment:
            x, y = augment(x, y, rng, params)
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
        row = {
            "iteration": iteration,
            "loss": value,
            "learning_rate": float(schedule.get_last_lr()[0]),
        }
        if evaluate is not None and (iteration % params.validation_every == 0 or iteration == n_iterations):
            model.eval()
            scores = evaluate(model, iteration)
            model.train()
            row.update({f"validation_{k}": v for k, v in scores.items() if k != params.validation_score})
            raw = float(scores[params.validation_score])
            row["validation_score"] = raw
            w = params.selection_smoothing
            smoothed = raw if smoothed is None or math.isnan(smoothed) else w * smoothed + (1.0 - w) * raw
            if w > 0:
                row["validation_score_smoothed"] = smoothed
            best.offer(iteration, smoothed, model)
        row["seconds"] = time.perf_counter() - start
        curve.append(row)
        if progress is not None:
            progress(iteration, value)
    best.restore(model)
    model.eval()
    result = TrainingResult(
        model=model,
        curve=curve,
        device=device,
        seconds=time.perf_counter() - start,
        best_iteration=best.iteration or n_iterations,
        best_score=best.score,
        validation_cases=[c.case for c in validation],
    )
    if validation and params.postprocess_thresholds and params.postprocess_min_lesion_mm3:
        result.postprocess = choose_postprocess_on(model, validation, params, device=device, threads=threads)
    result.seconds = time.perf_counter() - start
    return result


def choose_postprocess_on(
    model: torch.nn.Module, cases: Sequence[CaseArrays], params: UNetParams, *, device: str = "cpu", threads: int = 1
) -> PostprocessChoice:
    """The threshold and minimum lesion size of ``params``' grid that score best on ``cases``."""
    probabilities = [predict_unet(model, c, params, device=device, threads=threads)[1] for c in cases]
    return choose_postprocess(
        [cast(np.ndarray, c.label) for c in cases],
        probabilities,
        [c.spacing for c in cases],
        thresholds=params.postprocess_thresholds,
        min_sizes_mm3=params.postprocess_min_lesion_mm3,
        metric=params.validation_score,
    )


def with_postprocess(params: UNetParams, choice: PostprocessChoice | None) -> UNetParams:
    """``params`` predicting with the chosen threshold and minimum lesion size (unchanged without a choice)."""
    if choice is None:
        return params
    return replace(params, threshold=choice.threshold, min_lesion_mm3=choice.min_lesion_mm3)


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


def brain_box(brain_mask: np.ndarray, margin: int) -> tuple[slice, slice, slice]:
    """The bounding box of the brain mask grown by ``margin`` voxels (the whole image when empty)."""
    found = ndimage.find_objects(np.asarray(brain_mask, dtype=np.uint8))
    if not found or found[0] is None:
        return (slice(None), slice(None), slice(None))
    return cast(
        tuple[slice, slice, slice],
        tuple(slice(max(0, s.start - margin), min(n, s.stop + margin)) for s, n in zip(found[0], brain_mask.shape)),
    )


@torch.no_grad()
def predict_unet(
    model: torch.nn.Module, case: CaseArrays, params: UNetParams, *, device: str = "cpu", threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(mask, probability) of one case by sliding-window inference with Gaussian weighting over
    the brain's bounding box (+ flip TTA); lesion = probability > ``threshold`` inside the
    brain, components below ``min_lesion_mm3`` removed."""
    torch.set_num_threads(max(1, int(threads)))
    model = model.to(device).eval()
    box = brain_box(case.brain_mask, margin=4)
    cropped = np.ascontiguousarray(case.images[(slice(None), *box)], dtype=np.float32)
    image = torch.from_numpy(cropped)[None].to(device)
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

    probability = np.zeros(case.shape, dtype=np.float32)
    probability[box] = tta_probability(predict, image, flip_sets(params.flip_tta))[0, 0].cpu().numpy()
    probability = np.where(case.brain_mask, probability, 0.0).astype(np.float32)
    mask = remove_small_lesions((probability > params.threshold) & case.brain_mask, case.spacing, params.min_lesion_mm3)
    return mask, probability
