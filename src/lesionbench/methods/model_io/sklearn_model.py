"""The ``model.pkl`` of the ``flair_hyperintensity`` and ``random_forest`` methods (see the package)."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...workflow.paths import MODEL_FILE_NAMES
from . import ModelFileError, require_model_file

if TYPE_CHECKING:
    from ..classical import HyperintensityParams
    from ..forest import ForestParams

#: The ``format`` entry of a ``model.pkl`` this module wrote.
SKLEARN_FORMAT = "lesionbench.sklearn_model.v1"
#: The method kinds whose model is a ``model.pkl`` (from the workflow's one table of model files).
SKLEARN_KINDS: tuple[str, ...] = tuple(kind for kind, name in MODEL_FILE_NAMES.items() if name == "model.pkl")


@dataclass(frozen=True)
class ThresholdModel:
    """A trained ``flair_hyperintensity`` method: its (tuned) threshold on the FLAIR z-score."""

    threshold: float
    flair_channel: int
    params: HyperintensityParams


@dataclass(frozen=True)
class ForestModel:
    """A trained ``random_forest`` method: the fitted forest and how its features were built."""

    forest: Any  # sklearn.ensemble.RandomForestClassifier (scikit-learn is imported lazily)
    params: ForestParams
    feature_names: tuple[str, ...]


def write_sklearn_model(path: str | Path, model: ThresholdModel | ForestModel) -> None:
    """Pickle ``model`` as a ``model.pkl`` (see the module docstring for its contents)."""
    payload: dict[str, Any]
    if isinstance(model, ThresholdModel):
        payload = {
            "format": SKLEARN_FORMAT,
            "kind": "flair_hyperintensity",
            "threshold": model.threshold,
            "flair_channel": model.flair_channel,
            "params": dict(model.params.__dict__),
        }
    else:
        payload = {
            "format": SKLEARN_FORMAT,
            "kind": "random_forest",
            "forest": model.forest,
            "params": asdict(model.params),
            "feature_names": list(model.feature_names),
        }
    with open(path, "wb") as handle:
        pickle.dump(payload, handle)


def read_sklearn_model(path: str | Path, *, kind: str) -> ThresholdModel | ForestModel:
    """Read the ``model.pkl`` of a method of ``kind`` (``flair_hyperintensity`` or ``random_forest``)."""
    path = Path(path)
    if kind not in SKLEARN_KINDS:
        raise ModelFileError(
            f"a {kind} method has no model.pkl (kinds with one: {', '.join(SKLEARN_KINDS)})", path=path
        )
    require_model_file(path, "model file")
    try:
        with open(path, "rb") as handle:
            payload = pickle.load(handle)
    except Exception as exc:  # any unpickling failure means "not our file"
        raise ModelFileError(f"not a readable model file ({type(exc).__name__}: {exc})", path=path) from exc
    if not isinstance(payload, Mapping) or payload.get("format") != SKLEARN_FORMAT:
        raise ModelFileError(
            f"not a lesionbench model file (expected format {SKLEARN_FORMAT}); retrain the method", path=path
        )
    if payload.get("kind") != kind:
        raise ModelFileError(f"holds a {payload.get('kind')} model, but the method is a {kind}", path=path)
    try:
        if kind == "flair_hyperintensity":
            from ..classical import HyperintensityParams

            return ThresholdModel(
                threshold=payload["threshold"],
                flair_channel=payload["flair_channel"],
                params=HyperintensityParams.from_mapping(payload["params"]),
            )
        from ..forest import ForestParams

        return ForestModel(
            forest=payload["forest"],
            params=ForestParams.from_mapping(payload["params"]),
            feature_names=tuple(payload["feature_names"]),
        )
    except KeyError as exc:
        raise ModelFileError(f"the {kind} model lacks its {exc.args[0]!r} entry", path=path) from exc
