"""Batches of cases for the scoring jobs of the workflow (standard library only).

One scoring job scores a batch of cases rather than one case, so that a large cohort does not pay a
job's start-up (the interpreter, numpy, scipy, pandas, the job's own bookkeeping) once per case.
The rows of a case do not depend on the batch it is scored in (:func:`lesionbench.metrics.scoring.
evaluate_batch_files` scores the cases one after another, each exactly as alone).

``metrics.batch_size: auto`` aims at :data:`BATCHES_PER_CORE` batches per core, so that the
cores stay busy until the end (a batch finishing late holds up only a small share of the cases),
with at most :data:`MAX_AUTO_BATCH` cases per batch (a failed or resubmitted job redoes at most that
many).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ConfigError

AUTO = "auto"
#: Batches per core that ``auto`` aims at.
BATCHES_PER_CORE = 4
#: Most cases in one batch with ``auto``.
MAX_AUTO_BATCH = 64


def auto_batch_size(n_cases: int, cores: int) -> int:
    """Cases per batch for ``n_cases`` on ``cores`` cores: about :data:`BATCHES_PER_CORE` batches
    per core, between 1 and :data:`MAX_AUTO_BATCH` cases each."""
    if n_cases <= 0:
        return 1
    per_batch = math.ceil(n_cases / (BATCHES_PER_CORE * max(1, int(cores))))
    return max(1, min(MAX_AUTO_BATCH, per_batch))


def batch_size(setting: object, n_cases: int, cores: int) -> int:
    """The batch size of the config value ``metrics.batch_size`` (``auto`` or a whole number >= 1)."""
    if setting == AUTO:
        return auto_batch_size(n_cases, cores)
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ConfigError(f"metrics.batch_size must be 'auto' or a whole number >= 1, got {setting!r}")
    return setting


def plan_batches(case_ids: Sequence[str], size: int) -> dict[str, list[str]]:
    """The cases in order, cut into consecutive batches of ``size`` (the last may be smaller), by
    batch name (``b0001``, ``b0002``, ...)."""
    if size < 1:
        raise ConfigError(f"batch size must be >= 1, got {size}")
    cases = list(case_ids)
    return {f"b{k // size + 1:04d}": cases[k : k + size] for k in range(0, len(cases), size)}
