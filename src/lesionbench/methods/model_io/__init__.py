"""Every model file of the built-in methods: what a training job writes and its inference jobs read.

Writer and reader of each format live side by side in this package, so the two ends cannot drift apart:

- ``model.pkl`` (``flair_hyperintensity``, ``random_forest``; :mod:`.sklearn_model`): a pickled dict with
  ``format`` = :data:`SKLEARN_FORMAT`, ``kind`` and, per kind, the tuned FLAIR threshold, the
  FLAIR channel and the method's parameters (:class:`ThresholdModel`), or the fitted
  scikit-learn forest, its parameters and its feature names (:class:`ForestModel`);
- ``model.pt`` (``unet3d``; :mod:`.unet_model`): a ``torch.save`` dict with ``format`` = :data:`UNET_FORMAT`, the
  weights on the CPU and what rebuilds the network (its parameters, input channels).

A reader raises :class:`ModelFileError` naming the file when it is missing, unreadable, or not a
file this package wrote for that kind of method. Pickle files run code when loaded: read only
model files this workflow wrote. The two formats are two modules, and scikit-learn and torch
are imported inside the functions that need them, so each method's environment needs only its own framework.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError, MissingFileError


class ModelFileError(InputError):
    """A model file is missing, unreadable, or not one this workflow wrote for the method."""

    kind = "model_file"


def require_model_file(path: Path, what: str) -> None:
    """Raise :class:`~lesionbench.errors.MissingFileError` naming ``path`` when it is not a file."""
    if not path.is_file():
        raise MissingFileError(f"no {what} here (has the method been trained?)", path=path)
