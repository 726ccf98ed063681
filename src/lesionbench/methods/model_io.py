"""Every model file of the built-in methods: what a training job writes and its inference jobs read.

Writer and reader of each format live side by side here, so the two ends cannot drift apart:

- ``model.pkl`` (``flair_hyperintensity``, ``random_forest``): a pickled dict with
  ``format`` = :data:`SKLEARN_FORMAT`, ``kind`` and, per kind, the tuned FLAIR threshold, the
  FLAIR channel and the method's parameters (:class:`ThresholdModel`), or the fitted
  scikit-learn forest, its parameters and its feature names (:class:`ForestModel`);
- ``model.pt`` (``unet3d``): a ``torch.save`` dict with ``format`` = :data:`UNET_FORMAT`, the
  weights on the CPU and what rebuilds the network (its parameters, input channels).

A reader raises :class:`ModelFileError` naming the file when it is missing, unreadable, or not a
file this module wrote for that kind of method. Pickle files run code when loaded: read only
model files this workflow wrote. scikit-learn and torch are imported inside the functions that
need them, so each method's environment needs only its own framework.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, MissingFileError

if TYPE_CHECKING:
    import torch

    from .classical import HyperintensityParams
    from .forest import ForestParams
    from .unet import TrainingResult, UNetParams

#: The ``format`` entry of a ``model.pkl`` this module wrote.
SKLEARN_FORMAT = "lesionbench.sklearn_model.v1"
#: The ``format`` entry of a ``model.pt`` this module wrote.
UNET_FORMAT = "lesionbench.unet_checkpoint.v1"
#: The method kinds whose model is a ``model.pkl``.
SKLEARN_KINDS: tuple[str, ...] = ("flair_hyperintensity", "random_forest")


class ModelFileError(InputError):
    """A model file is missing, unreadable, or not one this workflow wrote for the method."""

    kind = "model_file"


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


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise MissingFileError(f"no {what} here (has the method been trained?)", path=path)


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
    _require_file(path, "model file")
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
            from .classical import HyperintensityParams

            return ThresholdModel(
                threshold=payload["threshold"],
                flair_channel=payload["flair_channel"],
                params=HyperintensityParams.from_mapping(payload["params"]),
            )
        from .forest import ForestParams

        return ForestModel(
            forest=payload["forest"],
            params=ForestParams.from_mapping(payload["params"]),
            feature_names=tuple(payload["feature_names"]),
        )
    except KeyError as exc:
        raise ModelFileError(f"the {kind} model lacks its {exc.args[0]!r} entry", path=path) from exc


def unet_checkpoint(result: TrainingResult, params: UNetParams, channel_names: Sequence[str]) -> dict[str, Any]:
    """What a ``model.pt`` holds: the weights on the CPU and what rebuilds the network."""
    return {
        "format": UNET_FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        "params": asdict(params),
        "in_channels": len(channel_names),
        "channel_names": list(channel_names),
    }


def write_unet_model(
    path: str | Path, result: TrainingResult, params: UNetParams, channel_names: Sequence[str]
) -> None:
    """``torch.save`` the :func:`unet_checkpoint` of a trained U-Net to ``path``."""
    import torch

    torch.save(unet_checkpoint(result, params, channel_names), path)


def unet_from_checkpoint(
    payload: Mapping[str, Any], *, path: str | Path | None = None
) -> tuple[torch.nn.Module, UNetParams]:
    """The network (in eval mode) and its parameters from a :func:`unet_checkpoint` dict."""
    from .unet import UNetParams, build_network

    if payload.get("format") != UNET_FORMAT:
        raise ModelFileError(
            f"not a lesionbench U-Net checkpoint (expected format {UNET_FORMAT}); retrain the method", path=path
        )
    try:
        params = UNetParams.from_mapping(dict(payload["params"]))
        model = build_network(int(payload["in_channels"]), params)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError) as exc:
        raise ModelFileError(
            f"the U-Net checkpoint does not rebuild its network ({type(exc).__name__}: {exc})", path=path
        ) from exc
    model.eval()
    return model, params


def read_unet_model(path: str | Path) -> tuple[torch.nn.Module, UNetParams]:
    """Read a ``model.pt`` (weights only, onto the CPU) and rebuild the network."""
    import torch

    path = Path(path)
    _require_file(path, "U-Net checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any load failure means "not our file"
        raise ModelFileError(f"not a readable U-Net checkpoint ({type(exc).__name__}: {exc})", path=path) from exc
    if not isinstance(payload, Mapping):
        raise ModelFileError("not a lesionbench U-Net checkpoint (not a dict)", path=path)
    return unet_from_checkpoint(payload, path=path)
