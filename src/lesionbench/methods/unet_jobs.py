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
    """Train a ``unet3d`` method; writes ``model.pt`` (:func:`.model_io.unet_model.write_unet_model`) and the record."""
    import torch

    from .unet import UNetParams, resolve_device, train_unet

    spec = parse_method(entry)
    params = UNetParams.from_mapping(dict(spec.params))
    device = resolve_device(spec.device)
    arrays = training_cases(cases, priors=False)

    def progress(iteration: int, loss: float) -> None:
        if iteration == 1 or iteration % 25 == 0:
            log.info("iteration %d loss %.4f", iteration, loss)

    start = time.perf_counter()
    result = train_unet(arrays, params, seed=seed, device=device, threads=threads, progress=progress)
    write_unet_model(model_path, result, params, [i.key for i in spec.inputs])
    record = {
        **spec.as_dict(),
        "resolved_params": asdict(params),
        "seed": seed,
        "device_used": device,
        "mixed_precision": device.startswith("cuda"),
        "training_cases": list(cases),
        "train_seconds": round(result.seconds, 3),
        "total_seconds": round(time.perf_counter() - start, 3),
        "torch": torch.__version__,
    }
    curve_title = f"{spec.name}: Dice+CE training loss"
    write_model_record(record_dir, record, result.curve, x="iteration", y="loss", title=curve_title)


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
            return mask, probability, {"device": device, "flip_tta": params.flip_tta}

        return run

    predict_case(entry, case, output, on_failure, compute)
