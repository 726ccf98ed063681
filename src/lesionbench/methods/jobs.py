"""One job of the methods stage, from its input files to its output files.

Each function here is what one workflow rule of the methods stage does (the rule's script only
hands it the rule's files and parameters): train a built-in method on the training split
(:func:`train_sklearn_method`, :func:`train_unet_method`), run one on a test case
(:func:`infer_sklearn_case`, :func:`infer_unet_case`), run a participant's command
(:func:`run_command_case`), collect a submitted mask (:func:`collect_submission_case`), fuse an
ensemble's members (:func:`ensemble_case`). The per-case jobs write the prediction folder of
:mod:`.files` whatever happens, through :func:`.files.run_case` (which records or stops on a
failure). The science is in the sibling modules; the model files are :mod:`.model_io`'s.

A training job's ``cases`` maps each training case to its files: ``flair`` (raw FLAIR, the grid
of everything), ``images`` (the method's harmonized inputs, in its channel order),
``brain_mask``, ``priors`` (may be empty) and ``label`` (the case's reference consensus).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..io import Volume, load_mask, load_volume
from .files import MASK_FILE, load_case_arrays, read_status, run_case, write_model_record, write_prediction
from .inputs import CaseArrays
from .model_io import (
    ForestModel,
    ThresholdModel,
    read_sklearn_model,
    read_unet_model,
    write_sklearn_model,
    write_unet_model,
)
from .registry import parse_method

log = logging.getLogger(__name__)

#: A per-case computation as :func:`.files.run_case` takes it: () -> (mask, probability, status fields).
Compute = Callable[[], tuple[np.ndarray, "np.ndarray | None", dict[str, Any]]]


def _training_cases(cases: Mapping[str, Mapping[str, Any]], *, priors: bool) -> list[CaseArrays]:
    return [
        load_case_arrays(case, f["flair"], f["images"], f["brain_mask"], f["priors"] if priors else None, f["label"])[0]
        for case, f in cases.items()
    ]


def train_sklearn_method(
    entry: Mapping[str, Any],
    cases: Mapping[str, Mapping[str, Any]],
    *,
    model_path: str | Path,
    record_dir: str | Path,
    seed: int,
    threads: int = 1,
) -> None:
    """Train a ``flair_hyperintensity`` (threshold tuning) or ``random_forest`` method.

    Writes the ``model.pkl`` (:func:`.model_io.write_sklearn_model`) and the method record,
    training curve and its plot (:func:`.files.write_model_record`) into ``record_dir``.
    ``seed`` fixes the forest's sampling and trees (the threshold tuning draws nothing).
    """
    from .classical import HyperintensityParams, tune_threshold

    spec = parse_method(entry)
    start = time.perf_counter()
    arrays = _training_cases(cases, priors=True)
    load_seconds = time.perf_counter() - start
    record: dict[str, Any] = {**spec.as_dict(), "training_cases": list(cases)}
    start = time.perf_counter()
    model: ThresholdModel | ForestModel
    if spec.kind == "flair_hyperintensity":
        params = HyperintensityParams.from_mapping(dict(spec.params))
        flair_channel = spec.modalities.index("flair")
        if spec.trains:
            tuned = tune_threshold(arrays, flair_channel, params)
            threshold, curve = tuned.threshold, tuned.curve
        else:
            threshold, curve = params.threshold, []
        model = ThresholdModel(threshold=threshold, flair_channel=flair_channel, params=params)
        record.update(threshold=threshold)
        x, y, title = "threshold", "mean_dice", f"{spec.name}: threshold tuning (train Dice)"
    else:
        from .forest import ForestParams, feature_names, train_forest

        forest_params = ForestParams.from_mapping(dict(spec.params))
        trained = train_forest(arrays, forest_params, seed=seed, threads=threads)
        curve = trained.curve
        names = feature_names([i.key for i in spec.inputs], forest_params)
        model = ForestModel(forest=trained.forest, params=forest_params, feature_names=tuple(names))
        importance = dict(zip(names, map(float, trained.forest.feature_importances_)))
        record.update(seed=seed, feature_importance=importance)
        x, y, title = "n_estimators", "oob_accuracy", f"{spec.name}: out-of-bag accuracy"
    record.update(train_seconds=round(time.perf_counter() - start, 3), load_seconds=round(load_seconds, 3))
    write_sklearn_model(model_path, model)
    write_model_record(record_dir, record, curve, x=x, y=y, title=title)


def train_unet_method(
    entry: Mapping[str, Any],
    cases: Mapping[str, Mapping[str, Any]],
    *,
    model_path: str | Path,
    record_dir: str | Path,
    seed: int,
    threads: int = 1,
) -> None:
    """Train a ``unet3d`` method; writes ``model.pt`` (:func:`.model_io.write_unet_model`) and the record."""
    import torch

    from .unet import UNetParams, resolve_device, train_unet

    spec = parse_method(entry)
    params = UNetParams.from_mapping(dict(spec.params))
    device = resolve_device(spec.device)
    arrays = _training_cases(cases, priors=False)

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


def _predict_case(
    entry: Mapping[str, Any],
    case: str,
    output: str | Path,
    on_failure: str,
    compute: Callable[[dict[str, np.ndarray]], Compute],
) -> None:
    """Run ``compute`` through :func:`.files.run_case` and write the prediction folder.

    ``compute(affine)`` returns the computation; it stores the raw FLAIR's affine (the output
    grid) under ``affine["flair"]`` once it has read it.
    """
    spec = parse_method(entry)
    affine: dict[str, np.ndarray] = {}
    outcome = run_case(spec.name, case, compute(affine), on_failure=on_failure)
    write_prediction(output, outcome, affine.get("flair"), method=spec.name, case=case)


def infer_sklearn_case(
    entry: Mapping[str, Any],
    case: str,
    *,
    flair: str | Path,
    images: Sequence[str | Path],
    brain_mask: str | Path,
    priors: Sequence[str | Path],
    model_path: str | Path,
    output: str | Path,
    threads: int = 1,
    on_failure: str = "flag",
) -> None:
    """Run a trained ``flair_hyperintensity`` or ``random_forest`` method on one case."""
    kind = parse_method(entry).kind

    def compute(affine: dict[str, np.ndarray]) -> Compute:
        def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
            arrays, flair_volume = load_case_arrays(case, flair, images, brain_mask, priors)
            affine["flair"] = flair_volume.affine
            model = read_sklearn_model(model_path, kind=kind)
            if isinstance(model, ThresholdModel):
                from .classical import segment

                mask, probability = segment(arrays, model.flair_channel, model.threshold, model.params)
                return mask, probability, {"threshold": model.threshold}
            from .forest import predict_forest  # scikit-learn: only here

            mask, probability = predict_forest(model.forest, arrays, model.params, threads=threads)
            return mask, probability, {"threshold": model.params.threshold}

        return run

    _predict_case(entry, case, output, on_failure, compute)


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

    _predict_case(entry, case, output, on_failure, compute)


def run_command_case(
    entry: Mapping[str, Any],
    case: str,
    *,
    flair: str | Path,
    images: Mapping[str, str | Path],
    output: str | Path,
    threads: int = 1,
    on_failure: str = "flag",
) -> None:
    """Run a participant's ``command`` on one case and check the mask it writes.

    ``images`` maps the command's placeholders (modalities) to files. The command works in a
    hidden folder next to ``output`` (``.{case}.work``) and must write ``{output}`` there.
    """
    from .participants import CommandError, check_result_volume, expand_command, run_command, wrap_environment

    spec = parse_method(entry)
    folder = Path(output)
    work = folder.parent / f".{folder.name}.work"

    def compute(affine: dict[str, np.ndarray]) -> Compute:
        def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
            flair_volume = load_volume(flair, case=case)
            affine["flair"] = flair_volume.affine
            work.mkdir(parents=True, exist_ok=True)
            mask_path = work / "mask.nii.gz"
            mask_path.unlink(missing_ok=True)
            values: dict[str, str | int] = {m: str(Path(p).resolve()) for m, p in images.items()}
            values.update(
                output=str(mask_path.resolve()),
                output_dir=str(work.resolve()),
                case=case,
                threads=threads,
                probability=str((work / "probability.nii.gz").resolve()),
            )
            command = expand_command(spec.command, values, method=spec.name)
            argv = wrap_environment(command, conda_env=spec.conda_env, container=spec.container)
            result = run_command(argv, case=case, method=spec.name, timeout_s=spec.runtime * 60)
            print(result.stdout)
            print(result.stderr)
            if not mask_path.exists():
                raise CommandError(
                    f"method {spec.name}: the command exited 0 but wrote no mask at {mask_path}", case=case
                )
            written = load_volume(mask_path, case=case, dtype=float)
            checked = check_result_volume(
                written, flair_volume, case=case, probabilities=spec.probabilities, threshold=spec.threshold
            )
            return checked.mask, checked.probability, {"command": command}

        return run

    _predict_case(entry, case, folder, on_failure, compute)


def collect_submission_case(
    entry: Mapping[str, Any], case: str, *, flair: str | Path, output: str | Path, on_failure: str = "flag"
) -> None:
    """Collect one case of a ``submission`` folder: check grid and binarity, record a missing case."""
    from .participants import load_submission

    spec = parse_method(entry)
    flair_volume = load_volume(flair, case=case)

    def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        checked = load_submission(
            spec.folder, spec.pattern, case, flair_volume, probabilities=spec.probabilities, threshold=spec.threshold
        )
        return checked.mask, checked.probability, {}

    outcome = run_case(spec.name, case, run, on_failure=on_failure)
    write_prediction(output, outcome, flair_volume.affine, method=spec.name, case=case)


def ensemble_case(
    entry: Mapping[str, Any],
    case: str,
    *,
    flair: str | Path,
    brain_mask: str | Path,
    members: Mapping[str, str | Path],
    output: str | Path,
    on_failure: str = "flag",
) -> None:
    """Fuse the ``members``' (name -> prediction folder) masks of one case; a member that is not
    ``ok`` on the case is left out and recorded under ``members_skipped``."""
    from .ensemble import fuse_members

    spec = parse_method(entry)
    flair_volume: Volume = load_volume(flair, case=case)
    skipped: dict[str, str] = {}

    def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        brain = load_mask(brain_mask, case=case, reference=flair_volume).data
        masks = {}
        for member, folder in members.items():
            status = read_status(folder)
            if status.get("status") != "ok":
                skipped[member] = status.get("status", "missing")
                continue
            masks[member] = load_mask(f"{folder}/{MASK_FILE}", case=case, reference=flair_volume).data
        result = fuse_members(masks, spec.fusion, brain_mask=brain, case=case)
        extra = {"fusion": spec.fusion, "members_used": list(result.members_used), "members_skipped": skipped}
        return result.mask, result.probability, extra

    outcome = run_case(spec.name, case, run, on_failure=on_failure)
    outcome.extra.setdefault("members_skipped", skipped)
    write_prediction(output, outcome, flair_volume.affine, method=spec.name, case=case)
