"""Provenance of a run: what code, configuration, packages and seeds produced the results.

Written to ``results/provenance.json`` by the workflow, so that a published leaderboard can
be traced to the exact lesionbench commit, configuration (and its hash), library versions
and seeds.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__

#: distributions whose versions are recorded (those absent from the environment are skipped)
TRACKED_PACKAGES: tuple[str, ...] = (
    "numpy",
    "scipy",
    "pandas",
    "nibabel",
    "nilearn",
    "SimpleITK",
    "antspyx",
    "scikit-learn",
    "torch",
    "monai",
    "matplotlib",
    "seaborn",
    "statsmodels",
    "snakemake",
    "snakemake-executor-plugin-slurm",
)


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the configuration serialised canonically (sorted keys, no whitespace)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def git_state(repo: Path) -> dict[str, Any]:
    """Commit and whether tracked files differ from it; ``None`` values outside a git checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def find_seeds(config: Mapping[str, Any]) -> dict[str, Any]:
    """The seeds of a run, by dotted config key: every value whose key names a seed (``seed``,
    ``random_seed``...), and the seed each seeded stage runs with, also where it is not written
    but derived from the top-level ``seed``
    (:func:`lesionbench.workflow.config.effective_seeds`)."""
    from .workflow.config import effective_seeds

    return {**_seed_keys(config), **effective_seeds(config)}


def _seed_keys(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    seeds: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            seeds.update(_seed_keys(value, path + "."))
        elif "seed" in str(key).lower():
            seeds[path] = value
    return seeds


def collect(config: Mapping[str, Any], repo: Path) -> dict[str, Any]:
    return {
        "lesionbench_version": __version__,
        "git": git_state(repo),
        "config_sha256": config_hash(config),
        "config": json.loads(json.dumps(config, default=str)),
        "seeds": find_seeds(config),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }
