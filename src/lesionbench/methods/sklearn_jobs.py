"""Jobs of the scikit-learn methods (``flair_hyperintensity``, ``random_forest``): train, run on a case.

See :mod:`.jobs` for what a job is; the model file is :mod:`.model_io.sklearn_model`'s.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .files import load_case_arrays, write_model_record
from .jobs import Compute, predict_case, training_cases
from .model_io.sklearn_model import ForestModel, ThresholdModel, read_sklearn_model, write_sklearn_model
from .registry import parse_method


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

    Writes the ``model.pkl`` (:func:`.model_io.sklearn_model.write_sklearn_model`) and the method record,
    training curve and its plot (:func:`.files.write_model_record`) into ``record_dir``.
    ``seed`` fixes the forest's sampling and trees (the threshold tuning draws nothing).
    """
    from .classical import HyperintensityParams, tune_threshold

    spec = parse_method(entry)
    start = time.perf_counter()
    arrays = training_cases(cases, priors=True)
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
        model = ForestModel(forest=trained.forest, params=trained.params, feature_names=tuple(names))
        importance = dict(zip(names, map(float, trained.forest.feature_importances_)))
        record.update(
            seed=seed,
            threshold=trained.params.threshold,
            threshold_curve=trained.threshold_curve,
            feature_importance=importance,
        )
        x, y, title = "n_estimators", "oob_accuracy", f"{spec.name}: out-of-bag accuracy"
    record.update(train_seconds=round(time.perf_counter() - start, 3), load_seconds=round(load_seconds, 3))
    write_sklearn_model(model_path, model)
    write_model_record(record_dir, record, curve, x=x, y=y, title=title)


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

    predict_case(entry, case, output, on_failure, compute)
