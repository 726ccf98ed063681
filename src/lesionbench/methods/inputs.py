"""What a built-in method is given: one case's arrays on the FLAIR grid, and its parameters.

:class:`CaseArrays` is the in-memory view of a case (images in the method's channel order,
brain mask, tissue priors, training label, spacing) that :mod:`.files` reads and every method
trains and predicts on; :func:`params_from_mapping` turns a method's config ``params`` into
its parameter dataclass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

P = TypeVar("P")


def params_from_mapping(
    cls: type[P], params: Mapping[str, Any], *, float_tuples: Sequence[str] = (), int_triples: Sequence[str] = ()
) -> P:
    """A method's parameter dataclass from its config ``params``: keys that are not fields of
    ``cls`` are ignored (they belong to other kinds or to the workflow); ``float_tuples`` keys
    become tuples of floats, ``int_triples`` keys tuples of ints (a single number is repeated
    three times, one per axis)."""
    known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}  # type: ignore[attr-defined]
    for key in float_tuples:
        if key in known:
            known[key] = tuple(float(v) for v in known[key])
    for key in int_triples:
        if key in known:
            value = known[key]
            known[key] = tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value] * 3))
    return cls(**known)


@dataclass(frozen=True)
class CaseArrays:
    """What a built-in method sees of one case, all on the case's FLAIR grid.

    ``images`` is (channels, x, y, z) float32 in the order of the method's ``inputs``;
    ``priors`` is (3, x, y, z) (WM, GM, CSF probabilities) or None; ``label`` the training
    reference (bool) or None at inference; ``spacing`` mm per array axis.
    """

    case: str
    images: np.ndarray
    brain_mask: np.ndarray
    spacing: tuple[float, float, float]
    priors: np.ndarray | None = None
    label: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]
