"""Jobs of the ``unet3d`` method: train, run on a case.

See :mod:`.jobs` for what a job is; the model file is :mod:`.model_io.unet_model`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .files import load_case_arrays, write_model_record
from .jobs import Compute, predict_case, training_cases
from .model_io.unet_model import read_unet_model, write_unet_model
from .registry import parse_method

log = logging.getLogger(__name__)


def train_unet_method(
    entry: Mapping[str, Any],
    cases: Mapping[str, Mapping[str, Any]],
    *,
    model_path: str | Path,
    record_dir: str | Path,
    seed: int,
    threads: int = 1,
) -> None:
    """Train a ``unet3d`` method; writes ``model.pt`` (:func:`.model_io.unet_model.write_unet_model`) and the record.

    ``params.validation_fraction`` of the training cases (:func:`.validation.split_validation`,
    with ``seed``) are held out for model selection and the post-processing choice; the record
    names them, the kept iteration and the chosen threshold and minimum lesion size, and the
    training curve has the validation scores on the iterations where they were computed.
    """
    import torch

    from .unet import UNetParams, resolve_device, train_unet, with_postprocess
    from .validation import split_validation

    spec = parse_method(entry)
    params = UNetParams.from_mapping(dict(spec.params))
    device = resolve_device(spec.device)
    train_ids, validation_ids = split_validation(list(cases), params.validation_fraction, seed)
    arrays = training_cases({c: cases[c] for c in train_ids}, priors=False)
    validation = training_cases({c: cases[c] for c in validation_ids}, priors=False)
    log.info(
        "training on %d cases, %d iterations on %s; validation cases: %s",
        len(arrays),
        params.iterations_on(device),
        device,
        ", ".join(validation_ids) or "none",
    )

    def progress(iteration: int, loss: float) -> None:
        if iteration == 1 or iteration % 25 == 0:
            log.info("iteration %d loss %.4f", iteration, loss)

    start = time.perf_counter()
    result = train_unet(
        arrays, params, seed=seed, device=device, threads=threads, progress=progress, validation=validation
    )
    write_unet_model(model_path, result, params, channel_names([i.key for i in spec.inputs], arrays[0].images.shape[0]))
    chosen = with_postprocess(params, result.postprocess)
    if result.postprocess is not None:
        log.info(
            "kept iteration %d (validation %s %.4f); post-processing: threshold %.2f, min lesion %.1f mm3",
            result.best_iteration,
            params.validation_score,
            result.best_score,
            chosen.threshold,
            chosen.min_lesion_mm3,
        )
    record = {
        **spec.as_dict(),
        "resolved_params": asdict(params),
        "seed": seed,
        "device_used": device,
        "mixed_precision": device.startswith("cuda"),
        "iterations_run": params.iterations_on(device),
        "training_cases": train_ids,
        "validation_cases": validation_ids,
        "best_iteration": result.best_iteration,
        "best_validation_score": result.best_score,
        "validation_score": params.validation_score,
        "postprocess": None if result.postprocess is None else result.postprocess.as_dict(),
        "postprocess_grid": [] if result.postprocess is None else result.postprocess.grid,
        "inference_threshold": chosen.threshold,
        "inference_min_lesion_mm3": chosen.min_lesion_mm3,
        "train_seconds": round(result.seconds, 3),
        "total_seconds": round(time.perf_counter() - start, 3),
        "torch": torch.__version__,
    }
    curve_title = f"{spec.name}: Dice+CE training loss"
    write_model_record(record_dir, record, result.curve, x="iteration", y="loss", title=curve_title)


def channel_names(keys: Sequence[str], n_channels: int) -> list[str]:
    """The names of a network's input channels: the method's input keys, or, when each input is
    read at both visits of a two-visit case (the new-lesion track), ``<key>@time01``,
    ``<key>@time02`` per input."""
    from ..cohort.layout import TIME_POINTS

    if n_channels == len(keys):
        return list(keys)
    if n_channels == len(TIME_POINTS) * len(keys):
        return [f"{key}@{visit}" for key in keys for visit in TIME_POINTS]
    raise ValueError(f"{n_channels} image channels do not fit the inputs {', '.join(keys)}")


def infer_unet_case(
    entry: Mapping[str, Any],
    case: str,
    *,
    flair: str | Path,
    images: Sequence[str | Path],
    brain_mask: str | Path,
    model_path: str | Path,
    output: str | Path,
    threads: int = 1,
    on_failure: str = "flag",
) -> None:
    """Run a trained ``unet3d`` method on one case (sliding window, optional flip TTA)."""
    spec = parse_method(entry)

    def compute(affine: dict[str, np.ndarray]) -> Compute:
        def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
            from .unet import predict_unet, resolve_device

            device = resolve_device(spec.device)
            arrays, flair_volume = load_case_arrays(case, flair, images, brain_mask)
            affine["flair"] = flair_volume.affine
            model, params = read_unet_model(model_path)
            mask, probability = predict_unet(model, arrays, params, device=device, threads=threads)
            extra = {
                "device": device,
                "flip_tta": params.flip_tta,
                "threshold": params.threshold,
                "min_lesion_mm3": params.min_lesion_mm3,
            }
            return mask, probability, extra

        return run

    predict_case(entry, case, output, on_failure, compute)
