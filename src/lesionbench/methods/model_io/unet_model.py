"""The ``model.pt`` of the ``unet3d`` method (see the package)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ModelFileError, require_model_file

if TYPE_CHECKING:
    import torch

    from ..unet import TrainingResult, UNetParams

#: The ``format`` entry of a ``model.pt`` this module writes. v2 adds ``postprocess`` (the
#: threshold and minimum lesion size chosen on validation, or None) and ``selection`` (the kept
#: iteration, its validation score and the validation cases).
UNET_FORMAT = "lesionbench.unet_checkpoint.v2"
#: Formats still read: a v1 checkpoint predicts with its ``params``' threshold and minimum size.
UNET_READABLE_FORMATS = ("lesionbench.unet_checkpoint.v1", UNET_FORMAT)


def unet_checkpoint(result: TrainingResult, params: UNetParams, channel_names: Sequence[str]) -> dict[str, Any]:
    """What a ``model.pt`` holds: the weights on the CPU, what rebuilds the network (the
    configured ``params``) and what was decided on validation."""
    return {
        "format": UNET_FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        "params": asdict(params),
        "in_channels": len(channel_names),
        "channel_names": list(channel_names),
        "postprocess": None if result.postprocess is None else result.postprocess.as_dict(),
        "selection": {
            "best_iteration": int(result.best_iteration),
            "best_score": result.best_score,
            "validation_cases": list(result.validation_cases),
        },
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
    """The network (in eval mode) and the parameters it predicts with from a :func:`unet_checkpoint`
    dict: the configured ones, with the threshold and minimum lesion size chosen on validation."""
    from ...errors import ConfigError
    from ..unet import UNetParams, build_network

    if payload.get("format") not in UNET_READABLE_FORMATS:
        raise ModelFileError(
            f"not a lesionbench U-Net checkpoint (expected format {UNET_FORMAT}); retrain the method", path=path
        )
    try:
        params = UNetParams.from_mapping(dict(payload["params"]))
        chosen = payload.get("postprocess")
        if chosen is not None:
            params = replace(
                params, threshold=float(chosen["threshold"]), min_lesion_mm3=float(chosen["min_lesion_mm3"])
            )
        model = build_network(int(payload["in_channels"]), params)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError, ConfigError) as exc:
        raise ModelFileError(
            f"the U-Net checkpoint does not rebuild its network ({type(exc).__name__}: {exc})", path=path
        ) from exc
    model.eval()
    return model, params


def read_unet_model(path: str | Path) -> tuple[torch.nn.Module, UNetParams]:
    """Read a ``model.pt`` (weights only, onto the CPU) and rebuild the network."""
    import torch

    path = Path(path)
    require_model_file(path, "U-Net checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any load failure means "not our file"
        raise ModelFileError(f"not a readable U-Net checkpoint ({type(exc).__name__}: {exc})", path=path) from exc
    if not isinstance(payload, Mapping):
        raise ModelFileError("not a lesionbench U-Net checkpoint (not a dict)", path=path)
    return unet_from_checkpoint(payload, path=path)
