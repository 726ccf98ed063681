"""A synthetic long results table for demos, tests and benchmarks (no images involved).

Methods have a latent skill; per case, Dice and lesion F1 are drawn around it (lower on
low-load cases and on the unseen centre, as MS-SEG 2016 observed), HD95/ASSD decrease with
skill. Raters are scored against "loo". Deterministic given the Generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .table import METRICS_COLUMNS, validate_metrics_table

DEMO_METRICS: tuple[str, ...] = ("dice", "lesion_f1", "hausdorff95_mm", "assd_mm", "relative_volume_error_pct")


def demo_metrics_table(
    rng: np.random.Generator,
    *,
    n_methods: int = 6,
    n_cases: int = 12,
    n_raters: int = 0,
    metrics: Sequence[str] = DEMO_METRICS,
    reference: str = "consensus_lop-staple",
    centers: Sequence[str] = ("01", "03", "07", "08"),
    unseen: Sequence[str] = ("03",),
    missing_fraction: float = 0.0,
) -> pd.DataFrame:
    """A validated long table: n_methods methods (+ raters vs "loo") x n_cases test cases x metrics."""
    cases = [f"case{c:03d}" for c in range(n_cases)]
    center = [centers[c % len(centers)] for c in range(n_cases)]
    load = np.round(rng.lognormal(mean=2.0, sigma=1.0, size=n_cases), 3)
    skill = np.linspace(0.35, 0.65, n_methods) + rng.normal(0, 0.02, n_methods)
    entries = [(f"method{m:02d}", "method", reference, skill[m]) for m in range(n_methods)]
    entries += [(f"rater{r + 1}", "rater", "loo", 0.75 + rng.normal(0, 0.03)) for r in range(n_raters)]
    rows = []
    for name, kind, ref, s in entries:
        for c, case in enumerate(cases):
            difficulty = 0.15 * (center[c] in unseen) + 0.1 * (load[c] < 3.0)
            dice = float(np.clip(s - difficulty + rng.normal(0, 0.08), 0, 1))
            values = {
                "dice": dice,
                "lesion_f1": float(np.clip(s - 0.1 - difficulty + rng.normal(0, 0.1), 0, 1)),
                "hausdorff95_mm": float(max(0.0, 40 * (1 - dice) + rng.normal(0, 3))),
                "assd_mm": float(max(0.0, 8 * (1 - dice) + rng.normal(0, 0.5))),
                "relative_volume_error_pct": float(rng.normal(0, 60 * (1 - dice))),
            }
            for metric in metrics:
                base = metric.split("@")[0]
                value = values.get(base, float(np.clip(s + rng.normal(0, 0.1), 0, 1)))
                missing = kind != "rater" and rng.random() < missing_fraction
                rows.append(
                    (
                        case,
                        center[c],
                        "test",
                        center[c] not in unseen,
                        float(load[c]),
                        name,
                        kind,
                        ref,
                        metric,
                        np.nan if missing else value,
                        "missing" if missing else "ok",
                    )
                )
    return validate_metrics_table(pd.DataFrame(rows, columns=list(METRICS_COLUMNS)))
