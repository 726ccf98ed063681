"""Project exception types.

Every error that bad input can cause is raised where the input enters, as one of these
types, with a message naming the case, the file and the problem, so that a user never sees
a traceback from deep inside numpy or a silently wrong number.
"""

from __future__ import annotations

from pathlib import Path


class LesionbenchError(Exception):
    """Base class of all errors lesionbench raises on purpose."""


class InputError(LesionbenchError):
    """A problem with one input: names the case (if known), the file (if any) and the problem.

    ``case`` and ``path`` are kept as attributes so callers (QC tables, tests) can read them
    without parsing the message.
    """

    kind = "input"

    def __init__(self, problem: str, *, case: str | None = None, path: str | Path | None = None):
        self.problem = problem
        self.case = case
        self.path = None if path is None else str(path)
        parts = []
        if case is not None:
            parts.append(f"case {case}")
        if self.path is not None:
            parts.append(f"file {self.path}")
        where = ", ".join(parts)
        super().__init__(f"{where}: {problem}" if where else problem)


class MissingFileError(InputError):
    kind = "missing_file"


class UnreadableImageError(InputError):
    kind = "unreadable"


class DimensionError(InputError):
    kind = "not_3d"


class NonFiniteError(InputError):
    kind = "non_finite"


class AffineError(InputError):
    kind = "bad_affine"


class GridMismatchError(InputError):
    kind = "grid_mismatch"


class NonBinaryMaskError(InputError):
    kind = "non_binary"


class PathEscapeError(InputError):
    kind = "path_escape"


class OversizeImageError(InputError):
    """A participant's image declares, or inflates to, more bytes than the configured caps."""

    kind = "too_large"


class ConsensusError(InputError):
    """A fused consensus is implausible for its raters (empty, or far below the smallest rater's
    volume while at least half the raters marked lesions); names the case and the method."""

    kind = "consensus"


class SheetError(InputError):
    """A problem with a case sheet as a whole or one of its rows (duplicate id, unknown split...)."""

    kind = "sheet"


class ConfigError(LesionbenchError):
    """The workflow or CLI configuration is inconsistent."""
